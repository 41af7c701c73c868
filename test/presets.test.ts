import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import { builtinCatalog } from '../tasks';
import { ruleTextSources } from '../tasks/rows-rules';
import type { RetentionEnforceConfig } from '../tasks/retention-enforce';
import type { RunsCleanupExpiredConfig } from '../tasks/runs-cleanup-expired';
import { parseSqlText } from '../tasks/sql-text';
import type { StatusResetConfig } from '../tasks/status-reset';
import type { SyncTriggerConfig } from '../tasks/sync-trigger';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { runTaskWorkflow } from './fixtures';
import { seedRetention } from './retention-seed';
import { rowsOf } from './rows-rules-support';
import { useTaskEnvironment } from './support';
import type { AssetsDetectOrphansConfig } from '../tasks/assets-detect-orphans';
import type { ExtractionQueueOrphansConfig } from '../tasks/extraction-queue-orphans';
import type { RunsCleanupStaleConfig } from '../tasks/runs-cleanup-stale';
import { seedOrphans, seedQueueOrphans, seedStale } from './presets-forms-support';

/**
 * status.reset, runs.cleanup_expired and sync.trigger are presets of rows.rules (issue 18). For
 * every config of those types in the examples and the tests: the rules the preset runs hold no
 * SQL text the worker would have to parse (what text they hold is built, and parses to exactly
 * the built tree), and the task `caretaker rules` prints, loaded as a rows.rules task, changes
 * exactly the rows the preset changes on the same seeded rows (both dry runs and the real run),
 * with the same counts and details.
 */
const env = useTaskEnvironment('presets');
const dir = mkdtempSync(join(tmpdir(), 'caretaker-presets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The configs of these types in the tests (status-and-counts, runs-cleanup-expired, dispatch), as a file. */
const TEST_CONFIGS = join(dir, 'test-configs.yaml');
writeFileSync(
  TEST_CONFIGS,
  JSON.stringify({
    tasks: [
      {
        id: 'plans',
        type: 'status.reset',
        schedule: { every: '5m' },
        config: {
          table: 'analysis_plans',
          columns: { id: 'plan_id', timestamp: 'updated_at' },
          from_status: 'PENDING',
          to_status: 'DRAFT',
          min_age: '10m',
          jobs: { table: 'jobs', running_statuses: ['running', 'pending'] },
          batch_size: 2,
        },
      },
      {
        id: 'expired',
        type: 'gc.cleanup',
        schedule: { every: '1h' },
        config: {
          table: 'ops.task_history',
          columns: { id: 'task_id', status: 'phase', timestamp: 'finished_at' },
          children: [{ table: 'ops.task_events', column: 'task_ref' }],
          batch_size: 2,
        },
      },
      {
        id: 'sp-hourly',
        type: 'sharepoint.scheduled_sync',
        schedule: { every: '1h' },
        config: {
          table: 'sharepoint_sync_configs',
          frequency: 'hourly',
          where: { enabled: true },
          workflow: { type: 'sharePointSync', task_queue: 'presets-app', id_prefix: 'presets-sp-' },
        },
      },
    ],
  }),
);

const FILES = ['maintenance.yaml', 'examples/curatore.yaml', 'examples/cleanup-job.yaml', 'examples/thesisapp.yaml', TEST_CONFIGS];
const PRESETS = ['status.reset', 'runs.cleanup_expired', 'sync.trigger'];

// Read while the tests are collected (none of these files holds SQL text, which would need the parser loaded).
const cases = FILES.flatMap((file) =>
  parseConfigText(readFileSync(file, 'utf8'), file)
    .tasks.filter((t) => PRESETS.includes(t.type))
    .map((task) => ({ file, task })),
);

const presetOf = (task: TaskConfig) => builtinCatalog.find(task.type)!.preset!(task.config as never);

const q = (name: string) =>
  name
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
const schemaOf = (name: string) => (name.includes('.') ? [`create schema if not exists "${name.split('.')[0]}";`] : []);
/** Ids start at a random base, so workflow ids (`id_prefix` + id) are this run's alone. */
const base = 1000 + Math.floor(Math.random() * 900_000);

/** status.reset: every status (from, to, other) × every job state (each running status, failed, completed, missing, none) × an age a minute either side of min_age. */
function seedStatusReset(cfg: StatusResetConfig): { sql: string; tables: Record<string, string> } {
  const c = cfg.columns;
  const id = [c.id].flat()[0]!;
  const jobs = cfg.jobs;
  const jobStates = [...jobs.running_statuses, 'failed', 'completed'];
  const ages = c.timestamp ? [cfg.min_age + 60_000, Math.max(0, cfg.min_age - 60_000)] : [0];
  const rows: string[] = [];
  let n = base;
  for (const status of [cfg.from_status, cfg.to_status, 'OTHER'])
    for (const job of [...jobStates.map((_, i) => String(base + i)), String(base + 999_999), 'null'])
      for (const age of ages) rows.push(`(${n++}, '${status}', ${job}${c.timestamp ? `, now() - ${age} * interval '1 millisecond'` : ''})`);
  return {
    sql: [
      ...schemaOf(cfg.table),
      ...schemaOf(jobs.table),
      `drop table if exists ${q(cfg.table)}, ${q(jobs.table)} cascade;`,
      `create table ${q(jobs.table)} ("${jobs.id_column}" int primary key, "${jobs.status_column}" text not null);`,
      `insert into ${q(jobs.table)} values ${jobStates.map((s, i) => `(${base + i}, '${s}')`).join(', ')};`,
      `create table ${q(cfg.table)} ("${id}" int primary key, "${c.status}" text not null, "${c.job}" int${c.timestamp ? `, "${c.timestamp}" timestamptz not null` : ''});`,
      `insert into ${q(cfg.table)} values ${rows.join(', ')};`,
    ].join('\n'),
    tables: { [cfg.table]: id, [jobs.table]: jobs.id_column },
  };
}

/** runs.cleanup_expired: every terminal status and two others × a minute either side of retention, and no timestamp; two child rows each. */
function seedCleanupExpired(cfg: RunsCleanupExpiredConfig): { sql: string; tables: Record<string, string> } {
  const c = cfg.columns;
  const id = [c.id].flat()[0]!;
  const retention = `${cfg.retention_days} * interval '1 day'`;
  const rows: string[] = [];
  let n = base;
  for (const status of [...cfg.terminal_statuses, 'running', 'queued'])
    for (const at of [`now() - ${retention} - interval '1 minute'`, `now() - ${retention} + interval '1 minute'`, 'null'])
      rows.push(`(${n++}, '${status}', ${at})`);
  // Fresh running rows keep the deleted share under max_fraction's default.
  rows.push(...rows.map(() => `(${n++}, 'running', now())`));
  const children = cfg.children.flatMap((ch) => [
    `create table ${q(ch.table)} (child_id serial primary key, "${[ch.column].flat()[0]}" int references ${q(cfg.table)} ("${id}"));`,
    `insert into ${q(ch.table)} ("${[ch.column].flat()[0]}") select g from generate_series(${base}, ${n - 1}) g, generate_series(1, 2);`,
  ]);
  return {
    sql: [
      ...schemaOf(cfg.table),
      ...cfg.children.flatMap((ch) => schemaOf(ch.table)),
      `drop table if exists ${[cfg.table, ...cfg.children.map((ch) => ch.table)].map(q).join(', ')} cascade;`,
      `create table ${q(cfg.table)} ("${id}" int primary key, "${c.status}" text not null, "${c.timestamp}" timestamptz);`,
      `insert into ${q(cfg.table)} values ${rows.join(', ')};`,
      ...children,
    ].join('\n'),
    tables: { [cfg.table]: id, ...Object.fromEntries(cfg.children.map((ch) => [ch.table, 'child_id'])) },
  };
}

/** sync.trigger: each frequency (the task's and another) × each `where` column holding its value or another. */
function seedSyncTrigger(cfg: SyncTriggerConfig): { sql: string; tables: Record<string, string> } {
  const id = [cfg.id_column].flat()[0]!;
  const filters = Object.entries(cfg.where);
  const typeOf = (v: unknown) => (typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'numeric' : 'text');
  const sqlOf = (v: unknown) => (v === null ? 'null' : typeof v === 'string' ? `'${v}'` : String(v));
  const other = (v: unknown) => (typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : 'other');
  let combos: unknown[][] = [[]];
  for (const [, v] of filters)
    combos = combos.flatMap((c) => [
      [...c, Array.isArray(v) ? v[0] : v],
      [...c, other(v)],
    ]);
  const rows: string[] = [];
  let n = base;
  for (const frequency of [cfg.frequency ?? 'hourly', 'never'])
    for (const combo of combos) rows.push(`(${n++}, '${frequency}', ${combo.map(sqlOf).join(', ') || 'null'})`);
  const columns = filters.map(([k, v]) => `"${k}" ${typeOf(Array.isArray(v) ? v[0] : v)}`);
  return {
    sql: [
      ...schemaOf(cfg.table),
      `drop table if exists ${q(cfg.table)} cascade;`,
      `create table ${q(cfg.table)} ("${id}" int primary key, "${cfg.frequency_column}" text not null, ${columns.join(', ') || 'unused text'});`,
      `insert into ${q(cfg.table)} values ${rows.join(', ')};`,
    ].join('\n'),
    tables: { [cfg.table]: id },
  };
}

function seedFor(task: TaskConfig) {
  if (task.type === 'status.reset') return seedStatusReset(task.config as StatusResetConfig);
  if (task.type === 'runs.cleanup_expired') return seedCleanupExpired(task.config as RunsCleanupExpiredConfig);
  return seedSyncTrigger(task.config as SyncTriggerConfig);
}

type Fates = Record<string, Record<string, string>>;

/** Per table, per row: `gone`, or the columns whose value changed (as JSON). Every other row is unchanged. */
function fates(before: Map<string, Record<string, unknown>>[], after: Map<string, Record<string, unknown>>[], names: string[]): Fates {
  const out: Fates = {};
  names.forEach((name, i) => {
    const table: Record<string, string> = {};
    for (const [k, row] of before[i]!) {
      const now = after[i]!.get(k);
      if (!now) table[k] = 'gone';
      else {
        const changed = Object.keys(row).filter((c) => JSON.stringify(row[c]) !== JSON.stringify(now[c]));
        if (changed.length > 0) table[k] = changed.map((c) => `${c}=${JSON.stringify(now[c])}`).join(',');
      }
    }
    for (const k of after[i]!.keys()) if (!before[i]!.has(k)) table[k] = 'new';
    out[name] = table;
  });
  return out;
}

/** What a run reports, in names a real run uses, and its rows by set and key. */
const summary = (r: TaskResult) => ({
  status: r.status,
  counts: realNames(r.counts),
  sets: Object.fromEntries(Object.entries(r.sets).map(([k, v]) => [k, realNames(v)])),
  details: r.details.map((d) => `${String(d.set)}|${JSON.stringify(d.id)}|${String(d.action)}`),
});

/** Seeds, runs the task as both dry runs (which change nothing) and for real; the summaries and the real run's row fates. */
async function runOnSeed(pool: Pool, task: TaskConfig, seed: { sql: string; tables: Record<string, string> }) {
  await pool.query(seed.sql);
  const names = Object.keys(seed.tables);
  const snap = () => Promise.all(names.map((t) => rowsOf(pool, q(t), `"${seed.tables[t]}"`)));
  const before = await snap();
  const runs: ReturnType<typeof summary>[] = [];
  for (const mode of ['execute', 'read_only']) {
    runs.push(summary(await runTaskWorkflow(env.temporal, { ...task, config: { ...task.config, dry_run_mode: mode } }, { dryRun: true })));
    expect(await snap()).toEqual(before);
  }
  const real = await runTaskWorkflow(env.temporal, task);
  runs.push(summary(real));
  const result = { runs, fates: fates(before, await snap(), names) };
  // Started workflows end here, so the next variant starts the same ones afresh.
  if (task.type === 'sync.trigger' || task.type === 'rows.rules' || task.type === 'extraction.queue_orphans') {
    for (const d of real.details.filter((x) => x.action === 'start_workflow')) {
      const prefix =
        (task.config as SyncTriggerConfig).workflow?.id_prefix ??
        (task.config as { rules: { start_workflow?: { id_prefix: string } }[] }).rules[0]!.start_workflow!.id_prefix;
      await env.temporal.client.workflow
        .getHandle(`${prefix}${String(d.id)}`)
        .terminate('presets test')
        .catch(() => undefined);
    }
  }
  return result;
}

/** `caretaker rules <id> -f <file>`, as a rows.rules task of a config file. */
async function printedTask(file: string, id: string): Promise<{ text: string; task: TaskConfig }> {
  const printed = await caretaker('rules', id, '-f', file);
  expect(printed.err).toBe('');
  expect(printed.code).toBe(0);
  const entries = parse(printed.out) as Record<string, unknown>[];
  expect(entries).toHaveLength(1);
  const task = parseConfigText(JSON.stringify({ tasks: entries }), 'printed.yaml', {}).tasks[0]!;
  return { text: printed.out, task };
}

describe('presets of rows.rules', () => {
  it('covers every example and test config of the three types', () => {
    expect(cases.map((c) => `${c.task.id} (${c.task.type})`).sort()).toEqual(
      [
        'expired (runs.cleanup_expired)',
        'expired-runs (runs.cleanup_expired)',
        'expired-runs (runs.cleanup_expired)',
        'forecast-daily (sync.trigger)',
        'old-tasks (runs.cleanup_expired)',
        'plans (status.reset)',
        'sam-daily (sync.trigger)',
        'sharepoint-hourly (sync.trigger)',
        'sharepoint-hourly (sync.trigger)',
        'sp-hourly (sync.trigger)',
        'stuck-plans (status.reset)',
        'stuck-plans (status.reset)',
      ].sort(),
    );
  });

  it('caretaker rules refuses a task that is not made of rules, naming the types that are (exit 2)', async () => {
    const run = await caretaker('rules', 'album-counts', '-f', 'maintenance.yaml');
    expect(run.code).toBe(2);
    expect(run.err).toContain(
      'task album-counts is counts.rebuild, which is not a preset of rows.rules (the presets: runs.cleanup_expired, retention.enforce, status.reset, sync.trigger',
    );
  });

  it.each(cases.map((c) => [`${c.file === TEST_CONFIGS ? 'test configs' : c.file}: ${c.task.id}`, c] as const))(
    '%s: the rules hold only built SQL text, which parses to exactly the built tree (the worker never loads the parser)',
    (_name, { task }) => {
      const { rules, texts } = presetOf(task);
      for (const source of rules.flatMap(ruleTextSources)) {
        const built = texts.find((t) => t.source === source.source && t.kind === source.kind);
        expect(built, `built text for ${source.source}`).toBeDefined();
        expect(parseSqlText(source.source, source.kind)).toEqual(built);
      }
    },
  );

  it.each(cases.map((c) => [`${c.file === TEST_CONFIGS ? 'test configs' : c.file}: ${c.task.id}`, c] as const))(
    '%s: the printed rows.rules task changes exactly the rows the preset changes; dry runs and real run alike',
    async (_name, { file, task }) => {
      const seed = seedFor(task);
      const preset = await runOnSeed(env.db.pool, task, seed);
      const { task: printed } = await printedTask(file, task.id);
      expect(printed.type).toBe('rows.rules');
      const rules = await runOnSeed(env.db.pool, printed, seed);
      expect(rules).toEqual(preset);
      // The seed meets the rule: something changes, something stays.
      const [dryExecute, dryRead, real] = preset.runs;
      expect(real!.status).toBe('completed');
      expect(Object.values(real!.sets).every((s) => (s.matched ?? 0) > 0)).toBe(true);
      expect(dryExecute).toEqual(real);
      expect(dryRead).toEqual(real);
      if (task.type !== 'sync.trigger') expect(Object.keys(Object.values(preset.fates)[0]!).length).toBeGreaterThan(0);
    },
  );
});

/**
 * runs.cleanup_stale, extraction.queue_orphans and assets.detect_orphans keep their activities (their
 * results and recorded histories stay), and `caretaker rules` prints their rows as rows.rules rules
 * (`TaskType.rulesForm`). For every config of those types in the examples and the tests: the printed
 * task, run as rows.rules, changes exactly the rows the task changes, to the same values (the stale
 * reason text included; a value written as now() reads "now"), and starts the same workflows; its dry
 * runs report the rows its real run changes. assets.detect_orphans' file rules stay a task of their own.
 */
const FORM_TYPES = ['runs.cleanup_stale', 'extraction.queue_orphans', 'assets.detect_orphans'];

/** Configs of these types from the tests (runs-cleanup-stale, requeue, assets-detect-orphans, dispatch), and ones that use every field the forms print. */
const TEST_FORM_CONFIGS = join(dir, 'test-form-configs.yaml');
writeFileSync(
  TEST_FORM_CONFIGS,
  JSON.stringify({
    tasks: [
      {
        id: 'pipeline',
        type: 'runs.cleanup_stale',
        schedule: { every: '5m' },
        config: {
          table: 'app.pipeline_jobs',
          columns: { id: 'job_id', status: 'state', timestamp: 'last_seen_at', retry_count: 'attempts', error: 'failure_reason', job_type: 'kind' },
          job_type_thresholds: { analysis: '1h' },
          requeue_set: { attempts: { increment: 2 } },
          final_set: { failed: { attempts: 0 } },
          batch_size: 2,
        },
      },
      {
        id: 'stale-json',
        type: 'runs.cleanup_stale',
        schedule: { every: '5m' },
        config: {
          table: 'stale_json',
          columns: {
            id: 'run_id',
            status: 'state',
            timestamp: 'seen_at',
            retry_count: "meta->>'retries'",
            error: "meta->>'reason'",
            finished_at: 'done_at',
            job_type: "meta->>'kind'",
            heartbeat: 'beat_at',
          },
          thresholds: { queued: '10m', running: '1h', paused: '90m' },
          age_columns: { queued: 'created_at' },
          job_type_thresholds: { report: '20m' },
          final_status: { queued: 'cancelled', running: 'failed', paused: 'failed' },
          requeue_status: 'queued',
          requeue_set: { "meta->>'requeued_at'": { now: true }, worker: null, created_at: { now: true } },
          final_set: { failed: { exit_code: -1, "meta->'final'->>'by'": 'caretaker' } },
          max_retries: 2,
        },
      },
      {
        // Naive columns that timestamps.columns gives a zone of their own, only written: the printed rules write now() at time zone it.
        id: 'stale-zoned',
        type: 'runs.cleanup_stale',
        schedule: { every: '5m' },
        config: {
          table: 'stale_zoned',
          columns: { id: 'run_id', status: 'state', timestamp: 'seen_at', retry_count: 'tries', finished_at: 'done_at' },
          max_retries: 1,
          requeue_set: { requeued_at: { now: true } },
          timestamps: { zone: 'UTC', columns: { done_at: 'Asia/Tokyo', requeued_at: 'America/New_York' } },
        },
      },
      {
        id: 'queue-by-status',
        type: 'extraction.queue_orphans',
        schedule: { every: '5m' },
        config: {
          table: 'queue_items',
          columns: { id: 'item_id', status: 'state', timestamp: 'queued_at' },
          pending_status: 'waiting',
          requeue_status: 'ready',
          older_than: '15m',
        },
      },
      {
        id: 'orphans',
        type: 'orphan.detect',
        schedule: { every: '1h' },
        config: {
          batch_size: 2,
          rules: [
            { kind: 'missing_file', name: 'orphan apps', table: 'apps', path_column: 'path', base_dir: join(dir, 'apps'), action: 'delete' },
            {
              kind: 'missing_parent',
              name: 'orphan tasks',
              table: 'tasks',
              reference_column: 'app_id',
              parent_table: 'apps',
              where: { status: ['pending', 'running'] },
              action: 'update',
              set: { status: 'cancelled', error: 'Target app no longer exists - cancelled by maintenance service' },
            },
            {
              kind: 'orphan_file',
              name: 'stray uploads',
              base_dir: join(dir, 'uploads'),
              table: 'uploads',
              path_column: 'file_path',
              min_age: '1h',
              action: 'delete',
            },
            { kind: 'stuck_pending', name: 'stuck assets', table: 'assets', older_than: '1h', error_column: 'error' },
          ],
        },
      },
      {
        id: 'docs',
        type: 'assets.detect_orphans',
        schedule: { every: '1h' },
        config: {
          rules: [
            {
              kind: 'missing_parent',
              name: 'ownerless docs',
              table: 'docs',
              reference_column: 'owner_id',
              parent_table: 'owners',
              action: 'delete',
              children: [{ table: 'doc_pages', column: 'doc_id' }],
            },
            {
              kind: 'missing_parent',
              table: 'notes',
              reference_column: 'doc_ref',
              parent_table: 'owners',
              action: 'update',
              set: { "meta->'orphan'->>'by'": 'caretaker', "meta->>'count'": 1, archived: true },
            },
            { kind: 'missing_parent', table: 'memos', reference_column: 'owner_ref', parent_table: 'owners', where: { draft: true }, action: 'report' },
            {
              kind: 'stuck_pending',
              name: 'stuck json',
              table: 'uploads_json',
              retry_column: "meta->>'retries'",
              max_retries: 1,
              pending_status: 'waiting',
              failed_status: 'dead',
              older_than: '2h',
            },
          ],
        },
      },
    ],
  }),
);

const FORM_FILES = [...FILES.filter((f) => f !== TEST_CONFIGS), 'examples/ucore.yaml', TEST_FORM_CONFIGS];
const formCases = FORM_FILES.flatMap((file) =>
  parseConfigText(readFileSync(file, 'utf8'), file)
    .tasks.filter((t) => FORM_TYPES.includes(t.type))
    .map((task) => ({ file, task })),
);

type OrphanRule = AssetsDetectOrphansConfig['rules'][number];
const isRowRule = (r: OrphanRule): r is Extract<OrphanRule, { kind: 'missing_parent' | 'stuck_pending' }> =>
  r.kind === 'missing_parent' || r.kind === 'stuck_pending';

/** The task as its activity runs its row rules alone (assets.detect_orphans' file rules are printed as a task of their own). */
function rowRulesOnly(task: TaskConfig): TaskConfig {
  if (task.type !== 'assets.detect_orphans') return task;
  const cfg = task.config as AssetsDetectOrphansConfig;
  return { ...task, config: { ...cfg, rules: cfg.rules.filter(isRowRule) } };
}

function formSeed(task: TaskConfig) {
  if (task.type === 'runs.cleanup_stale') return seedStale(task.config as RunsCleanupStaleConfig, base);
  if (task.type === 'extraction.queue_orphans') return seedQueueOrphans(task.config as ExtractionQueueOrphansConfig, base);
  return seedOrphans((task.config as AssetsDetectOrphansConfig).rules.filter(isRowRule), base);
}

/**
 * A timestamp in a value that lies within three minutes of now reads "now": both runs write now(), each its own.
 * A naive one (no offset) that is now's wall time in a zone `h` hours ahead of UTC reads "now at UTC+h".
 */
function nowRead(fates: Fates): Fates {
  const iso = /"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"/g;
  const quarter = 900_000;
  const nearNow = (m: string, offset: string | undefined) => {
    const off = Date.parse(offset === undefined ? `${m.slice(1, -1)}Z` : m.slice(1, -1)) - Date.now();
    const zone = offset === undefined ? Math.round(off / quarter) * quarter : 0;
    if (Math.abs(off - zone) >= 180_000) return m;
    return offset === undefined ? `"now at UTC${zone < 0 ? '-' : '+'}${Math.abs(zone) / 3_600_000}"` : '"now"';
  };
  const read = (v: string) => v.replace(iso, (m, _fraction: string | undefined, offset: string | undefined) => nearNow(m, offset));
  return Object.fromEntries(Object.entries(fates).map(([t, rows]) => [t, Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, read(v)]))]));
}

const started = (run: ReturnType<typeof summary>) =>
  run.details
    .filter((d) => d.endsWith('|start_workflow'))
    .map((d) => d.split('|')[1])
    .sort();

describe('rows.rules forms of runs.cleanup_stale, extraction.queue_orphans and assets.detect_orphans', () => {
  it('covers every example and test config of the three types', () => {
    expect(formCases.map((c) => `${c.task.id} (${c.task.type})`).sort()).toEqual(
      [
        'docs (assets.detect_orphans)',
        'extraction-safety-net (extraction.queue_orphans)',
        'extraction-safety-net (extraction.queue_orphans)',
        'orphan-apps-and-tasks (assets.detect_orphans)',
        'orphaned-file-records (assets.detect_orphans)',
        'orphans (assets.detect_orphans)',
        'orphans (assets.detect_orphans)',
        'orphans (assets.detect_orphans)',
        'pipeline (runs.cleanup_stale)',
        'queue-by-status (extraction.queue_orphans)',
        'stale-jobs (runs.cleanup_stale)',
        'stale-json (runs.cleanup_stale)',
        'stale-runs (runs.cleanup_stale)',
        'stale-runs (runs.cleanup_stale)',
        'stale-zoned (runs.cleanup_stale)',
        'stuck-tasks (runs.cleanup_stale)',
      ].sort(),
    );
  });

  it.each(formCases.map((c) => [`${c.file === TEST_FORM_CONFIGS ? 'test configs' : c.file}: ${c.task.id}`, c] as const))(
    '%s: the printed rows.rules task changes exactly the rows the task changes, to the same values',
    async (_name, { file, task }) => {
      const printed = await caretaker('rules', task.id, '-f', file);
      const rows = task.type === 'assets.detect_orphans' ? (task.config as AssetsDetectOrphansConfig).rules.filter(isRowRule) : [null];
      if (rows.length === 0) {
        // Only file rules: nothing to print as rows.rules.
        expect(printed.code).toBe(2);
        expect(printed.err).toContain(`task ${task.id} is assets.detect_orphans with only file rules (missing_file, orphan_file)`);
        return;
      }
      expect(printed.err).toBe('');
      expect(printed.code).toBe(0);
      const entries = parse(printed.out) as { id: string; type: string; config: { rules: { kind: string }[] } }[];
      const files = task.type === 'assets.detect_orphans' ? (task.config as AssetsDetectOrphansConfig).rules.filter((r) => !isRowRule(r)) : [];
      expect(entries).toHaveLength(files.length > 0 ? 2 : 1);
      if (files.length > 0) {
        expect(entries[1]).toMatchObject({ id: `${task.id}-files`, type: task.type });
        expect(entries[1]!.config.rules.map((r) => r.kind)).toEqual(files.map((r) => r.kind));
      }
      const rules = parseConfigText(JSON.stringify({ tasks: [entries[0]] }), 'printed.yaml', {}).tasks[0]!;
      expect(rules.type).toBe('rows.rules');
      const own = rowRulesOnly(task);
      const seed = formSeed(own);
      const ran = await runOnSeed(env.db.pool, own, seed);
      const asRules = await runOnSeed(env.db.pool, rules, seed);
      expect(nowRead(asRules.fates)).toEqual(nowRead(ran.fates));
      expect(started(asRules.runs[2]!)).toEqual(started(ran.runs[2]!));
      // The seed meets the rules: something changes (or starts), something stays.
      const changed = Object.values(ran.fates).reduce((n, f) => n + Object.keys(f).length, 0) + started(ran.runs[2]!).length;
      expect(changed).toBeGreaterThan(0);
      expect(asRules.runs[2]!.status).toBe('completed');
      // Both dry runs of the printed task report the rows its real run acts on.
      const [dryExecute, dryRead, real] = asRules.runs;
      expect(dryExecute!.details).toEqual(real!.details);
      expect(dryRead!.details).toEqual(real!.details);
    },
  );
});

/**
 * retention.enforce is a preset of rows.rules too: its configs in the examples and in the tests
 * (each test's policies, named after its file), seeded by `seedRetention` (test/retention-seed.ts).
 * Tables are plain here, so no partition is dropped: the rules are what a policy does to rows.
 */
const RETENTION_TEST_CONFIGS = join(dir, 'retention-test-configs.yaml');
const sessions = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'retention.enforce',
  config: { policies: [{ table: 'sessions', timestamp_column: 'seen_at', older_than: '7d' }], ...extra },
});
writeFileSync(
  RETENTION_TEST_CONFIGS,
  JSON.stringify({
    tasks: [
      {
        id: 'retention-enforce',
        type: 'retention.enforce',
        config: {
          batch_size: 1,
          policies: [
            { name: 'downloads', table: 'handled_downloads', timestamp_column: 'handled_at', older_than: '14d', where: { handled: true } },
            { name: 'tokens', table: 'access_tokens', id_column: 'token_id', expires_column: 'expires_at' },
            {
              name: 'temp artifacts',
              table: 'temp_artifacts',
              timestamp_column: 'created_at',
              older_than: '7d',
              action: 'mark',
              mark: { column: 'deleted_at' },
            },
            {
              name: 'job history',
              table: 'job_history',
              timestamp_column: 'finished_at',
              older_than: '30d',
              where: { status: 'completed' },
              action: 'archive',
              archive_table: 'job_history_archive',
            },
          ],
        },
      },
      ...['10.6GiB', '9.5GiB'].map((cap, i) => ({
        id: `retention-rows-size-${i + 1}`,
        type: 'retention.enforce',
        config: {
          batch_size: 2,
          policies: [{ table: 'shop.blobs', timestamp_column: 'used_at', max_total_size: cap, size_column: 'bytes', where: { kind: 'cache' } }],
        },
      })),
      {
        id: 'retention-rows-overlap',
        type: 'retention.enforce',
        config: {
          batch_size: 2,
          policies: [
            { name: 'old', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '30d' },
            { name: 'debug', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '7d', where: { kind: 'debug' } },
          ],
        },
      },
      {
        id: 'retention-rows-cap-after',
        type: 'retention.enforce',
        config: {
          batch_size: 2,
          policies: [
            { name: 'debug', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '1d', where: { kind: 'debug' } },
            { name: 'newest two', table: 'shop.blobs', timestamp_column: 'used_at', keep_newest: 2 },
          ],
        },
      },
      {
        id: 'retention-rows-marks',
        type: 'retention.enforce',
        config: {
          batch_size: 2,
          policies: [
            { name: 'old', table: 'shop.blobs', timestamp_column: 'used_at', older_than: '30d', action: 'mark', mark: { column: 'archived_at' } },
            {
              name: 'debug',
              table: 'shop.blobs',
              timestamp_column: 'used_at',
              older_than: '7d',
              where: { kind: 'debug' },
              action: 'mark',
              mark: { column: 'archived_at' },
            },
          ],
        },
      },
      {
        id: 'real-shapes-keep-newest',
        type: 'retention.enforce',
        config: { policies: [{ table: 'shop.cache', id_column: 'key', timestamp_column: 'last_used_at', keep_newest: 3 }] },
      },
      {
        id: 'real-shapes-size',
        type: 'retention.enforce',
        config: { policies: [{ table: 'shop.cache', id_column: 'key', timestamp_column: 'last_used_at', max_total_size: '450B', size_column: 'bytes' }] },
      },
      {
        id: 'schema-zoo',
        type: 'retention.enforce',
        config: {
          batch_size: 2,
          policies: [
            {
              name: 'expired docs',
              table: 'zoo.tenant_docs',
              id_column: ['tenant_id', 'seq'],
              expires_column: 'expires_at',
              children: [{ table: 'zoo.doc_pages', column: ['tenant_id', 'doc_seq'] }],
            },
            { name: 'old events', table: 'zoo.events_by_month', id_column: ['event_id', 'occurred_at'], timestamp_column: 'occurred_at', older_than: '60d' },
            {
              name: 'old uploads',
              table: 'zoo.uploads',
              id_column: ['region', 'upload_id'],
              timestamp_column: 'created_at',
              older_than: '30d',
              action: 'mark',
              mark: { column: 'deleted_at' },
            },
            {
              name: 'sent notifications',
              table: 'zoo.notifications',
              id_column: 'notification_id',
              timestamp_column: 'sent_at',
              older_than: '14d',
              action: 'archive',
              archive_table: 'zoo.notifications_archive',
            },
          ],
        },
      },
      {
        id: 'fidelity',
        type: 'retention.enforce',
        config: { policies: [{ table: 'f.runs', timestamp_column: 'updated_at', older_than: '30d', where: { state: 'COMPLETED' } }] },
      },
      {
        id: 'fidelity-children',
        type: 'retention.enforce',
        config: {
          policies: [
            {
              table: 'f.runs',
              timestamp_column: 'updated_at',
              older_than: '30d',
              where: { state: 'COMPLETED' },
              children: [{ table: 'f.audit', column: 'run_id' }],
            },
          ],
        },
      },
      {
        id: 'fidelity-halves',
        type: 'retention.enforce',
        config: {
          policies: ['b1', 'b2'].map((batch) => ({ table: 'f.runs', timestamp_column: 'updated_at', older_than: '30d', name: batch, where: { batch } })),
        },
      },
      sessions('alerts', { batch_size: 2 }),
      sessions('alerts-config'),
      sessions('schedule-outcome'),
      {
        id: 'backlog',
        type: 'retention.enforce',
        config: {
          policies: [{ name: 'old sessions', table: 'sessions', timestamp_column: 'seen_at', older_than: '7d' }],
          batch_size: 2,
          max_rows_per_run: 4,
        },
      },
      {
        id: 'backlog-orders',
        type: 'retention.enforce',
        config: {
          policies: [{ table: 'orders', timestamp_column: 'created_at', older_than: '30d', children: [{ table: 'order_lines', column: 'order_id' }] }],
          batch_size: 4,
          max_rows_per_run: 8,
          sql: { lock_timeout: '1s' },
        },
      },
      {
        id: 'backlog-both',
        type: 'retention.enforce',
        config: { policies: ['visits', 'clicks'].map((table) => ({ table, timestamp_column: 'at', older_than: '7d' })), batch_size: 3, max_rows_per_run: 3 },
      },
      {
        id: 'approval',
        type: 'retention.enforce',
        config: { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '7d' }], batch_size: 2 },
      },
      {
        id: 'check-orders',
        type: 'retention.enforce',
        config: { policies: [{ table: 'orders', timestamp_column: 'placed_at', older_than: '30d', children: [{ table: 'order_items', column: 'order_id' }] }] },
      },
      {
        id: 'check-most',
        type: 'retention.enforce',
        config: { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '2d' }], max_rows_per_run: 10 },
      },
      {
        id: 'config-input',
        type: 'retention.enforce',
        config: { policies: [{ table: 'app.events', timestamp_column: 'created_at', older_than: '30d' }] },
      },
      {
        id: 'ledger-migrations',
        type: 'retention.enforce',
        config: { policies: [{ table: 'public.events', timestamp_column: 'created_at', older_than: '30d' }] },
      },
      {
        id: 'locked-children',
        type: 'retention.enforce',
        config: {
          policies: [{ table: 'app.orders', timestamp_column: 'created_at', older_than: '30d', children: [{ table: 'app.order_lines', column: 'order_id' }] }],
        },
      },
      {
        id: 'metrics',
        type: 'retention.enforce',
        config: { policies: [{ table: 'events', timestamp_column: 'created_at', older_than: '30d' }], batch_size: 3 },
      },
      {
        id: 'names-and-reasons',
        type: 'retention.enforce',
        config: { policies: [{ table: 'jöbs_日本', timestamp_column: 'créé_le', older_than: '30d' }] },
      },
      {
        id: 'partitions',
        type: 'retention.enforce',
        config: { policies: [{ name: 'logs', table: 'app.logs', id_column: ['id', 'at'], timestamp_column: 'at', older_than: '45d' }] },
      },
      {
        id: 'plan-apply',
        type: 'retention.enforce',
        config: { policies: [{ name: 'old sessions', table: 'shop.sessions', timestamp_column: 'seen_at', older_than: '7d' }], batch_size: 2 },
      },
      {
        id: 'plan-apply-composite',
        type: 'retention.enforce',
        config: {
          policies: [{ name: 'old visits', table: 'shop.visits', id_column: ['site', 'at'], timestamp_column: 'at', older_than: '25d' }],
          batch_size: 2,
        },
      },
      // Beyond the tests: a mark to a value, and two unnamed policies on one table.
      {
        id: 'mark-value',
        type: 'retention.enforce',
        config: {
          policies: [
            { table: 'jobs', expires_column: 'expires_at', action: 'mark', mark: { column: 'state', value: 'expired' } },
            { table: 'jobs', timestamp_column: 'created_at', keep_newest: 5, where: { kind: ['a', 'b'] } },
          ],
        },
      },
    ],
  }),
);

const RETENTION_FILES = ['maintenance.yaml', 'examples/curatore.yaml', 'examples/cleanup-job.yaml', 'examples/housekeeper.yaml', RETENTION_TEST_CONFIGS];
const retentionCases = RETENTION_FILES.flatMap((file) =>
  parseConfigText(readFileSync(file, 'utf8'), file)
    .tasks.filter((t) => t.type === 'retention.enforce')
    .map((task) => ({ file, task })),
);
const retentionName = (c: { file: string; task: TaskConfig }) => `${c.file === RETENTION_TEST_CONFIGS ? 'test configs' : c.file}: ${c.task.id}`;

/** A mark to now() writes each run's own clock: compare that a timestamp was written, not which. */
const stamped = (fates: Fates): Fates =>
  Object.fromEntries(
    Object.entries(fates).map(([t, rows]) => [
      t,
      Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, v.replace(/"\d{4}-\d\d-\d\dT[^"]*"/g, '<now>')])),
    ]),
  );

/** Small seeded tables: max_fraction 1 for both, so the guard never stops one run and not the other. */
const unguarded = (task: TaskConfig): TaskConfig => ({ ...task, config: { ...(task.config as object), max_fraction: 1 } });

describe('retention.enforce as a preset of rows.rules', () => {
  it('covers every example config of retention.enforce, and the tests', () => {
    expect(retentionCases.filter((c) => c.file !== RETENTION_TEST_CONFIGS).map(retentionName)).toEqual([
      'maintenance.yaml: retention',
      'examples/curatore.yaml: temp-artifacts',
      'examples/cleanup-job.yaml: history',
      'examples/housekeeper.yaml: cleanup-expired-tokens',
    ]);
  });

  it('caretaker rules names the policies that may drop whole partitions instead of rows', async () => {
    const printed = await caretaker('rules', 'cleanup-expired-tokens', '-f', 'examples/housekeeper.yaml');
    expect(printed.code).toBe(0);
    expect(printed.out).toContain('# Not in these rules: where a policy');
    expect(printed.out).toContain('Policies that would: policies[0] (expired access tokens) (partitions.action: rows keeps them rows).');
    // A policy with a where, children, or another action never drops partitions.
    expect((await caretaker('rules', 'temp-artifacts', '-f', 'examples/curatore.yaml')).out).not.toContain('Not in these rules');
  });

  it('on a RANGE-partitioned table the preset drops the partition wholly past retention, and the printed rules delete the same rows one by one', async () => {
    const { file, task } = retentionCases.find((c) => c.task.id === 'partitions')!;
    const old = (await env.db.pool.query<{ at: string }>(`select (now() - interval '70 days')::text as at`)).rows[0]!.at;
    const partitions = async () =>
      (
        await env.db.pool.query(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'app.logs'::regclass order by 1`)
      ).rows.map((r: { relname: string }) => r.relname);
    // Row g is g days and an hour old: 45..100 are past 45 days, and 70..100 lie in app.logs_old, wholly past.
    const seed = {
      sql: `drop schema if exists app cascade; create schema app;
        create table app.logs (id bigint not null, at timestamptz not null, msg text, primary key (id, at)) partition by range (at);
        create table app.logs_old partition of app.logs for values from ('-infinity') to ('${old}');
        create table app.logs_new partition of app.logs for values from ('${old}') to ('infinity');
        insert into app.logs select g, now() - g * interval '1 day' - interval '1 hour', 'm' from generate_series(1, 100) g;`,
      tables: { 'app.logs': 'id' },
    };
    const preset = await runOnSeed(env.db.pool, unguarded(task), seed);
    expect(await partitions()).toEqual(['logs_new']);
    const { text, task: printed } = await printedTask(file, task.id);
    expect(text).toContain('Policies that would: policies[0] (logs)');
    const rules = await runOnSeed(env.db.pool, unguarded(printed), seed);
    expect(await partitions()).toEqual(['logs_new', 'logs_old']);
    expect(rules.fates).toEqual(preset.fates);
    expect(Object.keys(preset.fates['app.logs']!)).toHaveLength(56);
    // The partition's rows count as matched and deleted either way; only the preset dropped a partition.
    expect(preset.runs[2]!.counts).toEqual({ matched: 56, deleted: 56, partitions_dropped: 1 });
    expect(rules.runs[2]!.counts).toEqual({ matched: 56, deleted: 56 });
  });

  it.each(retentionCases.map((c) => [retentionName(c), c] as const))(
    '%s: the rules hold only built SQL text, which parses to exactly the built tree',
    (_name, { task }) => {
      const { rules, texts } = presetOf(task);
      for (const source of rules.flatMap(ruleTextSources)) {
        const built = texts.find((t) => t.source === source.source && t.kind === source.kind);
        expect(built, `built text for ${source.source}`).toBeDefined();
        expect(parseSqlText(source.source, source.kind)).toEqual(built);
      }
    },
  );

  it.each(retentionCases.map((c) => [retentionName(c), c] as const))(
    '%s: the printed rows.rules task changes exactly the rows the preset changes; dry runs and real run alike',
    async (_name, { file, task }) => {
      const seed = seedRetention(task.config as RetentionEnforceConfig, base);
      const preset = await runOnSeed(env.db.pool, unguarded(task), seed);
      const { task: printed } = await printedTask(file, task.id);
      expect(printed.type).toBe('rows.rules');
      const rules = await runOnSeed(env.db.pool, unguarded(printed), seed);
      expect({ ...rules, fates: stamped(rules.fates) }).toEqual({ ...preset, fates: stamped(preset.fates) });
      const [dryExecute, dryRead, real] = preset.runs;
      expect(real!.status).toBe('completed');
      expect(dryExecute).toEqual(real);
      expect(dryRead).toEqual(real);
      // The seed meets every policy: each picks rows, and rows change.
      expect(Object.values(real!.sets).every((s) => (s.matched ?? 0) > 0)).toBe(true);
      expect(Object.values(preset.fates).some((rows) => Object.keys(rows).length > 0)).toBe(true);
    },
  );
});
