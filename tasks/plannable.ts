/**
 * Work that cannot be frozen as a plan of table rows picked by key (plan → approve → apply), and
 * why: the one declaration `caretaker validate` and the engine both read. A task type says which of
 * it a config does (`TaskType.unplannable`, refused when the config is loaded); a unit of work says
 * which it is (`WorkUnit.unplannable`, refused by the engine as `PlanNotSupported` with the same
 * words). test/plan-support.test.ts walks every task type and proves the two agree.
 */
export const UNPLANNABLE = {
  files: 'it works on files, not table rows',
  workflow_starts: 'it starts workflows; a workflow start cannot be planned and rolled back',
  vacuum: 'VACUUM is not a change to rows',
  procedure: 'a procedure is one call, not a list of rows',
  counters: 'it recomputes counters, not a list of rows',
  /** Found in the database when the run starts (a table partitioned by range), so only the engine can refuse it. */
  partitions: 'it detaches whole partitions, not a list of rows',
  read_only: 'it only reads and reports; there is nothing to approve',
} as const;

export type Unplannable = keyof typeof UNPLANNABLE;

/** A config's work that cannot be planned, and what in the config does it when only some configs do (`with workflow`). */
export interface PlanRefusal {
  work: Unplannable;
  because?: string;
}

/** What `caretaker validate` says of a refusal. */
export const refusalText = (r: PlanRefusal) => (r.because ? `${r.because}: ${UNPLANNABLE[r.work]}` : UNPLANNABLE[r.work]);
