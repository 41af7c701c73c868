import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, type ScheduleDescription } from '@temporalio/client';
import { msToTs, type TypedSearchAttributes } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { scheduleOptionsFor, CONFIG_HASH_KEY } from '../client/schedule-options';
import { TASK_ID } from '../core/search-attributes';
import { buildTaskInput } from '../config/task-input';
import { caretaker } from './cli';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { insertJob, parseTask, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let dir: string;
let file: string;
let prefix: string;

beforeAll(async () => {
  db = await createTestDatabase('opcmds');
  await db.pool.query(PIPELINE_SCHEMA);
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  prefix = temporal.taskQueue;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-opcmds-'));
  file = join(dir, 'maintenance.yaml');
  const tasks = [
    { id: `${prefix}-old`, type: 'runs.cleanup_stale', schedule: { every: '1h' }, config: PIPELINE_TASK_CONFIG },
    {
      id: `${prefix}-cal`,
      type: 'runs.cleanup_stale',
      schedule: { calendars: [{ hour: '3', minute: '0', day_of_week: 'mon-fri', comment: 'nightly' }] },
      config: PIPELINE_TASK_CONFIG,
    },
  ];
  writeFileSync(file, JSON.stringify({ task_queue: temporal.taskQueue, tasks }));
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CaretakerTaskId a schedule's action starts its runs with. */
function taskIdOf(d: ScheduleDescription): string | undefined {
  return d.action.type === 'startWorkflow' ? (d.action.typedSearchAttributes as TypedSearchAttributes | undefined)?.get(TASK_ID) : undefined;
}

describe('schedules from before the search attributes', () => {
  it('sync updates them cleanly; their runs then carry the attributes, and describe and list show the outcome', async () => {
    const cfg = parseConfigText(
      JSON.stringify({
        task_queue: temporal.taskQueue,
        tasks: [{ id: `${prefix}-old`, type: 'runs.cleanup_stale', schedule: { every: '1h' }, config: PIPELINE_TASK_CONFIG }],
      }),
      'old.yaml',
      {},
    );
    // What an older Caretaker created: no search attributes, no details, its own config hash.
    const current = scheduleOptionsFor(cfg.tasks[0]!, temporal.taskQueue);
    const oldAction = {
      ...current.action,
      staticSummary: `Caretaker runs.cleanup_stale (${prefix}-old)`,
      memo: { [CONFIG_HASH_KEY]: 'from-an-older-caretaker' },
    };
    delete (oldAction as { typedSearchAttributes?: unknown }).typedSearchAttributes;
    delete (oldAction as { staticDetails?: unknown }).staticDetails;
    await temporal.client.schedule.create({ ...current, action: oldAction });
    expect(taskIdOf(await temporal.client.schedule.getHandle(`${prefix}-old`).describe())).toBeUndefined();

    const synced = await caretaker('schedules', 'sync', '--json', '-f', file);
    expect(synced.code).toBe(0);
    expect(JSON.parse(synced.out).plan).toContainEqual({ id: `${prefix}-old`, action: 'update', detail: 'definition' });
    const handle = temporal.client.schedule.getHandle(`${prefix}-old`);
    const desc = await handle.describe();
    expect(taskIdOf(desc)).toBe(`${prefix}-old`);

    await insertJob(db.pool, { state: 'running', attempts: 3, age: '5 hours' });
    expect((await caretaker('trigger', `${prefix}-old`, '-f', file)).code).toBe(0);
    await expect.poll(async () => (await handle.describe()).info.recentActions.length, { timeout: 30_000 }).toBeGreaterThan(0);
    const { workflowId } = (await handle.describe()).info.recentActions[0]!.action.workflow;
    await temporal.client.workflow.getHandle(workflowId).result();
    expect((await caretaker('run', `${prefix}-old`, '--dry-run', '--wait', '-f', file)).code).toBe(0);

    await expect
      .poll(
        async () =>
          JSON.parse((await caretaker('describe', `${prefix}-old`, '--json', '-f', file)).out).runs.map(
            (r: { startedBy: string; outcome: string }) => `${r.startedBy} ${r.outcome}`,
          ),
        { timeout: 30_000 },
      )
      .toEqual(['manual completed', 'schedule completed']);
    const described = await caretaker('describe', `${prefix}-old`, '-f', file);
    expect(described.out).toContain('when: every 1h UTC');
    expect(described.out).toMatch(/last outcome: completed \(.*, manual\)/);
    const list = JSON.parse((await caretaker('schedules', 'list', '--json')).out) as { id: string; lastOutcome?: string }[];
    expect(list.find((s) => s.id === `${prefix}-old`)).toMatchObject({ lastOutcome: 'completed' });
  });

  it('describe says a calendar in words, as it was written', async () => {
    await caretaker('schedules', 'sync', '-f', file);
    const described = await caretaker('describe', `${prefix}-cal`, '-f', file);
    expect(described.out).toContain('when: calendar: on Mon-Fri hour 3 minute 0 (nightly) UTC');
  });
});

describe('operator commands', () => {
  it('pausing again without --note keeps the incident note; a new note replaces it', async () => {
    expect((await caretaker('pause', `${prefix}-cal`, '--note', 'INC-42: disk full')).code).toBe(0);
    const again = await caretaker('pause', `${prefix}-cal`);
    expect(again.out).toContain('already paused; note kept (INC-42: disk full)');
    expect((await temporal.client.schedule.getHandle(`${prefix}-cal`).describe()).state).toMatchObject({ paused: true, note: 'INC-42: disk full' });
    await caretaker('pause', `${prefix}-cal`, '--note', 'INC-43');
    expect((await temporal.client.schedule.getHandle(`${prefix}-cal`).describe()).state.note).toBe('INC-43');
  });

  it('`tasks <type>` shows one type; typos of commands, task ids and types get a did-you-mean', async () => {
    const one = JSON.parse((await caretaker('tasks', 'runs.cleanup_stale', '--json')).out) as { type: string }[];
    expect(one.map((t) => t.type)).toEqual(['runs.cleanup_stale']);
    expect(await caretaker('tasks', 'runs.cleanup_stal')).toMatchObject({ code: 2, err: expect.stringContaining('did you mean "runs.cleanup_stale"?') });
    expect(await caretaker('histroy', 'x')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "histroy"; did you mean "history"?') });
    expect(await caretaker('schedules', 'synk')).toMatchObject({ code: 2, err: expect.stringContaining('did you mean "schedules sync"?') });
    expect(await caretaker('describe', `${prefix}-clo`, '-f', file)).toMatchObject({ code: 2, err: expect.stringContaining(`did you mean "${prefix}-old"?`) });
    expect(await caretaker('run', `${prefix}-olx`, '-f', file)).toMatchObject({ code: 2, err: expect.stringContaining(`did you mean "${prefix}-old"?`) });
  });

  it('`cancel` of a run that already ended says so with its outcome and exits 2; the run is left as it ended', async () => {
    const run = JSON.parse((await caretaker('run', `${prefix}-old`, '--dry-run', '--wait', '--json', '-f', file)).out);
    expect(run.result).toMatchObject({ status: 'completed' });
    const cancelled = await caretaker('cancel', run.workflowId);
    expect(cancelled.code).toBe(2);
    expect(cancelled.err).toContain(`${run.workflowId} already ended (completed, `);
    expect(cancelled.err).toContain('nothing to cancel');
    expect(cancelled.out).not.toContain('cancellation requested');
    const json = JSON.parse((await caretaker('cancel', run.workflowId, '--json')).out);
    expect(json).toMatchObject({ workflowId: run.workflowId, cancelRequested: false, alreadyEnded: true, status: 'COMPLETED', outcome: 'completed' });
    expect((await temporal.client.workflow.getHandle(run.workflowId).describe()).status.name).toBe('COMPLETED');
    expect(await caretaker('cancel', `${run.workflowId}-nope`)).toMatchObject({ code: 2, err: expect.stringContaining('no workflow') });
  });

  it("`schedules list` takes LAST OUTCOME from the schedule's own runs: a manual dry run of a schedule that never fired is not one", async () => {
    const cal = `${prefix}-cal`;
    expect((await caretaker('run', cal, '--dry-run', '--wait', '-f', file)).code).toBe(0);
    // Visibility has the manual run (what `schedules list` used to report) before the list is read.
    await expect.poll(async () => JSON.parse((await caretaker('history', cal, '--json')).out).length, { timeout: 30_000 }).toBe(1);
    const list = JSON.parse((await caretaker('schedules', 'list', '--json')).out) as { id: string; lastOutcome?: string }[];
    const row = list.find((s) => s.id === cal);
    expect(row).toBeDefined();
    expect(row!.lastOutcome).toBeUndefined();
    expect((await caretaker('schedules', 'list')).out).toMatch(new RegExp(`${cal}\\s.*no runs yet`));
  });

  it('`caretaker setup` registers the search attributes in a namespace, and a second run changes nothing', async () => {
    const namespace = `${prefix}-ns`;
    const connection = await Connection.connect({ address: temporal.address });
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
      process.env.TEMPORAL_NAMESPACE = namespace;
      // A new namespace takes a moment to be served everywhere: retry until setup gets through.
      await expect.poll(async () => (await caretaker('setup', '--json')).code, { timeout: 30_000 }).toBe(0);
      const again = JSON.parse((await caretaker('setup', '--json')).out);
      expect(again).toMatchObject({ ok: true, namespace, added: [] });
      expect([...again.existing].sort()).toEqual(['CaretakerDryRun', 'CaretakerOutcome', 'CaretakerRowsChanged', 'CaretakerTaskId', 'CaretakerTaskType']);
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['CaretakerTaskId', 'CaretakerOutcome']));
    } finally {
      delete process.env.TEMPORAL_NAMESPACE;
      await connection.close();
    }
  });
});

describe('fresh progress', () => {
  it('the checkpoint people see advances while a run goes on, with a heartbeat timeout whose default throttle is 48 s; history stays small', async () => {
    await db.pool.query(`
      create function app.slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(0.01); return new; end $$;
      create trigger slow before update on app.pipeline_jobs for each row execute function app.slow_down();
      insert into app.pipeline_jobs (kind, state, attempts, last_seen_at) select 'sync', 'running', 0, now() - interval '5 hours' from generate_series(1, 1500);`);
    const task = parseTask({ id: `${prefix}-slow`, config: { ...PIPELINE_TASK_CONFIG, batch_size: 5 }, timeouts: { heartbeat: '60s' } });
    const handle = await temporal.client.workflow.start('runsCleanupStaleWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: `${prefix}-slow-1`,
      args: [buildTaskInput(task)],
    });
    const batches = async () => JSON.parse((await caretaker('status', handle.workflowId, '--json')).out).activities[0]?.checkpoint?.batches ?? 0;
    await expect.poll(batches, { timeout: 30_000 }).toBeGreaterThan(0);
    const first = await batches();
    // Without the worker's 4 s cap the next heartbeat would wait 0.8 x 60 s; the run is over long before that.
    await expect.poll(batches, { timeout: 30_000 }).toBeGreaterThan(first);
    const status = JSON.parse((await caretaker('status', handle.workflowId, '--json')).out);
    expect(status.activities[0]).toMatchObject({ checkpointAgeSeconds: expect.any(Number) });
    await handle.cancel();
    await handle.result().catch(() => undefined);
    // Heartbeats add no events: the history is bounded whatever the number of batches.
    expect((await handle.describe()).historyLength).toBeLessThan(30);
  });
});
