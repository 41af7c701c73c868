import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { TaskResult } from '../workflows/types';
import { caretaker } from './cli';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { insertJob, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG, snapshot } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let dir: string;
let file: string;
/** Schedule ids are namespace-wide, so each run of this file uses its own prefix. */
let prefix: string;

function writeConfig(tasks: Record<string, unknown>[]): void {
  writeFileSync(file, JSON.stringify({ task_queue: temporal.taskQueue, tasks }, null, 2));
}

const staleTask = (extra: Record<string, unknown> = {}) => ({
  id: `${prefix}-stale`,
  type: 'stale_run.cleanup',
  schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', jitter: '30s' },
  overlap: 'skip',
  catchup_window: '5m',
  config: PIPELINE_TASK_CONFIG,
  ...extra,
});
const hourlyTask = () => ({
  id: `${prefix}-hourly`,
  type: 'runs.cleanup_stale',
  schedule: { every: '1h' },
  config: { ...PIPELINE_TASK_CONFIG, dry_run: true },
});

/** Temporal CLI JSON output; the tests assert on its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CliJson = Record<string, any>;

/** `temporal schedule describe`, from the real Temporal CLI. */
function temporalDescribe(id: string): CliJson {
  const out = execFileSync(inject('temporalCli'), ['schedule', 'describe', '--schedule-id', id, '--address', temporal.address, '-o', 'json'], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as CliJson;
}

beforeAll(async () => {
  db = await createTestDatabase('schedules');
  await db.pool.query(PIPELINE_SCHEMA);
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  prefix = temporal.taskQueue;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-sched-'));
  file = join(dir, 'maintenance.yaml');
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('schedules sync', () => {
  it('creates the schedules, and the Temporal CLI shows them as configured', async () => {
    writeConfig([staleTask(), hourlyTask()]);
    const dry = await caretaker('schedules', 'sync', '--dry-run', '--json', '-f', file);
    expect(JSON.parse(dry.out).plan.map((p: { action: string }) => p.action)).toEqual(['create', 'create']);
    expect((await caretaker('schedules', 'list', '--json')).out).not.toContain(`${prefix}-stale`);

    const synced = await caretaker('schedules', 'sync', '-f', file);
    expect(synced.code).toBe(0);
    expect(synced.out).toMatch(new RegExp(`create\\s+${prefix}-hourly`));

    const described = temporalDescribe(`${prefix}-stale`);
    // The server stores "0 3 * * *" as a structured calendar (proto JSON omits zero start/end).
    expect(described.schedule.spec).toMatchObject({ jitter: '30s', timezoneName: 'Europe/Berlin' });
    expect(described.schedule.spec.structuredCalendar).toEqual([
      expect.objectContaining({ minute: [{ step: 1 }], hour: [{ start: 3, end: 3, step: 1 }], dayOfWeek: [{ end: 6, step: 1 }] }),
    ]);
    expect(described.schedule.policies).toMatchObject({ overlapPolicy: 'SCHEDULE_OVERLAP_POLICY_SKIP', catchupWindow: '300s' });
    expect(described.schedule.action.startWorkflow).toMatchObject({
      workflowType: { name: 'runsCleanupStaleWorkflow' },
      taskQueue: { name: temporal.taskQueue },
    });
    expect(temporalDescribe(`${prefix}-hourly`).schedule.spec.interval).toEqual([{ interval: '3600s', phase: '0s' }]);
  });

  it('a second sync changes nothing', async () => {
    const again = await caretaker('schedules', 'sync', '--json', '-f', file);
    expect(JSON.parse(again.out).plan).toEqual([
      { id: `${prefix}-hourly`, action: 'unchanged', detail: '' },
      { id: `${prefix}-stale`, action: 'unchanged', detail: '' },
    ]);
  });

  it('keeps an operator pause unless the config sets paused itself', async () => {
    expect((await caretaker('pause', `${prefix}-stale`, '--note', 'looking into it')).code).toBe(0);
    writeConfig([staleTask({ catchup_window: '15m' }), hourlyTask()]);
    const plan = JSON.parse((await caretaker('schedules', 'sync', '--json', '-f', file)).out).plan;
    expect(plan).toContainEqual({ id: `${prefix}-stale`, action: 'update', detail: 'definition' });
    const kept = temporalDescribe(`${prefix}-stale`);
    expect(kept.schedule.state).toMatchObject({ paused: true, notes: 'looking into it' });
    expect(kept.schedule.policies.catchupWindow).toBe('900s');

    writeConfig([staleTask({ catchup_window: '15m', paused: false }), hourlyTask()]);
    const unpause = JSON.parse((await caretaker('schedules', 'sync', '--json', '-f', file)).out).plan;
    expect(unpause).toContainEqual({ id: `${prefix}-stale`, action: 'update', detail: 'unpause' });
    expect(temporalDescribe(`${prefix}-stale`).schedule.state.paused ?? false).toBe(false);
  });

  it('unpause warns when the config sets paused: true, which the next sync applies again', async () => {
    writeConfig([staleTask({ catchup_window: '15m', paused: true }), hourlyTask()]);
    await caretaker('schedules', 'sync', '-f', file);
    const run = await caretaker('unpause', `${prefix}-stale`, '-f', file);
    expect(run.code).toBe(0);
    expect(run.err).toContain(`warning: ${file} sets paused: true for ${prefix}-stale: the next npm start or caretaker schedules sync pauses it again`);
    expect(temporalDescribe(`${prefix}-stale`).schedule.state.paused ?? false).toBe(false);
    const sync = JSON.parse((await caretaker('schedules', 'sync', '--json', '-f', file)).out).plan;
    expect(sync).toContainEqual({ id: `${prefix}-stale`, action: 'update', detail: 'pause' });

    // Without paused in the config, an unpause lasts and says nothing more.
    writeConfig([staleTask({ catchup_window: '15m' }), hourlyTask()]);
    const quiet = await caretaker('unpause', `${prefix}-stale`, '--json', '-f', file);
    expect(quiet.err).toBe('');
    expect(JSON.parse(quiet.out)).not.toHaveProperty('warning');
  });

  it('prunes only the schedules it owns, and never touches a foreign one', async () => {
    await temporal.client.schedule.create({
      scheduleId: `${prefix}-foreign`,
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: 'someoneElses', taskQueue: temporal.taskQueue },
    });
    writeConfig([staleTask({ catchup_window: '15m', paused: false })]);
    // Listing schedules is eventually consistent; a sync without --prune changes nothing, so poll it.
    const orphaned = { id: `${prefix}-hourly`, action: 'orphaned', detail: 'not in config; run with --prune to delete' };
    await expect
      .poll(async () => JSON.parse((await caretaker('schedules', 'sync', '--json', '-f', file)).out).plan, { timeout: 30_000 })
      .toContainEqual(orphaned);
    const keep = JSON.parse((await caretaker('schedules', 'sync', '--json', '-f', file)).out).plan;
    expect(keep.find((p: { id: string }) => p.id === `${prefix}-foreign`)).toBeUndefined();

    const pruned = JSON.parse((await caretaker('schedules', 'sync', '--prune', '--json', '-f', file)).out).plan;
    expect(pruned).toContainEqual({ id: `${prefix}-hourly`, action: 'delete', detail: 'not in config (--prune)' });
    expect((await caretaker('describe', `${prefix}-hourly`)).code).toBe(2);
    expect(temporalDescribe(`${prefix}-foreign`).schedule.action.startWorkflow.workflowType.name).toBe('someoneElses');

    writeConfig([staleTask(), { ...hourlyTask(), id: `${prefix}-foreign` }]);
    const conflict = await caretaker('schedules', 'sync', '--json', '-f', file);
    expect(conflict.code).toBe(1);
    expect(JSON.parse(conflict.out).plan).toContainEqual(expect.objectContaining({ id: `${prefix}-foreign`, action: 'conflict' }));
  });

  it('trigger runs the workflow under the task policy and the rows end up as expected', async () => {
    writeConfig([staleTask({ paused: false })]);
    await caretaker('schedules', 'sync', '-f', file);
    const stale = await insertJob(db.pool, { state: 'running', attempts: 3, age: '5 hours' });
    const fresh = await insertJob(db.pool, { state: 'running', age: '5 minutes' });
    const before = await snapshot(db.pool);

    const triggered = await caretaker('trigger', `${prefix}-stale`, '-f', file);
    expect(triggered.out).toContain('overlap policy SKIP');
    const handle = temporal.client.schedule.getHandle(`${prefix}-stale`);
    await expect.poll(async () => (await handle.describe()).info.recentActions.length, { timeout: 30_000 }).toBeGreaterThan(0);
    const { workflowId } = (await handle.describe()).info.recentActions[0]!.action.workflow;
    const result = (await temporal.client.workflow.getHandle(workflowId).result()) as TaskResult;
    expect(result).toMatchObject({ status: 'completed', counts: { stale: 1, finalized: 1 } });

    const rows = await snapshot(db.pool);
    expect(rows.find((r) => String(r.job_id) === stale)).toMatchObject({ state: 'failed' });
    expect(rows.find((r) => String(r.job_id) === fresh)).toEqual(before.find((r) => String(r.job_id) === fresh));

    const described = await caretaker('describe', `${prefix}-stale`, '--json');
    expect(JSON.parse(described.out).recentRuns[0]).toMatchObject({ workflowId, status: 'COMPLETED', summary: 'completed: stale=1 requeued=0 finalized=1' });
  });

  it('applies every change it can, reports each one Temporal refused, and exits 1', async () => {
    // Temporal refuses a schedule whose action is over its 2 MB payload limit (limit.blobSize.error):
    // a server setting that validation cannot know. The schedules sorted before and after it still get made.
    // The file stays under the 1 MiB config limit: one 600 kB status, its anchor aliased three times.
    const big = { requeue_status: 'BIG', final_status: { submitted: 'ALIAS', pending: 'ALIAS', running: 'ALIAS' } };
    const oversized = { ...hourlyTask(), id: `${prefix}-b-oversized`, config: { ...PIPELINE_TASK_CONFIG, ...big } };
    writeConfig([staleTask({ paused: false }), { ...hourlyTask(), id: `${prefix}-a-first` }, oversized, { ...hourlyTask(), id: `${prefix}-c-last` }]);
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('"BIG"', `&big "${'q'.repeat(600_000)}"`)
        .replaceAll('"ALIAS"', '*big'),
    );
    const synced = await caretaker('schedules', 'sync', '--json', '-f', file);
    expect(synced.code).toBe(1);
    expect(JSON.parse(synced.out).failures).toEqual([
      { id: `${prefix}-b-oversized`, action: 'create', error: expect.stringContaining('Blob data size exceeds limit') },
    ]);
    expect(synced.err).toContain(`1 change(s) failed: create ${prefix}-b-oversized`);
    for (const id of [`${prefix}-a-first`, `${prefix}-c-last`]) {
      expect(temporalDescribe(id).schedule.action.startWorkflow.workflowType.name).toBe('runsCleanupStaleWorkflow');
    }

    const again = await caretaker('schedules', 'sync', '-f', file);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(new RegExp(`unchanged\\s+${prefix}-c-last`));
    expect(again.out).toMatch(new RegExp(`failed \\(1 of \\d+\\):\\n\\s+create\\s+${prefix}-b-oversized\\s+.*Blob data size exceeds limit`));
  });
});

describe('CLI input errors', () => {
  it('exits 2 with a message naming what was expected', async () => {
    expect(await caretaker('frobnicate')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "frobnicate"') });
    expect(await caretaker('describe', `${prefix}-nope`)).toMatchObject({ code: 2, err: expect.stringContaining(`no schedule "${prefix}-nope"`) });
    expect(await caretaker('backfill', `${prefix}-stale`, '--from', 'yesterday', '--to', '2026-01-01', '-f', file)).toMatchObject({
      code: 2,
      err: expect.stringContaining('--from: expected an ISO date/time'),
    });
    const badRun = await caretaker('run', `${prefix}-stale`, '--config', '{"max_retries": -1, "batch_size": "ten"}', '-f', file);
    expect(badRun.code).toBe(2);
    expect(badRun.err).toContain('config.max_retries: expected a number >= 0, got -1');
    expect(badRun.err).toContain('config.batch_size: expected number or object, got "ten"');
    expect((await caretaker('run', `${prefix}-stale`, '--config', 'max_retries=5', '-f', file)).err).toContain(
      `--config: expected a JSON object, got "max_retries=5" (keys as JSON, e.g. --config '{"max_retries": ...}')`,
    );
    writeFileSync(join(dir, 'bad.yaml'), 'tasks:\n  - id: x\n    type: runs.cleanup_stale\n    config: { table: t, batch_size: 0, max_retries: 0 }\n');
    expect(await caretaker('validate', '-f', join(dir, 'bad.yaml'))).toMatchObject({
      code: 2,
      err: expect.stringContaining('bad.yaml:4: tasks[0].config.batch_size: expected a number >= 1, got 0'),
    });
    writeFileSync(join(dir, 'cron.yaml'), 'tasks:\n  - id: x\n    type: db.vacuum\n    schedule: { cron: "0 3 * * 8" }\n');
    expect(await caretaker('validate', '-f', join(dir, 'cron.yaml'))).toMatchObject({
      code: 2,
      err: expect.stringContaining(
        'cron.yaml:4: tasks[0].schedule.cron: expected a day of week 0-6 (7 is also Sunday) or a name like "mon", got "8" in "0 3 * * 8"',
      ),
    });
  });
});
