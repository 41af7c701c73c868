/**
 * Failure types: the `type` of every ApplicationFailure Caretaker raises on purpose, in one place,
 * and `classifyFailure`, the one walk over a failure's cause chain (WorkflowFailedError ->
 * ActivityFailure -> ApplicationFailure -> ...) that the workflow, the CLI and `npm start` share.
 * Workflow-safe: only `@temporalio/common`, which the workflow bundle carries anyway.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

export const FailureType = {
  /** Bad task configuration (raised by an activity): a retry cannot fix it. */
  ConfigError: 'ConfigError',
  /** A safety limit (max_fraction, an empty base_dir, ...) refused the run: outcome `refused`. */
  SafetyLimitExceeded: 'SafetyLimitExceeded',
  /** A unit's cursor did not move past a batch: the engine stops instead of looping. */
  CursorDidNotAdvance: 'CursorDidNotAdvance',
  /** A table was dropped or replaced while the run worked on it. */
  TableReplaced: 'TableReplaced',
  /** The run ledger is missing and the role may not create it. */
  MissingPrivilege: 'MissingPrivilege',
  /** A PostgreSQL error of SQLSTATE class 23 (a constraint of the table). */
  IntegrityViolation: 'IntegrityViolation',
  /** Any other PostgreSQL error (non-retryable for classes 22 and 42). */
  PostgresError: 'PostgresError',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Types an activity raises for problems a retry cannot fix: the task activities' `nonRetryableErrorTypes`. */
export const NON_RETRYABLE_TYPES: readonly string[] = [FailureType.ConfigError, FailureType.SafetyLimitExceeded, FailureType.CursorDidNotAdvance];

/** Types a task raises when a safety limit refuses a run: its outcome is `refused`, not `failed`. */
export const REFUSAL_TYPES: ReadonlySet<string> = new Set([FailureType.SafetyLimitExceeded]);

/** Failures a task raises on purpose (a refusal, bad config): expected, reported in one line, no stack trace. */
export const EXPECTED_TYPES: ReadonlySet<string> = new Set([FailureType.SafetyLimitExceeded, FailureType.ConfigError]);

/** What a failure says about how the run ended. */
export interface FailureClass {
  /** `cancelled` when a CancelledFailure is in the chain, `refused` for a refusal type, else `failed`. */
  outcome: 'failed' | 'refused' | 'cancelled';
  /** The innermost message of the chain (what went wrong, not where). */
  message: string;
  /** The outermost ApplicationFailure's type (the failure the activity or workflow raised), if any. */
  type?: string;
  /** The first `details[0]` in the chain that carries counts: what the run had done (`PartialResult`). */
  details?: unknown;
}

interface Link {
  message?: string;
  type?: string | null;
  details?: unknown;
  cause?: unknown;
}

/** Walks the cause chain once; a non-Error (a thrown string) is its own message. */
export function classifyFailure(err: unknown): FailureClass {
  let message = (err as Link | undefined)?.message ?? String(err);
  let type: string | undefined;
  let refused = false;
  let cancelled = false;
  let details: unknown;
  for (let e = err as Link | undefined; e; e = e.cause as Link | undefined) {
    if (e.message) message = e.message;
    if ((e as unknown) instanceof CancelledFailure) cancelled = true;
    if (e.type && (e as unknown) instanceof ApplicationFailure) type ??= e.type;
    if (e.type && REFUSAL_TYPES.has(e.type)) refused = true;
    const first = Array.isArray(e.details) ? (e.details as unknown[])[0] : undefined;
    if (details === undefined && first && typeof first === 'object' && 'counts' in first) details = first;
  }
  return {
    outcome: cancelled ? 'cancelled' : refused ? 'refused' : 'failed',
    message,
    ...(type !== undefined && { type }),
    ...(details !== undefined && { details }),
  };
}
