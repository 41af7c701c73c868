import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { PoolClient } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import type { Counts, PlanDirective, PlanSummary } from '../../core/contract';
import { quoteIdent } from '../sql/identifiers';
import { tableExists, type Position } from './ledger';
import { ensureLedger } from './ledger-schema';
import type { BatchEffect } from './tally';
import type { ActMode, WorkUnit } from './work-unit';
import { UNPLANNABLE } from '../../tasks/plannable';

/**
 * Plan → approve → apply (issue 19), the engine's part. `record` is a dry run that also stores, per
 * unit and in key order, the key of every row it would change in `<ledger schema>.plan_keys` (never
 * in Temporal's history) and returns the keys' count, their sha256 and a few rows per unit. `apply`
 * is a real run whose batches take only the planned keys, through the unit's `readAhead.among`
 * (conditions re-checked, rows locked), so a row that began to match after planning is not touched
 * and a planned row that no longer matches is skipped and counted as `drifted`. Before changing
 * anything it counts the planned rows that still match and refuses (`PlanDrifted`) above `maxDrift`.
 * Its ledger position is the planned key's `seq`, so a retry goes on after the last committed batch.
 * Only units of rows picked by key can be planned (`WorkUnit.sample`); a unit that declares other work
 * (`WorkUnit.unplannable`, tasks/plannable.ts) or lacks what a plan needs refuses.
 */

/** Plans older than this are pruned when a plan is recorded (with their keys), as the ledger prunes its runs. */
const PLAN_RETENTION = '30 days';
/** Rows per unit in a plan's sample. */
export const SAMPLE_ROWS = 5;
/** Planned keys read per query when counting drift. */
const KEYS_PER_READ = 5000;

type PlannableUnit = WorkUnit & Required<Pick<WorkUnit, 'readAhead' | 'sample'>>;

/**
 * Why a unit cannot be planned: the work it declares (tasks/plannable.ts, the words validate says for
 * the task type's declaration), or, undeclared (a plugin's unit), that it lacks what a plan needs.
 */
function planRefusal(unit: WorkUnit): string | undefined {
  if (unit.unplannable !== undefined) return UNPLANNABLE[unit.unplannable];
  if (!unit.transactional || unit.readAhead === undefined || unit.sample === undefined) return 'not table rows picked by key';
  return undefined;
}

/** The units of a task that runs with a plan, all of them plannable; otherwise a non-retryable failure naming the task type. */
export function plannedUnits(type: string, units: readonly WorkUnit[], directive: PlanDirective, dryRun: boolean): PlannableUnit[] {
  const refused = units.flatMap((u) => {
    const why = planRefusal(u);
    return why === undefined ? [] : [`"${u.label}" (${why})`];
  });
  if (refused.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${type} cannot run with approval: ${refused.join(', ')}; a plan freezes table rows picked by key, ` +
        `so approval is for tasks that delete, update or archive rows: remove approval: from this task`,
      'PlanNotSupported',
    );
  }
  if (directive.phase === 'apply' && dryRun) {
    throw ApplicationFailure.nonRetryable(`${type}: applying plan ${directive.planId} is a real run, but the task's config says dry_run: true`, 'ConfigError');
  }
  return units as PlannableUnit[];
}

const superseded = (planId: string) =>
  ApplicationFailure.retryable(`plan ${planId} is being recorded by a newer attempt; stopping without writing`, 'SupersededAttempt');

/** Records a plan's keys as a dry run's batches find them (after each batch, in a statement of its own). */
export class PlanRecorder {
  private readonly hash = createHash('sha256');
  private readonly seqs = new Map<number, number>();
  private keys = 0;
  private readonly sample: Record<string, Record<string, unknown>[]> = {};

  private constructor(
    private readonly s: string,
    private readonly planId: string,
    private readonly claim: string,
    private readonly units: readonly PlannableUnit[],
  ) {}

  /**
   * Claims the plan for this attempt (`claim`: unique per attempt; a newer one takes over, and an older
   * one still running then writes nothing) and forgets what an earlier attempt recorded under its id.
   */
  static async open(client: PoolClient, schema: string, database: string, planId: string, taskId: string, claim: string, units: readonly PlannableUnit[]) {
    await ensureLedger(client, schema, database);
    const s = quoteIdent(schema);
    await client.query(
      `with old as (delete from ${s}.plans where recorded_at < now() - interval '${PLAN_RETENTION}' returning plan_id)
       delete from ${s}.plan_keys where plan_id in (select plan_id from old)`,
    );
    await client.query(
      `insert into ${s}.plans (plan_id, task_id, claim, units) values ($1, $2, $3, $4)
       on conflict (plan_id) do update set task_id = excluded.task_id, claim = excluded.claim, units = excluded.units, keys = null, digest = null, recorded_at = now()`,
      [planId, taskId, claim, JSON.stringify(units.map((u) => u.label))],
    );
    await client.query(`delete from ${s}.plan_keys where plan_id = $1`, [planId]);
    return new PlanRecorder(s, planId, claim, units);
  }

  /** The keys a batch of unit `index` would change, in key order; the first few rows of each unit go into the sample. */
  async add(client: PoolClient, index: number, keys: readonly unknown[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.hash.update(`${index}\t${JSON.stringify(key)}\n`);
    const seq = this.seqs.get(index) ?? 0;
    const res = await client.query(
      `with claim as (select 1 from ${this.s}.plans where plan_id = $1 and claim = $2 for share)
       insert into ${this.s}.plan_keys (plan_id, unit, seq, key)
       select $1, $3, $4::int + k.n, k.key from claim, jsonb_array_elements($5::jsonb) with ordinality k(key, n)`,
      [this.planId, this.claim, index, seq, JSON.stringify(keys)],
    );
    if (res.rowCount !== keys.length) throw superseded(this.planId);
    this.seqs.set(index, seq + keys.length);
    this.keys += keys.length;
    const unit = this.units[index]!;
    const shown = (this.sample[unit.label] ??= []);
    if (shown.length < SAMPLE_ROWS) shown.push(...(await unit.sample(client, keys.slice(0, SAMPLE_ROWS - shown.length))));
  }

  /** Marks the plan complete (only then can it be applied) and returns what it froze. */
  async finish(client: PoolClient): Promise<PlanSummary> {
    const keysDigest = this.hash.digest('hex');
    const res = await client.query(`update ${this.s}.plans set keys = $3, digest = $4 where plan_id = $1 and claim = $2`, [
      this.planId,
      this.claim,
      this.keys,
      keysDigest,
    ]);
    if (res.rowCount !== 1) throw superseded(this.planId);
    return { planId: this.planId, keys: this.keys, keysDigest, sample: this.sample };
  }
}

/** A batch's items taken from the planned keys, and what it found of the rest. */
export interface Taken {
  items: unknown[];
  /** Planned rows that no longer match (or are gone). */
  drifted: number;
  /** Planned rows that still match but another transaction holds: left for the next run. */
  locked: number;
  next: Position;
}

/** Applies a recorded plan: only its keys, batch by batch, in the order they were planned. */
export class PlanApplier {
  private constructor(
    private readonly s: string,
    private readonly planId: string,
    private readonly units: readonly PlannableUnit[],
  ) {}

  /** The plan, checked to be complete and made for these units; otherwise a non-retryable failure that says to plan again. */
  static async open(client: PoolClient, schema: string, planId: string, units: readonly PlannableUnit[]): Promise<PlanApplier> {
    const s = quoteIdent(schema);
    const found = (await tableExists(client, `${s}.plans`))
      ? (await client.query<{ units: string[]; keys: string | null }>(`select units, keys from ${s}.plans where plan_id = $1`, [planId])).rows[0]
      : undefined;
    if (found?.keys == null) {
      throw ApplicationFailure.nonRetryable(
        `plan ${planId} is not in ${s}.plans of this database (never recorded to the end, or pruned after ${PLAN_RETENTION}); nothing was changed: plan again`,
        'PlanNotFound',
      );
    }
    const labels = units.map((u) => u.label);
    if (!isDeepStrictEqual(found.units, labels)) {
      throw ApplicationFailure.nonRetryable(
        `plan ${planId} was made for ${JSON.stringify(found.units)}, the task now has ${JSON.stringify(labels)}; nothing was changed: plan again`,
        'PlanNotFound',
      );
    }
    return new PlanApplier(s, planId, units);
  }

  /**
   * Counts the planned rows that still match, before anything changes; refuses when more than
   * `maxDrift` (a fraction) of them drifted. `beat` heartbeats after each read of keys.
   */
  async checkDrift(client: PoolClient, maxDrift: number, beat: () => void): Promise<void> {
    let planned = 0;
    let matching = 0;
    for (const [index, unit] of this.units.entries()) {
      for (let after = 0; ;) {
        const read = await this.read(client, index, after, KEYS_PER_READ);
        if (read.keys.length === 0) break;
        planned += read.keys.length;
        matching += (await unit.readAhead.among(client, read.keys, 'predict')).length;
        after = read.last;
        beat();
      }
    }
    const drifted = planned - matching;
    if (planned > 0 && drifted / planned > maxDrift) {
      const pct = (x: number) => `${Math.round(x * 10_000) / 100}%`;
      throw ApplicationFailure.nonRetryable(
        `plan ${this.planId}: ${drifted} of ${planned} planned rows (${pct(drifted / planned)}) no longer match, more than max_drift ${pct(maxDrift)}; ` +
          `nothing was changed: plan again`,
        'PlanDrifted',
      );
    }
  }

  /**
   * Up to `room` rows of unit `index` among its planned keys after `after` (a planned key's seq) that
   * still match, locked; refilled until the batch is full or the keys are used up.
   */
  async take(tx: PoolClient, index: number, after: number | null, room: number, mode: ActMode): Promise<Taken> {
    const unit = this.units[index]!;
    const taken: Taken = { items: [], drifted: 0, locked: 0, next: { unit: index + 1, cursor: null } };
    let last = after ?? 0;
    for (;;) {
      const read = await this.read(tx, index, last, room - taken.items.length);
      // Also with no keys: the unit's query runs once as in any batch, so an error in it fails the run.
      const got = await unit.readAhead.among(tx, read.keys, mode);
      if (got.length < read.keys.length) {
        const kept = new Set(got.map((item) => JSON.stringify(unit.cursorOf(item))));
        const missing = read.keys.filter((k) => !kept.has(JSON.stringify(k)));
        const held = mode === 'predict' ? 0 : (await unit.readAhead.among(tx, missing, 'predict')).length;
        taken.locked += held;
        taken.drifted += missing.length - held;
      }
      taken.items.push(...got);
      if (read.keys.length === 0) return taken;
      last = read.last;
      if (taken.items.length >= room) return { ...taken, next: { unit: index, cursor: last } };
    }
  }

  /**
   * Forgets the applied plan's keys (its row in `plans` stays until pruned): a retry of an apply whose
   * completion was lost resumes from its ledger, which is past every key.
   */
  async finish(client: PoolClient): Promise<void> {
    await client.query(`delete from ${this.s}.plan_keys where plan_id = $1`, [this.planId]);
  }

  private async read(client: PoolClient, index: number, after: number, limit: number): Promise<{ keys: unknown[]; last: number }> {
    const { rows } = await client.query<{ seq: number; key: unknown }>(
      `select seq, key from ${this.s}.plan_keys where plan_id = $1 and unit = $2 and seq > $3 order by seq limit $4`,
      [this.planId, index, after, limit],
    );
    return { keys: rows.map((r) => r.key), last: rows.at(-1)?.seq ?? after };
  }
}

/** A batch's effect with what taking it from the plan found: `drifted` always (so every set shows it), `skipped_for_locks` when any. */
export function withDrift(effect: BatchEffect, taken: Taken): BatchEffect {
  const counts: Counts = { ...effect.counts, drifted: (effect.counts.drifted ?? 0) + taken.drifted };
  if (taken.locked > 0) counts.skipped_for_locks = (counts.skipped_for_locks ?? 0) + taken.locked;
  return { ...effect, counts };
}
