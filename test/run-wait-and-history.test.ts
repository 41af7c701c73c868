import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../config/load';
import { runStartupTasks } from '../dev/startup-tasks';
import { caretaker } from './cli';
import { createTestDatabase, startTestWorker, type TestTemporal } from './support';
import { insertJob, PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';
import { startTcpProxy } from './tcp-proxy';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let temporal: TestTemporal;
let dir: string;
let file: string;
/** Task ids are what history queries by; unique per run of this file. */
let id: string;
let broken: string;

beforeAll(async () => {
  db = await createTestDatabase('runwait');
  await db.pool.query(PIPELINE_SCHEMA);
  temporal = await startTestWorker({ default: db.url });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  id = `${temporal.taskQueue}-stale`;
  broken = `${temporal.taskQueue}-broken`;
  dir = mkdtempSync(join(tmpdir(), 'caretaker-runwait-'));
  file = join(dir, 'maintenance.yaml');
  const tasks = [
    { id, type: 'runs.cleanup_stale', description: 'Fails pipeline jobs nobody has heard from', run_on_startup: true, config: PIPELINE_TASK_CONFIG },
    { id: broken, type: 'runs.cleanup_stale', config: { ...PIPELINE_TASK_CONFIG, table: 'app.no_such_table' }, retry: { maximum_attempts: 1 } },
    { id: `${broken}-limit`, type: 'runs.cleanup_stale', config: { ...PIPELINE_TASK_CONFIG, max_fraction: 0.1 } },
  ];
  writeFileSync(file, JSON.stringify({ task_queue: temporal.taskQueue, tasks }));
});
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Visibility is eventually consistent: the ids of the runs a query finds, polled until `expected` shows up. */
async function queryUntilFound(query: string, expected: string): Promise<string[]> {
  let ids: string[] = [];
  await expect
    .poll(
      async () => {
        ids = [];
        for await (const wf of temporal.client.workflow.list({ query })) ids.push(wf.workflowId);
        return ids;
      },
      { timeout: 30_000 },
    )
    .toContain(expected);
  return ids;
}

describe('caretaker run --wait', () => {
  it('prints the id and UI link first, then the per-table summary; the run carries its search attributes', async () => {
    await insertJob(db.pool, { state: 'running', attempts: 3, age: '5 hours' });
    await insertJob(db.pool, { state: 'running', age: '5 minutes' });
    const run = await caretaker('run', id, '--wait', '-f', file);
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^started ${id}-manual-`));
    expect(lines[1]).toMatch(/^ {2}http:\/\/localhost:8233\/namespaces\/default\/workflows\//);
    expect(run.out).toMatch(/completed: stale=1 requeued=0 finalized=1 in \d+ batch\(es\)/);
    expect(run.out).toMatch(/TABLE\s+UPDATED\n\s+app\.pipeline_jobs\s+1\n/);
    expect(run.err).toBe(''); // a worker polls this queue: no warning

    const workflowId = lines[0]!.split(' ')[1]!;
    const found = await queryUntilFound(`CaretakerTaskId = "${id}" AND CaretakerOutcome = "completed" AND CaretakerDryRun = false`, workflowId);
    expect(found).toEqual([workflowId]);
    const desc = await temporal.client.workflow.getHandle(workflowId).describe();
    expect(desc.searchAttributes).toMatchObject({ CaretakerTaskType: ['runs.cleanup_stale'], CaretakerRowsChanged: [1] });
    expect(await desc.staticSummary()).toBe(`Caretaker runs.cleanup_stale (${id}), started by hand`);
    expect(await desc.staticDetails()).toContain('Fails pipeline jobs nobody has heard from');
  });

  it('on failure prints the cause and exits 1; --json is JSON then too; status shows the failed phase and exits 1', async () => {
    const human = await caretaker('run', broken, '--wait', '-f', file);
    expect(human.code).toBe(1);
    expect(human.out).toMatch(/FAILED: .*app\.no_such_table/);
    const json = await caretaker('run', broken, '--dry-run', '--wait', '--json', '-f', file);
    expect(json.code).toBe(1);
    const failed = JSON.parse(json.out);
    expect(failed).toMatchObject({ failed: true, outcome: 'failed', type: 'ConfigError', cause: expect.stringContaining('app.no_such_table') });

    const status = await caretaker('status', failed.workflowId);
    expect(status.code).toBe(1);
    expect(status.out).toContain(`${failed.workflowId}: FAILED`);
    expect(status.out).toMatch(/phase: failed\n {2}cause: .*app\.no_such_table/);
    await queryUntilFound(`CaretakerTaskId = "${broken}" AND CaretakerOutcome = "failed" AND CaretakerDryRun = true`, failed.workflowId);
  });

  it('a real run a safety limit refuses says REFUSED with the limit, and its outcome is refused', async () => {
    for (let i = 0; i < 4; i++) await insertJob(db.pool, { state: 'running', age: '9 hours' });
    const refused = await caretaker('run', `${broken}-limit`, '--wait', '-f', file);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/REFUSED: .*max_fraction/);
    const workflowId = refused.out.split('\n')[0]!.split(' ')[1]!;
    await queryUntilFound(`CaretakerTaskId = "${broken}-limit" AND CaretakerOutcome = "refused"`, workflowId);
    expect((await caretaker('status', workflowId)).out).toMatch(/phase: refused\n {2}cause: .*max_fraction/);

    // The same refusal found by a dry run ends the same way in Temporal: Failed, outcome refused.
    const dry = await caretaker('run', `${broken}-limit`, '--dry-run', '--wait', '-f', file);
    expect(dry.code).toBe(1);
    expect(dry.out).toMatch(/REFUSED: .*max_fraction.* \(dry run\)\n {2}would change \(dry run; nothing was changed\): /);
    const dryId = dry.out.split('\n')[0]!.split(' ')[1]!;
    await queryUntilFound(`CaretakerTaskId = "${broken}-limit" AND CaretakerOutcome = "refused" AND CaretakerDryRun = true`, dryId);
    for (const run of [workflowId, dryId]) {
      const desc = await temporal.client.workflow.getHandle(run).describe();
      expect([desc.status.name, (desc.memo?.caretakerOutcome as { outcome?: string }).outcome]).toEqual(['FAILED', 'refused']);
    }
  });

  it('run --wait and trigger warn at once, naming the queue, when no worker polls it; Ctrl-C says the run goes on', async () => {
    const queue = `${temporal.taskQueue}-nobody`;
    const lonely = join(dir, 'lonely.yaml');
    const lonelyTask = { id: `${id}-lonely`, type: 'runs.cleanup_stale', schedule: { every: '1h' }, paused: true, config: PIPELINE_TASK_CONFIG };
    writeFileSync(lonely, JSON.stringify({ task_queue: queue, tasks: [lonelyTask] }));
    const warning = `no worker has polled task queue "${queue}" (workflow and activity tasks)`;

    // The real entry point in its own process, so Ctrl-C is a real SIGINT.
    const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', 'run', lonelyTask.id, '--wait', '-f', lonely], { env: process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await expect.poll(() => err, { timeout: 30_000 }).toContain(warning);
    expect(out).toMatch(/^started \S+-lonely-manual-/);
    // Not a terminal: a progress line every few seconds, even while nothing happens.
    await expect.poll(() => out, { timeout: 30_000 }).toMatch(/\n {2}waiting for a worker or finishing; elapsed 0m\d\ds\n/);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const workflowId = out.split('\n')[0]!.split(' ')[1]!;
    expect(err).toContain('the run goes on in Temporal');
    expect(err).toContain(`caretaker cancel ${workflowId}`);
    expect((await temporal.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    await temporal.client.workflow.getHandle(workflowId).terminate('test: nobody polls this queue');

    expect((await caretaker('schedules', 'sync', '-f', lonely)).code).toBe(0);
    const triggered = await caretaker('trigger', lonelyTask.id, '-f', lonely);
    expect(triggered).toMatchObject({ code: 0, err: expect.stringContaining(warning) });
    await temporal.client.schedule.getHandle(lonelyTask.id).delete();
  });
});

describe('startup runs and history', () => {
  it('npm start prints one line per startup run, and history lists runs of every kind with outcome, dry run, rows and duration', async () => {
    const config = parseConfigText(
      JSON.stringify({ task_queue: temporal.taskQueue, tasks: [{ id, type: 'runs.cleanup_stale', run_on_startup: true, config: PIPELINE_TASK_CONFIG }] }),
      'startup.yaml',
      {},
    );
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await runStartupTasks(temporal.client, config);
      expect(log.mock.calls.map((c) => c.join(' '))).toEqual([
        expect.stringMatching(new RegExp(`^startup run ${id}: completed: stale=\\d+ .*http://localhost:8233/namespaces/default/workflows/${id}-startup-`)),
      ]);
    } finally {
      log.mockRestore();
    }
    expect((await caretaker('run', id, '--dry-run', '--wait', '-f', file)).code).toBe(0);

    // Visibility catches up eventually: wait for the three runs (the first test's, startup, the dry run), newest first.
    const history = async () => JSON.parse((await caretaker('history', id, '--since', '1h', '--json')).out) as Record<string, unknown>[];
    await expect
      .poll(async () => (await history()).map((r) => [r.startedBy, r.outcome, r.dryRun]), { timeout: 30_000 })
      .toEqual([
        ['manual', 'completed', true],
        ['startup', 'completed', false],
        ['manual', 'completed', false],
      ]);
    const runs = await history();
    expect(runs[2]).toMatchObject({ rowsChanged: 1, durationMs: expect.any(Number) });
    const human = await caretaker('history', id);
    expect(human.out.split('\n')[0]).toMatch(/^STARTED\s+BY\s+OUTCOME\s+DRY RUN\s+ROWS\s+DURATION\s+WORKFLOW ID$/);
    expect(JSON.parse((await caretaker('history', id, '--since', '2000-01-01T00:00:00Z', '--json')).out)).toHaveLength(3);
    expect(await caretaker('history', id, '--since', 'yesterday')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--since: expected a duration like 7d'),
    });
  });
});

describe('run --wait that loses Temporal', () => {
  it('says the connection was lost, that the run goes on and how to follow it, and exits 3; the run completes', async () => {
    const cut = `${id}-cut`;
    const cutFile = join(dir, 'cut.yaml');
    const task = { id: cut, type: 'runs.cleanup_stale', config: { ...PIPELINE_TASK_CONFIG, batch_size: 100, sql: { lock_timeout: '10m' } } };
    writeFileSync(cutFile, JSON.stringify({ task_queue: temporal.taskQueue, tasks: [task] }));
    await db.pool.query('delete from app.pipeline_jobs'); // what earlier tests left (a refused run's rows)
    await db.pool.query(
      `insert into app.pipeline_jobs (kind, state, attempts, last_seen_at) select 'sync', 'running', 3, now() - interval '5 hours' from generate_series(1, 200)`,
    );
    const stale = `select count(*)::int as n from app.pipeline_jobs where state = 'running' and last_seen_at < now() - interval '4 hours'`;
    expect((await db.pool.query(stale)).rows[0].n).toBe(200);

    // The run waits on this lock, so the connection is cut while it is certainly still going.
    const holder = await db.pool.connect();
    await holder.query('begin');
    await holder.query('lock table app.pipeline_jobs in access exclusive mode');
    const proxy = await startTcpProxy(temporal.address);
    const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', 'run', cut, '--wait', '-f', cutFile], {
      env: { ...process.env, TEMPORAL_ADDRESS: proxy.address },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => out + err, { timeout: 30_000 }).toMatch(/^started \S+/);
      const waiting = `select count(*)::int as n from pg_locks where relation = 'app.pipeline_jobs'::regclass and not granted`;
      await expect.poll(async () => (await db.pool.query(waiting)).rows[0].n, { timeout: 30_000 }).toBeGreaterThan(0);
      await proxy.cut();
    } finally {
      await holder.query('commit');
      holder.release();
    }
    const workflowId = out.split('\n')[0]!.split(' ')[1]!;
    expect(await exited).toBe(3);
    expect(err).toContain(`lost the connection to Temporal while waiting for ${workflowId}`);
    expect(err).toContain('it goes on in Temporal');
    expect(err).toContain(`caretaker status ${workflowId}`);
    expect(out + err).not.toMatch(/FAILED|changed before it stopped/);

    // The run itself was never touched: it completes and changes the 200 rows.
    const result = await temporal.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ status: 'completed', counts: { stale: 200, finalized: 200 } });
    expect((await db.pool.query(stale)).rows[0].n).toBe(0);
  });
});
