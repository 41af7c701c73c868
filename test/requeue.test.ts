import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationSql, formatDuration } from '../core/duration';
import { whole } from '../core/column-refs';
import type { ActMode } from '../activities/engine/work-unit';
import { requeueSet } from '../activities/rows/requeue';
import { rowSetUnit, type RowSet } from '../activities/rows/row-sets';
import { staleRequeue } from '../activities/runs';
import { resolveKeyed } from '../activities/sql/keys';
import { resolveTable } from '../activities/sql/identifiers';
import { SqlParams } from '../activities/sql/params';
import { assertStableFunctions, renderSqlText } from '../activities/sql/sql-text';
import { parseSqlText } from '../tasks/sql-text';
import { runsCleanupStaleConfig, type RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import { createTestDatabase } from './support';

/**
 * The one re-queue (activities/rows/requeue.ts) and runs.cleanup_stale's use of it, one batch at a time
 * against a real table: what each stale run's branch writes and what its detail says (formerly the
 * unit test of the per-row decision, `decideStaleRun`, which the SQL CASE replaced).
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let client: PoolClient;

beforeAll(async () => {
  db = await createTestDatabase('requeue');
  client = await db.pool.connect();
  await client.query(`create table runs (id int primary key, status text not null, updated_at timestamptz not null, retries int, meta jsonb,
    error text, job_type text, max_attempts int)`);
});
afterAll(async () => {
  client?.release();
  await db?.drop();
});

interface Outcome {
  detail: Record<string, unknown>;
  row: Record<string, unknown>;
  counts: Record<string, number>;
}

/** One batch of the set's unit over the table as seeded, in one transaction that is rolled back; each row's detail and what it wrote. */
async function batch(seed: string, set: (client: PoolClient) => Promise<RowSet>, mode: ActMode = 'rehearse'): Promise<Outcome[]> {
  await client.query('begin');
  try {
    await client.query(`insert into runs ${seed}`);
    const unit = rowSetUnit(await set(client));
    const items = await unit.nextBatch(client, null, 100, mode);
    const effect = await unit.act(client, items, mode);
    const rows = (await client.query<Record<string, unknown>>(`select * from runs order by id`)).rows;
    return effect.details.map((detail) => ({ detail, counts: effect.counts, row: rows.find((r) => String(r.id) === detail.id)! }));
  } finally {
    await client.query('rollback');
  }
}

const stale =
  (cfg: RunsCleanupStaleConfig, taskId = 't') =>
  async (c: PoolClient) =>
    staleRequeue(await resolveKeyed(c, cfg.table, cfg.columns.id, ['status', 'updated_at', 'retries', 'meta', 'error', 'job_type'], 'test'), cfg, taskId);

const cfg = runsCleanupStaleConfig.parse({ table: 'runs', columns: { retry_count: 'retries', error: 'error' } });
/** One run `age` in `status` with `retries`, as the old unit test's `run()`: running for 3h (limit 2h) unless told. */
const one = (over: { status?: string; retries?: number | null; age?: string; meta?: string } = {}) =>
  `(id, status, updated_at, retries, meta) values (1, '${over.status ?? 'running'}', now() - interval '${over.age ?? '3 hours'}', ${over.retries === undefined ? 0 : over.retries}, ${over.meta ?? 'null'})`;
const only = async (seed: string, c: RunsCleanupStaleConfig = cfg, taskId = 't') => (await batch(seed, stale(c, taskId)))[0]!;

describe('runs.cleanup_stale as a re-queue', () => {
  it('re-queues while retries remain', async () => {
    const { detail, row, counts } = await only(one({ retries: 2 }));
    expect(detail).toEqual({
      id: '1',
      job_type: null,
      status: 'running',
      action: 'requeued',
      new_status: 'pending',
      retry_count: 3,
      elapsed_minutes: 180,
      threshold_minutes: 120,
    });
    expect(row).toMatchObject({ status: 'pending', retries: 3, error: null });
    expect(counts).toEqual({ stale: 1, requeued: 1, finalized: 0 });
  });

  it('treats a null retry count as zero', async () => {
    expect((await only(one({ retries: null }))).detail).toMatchObject({ action: 'requeued', retry_count: 1 });
  });

  it('finalizes with the status-specific final status once retries are exhausted, with the reason', async () => {
    const failed = await only(one({ retries: 3 }));
    expect(failed.detail).toMatchObject({ action: 'finalized', new_status: 'failed', retry_count: 3 });
    expect(failed.row).toMatchObject({ status: 'failed', retries: 3 });
    const cancelled = await only(one({ status: 'pending', retries: 5, age: '90 minutes' }), cfg, 'nightly');
    expect(cancelled.detail).toMatchObject({ action: 'finalized', new_status: 'cancelled', retry_count: 5, threshold_minutes: 60 });
    expect(cancelled.row.error).toBe('Stale: pending for 1h30m (limit 1h); retries exhausted (5/3); marked cancelled by Caretaker task nightly');
  });

  it('reports the retry count requeue_set or final_set writes where it assigns the counter', async () => {
    const over = (extra: Record<string, unknown>) => runsCleanupStaleConfig.parse({ table: 'runs', columns: { retry_count: "meta->>'retries'" }, ...extra });
    const meta = (n: number) => `'{"retries": ${n}}'`;
    const check = async (seed: string, c: RunsCleanupStaleConfig, expected: Record<string, unknown>) => {
      const { detail, row } = await only(seed, c);
      expect(detail).toMatchObject(expected);
      // The detail is what the row now holds.
      const held = (row.meta as { retries?: unknown } | null)?.retries;
      expect(detail.retry_count).toBe(held === undefined || held === null ? null : Number(held));
    };
    await check(one({ meta: meta(1) }), over({ requeue_set: { "meta->'retries'": 0 } }), { action: 'requeued', retry_count: 0 });
    await check(one({ meta: meta(1) }), over({ requeue_set: { "meta->>'retries'": { increment: 5 } } }), { retry_count: 6 });
    await check(one({ meta: meta(1) }), over({ requeue_set: { "meta->>'retries'": null } }), { retry_count: null });
    await check(one({ meta: meta(1) }), over({ requeue_set: { "meta->>'other'": 9 } }), { retry_count: 2 });
    await check(one({ meta: meta(3) }), over({ final_set: { failed: { "meta->>'retries'": '7' } } }), { action: 'finalized', retry_count: 7 });
    await check(one({ status: 'pending', meta: meta(3) }), over({ final_set: { failed: { "meta->>'retries'": 7 } } }), {
      new_status: 'cancelled',
      retry_count: 3,
    });
  });

  it('without a retry column, finalizes at once and says nothing about retries', async () => {
    const noRetry = runsCleanupStaleConfig.parse({ table: 'runs', max_retries: 0, columns: { error: 'error' } });
    const { detail, row, counts } = await only(one({ retries: null }), noRetry);
    expect(row.error).toBe('Stale: running for 3h (limit 2h); marked failed by Caretaker task t');
    expect(detail).toMatchObject({ action: 'finalized', retry_count: null });
    // No re-queue branch at all (the task still reports `requeued: 0`: fidelity.test.ts).
    expect(counts).toEqual({ stale: 1, finalized: 1 });
  });

  it('requires a final status for every status that has a threshold', () => {
    const parsed = runsCleanupStaleConfig.safeParse({ table: 'runs', max_retries: 0, thresholds: { zombie: '1h' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe('expected a final status for "zombie" (it has a threshold), got none');
  });

  it('a read-only dry run shows the same details as an executed batch, and a job type threshold in its own terms', async () => {
    const c = runsCleanupStaleConfig.parse({
      table: 'runs',
      columns: { retry_count: 'retries', job_type: 'job_type' },
      job_type_thresholds: { analysis: '1h' },
    });
    const seed = `(id, status, updated_at, retries, job_type) values (1, 'running', now() - interval '61 minutes', 0, 'analysis'),
      (2, 'running', now() - interval '61 minutes', 0, 'export'), (3, 'submitted', now() - interval '2 hours', 3, null)`;
    const executed = (await batch(seed, stale(c))).map((o) => o.detail);
    const predicted = (await batch(seed, stale(c), 'predict')).map((o) => o.detail);
    expect(executed.map((d) => [d.id, d.action, d.threshold_minutes, d.job_type])).toEqual([
      ['1', 'requeued', 60, 'analysis'],
      ['3', 'finalized', 30, null],
    ]);
    expect(predicted).toEqual(executed);
  });
});

describe('requeueSet', () => {
  const set = (limit: number | 'column') => async (c: PoolClient) => {
    const key = await resolveKeyed(c, 'runs', 'id', ['status', 'retries', 'max_attempts', 'error'], 'test');
    return requeueSet({
      label: 'jobs',
      key,
      where: () => [`t.status = 'stuck'`],
      retries: { counter: whole('retries'), limit: limit === 'column' ? whole('max_attempts') : limit },
      requeue: [[whole('status'), 'queued']],
      final: [
        { when: () => `t.error is not null`, assign: [[whole('status'), 'discarded']], counter: 'discarded' },
        { when: null, assign: [[whole('status'), 'failed']], counter: 'failed' },
      ],
    });
  };
  const seed = `(id, status, updated_at, retries, max_attempts, error) values
    (1, 'stuck', now(), 0, 3, null), (2, 'stuck', now(), 3, 3, null), (3, 'stuck', now(), 3, 3, 'boom'),
    (4, 'stuck', now(), 1, 1, null), (5, 'stuck', now(), 1, 5, 'x'), (6, 'stuck', now(), null, null, null), (7, 'done', now(), 0, 3, null)`;
  const fates = (outcomes: Outcome[]) => Object.fromEntries(outcomes.map((o) => [o.detail.id, `${String(o.row.status)}/${String(o.row.retries)}`]));

  it('re-queues below each row’s own limit (incrementing the counter), else takes the first final outcome that holds', async () => {
    const out = await batch(seed, set('column'));
    expect(fates(out)).toEqual({ 1: 'queued/1', 2: 'failed/3', 3: 'discarded/3', 4: 'failed/1', 5: 'queued/2', 6: 'failed/null' });
    expect(out[0]!.counts).toEqual({ matched: 6, requeued: 2, discarded: 1, failed: 3 });
    expect(out.map((o) => o.detail.outcome)).toEqual(['requeued', 'requeued', 'discarded', 'failed', 'failed', 'failed']);
  });

  it('or below one limit for every row', async () => {
    expect(fates(await batch(seed, set(2)))).toEqual({ 1: 'queued/1', 2: 'failed/3', 3: 'discarded/3', 4: 'queued/2', 5: 'queued/2', 6: 'queued/1' });
  });
});

describe('cases with a delete branch', () => {
  it('leaves a parent skipped for a locked child out of the keys a plan records', async () => {
    await db.pool.query(`create table parents (id int primary key, state text not null);
      create table kids (id int primary key, parent_id int not null references parents (id));
      insert into parents values (1, 'keep'), (2, 'old'), (3, 'old'); insert into kids values (20, 2), (30, 3);`);
    const holder = await db.pool.connect();
    try {
      await holder.query(`begin; select * from kids where id = 20 for update`);
      await client.query('begin');
      const key = await resolveKeyed(client, 'parents', 'id', ['state'], 'test');
      const unit = rowSetUnit({
        label: 'parents',
        key,
        where: () => [],
        action: {
          kind: 'cases',
          branches: [
            { when: () => `t.state = 'keep'`, action: { kind: 'update', assign: [[whole('state'), 'kept']] }, counter: 'updated' },
            {
              when: null,
              action: { kind: 'delete', children: [{ table: await resolveTable(client, 'kids', ['parent_id'], 'test'), columns: ['parent_id'] }] },
              counter: 'deleted',
            },
          ],
        },
      });
      const items = await unit.nextBatch(client, null, 100, 'rehearse');
      expect(items.map((i) => unit.cursorOf(i))).toEqual([['1'], ['2'], ['3']]);
      const effect = await unit.act(client, items, 'rehearse');
      expect(effect.counts).toMatchObject({ matched: 3, updated: 1, deleted: 1, skipped_for_locks: 1 });
      expect(effect.keys).toEqual([['1'], ['3']]);
    } finally {
      await client.query('rollback');
      await holder.query('rollback');
      holder.release();
    }
  });
});

describe('durationSql', () => {
  const values = [0, 1, 999, 1_000, 1_500, 59_999, 60_000, 90_000, 3_600_000, 5_400_000, 7_200_000, 86_400_000, 93_784_005, 1_209_600_000, 1500.5];
  const minutes = [0, 1, 59, 60, 61, 125, 1_439, 1_440, 1_441, 3_005, 20_160].map((m) => m * 60_000);
  /** The texts `sql` (of the column `v`) writes for the values, in order. */
  const written = async (sql: string, of: number[]) =>
    (await client.query<{ text: string }>(`select ${sql} as text from unnest($1::float8[]) with ordinality t(v, n) order by n`, [of])).rows.map((r) => r.text);

  it('writes a duration in SQL exactly as formatDuration does', async () => {
    expect(await written(durationSql('t.v'), values)).toEqual(values.map(formatDuration));
  });

  it('writes whole minutes to the minute, a rest below it dropped', async () => {
    expect(await written(durationSql('t.v', 'm'), minutes)).toEqual(minutes.map(formatDuration));
    expect(await written(durationSql('t.v', 'm'), [59_999, 3_659_999])).toEqual(['0s', '1h']);
  });

  it('writes what formatDuration writes for a negative age, as the activity’s earlier SQL did: nothing', async () => {
    // A stale run's age is negative when its naive timestamp falls in a DST fall-back's repeated hour:
    // in Europe/Berlin '2026-10-25 02:30' is older than now() - 10 minutes at 01:05 UTC (02:55 local),
    // yet read as an instant it is 01:30 UTC, 25 minutes after now().
    const negative = [-1, -60_000, -1_500_000, -90_000_000];
    expect(negative.map(formatDuration)).toEqual(['', '', '', '']);
    expect(await written(durationSql('t.v'), negative)).toEqual(negative.map(formatDuration));
    expect(await written(durationSql('t.v', 'm'), negative)).toEqual(negative.map(formatDuration));
  });

  it('is rule text: parsed, checked and rendered as rows.rules reads it, it writes the same', async () => {
    await client.query('begin');
    try {
      await client.query('create table durations (n int primary key, v float8)');
      const table = await resolveTable(client, 'durations', ['n', 'v'], 'test');
      for (const [sql, of] of [
        [durationSql('v'), values],
        [durationSql('v', 'm'), minutes],
      ] as const) {
        const text = parseSqlText(sql, 'value');
        await assertStableFunctions(client, [text]);
        await client.query('truncate durations');
        await client.query('insert into durations select n, v from unnest($1::float8[]) with ordinality u(v, n)', [of]);
        const p = new SqlParams();
        const { rows } = await client.query<{ text: string }>(`select ${renderSqlText(text, table, p)} as text from durations t order by n`, p.values);
        expect(rows.map((r) => r.text)).toEqual(of.map(formatDuration));
      }
    } finally {
      await client.query('rollback');
    }
  });
});
