import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import type { PoolClient } from 'pg';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { BatchCheckpoint, TaskResult } from '../../core/contract';
import { safetyLimitError } from '../../core/errors';
import { checkFractions, recheckUnit } from './fraction';
import { inBatch, withPartial } from './failures';
import { RunLedger, type Position } from './ledger';
import { changesBetween, readTableChanges } from './table-changes';
import { type BatchEffect, DEFAULT_DETAILS_MAX_BYTES, type RecordedEffect, Tally } from './tally';
import type { ActMode, EngineConfig, TaskSession, WorkUnit } from './work-unit';
import { named } from './counters';
import { batchTimer } from './batch-metrics';
import { liveProgress } from './live-progress';
import { taskBatchSizer } from './batch-size';
import { Throttle } from './throttle';
import { ReadAheads } from './read-ahead';
import { workerStopping } from './worker-stopping';
import { planInspector } from './plan-capture';
import { skippedResult } from './results';
import { TablePins } from './table-pins';
import { leftBehind } from './backlog';
import { PlanApplier, plannedUnits, PlanRecorder, type Taken, withDrift } from './plan';

export interface RunOptions {
  /** Counters that always appear in the result, even when zero. */
  counters: readonly string[];
  /** Problems found while planning (e.g. an extension that is missing); they go into `errors`. */
  warnings?: readonly string[];
  /** Items per batch when the task has no `batch_size` (one at a time for VACUUM, procedures). */
  batchSize?: number;
  /** A dry run (rehearsed) that fails: adds what the caller knows of the cause to the error (`withNote`) before it is reported. */
  explainDryRunFailure?: (err: unknown) => Promise<void>;
}

/** The key a run's ledger entries are filed under: one activity of one workflow run. */
export function runKeyOf(workflowId: string, runId: string, activityType: string): string {
  return `${workflowId}/${runId}/${activityType}`;
}

/**
 * The one batch loop behind every task. Per batch: a transaction with the task's SET LOCAL
 * limits, the unit's next batch after the cursor, its action, the tables PostgreSQL saw change,
 * and (in a real run) the ledger entry, all committed together; a dry run rolls the batch back.
 * Before the first batch: max_fraction per table over all units, and each unit's preflight.
 * A retry resumes from the ledger; a cancel stops at a batch boundary; a failure or cancel
 * carries what was done.
 */
export async function runUnits<C extends EngineConfig>(session: TaskSession<C>, units: readonly WorkUnit[], opts: RunOptions): Promise<TaskResult> {
  const inspect = planInspector();
  if (inspect) return inspect(session, units, opts).then(() => skippedResult(session.input, 'inspected by caretaker check'));
  const ctx = Context.current();
  const { client } = session;
  const directive = session.input.plan;
  // Recording a plan is a dry run, whatever the config says (plan.ts).
  const input = directive?.phase === 'record' ? { ...session.input, config: { ...session.input.config, dry_run: true } } : session.input;
  const cfg = input.config;
  const startedAt = new Date().toISOString();
  const mode: ActMode = !cfg.dry_run ? 'apply' : cfg.dry_run_mode === 'read_only' ? 'predict' : 'rehearse';
  const planned = directive && plannedUnits(input.type, units, directive, cfg.dry_run);
  const counters = directive?.phase === 'apply' ? [...opts.counters, 'drifted'] : opts.counters;
  const tally = new Tally({ details: cfg.details_limit, bytes: cfg.details_max_bytes ?? DEFAULT_DETAILS_MAX_BYTES }, counters);
  // Adaptive by default (tasks/fields.ts): each batch aims at the target transaction time.
  const sizer = taskBatchSizer(cfg, opts.batchSize);
  const throttle = new Throttle(cfg.throttle);
  let handled = 0;
  let lastBatchMs = 0;
  const cap = cfg.max_rows_per_run ?? null;
  let position: Position = { unit: 0, cursor: null };
  let ledger: RunLedger | undefined;
  let recorder: PlanRecorder | undefined;
  let applier: PlanApplier | undefined;
  // What units that act only on what matched when they started read then, from an earlier attempt's ledger.
  const readAtStart = new Map<number, unknown[]>();
  try {
    const { workflowId, runId } = ctx.info.workflowExecution ?? { workflowId: ctx.info.activityId, runId: '' };
    if (mode === 'apply') {
      // Each plan applied has a ledger of its own: a run that plans again applies again from the start.
      const runKey = runKeyOf(workflowId, runId, ctx.info.activityType) + (directive ? `/plan/${directive.planId}` : '');
      const opened = await RunLedger.open(client, session.ledgerSchema, input.database, runKey, input.taskId, ctx.info.attempt);
      ledger = opened.ledger;
      for (const entry of opened.entries) {
        tally.apply(entry.effect);
        const { readAtStart: cursors, ...next } = entry.next;
        if (cursors) readAtStart.set(next.unit, cursors);
        position = next;
      }
    }
    if (directive?.phase === 'record') {
      const claim = `${workflowId}/${runId}/${ctx.info.activityId}/${ctx.info.attempt}`;
      recorder = await PlanRecorder.open(client, session.ledgerSchema, input.database, directive.planId, input.taskId, claim, planned!);
    } else if (directive?.phase === 'apply') {
      applier = await PlanApplier.open(client, session.ledgerSchema, directive.planId, planned!);
    }
    // A plan's keys replace the read-ahead: the batches take them, not what matches now.
    const ahead = new ReadAheads(units, applier ? 0 : (cfg.read_ahead ?? 0), readAtStart);
    // The first unit's pass before max_fraction: its count is exact, so the table is counted only as far as needed.
    const aheadWarnings = await readAhead(client, cfg, ahead, position);
    const pins = new TablePins(units);
    const maxFraction = cfg.max_fraction ?? 1;
    const refusal: string[] = [];
    // A real run stops at a refusal; a dry run reports it (as a warning, status refused) and goes on.
    const refuse = (problems: string[]) => {
      if (problems.length > 0 && mode === 'apply') throw safetyLimitError(problems.join('\n'));
      problems.forEach((r) => tally.warn(r));
      refusal.push(...problems);
    };
    if (tally.batches === 0) {
      opts.warnings?.forEach((w) => tally.warn(w));
      const found = await inTransaction(client, cfg, 'predict', async () => {
        await pins.check(client);
        const { problems, sizes } = await checkFractions(client, units, maxFraction, ahead.counts);
        tally.sizes = sizes;
        return [...problems, ...(await preflights(client, units))];
      });
      refuse(found);
    }
    aheadWarnings.forEach((w) => tally.warn(w));
    // The units after the first are checked again when each starts (fraction.ts): once per attempt.
    const rechecked = new Set<number>([0]);

    // Small and of fixed size, for `caretaker status`; also how a cancel reaches this attempt. Now and
    // then also to the workflow, for Temporal Web's current details (bounded: live-progress.ts).
    const signal = liveProgress(ctx);
    const beat = () => {
      const checkpoint: BatchCheckpoint = {
        unit: position.unit,
        batches: tally.batches,
        counts: named(tally.counts, cfg.dry_run),
        at: new Date().toISOString(),
        pace: { batchSize: sizer.current, pauses: throttle.report.pauses, ...(throttle.waiting ? { waiting: throttle.waiting } : {}) },
      };
      ctx.heartbeat(checkpoint);
      if (tally.batches > 0) signal(checkpoint);
    };
    // Before anything changes (a retry that already changed rows goes on with the plan's remaining keys).
    const plan = applier;
    if (plan && directive?.phase === 'apply' && tally.batches === 0)
      await inTransaction(client, cfg, 'predict', () => plan.checkDrift(client, directive.maxDrift, beat));
    let stoppedAtCap = false;
    const timeBatch = batchTimer(ctx.metricMeter, input.taskId, cfg.dry_run);
    while (position.unit < units.length) {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled at a batch boundary');
      const room = cap === null ? sizer.current : Math.min(sizer.current, cap - tally.capped);
      if (room <= 0) {
        stoppedAtCap = true;
        break;
      }
      await throttle.beforeBatch(client, handled, tally.batches, lastBatchMs, beat);
      // After the throttle, whose waits a shutdown ends early (throttle.ts).
      if (workerStopping()) throw workerStopped(tally.batches);
      const unit = units[position.unit]!;
      // Each unit reads ahead when it starts, so it sees what the units before it committed.
      if (ahead.due(position.unit)) (await readAhead(client, cfg, ahead, position)).forEach((w) => tally.warn(w));
      // Before the unit changes anything, with what the units before it changed (a dry run: what they would
      // have; a rehearsed dry run rolled those changes back, so a unit that depends on them is judged on the
      // rows as they are). A dry run already refused stops checking: its real run would not get here.
      if (position.cursor === null && !rechecked.has(position.unit) && refusal.length === 0) {
        rechecked.add(position.unit);
        const run = { known: ahead.counts, sizes: tally.sizes, tables: tally.tables };
        refuse(await inTransaction(client, cfg, 'predict', () => recheckUnit(client, unit, maxFraction, run)));
      }
      const step = { client, unit, position, room, mode, tally, ledger, ledgerSchema: session.ledgerSchema, beat, ahead, pins, recorder, applier };
      const batchDone = timeBatch();
      if (unit.transactional) {
        const began = performance.now();
        const batch = await transactionalBatch(step, cfg).catch(async (err: unknown) => {
          throw await pins.explain(client, err);
        });
        lastBatchMs = performance.now() - began;
        sizer.observe(batch.items, lastBatchMs, batch.workMs);
        handled += batch.items;
        position = batch.next;
      } else {
        position = await itemBatch(step, ctx.cancellationSignal);
      }
      batchDone();
      beat();
    }
    const result = tally.result(input, startedAt, refusal.length > 0 ? 'refused' : undefined, refusal.length > 0 ? refusal.join('\n') : undefined);
    if (stoppedAtCap) result.counts.stopped_at_max_rows_per_run = 1;
    // Reporting only: a count stopped by the task's statement or lock timeout leaves the result
    // without a backlog; it never fails a run that did its work (its retries would stop there again).
    // After a plan was applied, every row that matches now is left, planned or not: counted from the start.
    const [stop, sets] = applier ? [{ unit: 0, cursor: null }, {}] : [position, tally.sets];
    const backlog = await inTransaction(client, cfg, 'predict', () => leftBehind(client, units, stop, sets)).catch((err: unknown) => {
      if (!TIMEOUTS.includes((err as { code?: string }).code ?? '')) throw err;
      return undefined;
    });
    if (backlog) result.backlog = backlog;
    const { slowestBatchMs, ...batchSize } = sizer.summary();
    result.pace = { batchSize, slowestBatchMs, throttle: throttle.report, readAhead: ahead.total };
    if (recorder) result.plan = await recorder.finish(client);
    await applier?.finish(client);
    return result;
  } catch (err) {
    if (mode === 'rehearse') await opts.explainDryRunFailure?.(err).catch(() => undefined);
    throw withPartial(err, tally.partial(cfg.dry_run));
  }
}

interface Step {
  client: PoolClient;
  unit: WorkUnit;
  position: Position;
  room: number;
  mode: ActMode;
  tally: Tally;
  ledger: RunLedger | undefined;
  ledgerSchema: string;
  /** Heartbeats; items outside a transaction (a VACUUM, a procedure) can each take long. */
  beat: () => void;
  ahead: ReadAheads;
  /** Every batch checks that its tables' names still resolve to the OIDs the run was planned on. */
  pins: TablePins;
  /** Recording a plan: each batch's keys, once the batch is over. */
  recorder: PlanRecorder | undefined;
  /** Applying a plan: each batch takes the planned keys after the position (a planned key's seq). */
  applier: PlanApplier | undefined;
}

/**
 * One batch in one transaction: fetch, act, measure, check the tables' OIDs, record; commit a real
 * run, roll back a dry run. The ledger entry fences attempts (ledger.ts): it is the last statement
 * before COMMIT, so the batch of a zombie attempt rolls back however late it wakes.
 * `workMs` is the part spent fetching and acting on the items, for the sizer; the rest is the batch's fixed cost.
 */
async function transactionalBatch(s: Step, cfg: EngineConfig): Promise<{ next: Position; items: number; workMs: number }> {
  const { record, next, items, workMs, keys } = await inTransaction(s.client, cfg, s.mode, async () => {
    let began = performance.now();
    const taken: Taken | undefined = s.applier && (await s.applier.take(s.client, s.position.unit, s.position.cursor as number | null, s.room, s.mode));
    if (!taken) s.ahead.assertReadAhead(s.position.unit);
    const items =
      taken?.items ?? (await s.ahead.next(s.client, s.position.unit, s.room, s.mode)) ?? (await s.unit.nextBatch(s.client, s.position.cursor, s.room, s.mode));
    let workMs = performance.now() - began;
    const next = taken?.next ?? advance(s.unit, s.position, items, s.room);
    const before = s.mode === 'predict' ? undefined : await readTableChanges(s.client, s.ledgerSchema);
    began = performance.now();
    const acted = await s.unit.act(s.client, items, s.mode).catch((err: unknown) => {
      throw inBatch(err, s.unit.label, items.length > 0 ? s.unit.cursorOf(items[0]) : null);
    });
    const effect = taken ? withDrift(acted, taken) : acted;
    workMs += performance.now() - began;
    const tables = before === undefined ? (effect.tables ?? {}) : changesBetween(before, await readTableChanges(s.client, s.ledgerSchema), effect.undone);
    await s.pins.check(s.client);
    const record = s.tally.admit(s.unit.label, effect, tables);
    // The first batch of a unit that acts only on what matched when it started, when the unit goes on, keeps what it read then for a retry.
    const started = s.position.cursor === null && next.unit === s.position.unit ? s.ahead.atStart(s.position.unit) : undefined;
    if (s.ledger) await s.ledger.record(s.client, s.tally.batches + 1, started ? { ...next, readAtStart: started } : next, record);
    return { record, next, items: items.length, workMs, keys: s.recorder && (effect.keys ?? items.map((item) => s.unit.cursorOf(item))) };
  });
  s.tally.apply(record);
  if (keys) await s.recorder!.add(s.client, s.position.unit, keys);
  return { next, items, workMs };
}

/** Items one at a time outside a transaction (files, VACUUM, procedures, workflow starts), each recorded when done. */
async function itemBatch(s: Step, cancelled: AbortSignal): Promise<Position> {
  await s.pins.check(s.client);
  const items = await s.unit.nextBatch(s.client, s.position.cursor, s.room, s.mode);
  const end = advance(s.unit, s.position, items, s.room);
  let position = s.position;
  for (const [i, item] of items.entries()) {
    if (i > 0 && cancelled.aborted) return position;
    const next = i === items.length - 1 ? end : { unit: s.position.unit, cursor: s.unit.cursorOf(item) };
    let record: RecordedEffect | undefined;
    const recordIn = async (tx: PoolClient, effect: BatchEffect) => {
      record = s.tally.admit(s.unit.label, effect, effect.tables ?? {});
      if (s.ledger) await s.ledger.record(tx, s.tally.batches + 1, next, record);
    };
    const effect = await s.unit.act(s.client, [item], s.mode, recordIn);
    if (record === undefined) await recordIn(s.client, effect);
    s.tally.apply(record!);
    position = next;
    s.beat();
  }
  return items.length === 0 ? end : position;
}

/**
 * Where the run goes after this batch. The cursor must strictly advance (by the unit's own order
 * where it has one), so no loop can hand the same batch out twice.
 */
export function advance(unit: WorkUnit, position: Position, items: readonly unknown[], room: number): Position {
  if (items.length === 0) return { unit: position.unit + 1, cursor: null };
  let previous = position.cursor;
  for (const item of items) {
    const cursor = unit.cursorOf(item);
    const moved = previous === null || (unit.compare ? unit.compare(previous, cursor) < 0 : !isDeepStrictEqual(previous, cursor));
    if (!moved) {
      throw ApplicationFailure.nonRetryable(
        `${unit.label}: the batch cursor did not advance past ${JSON.stringify(previous)}; stopping instead of repeating a batch`,
        'CursorDidNotAdvance',
      );
    }
    previous = cursor;
  }
  return items.length < room ? { unit: position.unit + 1, cursor: null } : { unit: position.unit, cursor: previous };
}

/**
 * Runs `work` in a transaction with the task's SET LOCAL limits: read only when predicting,
 * committed when applying, rolled back when rehearsing.
 */
async function inTransaction<T>(client: PoolClient, cfg: EngineConfig, mode: ActMode, work: () => Promise<T>): Promise<T> {
  // One round trip: a batch pays it every time.
  const limits = cfg.sql
    ? `; set local lock_timeout = ${Math.ceil(cfg.sql.lock_timeout)}; set local statement_timeout = ${Math.ceil(cfg.sql.statement_timeout)}`
    : '';
  try {
    await client.query(`${mode === 'predict' ? 'begin read only' : 'begin'}${limits}`);
    const value = await work();
    await client.query(mode === 'apply' ? 'commit' : 'rollback');
    return value;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Reads ahead the cursors of the unit at `from` (read-ahead.ts) in a read-only transaction of its own.
 * It only saves work: when its pass runs into the task's statement_timeout, the units are batched
 * by their own walk instead, as they would be without it; a unit that must not be walked
 * (`readAhead.onlyAtStart`) fails the run. Returns the pass's warnings.
 */
async function readAhead(client: PoolClient, cfg: EngineConfig, ahead: ReadAheads, from: Position): Promise<string[]> {
  try {
    return await inTransaction(client, cfg, 'predict', () => ahead.read(client, from));
  } catch (err) {
    if ((err as { code?: string }).code !== QUERY_CANCELED || ahead.onlyAtStart(from.unit) !== undefined) throw err;
    return [];
  }
}

/** SQLSTATE of a statement stopped by statement_timeout. */
const QUERY_CANCELED = '57014';
/** SQLSTATEs of a statement stopped by statement_timeout or by lock_timeout (lock_not_available). */
const TIMEOUTS = [QUERY_CANCELED, '55P03'];

async function preflights(client: PoolClient, units: readonly WorkUnit[]): Promise<string[]> {
  const problems: string[] = [];
  for (const unit of units) if (unit.preflight) problems.push(...(await unit.preflight(client)));
  return problems;
}

/**
 * The worker shuts down: this attempt stops at a batch boundary, and fails retryably so that the
 * next attempt (on this worker once it is back, or another) resumes from the ledger.
 */
function workerStopped(batches: number): ApplicationFailure {
  return ApplicationFailure.retryable(
    `the worker is shutting down: this attempt stopped at a batch boundary after ${batches} batch(es); the next attempt resumes from the run ledger`,
    'WorkerShutdown',
  );
}
