import { describe, expect, it } from 'vitest';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { classifyFailure, FailureType } from '../core/failures';
import { OUTCOME_MEMO, outcomeMemo, readOutcomeMemo, type RunEnd, runOutcomeOf } from '../core/outcome';
import { alertRunOf } from '../core/alerts';
import { safetyLimitError } from '../core/errors';
import { withPartial } from '../activities/engine/failures';

const partial = { dryRun: false, counts: { deleted: 3 }, tables: { 'app.runs': { deleted: 3 } }, sets: {}, batches: 1 };

/** A failure as the workflow sees it (ActivityFailure -> ApplicationFailure) and the client (WorkflowFailedError -> ...). */
function fromActivity(cause: Error): ActivityFailure {
  return new ActivityFailure('activity failed', 'retentionEnforce', '1', RetryState.NON_RETRYABLE_FAILURE, 'identity', cause);
}

describe('classifyFailure: one walk over the cause chain', () => {
  it('a refusal: outcome refused, the innermost message, the raised type, the partial counts', () => {
    const refusal = ApplicationFailure.create({
      message: 'would delete 9 of 10 rows',
      type: FailureType.SafetyLimitExceeded,
      nonRetryable: true,
      details: [partial],
    });
    const inWorkflow = classifyFailure(fromActivity(refusal));
    expect(inWorkflow).toEqual({ outcome: 'refused', message: 'would delete 9 of 10 rows', type: 'SafetyLimitExceeded', details: partial });
    const inClient = classifyFailure(new WorkflowFailedError('Workflow execution failed', fromActivity(refusal), RetryState.NON_RETRYABLE_FAILURE));
    expect(inClient).toEqual(inWorkflow);
  });

  it('a cancellation anywhere in the chain is cancelled; a PostgreSQL error is failed with its type', () => {
    expect(classifyFailure(fromActivity(new CancelledFailure('cancelled', [partial]))).outcome).toBe('cancelled');
    expect(classifyFailure(new CancelledFailure('cancelled'))).toEqual({ outcome: 'cancelled', message: 'cancelled' });
    const pg = ApplicationFailure.create({ message: 'violates check constraint (SQLSTATE 23514)', type: FailureType.IntegrityViolation, nonRetryable: true });
    expect(classifyFailure(fromActivity(pg))).toEqual({ outcome: 'failed', message: pg.message, type: 'IntegrityViolation' });
  });

  it('a refusal is BENIGN (the SDK logs it at DEBUG and counts no failed activity), also once the engine attached its counts', () => {
    const refusal = safetyLimitError('would delete 9 of 10 rows');
    expect(refusal.category).toBe('BENIGN');
    const carried = withPartial(refusal, partial) as ApplicationFailure;
    expect([carried.type, carried.category, carried.details]).toEqual(['SafetyLimitExceeded', 'BENIGN', [partial]]);
    expect(classifyFailure(fromActivity(carried)).outcome).toBe('refused');
  });

  it('an error that is not a Temporal failure: failed, its message; a thrown string is its own message', () => {
    expect(classifyFailure(new Error('boom'))).toEqual({ outcome: 'failed', message: 'boom' });
    expect(classifyFailure('plain')).toEqual({ outcome: 'failed', message: 'plain' });
  });
});

const end: RunEnd = {
  taskId: 'purge',
  type: 'retention.enforce',
  database: 'app',
  dryRun: true,
  outcome: 'completed',
  stopped: false,
  counts: { would_delete: 4 },
  tables: { 'app.sessions': { deleted: 4 } },
  rowsChanged: 4,
  batches: 1,
  errors: [],
  backlog: { rows: 2 },
  durationMs: 1200,
  namespace: 'default',
  workflowId: 'purge-1',
  runId: 'r1',
};

describe('the outcome memo and the run end', () => {
  it('the memo keeps the shape runs recorded before (key order included) and reads back through the one reader', () => {
    const memo = outcomeMemo(end);
    expect(Object.keys(memo)).toEqual(['outcome', 'dryRun', 'failure', 'counts', 'tables', 'backlog']);
    const stored = JSON.parse(JSON.stringify({ [OUTCOME_MEMO]: memo })) as Record<string, unknown>;
    expect(readOutcomeMemo(stored)).toEqual({ outcome: 'completed', dryRun: true, counts: { would_delete: 4 }, tables: end.tables, backlog: { rows: 2 } });
  });

  it('a memo of another shape, or none, reads as undefined or without the wrong fields', () => {
    expect(readOutcomeMemo(undefined)).toBeUndefined();
    expect(readOutcomeMemo({ [OUTCOME_MEMO]: 'completed' })).toBeUndefined();
    expect(readOutcomeMemo({ [OUTCOME_MEMO]: { outcome: 'failed', failure: 7, counts: [] } })).toEqual({
      outcome: 'failed',
      dryRun: false,
      counts: {},
      tables: {},
    });
  });

  it("a closed run's outcome: the recorded one, else Temporal's status; running while it runs", () => {
    expect(runOutcomeOf('FAILED', 'refused')).toBe('refused');
    expect(runOutcomeOf('CANCELED', undefined)).toBe('cancelled');
    expect(runOutcomeOf('TERMINATED', 'running')).toBe('terminated');
    expect(runOutcomeOf('RUNNING', 'completed')).toBe('running');
  });

  it('alerts see a dry run as changing no rows, and a completed run with errors has its first error as the cause', () => {
    const dry = alertRunOf(end);
    expect(dry).toMatchObject({ tables: {}, rowsChanged: 0, backlog: { rows: 2 } });
    const real = alertRunOf({ ...end, dryRun: false, outcome: 'completed_with_errors', errors: ['row 7: bad cast'] });
    expect(real).toMatchObject({ tables: end.tables, rowsChanged: 4, cause: 'row 7: bad cast' });
  });
});
