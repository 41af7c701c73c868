import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { parseConfigText } from '../config/load';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';

/**
 * Shapes real job schemas have and Caretaker's demo does not: composite references, file paths
 * built from several columns, counters inside JSON, naive UTC timestamps on a server whose
 * TimeZone is New York, per-status age columns, what a re-queue and a final state write, parent
 * filters, and tables capped by count and by size.
 */
const env = useTaskEnvironment('shapes');
const appsDir = mkdtempSync(join(tmpdir(), 'caretaker-apps-'));
afterAll(() => rmSync(appsDir, { recursive: true, force: true }));

const SCHEMA = `
  drop schema if exists shop cascade;
  create schema shop;
  create table shop.apps (model_slug text not null, app_number int not null, primary key (model_slug, app_number));
  create table shop.tasks (id bigint primary key, target_model text, target_app_number int, status text not null);
  create table shop.runs (
    id bigint primary key, status text not null, config jsonb not null default '{}',
    created_at timestamp not null, started_at timestamp, completed_at timestamp, broker_task_id text, error text);
  create table shop.collections (id int primary key, kind text not null, stats jsonb not null);
  create table shop.collection_files (id int primary key, collection_id int not null references shop.collections, deleted boolean not null default false);
  create table shop.cache (key text primary key, last_used_at timestamptz not null, bytes int not null);`;

/** Naive timestamps written the way the application writes them: UTC wall time. */
const utcAgo = (interval: string) => `(now() at time zone 'UTC') - interval '${interval}'`;

beforeEach(async () => {
  const db = env.db;
  await db.pool.query(`alter database ${db.name} set timezone = 'America/New_York'`);
  await db.pool.query(SCHEMA);
});

function task(type: string, config: Record<string, unknown>, extra = ''): ReturnType<typeof parseConfigText>['tasks'][number] {
  const text = JSON.stringify({ ...(extra ? JSON.parse(extra) : {}), tasks: [{ id: 'shape', type, config: { batch_size: 2, ...config } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

/** Dry run, then real run: the dry run touches nothing and reports what the real run then does. */
async function dryThenReal(t: ReturnType<typeof task>, rows: () => Promise<unknown>): Promise<TaskResult> {
  const before = await rows();
  const preview = await runTaskWorkflow(env.temporal, t, { dryRun: true });
  expect(await rows()).toEqual(before);
  const real = await runTaskWorkflow(env.temporal, t);
  expect(realNames(preview.counts)).toEqual(real.counts);
  return real;
}

const all = async (table: string, order = 'id') => (await env.db.pool.query(`select * from shop.${table} order by ${order}`)).rows;
const runsAsText = async () =>
  (
    await env.db.pool.query(
      `select id, status, config, created_at::text, started_at::text, completed_at::text, broker_task_id, error from shop.runs order by id`,
    )
  ).rows;

describe('runs.cleanup_stale on a real job table', () => {
  const config = {
    table: 'shop.runs',
    max_fraction: 1,
    columns: { timestamp: 'started_at', retry_count: "config->>'retry_count'", error: 'error', finished_at: 'completed_at' },
    age_columns: { pending: 'created_at' },
    thresholds: { pending: '1h', running: '2h' },
    final_status: { pending: 'cancelled', running: 'failed' },
    max_retries: 1,
    requeue_status: 'pending',
    requeue_set: { started_at: null, broker_task_id: null, created_at: { now: true } },
    final_set: { failed: { "config->>'failed_by'": 'caretaker' } },
  };

  beforeEach(async () => {
    await env.db.pool.query(`insert into shop.runs (id, status, config, created_at, started_at, broker_task_id) values
      (1, 'running', '{"retry_count": 0}', ${utcAgo('5 hours')}, ${utcAgo('3 hours')}, 'celery-1'),   -- stale, retry left: re-queued
      (2, 'running', '{"retry_count": 1}', ${utcAgo('5 hours')}, ${utcAgo('3 hours')}, 'celery-2'),   -- stale, exhausted: failed
      (3, 'pending', '{}',                 ${utcAgo('90 minutes')}, null, null),                       -- pending by created_at: stale
      (4, 'running', '{"retry_count": 0}', ${utcAgo('5 hours')}, ${utcAgo('90 minutes')}, 'celery-4'), -- running 90 min: fresh
      (5, 'pending', '{"retry_count": 1}', ${utcAgo('30 minutes')}, null, null),                       -- pending 30 min: fresh
      (6, 'completed', '{}',               ${utcAgo('9 hours')}, ${utcAgo('8 hours')}, null)`);
  });

  it('reads naive UTC timestamps in UTC, measures pending from created_at, writes what the config says', async () => {
    const t = task('runs.cleanup_stale', { ...config, timestamps: { zone: 'UTC' } });
    const fresh = (await runsAsText()).filter((r) => [4, 5, 6].includes(Number(r.id)));
    const real = await dryThenReal(t, runsAsText);
    expect(real.counts).toMatchObject({ stale: 3, requeued: 2, finalized: 1 });

    const after = await runsAsText();
    const byId = (id: number) => after.find((r) => Number(r.id) === id)!;
    // Re-queued: retry counter inside JSON incremented, broker handle and started_at cleared, clock reset.
    expect(byId(1)).toMatchObject({ status: 'pending', config: { retry_count: 1 }, started_at: null, broker_task_id: null, completed_at: null });
    expect(byId(3)).toMatchObject({ status: 'pending', config: { retry_count: 1 }, started_at: null });
    // Finalized: final status, message, completed_at, and final_set's JSON key; the retry count kept.
    expect(byId(2)).toMatchObject({ status: 'failed', config: { retry_count: 1, failed_by: 'caretaker' }, broker_task_id: 'celery-2' });
    expect(byId(2).error).toMatch(/^Stale: running for 3h/);
    expect(byId(2).completed_at).not.toBeNull();
    // completed_at and created_at were written in UTC wall time, like the application writes them.
    const { rows } = await env.db.pool.query(`select extract(epoch from (now() at time zone 'UTC') - completed_at) as lag from shop.runs where id = 2`);
    expect(Math.abs(Number(rows[0].lag))).toBeLessThan(600);
    expect(after.filter((r) => [4, 5, 6].includes(Number(r.id)))).toEqual(fresh);
  });

  it("without a zone, ages follow the session's TimeZone; a database-wide zone fixes every task of that database", async () => {
    const sessionZone = await runTaskWorkflow(env.temporal, task('runs.cleanup_stale', config), { dryRun: true });
    // UTC wall times read as New York times lie five hours in the future: nothing looks stale.
    expect(sessionZone.counts).toMatchObject({ stale: 0 });
    const fromDatabase = task('runs.cleanup_stale', config, JSON.stringify({ databases: { default: { timestamps: { zone: 'UTC' } } } }));
    expect(fromDatabase.config.timestamps).toEqual({ zone: 'UTC', columns: {} });
    expect((await runTaskWorkflow(env.temporal, fromDatabase, { dryRun: true })).counts).toMatchObject({ stale: 3 });
  });

  it('JSON writes create missing parent keys, and a missing counter never blanks the column', async () => {
    const t = task('runs.cleanup_stale', {
      ...config,
      max_retries: 0,
      timestamps: { zone: 'UTC' },
      final_set: { cancelled: { "config->'audit'->>'by'": 'caretaker' }, failed: {} },
    });
    await runTaskWorkflow(env.temporal, t);
    const { rows } = await env.db.pool.query(`select id, status, config from shop.runs where id = 3`);
    // Row 3 had config {} (no retry_count, no audit): the counter is written as JSON null, the
    // nested key is created, nothing else in the column is lost.
    expect(rows[0]).toMatchObject({ status: 'cancelled', config: { retry_count: null, audit: { by: 'caretaker' } } });
  });

  it('a JSON path into a column that is not JSON is a config error naming it', async () => {
    const t = task('runs.cleanup_stale', { ...config, columns: { ...config.columns, retry_count: "error->>'n'" } });
    expect((await taskFailure(runTaskWorkflow(env.temporal, t))).message).toMatch(
      /error->>'n' reads a JSON path, but shop\.runs\.error is text, not json or jsonb/,
    );
  });
});

describe('assets.detect_orphans with composite references and path templates', () => {
  it('finds apps whose directory is gone and tasks whose (model, app) is gone', async () => {
    const pool = env.db.pool;
    await pool.query(`insert into shop.apps values ('gpt', 1), ('gpt', 2), ('claude', 1)`);
    await pool.query(
      `insert into shop.tasks values (1, 'gpt', 1, 'PENDING'), (2, 'gpt', 9, 'PENDING'), (3, 'llama', 1, 'RUNNING'), (4, 'llama', 1, 'COMPLETED'), (5, null, null, 'PENDING')`,
    );
    mkdirSync(join(appsDir, 'generated/apps/gpt/app1'), { recursive: true });
    mkdirSync(join(appsDir, 'generated/apps/claude/app1'), { recursive: true });
    const t = task('assets.detect_orphans', {
      max_fraction: 1,
      rules: [
        {
          kind: 'missing_parent',
          table: 'shop.tasks',
          reference_column: ['target_model', 'target_app_number'],
          parent_table: 'shop.apps',
          parent_id_column: ['model_slug', 'app_number'],
          where: { status: ['PENDING', 'RUNNING'] },
          action: 'update',
          set: { status: 'CANCELLED' },
        },
        {
          kind: 'missing_file',
          table: 'shop.apps',
          id_column: ['model_slug', 'app_number'],
          path_column: 'generated/apps/{model_slug}/app{app_number}',
          base_dir: appsDir,
          action: 'delete',
        },
      ],
    });
    const rows = async () => ({ apps: await all('apps', 'model_slug, app_number'), tasks: await all('tasks') });
    const real = await dryThenReal(t, rows);
    expect(real.sets).toMatchObject({ 'missing_parent shop.tasks': { updated: 2 }, 'missing_file shop.apps': { deleted: 1 } });
    const after = await rows();
    expect(after.apps).toEqual([
      { model_slug: 'claude', app_number: 1 },
      { model_slug: 'gpt', app_number: 1 },
    ]);
    expect(after.tasks.map((r) => [Number(r.id), r.status])).toEqual([
      [1, 'PENDING'],
      [2, 'CANCELLED'],
      [3, 'CANCELLED'],
      [4, 'COMPLETED'],
      [5, 'PENDING'],
    ]);
  });
});

describe('counts.rebuild with a parent filter and a counter inside JSON', () => {
  it('fixes manual collections only, in stats->>file_count', async () => {
    const pool = env.db.pool;
    await pool.query(
      `insert into shop.collections values (1, 'manual', '{"file_count": 5, "owner": "ann"}'), (2, 'manual', '{"file_count": 1}'), (3, 'smart', '{"file_count": 40}')`,
    );
    await pool.query(`insert into shop.collection_files values (1, 1, false), (2, 1, false), (3, 1, true), (4, 2, false), (5, 3, false)`);
    const t = task('counts.rebuild', {
      counters: [
        {
          table: 'shop.collections',
          count_column: "stats->>'file_count'",
          where: { kind: 'manual' },
          child_table: 'shop.collection_files',
          child_column: 'collection_id',
          child_where: { deleted: false },
        },
      ],
    });
    const real = await dryThenReal(t, () => all('collections'));
    expect(real.counts).toMatchObject({ checked: 2, drifted: 1, fixed: 1 });
    expect((await all('collections')).map((r) => r.stats)).toEqual([{ file_count: 2, owner: 'ann' }, { file_count: 1 }, { file_count: 40 }]);
  });
});

describe('retention.enforce caps', () => {
  beforeEach(async () => {
    // key k01..k10, k10 used most recently; 100 bytes each.
    await env.db.pool.query(
      `insert into shop.cache select 'k' || lpad(i::text, 2, '0'), now() - (10 - i) * interval '1 hour', 100 from generate_series(1, 10) i`,
    );
  });
  const keys = async () => (await all('cache', 'key')).map((r) => r.key as string);

  it('keep_newest keeps the N most recently used rows', async () => {
    const t = task('retention.enforce', {
      max_fraction: 1,
      policies: [{ table: 'shop.cache', id_column: 'key', timestamp_column: 'last_used_at', keep_newest: 3 }],
    });
    expect((await dryThenReal(t, keys)).counts).toMatchObject({ deleted: 7 });
    expect(await keys()).toEqual(['k08', 'k09', 'k10']);
  });

  it('max_total_size evicts least recently used rows until the rest fits', async () => {
    const t = task('retention.enforce', {
      max_fraction: 1,
      policies: [{ table: 'shop.cache', id_column: 'key', timestamp_column: 'last_used_at', max_total_size: '450B', size_column: 'bytes' }],
    });
    expect((await dryThenReal(t, keys)).counts).toMatchObject({ deleted: 6 });
    expect(await keys()).toEqual(['k07', 'k08', 'k09', 'k10']);
  });

  it('exactly one rule per policy, with a timestamp to order by', () => {
    expect(() => task('retention.enforce', { max_fraction: 1, policies: [{ table: 'shop.cache', keep_newest: 3 }] })).toThrow(
      /expected timestamp_column with keep_newest/,
    );
    expect(() =>
      task('retention.enforce', { max_fraction: 1, policies: [{ table: 'shop.cache', timestamp_column: 'last_used_at', keep_newest: 3, older_than: '30d' }] }),
    ).toThrow(/expected exactly one of older_than, expires_column, keep_newest, max_total_size; got older_than and keep_newest/);
  });
});
