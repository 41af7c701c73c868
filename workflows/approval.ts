/**
 * Plan → approve → apply (config `approval:`, issue 19). `runTask` calls `runWithApproval` for a real
 * run of a task with `approval:`: the task's own body runs first as a `record` run (an executing dry
 * run that freezes the plan), then, when approval applies, the run waits durably for a decision (the
 * update `caretakerDecide`) until `approval.timeout`, and an approved plan runs the body again as an
 * `apply` run, limited to the planned rows. Both runs call the task's activity with its input: the
 * activities given to the body add the plan directive to that input (`withPlan`), so no task workflow
 * changes.
 */
import {
  type ActivityInterfaceFor,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineUpdate,
  log,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { APPROVAL_MEMO, APPROVAL_UPDATE, type ApprovalAnswer, type ApprovalDecision, type ApprovalMemo, type ApprovalSpec } from '../core/approval';
import { applyingDetails, decisionCommands, planLine, awaitingDetails } from '../core/approval-text';
import { deliverAlertsWorkflow } from './deliver-alerts';
import { AWAITING_APPROVAL, rowsChanged } from '../core/outcome';
import { OUTCOME } from '../core/search-attributes';
import type { PlanDirective, TaskInput, TaskResult } from './types';

export const decideUpdate = defineUpdate<ApprovalAnswer, [ApprovalDecision]>(APPROVAL_UPDATE);

const approvalActivities = proxyActivities<Pick<Activities, 'approvalFacts' | 'recordAppliedConfig'>>({
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['ConfigError'] },
});

/** A plan that drifted past `max_drift` is planned (and approved) again, at most this many times in one run. */
const MAX_PLANS = 3;

/** How a run with approval ended: its result, and `rejected` / `expired` when no apply ran. */
export interface ApprovalEnd {
  result: TaskResult;
  outcome?: 'rejected' | 'expired';
}

/** The task's activities with `plan` (and the dry run a `record` run is) added to the task input they are called with. */
function withPlan<A extends object>(activities: ActivityInterfaceFor<A>, plan: PlanDirective): ActivityInterfaceFor<A> {
  const record = plan.phase === 'record';
  const planned = (arg: unknown): unknown => {
    if (!arg || typeof arg !== 'object' || !('taskId' in arg) || !('config' in arg)) return arg;
    const config = { ...(arg as TaskInput).config, dry_run: record };
    if (record && 'dry_run_mode' in config) config.dry_run_mode = 'execute'; // a plan executes its statements
    return { ...arg, config, plan };
  };
  return new Proxy(activities, {
    get(target, name) {
      const fn = (target as Record<string | symbol, unknown>)[name];
      if (typeof fn !== 'function') return fn;
      return (first: unknown, ...rest: unknown[]) => (fn as (...args: unknown[]) => unknown)(planned(first), ...rest);
    },
  });
}

function isDrift(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.type === 'PlanDrifted') return true;
  return false;
}

/** Rows the plan would change: PostgreSQL's per-table counts, else its planned keys, else its counters. */
function planRows(plan: TaskResult): number {
  const fromTables = rowsChanged(plan.tables);
  if (fromTables > 0) return fromTables;
  if (plan.plan) return plan.plan.keys;
  return Object.entries(plan.counts).reduce((n, [k, v]) => (k === 'matched' ? n : n + v), 0);
}

/** Why this plan needs a person (empty: it does not): `required`, or the `when` conditions that hold. */
async function reasonsFor(input: TaskInput, spec: ApprovalSpec, plan: TaskResult, rows: number): Promise<string[]> {
  if (rows === 0) return [];
  if (spec.required) return ['approval is required for every run that changes rows'];
  const when = spec.when ?? {};
  const reasons: string[] = [];
  if (when.rows_above !== undefined && rows > when.rows_above) reasons.push(`rows_above ${when.rows_above}: the plan changes ${rows} rows`);
  if (when.fraction_above === undefined && !when.first_run && !when.config_changed) return reasons;
  const facts = await approvalActivities.approvalFacts(input, Object.keys(plan.tables));
  if (when.first_run && facts.firstRun) reasons.push('first_run: no real run of this task has completed yet');
  else if (when.config_changed && facts.configChanged) reasons.push("config_changed: the task's config differs from its last completed real run's");
  if (when.fraction_above !== undefined) {
    for (const [table, counts] of Object.entries(plan.tables)) {
      const total = facts.tableRows[table];
      const changed = rowsChanged({ [table]: counts });
      if (total && changed / total > when.fraction_above)
        reasons.push(`fraction_above ${when.fraction_above}: the plan changes ${changed} of ~${total} rows of ${table}`);
    }
  }
  return reasons;
}

/** The task's webhooks hear that a plan waits (alert rule `approval`), from a workflow of its own. */
async function alertAwaiting(input: TaskInput, memo: ApprovalMemo, round: number): Promise<void> {
  if (!input.alerts) return;
  const info = workflowInfo();
  const { approve, reject } = decisionCommands(info.workflowId);
  const run = {
    taskId: input.taskId,
    type: input.type,
    database: input.database,
    dryRun: false,
    outcome: AWAITING_APPROVAL,
    cause: `plan would change ${planLine(memo)}, expires ${memo.expiresAt}; approve: ${approve} · reject: ${reject}`,
    tables: {},
    rowsChanged: 0,
    durationMs: 0,
    namespace: info.namespace,
    workflowId: info.workflowId,
    runId: info.runId,
  };
  await CancellationScope.nonCancellable(() =>
    startChild(deliverAlertsWorkflow, {
      workflowId: `${info.workflowId}/approval/${info.runId}/${round}`,
      args: [{ spec: input.alerts!, run }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    }),
  ).catch((failure: unknown) => log.warn('could not start the approval alert', { taskId: input.taskId, error: (failure as Error).message }));
}

function record(memo: ApprovalMemo, outcome?: string): void {
  upsertMemo({ [APPROVAL_MEMO]: memo });
  if (outcome) upsertSearchAttributes([{ key: OUTCOME, value: outcome }]);
}

/** The end of a real run that applied nothing: no counts (the plan's stay in the approval memo and in `plan`). */
function endedWithout(plan: TaskResult, reason: string): TaskResult {
  return { ...plan, status: 'skipped', dryRun: false, reason, counts: {}, tables: {}, sets: {}, details: [], detailsTruncated: false, detailsOmitted: 0 };
}

/**
 * A real run of a task with `approval:`: plan, decide whether approval applies, wait for the decision,
 * apply exactly the plan. `body` is the task workflow's own call of its activity.
 */
export async function runWithApproval<A extends object>(
  input: TaskInput & { approval: ApprovalSpec },
  activities: ActivityInterfaceFor<A>,
  body: (activities: ActivityInterfaceFor<A>) => Promise<TaskResult>,
): Promise<ApprovalEnd> {
  const spec = input.approval;
  const { workflowId, runId } = workflowInfo();
  let decision: ApprovalDecision | undefined;
  let waitingFor: string | undefined; // the plan a decision may be given for, while the run waits
  setHandler(
    decideUpdate,
    (given) => {
      decision = given;
      return { decision: given.decision, by: given.by, planId: given.planId };
    },
    {
      validator: (given) => {
        if (decision) throw new Error(`this plan was already ${decision.decision === 'approve' ? 'approved' : 'rejected'} by ${decision.by}`);
        if (waitingFor === undefined) throw new Error('this run is not waiting for a decision (it is planning, applying, or has ended)');
        if (given.planId !== waitingFor) throw new Error(`this run planned again (plan ${waitingFor}): look at the new plan first`);
        if (given.decision === 'approve' && given.configDigest !== spec.configDigest)
          throw new Error(
            `the task's config changed since this plan was made (digest ${spec.configDigest.slice(0, 12)}, now ${given.configDigest.slice(0, 12)}): plan again`,
          );
        if (!given.by?.trim()) throw new Error('expected the approver (--as NAME or the OS user), got nothing');
        if (given.decision === 'reject' && !given.note?.trim()) throw new Error('expected a note saying why (--note TEXT) for a rejection');
      },
    },
  );
  for (let round = 1; ; round++) {
    const planId = `${workflowId}/${runId}/${round}`;
    const plan = await body(withPlan(activities, { phase: 'record', planId }));
    if (plan.status === 'skipped' || plan.status === 'refused') return { result: plan }; // already running / refused: as a plain run ends
    const rows = planRows(plan);
    const reasons = await reasonsFor(input, spec, plan, rows);
    const memo: ApprovalMemo = {
      state: reasons.length > 0 ? 'awaiting' : 'not_needed',
      planId,
      plannedAt: new Date().toISOString(),
      reasons,
      counts: plan.counts,
      tables: plan.tables,
      rows,
      ...(plan.plan && { keys: plan.plan.keys, keysDigest: plan.plan.keysDigest }),
      configDigest: spec.configDigest,
    };
    if (reasons.length > 0) {
      memo.expiresAt = new Date(Date.now() + spec.timeoutMs).toISOString();
      record(memo, AWAITING_APPROVAL);
      setCurrentDetails(awaitingDetails(workflowId, memo));
      await alertAwaiting(input, memo, round);
      waitingFor = planId;
      const decided = await condition(() => decision !== undefined, spec.timeoutMs);
      waitingFor = undefined;
      if (!decided) {
        record({ ...memo, state: 'expired' });
        return { result: endedWithout(plan, `no decision within ${Math.round(spec.timeoutMs / 1000)}s: the plan expired`), outcome: 'expired' };
      }
      const given = decision!;
      Object.assign(memo, { decidedBy: given.by, decidedAt: new Date().toISOString(), ...(given.note && { note: given.note }) });
      if (given.decision === 'reject') {
        record({ ...memo, state: 'rejected' });
        return { result: endedWithout(plan, `rejected by ${given.by}: ${given.note}`), outcome: 'rejected' };
      }
      record({ ...memo, state: 'approved' }, 'running');
      setCurrentDetails(applyingDetails(memo));
    } else record(memo);
    try {
      const result = await body(withPlan(activities, { phase: 'apply', planId, maxDrift: spec.maxDrift }));
      if (result.status === 'completed' || result.status === 'completed_with_errors') await approvalActivities.recordAppliedConfig(input);
      return { result };
    } catch (err) {
      if (!isDrift(err)) throw err;
      if (round >= MAX_PLANS)
        throw ApplicationFailure.nonRetryable(`the plan drifted past max_drift ${MAX_PLANS} times in a row; the next run plans again`, 'PlanDrifted');
      log.info('plan drifted past max_drift: planning again', { taskId: input.taskId, planId });
      decision = undefined;
    }
  }
}
