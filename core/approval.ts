/**
 * The approval contract (config `approval:`, issue 19) shared by the workflow, the CLI and the
 * activities. Plain data only: it travels in the run's input and history.
 */
import type { Counts } from './outcome';

/** When a real run must wait for a person before it changes anything; in `TaskInput.approval`. */
export interface ApprovalSpec {
  /** Every real run that would change rows waits for a decision. */
  required: boolean;
  /** Wait only when one of these holds (any of them); absent with `required`. */
  when?: {
    /** The plan would change more rows than this (summed over tables, cascades and trigger writes included). */
    rows_above?: number;
    /** The plan would change more than this fraction of some table's rows. */
    fraction_above?: number;
    /** No real run of this task has completed yet (with this database). */
    first_run?: boolean;
    /** The task's config differs from the one its last completed real run ran with. */
    config_changed?: boolean;
  };
  /** How long the plan waits for a decision before the run ends as `expired`. */
  timeoutMs: number;
  /** Planned rows that may no longer match at apply time, as a fraction of the plan, before the run plans again. */
  maxDrift: number;
  /** sha256 of the task's type, database and config: `caretaker approve` refuses a plan whose task config changed since. */
  configDigest: string;
}

/** The Temporal update a person's decision arrives by (`caretaker approve` / `caretaker reject`). */
export const APPROVAL_UPDATE = 'caretakerDecide';

/** Memo key holding the plan and the decision, readable without a worker (`caretaker plans`). */
export const APPROVAL_MEMO = 'caretakerApproval';

export interface ApprovalDecision {
  decision: 'approve' | 'reject';
  /** Who decided: `--as`, else the OS user running the CLI. */
  by: string;
  note?: string;
  /** The digest of the task's config as the deciding CLI loaded it; must equal the plan's. */
  configDigest: string;
  /** The plan the person looked at; a run that planned again refuses a decision on the old plan. */
  planId: string;
}

/** What the memo says about a run's plan and its decision. */
export interface ApprovalMemo {
  state: 'awaiting' | 'approved' | 'rejected' | 'expired' | 'not_needed';
  planId: string;
  plannedAt: string;
  expiresAt?: string;
  /** Why the plan needs approval (the `when` conditions that held), or why it did not. */
  reasons: string[];
  counts: Counts;
  tables: Record<string, Counts>;
  rows: number;
  keys?: number;
  keysDigest?: string;
  configDigest: string;
  decidedBy?: string;
  decidedAt?: string;
  note?: string;
}

/** The update's answer. */
export interface ApprovalAnswer {
  decision: 'approve' | 'reject';
  by: string;
  planId: string;
}
