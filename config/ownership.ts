/**
 * How Caretaker marks the Temporal schedules it owns: a memo set at creation (the SDK cannot
 * update a schedule's memo, which suits a marker that never changes). Sync updates and prunes only
 * these, and health.report checks their liveness.
 */
export const OWNER_MEMO_KEY = 'caretaker';

export interface OwnerMemo {
  managed: true;
  taskQueue: string;
}

/** Owned by Caretaker; with a task queue, owned by the deployment that uses that queue. */
export function isOwnedBy(memo: Record<string, unknown> | undefined, taskQueue?: string): boolean {
  const owner = memo?.[OWNER_MEMO_KEY] as Partial<OwnerMemo> | undefined;
  return owner?.managed === true && (taskQueue === undefined || owner.taskQueue === taskQueue);
}
