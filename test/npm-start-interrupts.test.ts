import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ownSessionWrapper, serverDbPath } from '../dev/dev-server-process';
import { createTestDatabase, type TestDatabase } from './support';
import { freePort } from './spawn-worker';
import { PIPELINE_SCHEMA, PIPELINE_TASK_CONFIG } from './fixtures';
import { databaseSnapshot, listening, processesMentioning, spawnStart, type StartedProcess } from './npm-start';

// `npm start` with the user's own config (CARETAKER_CONFIG) against this file's database, its own
// state directory and free ports, Ctrl-C'd like a terminal does it: SIGINT to its process group.
// Its one task is long: every updated row costs 20 ms (a trigger), 3000 rows, two per batch.
const ROWS = 3000;
const SLOW = `
  create function app.slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return new; end $$;
  create trigger slow before update on app.pipeline_jobs for each row execute function app.slow_down();`;

let db: TestDatabase;
let dir: string;
const started: StartedProcess[] = [];
const stateDirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('npmstart');
  await db.pool.query(PIPELINE_SCHEMA + SLOW);
  dir = mkdtempSync(join(tmpdir(), 'caretaker-npm-start-'));
});
afterEach(() => {
  // A failed test must not leave a start or a dev server behind for the next one (or anyone else).
  for (const start of started.splice(0)) if (start.child.exitCode === null && start.child.signalCode === null) start.signalGroup('SIGKILL');
  for (const stateDir of stateDirs.splice(0)) for (const { pid } of processesMentioning(stateDir)) process.kill(pid, 'SIGKILL');
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function staleRows(): Promise<void> {
  await db.pool.query(`drop trigger if exists slow_batch on app.pipeline_jobs; drop function if exists slow_batch(); truncate app.pipeline_jobs;
    insert into app.pipeline_jobs (kind, state, attempts, last_seen_at) select 'sync', 'running', 0, now() - interval '5 hours' from generate_series(1, ${ROWS})`);
}

async function requeued(): Promise<number> {
  return (await db.pool.query(`select count(*)::int as n from app.pipeline_jobs where state = 'pending'`)).rows[0].n as number;
}

interface Settings {
  stateDir: string;
  port: number;
  uiPort: number;
  env: Record<string, string>;
}

async function settings(opts: { startupRun: boolean; grace: string }): Promise<Settings> {
  const stateDir = mkdtempSync(join(dir, 'state-'));
  stateDirs.push(stateDir);
  const config = join(stateDir, 'slow.yaml');
  const task = {
    id: 'slow',
    type: 'runs.cleanup_stale',
    run_on_startup: opts.startupRun,
    schedule: { every: '1h' },
    config: PIPELINE_TASK_CONFIG,
    timeouts: { heartbeat: '5s' },
  };
  writeFileSync(config, JSON.stringify({ task_queue: `npm-start-${stateDir.slice(-6)}`, tasks: [task] }));
  const [port, uiPort] = [await freePort(), await freePort()];
  const env = {
    CARETAKER_CONFIG: config,
    DATABASE_URL: db.url,
    CARETAKER_STATE_DIR: stateDir,
    CARETAKER_TEMPORAL_PORT: String(port),
    CARETAKER_UI_PORT: String(uiPort),
    CARETAKER_SHUTDOWN_GRACE: opts.grace,
    CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    TEMPORAL_CLI: inject('temporalCli'),
  };
  return { stateDir, port, uiPort, env };
}

function start(s: Settings): StartedProcess {
  const run = spawnStart(s.env);
  started.push(run);
  return run;
}

/** Nothing of that start is left: no listener on either port, no process of its state directory. */
async function expectNothingLeft(s: Settings): Promise<void> {
  expect(await listening(s.port)).toBe(false);
  expect(await listening(s.uiPort)).toBe(false);
  expect(processesMentioning(s.stateDir)).toEqual([]);
}

async function triggerLongRun(s: Settings): Promise<void> {
  const connection = await Connection.connect({ address: `127.0.0.1:${s.port}` });
  try {
    await new Client({ connection }).schedule.getHandle('slow').trigger();
  } finally {
    await connection.close();
  }
}

describe('Ctrl-C on npm start stops the worker, then the dev server, and leaves nothing running', () => {
  const cases = [
    { when: 'during the startup runs', presses: 1 },
    { when: 'during the startup runs', presses: 2 },
    { when: 'during a long run', presses: 1 },
    { when: 'during a long run', presses: 2 },
  ] as const;
  it.each(cases)('$when, pressed $presses time(s)', { timeout: 300_000 }, async ({ when, presses }) => {
    await staleRows();
    // Pressed once, the worker drains (2 s for running batches); pressed twice, a long grace shows
    // that the second press stops the dev server without waiting for it.
    const s = await settings({ startupRun: when === 'during the startup runs', grace: presses === 1 ? '2s' : '10m' });
    const run = start(s);
    if (when === 'during the startup runs') {
      await expect.poll(() => run.output(), { timeout: 240_000 }).toContain('worker: polling task queue');
    } else {
      await expect.poll(() => run.output(), { timeout: 240_000 }).toContain('Caretaker is running.');
      await triggerLongRun(s);
    }
    await expect.poll(requeued, { timeout: 60_000 }).toBeGreaterThan(0);

    // Pressed twice: the batch after this one takes 20 s, so the worker, which stops after the batch
    // in flight, is still waiting for it when the second Ctrl-C comes.
    if (presses === 2)
      await db.pool.query(`create function slow_batch() returns trigger language plpgsql as $$ begin perform pg_sleep(20); return null; end $$;
        create trigger slow_batch before update on app.pipeline_jobs for each statement execute function slow_batch()`);
    run.signalGroup('SIGINT');
    if (presses === 2) {
      await sleep(1_000);
      run.signalGroup('SIGINT');
    }
    const exit = await run.exited;
    expect(run.output()).not.toContain('startup run slow:');
    if (presses === 1) {
      expect(exit).toEqual({ code: 0, signal: null });
      expect(run.output()).toContain('worker: stopped (running batches finished)');
    } else {
      expect(exit).toEqual({ code: 130, signal: null });
      expect(run.output()).toContain('stopping the dev server now');
    }
    expect(await requeued()).toBeLessThan(ROWS);
    await expectNothingLeft(s);
  });

  it(
    'a dev server left by a killed start is found by the next start, named and stopped (one of a running start is not); the user database gets no demo tables',
    { timeout: 300_000 },
    async () => {
      const before = Object.keys(await databaseSnapshot(db.pool));
      const s = await settings({ startupRun: false, grace: '2s' });
      // What a SIGKILL'd start leaves: its dev server, started through the own-session wrapper (pid
      // file and all), whose start is gone. (Killing a real start leaves this too, but under vitest
      // the orphaned server sometimes exits by itself within seconds, which would test nothing.)
      const server = spawn(
        ownSessionWrapper(inject('temporalCli'), s.stateDir),
        [
          'server',
          'start-dev',
          '--ip',
          '127.0.0.1',
          '--port',
          String(s.port),
          '--ui-port',
          String(s.uiPort),
          '--db-filename',
          serverDbPath(s.stateDir),
          '--log-level',
          'error',
        ],
        { stdio: 'ignore' },
      );
      server.unref();
      await expect.poll(() => listening(s.port), { timeout: 60_000 }).toBe(true);
      const [leftover] = processesMentioning(s.stateDir);
      expect(leftover).toMatchObject({ pid: server.pid, command: expect.stringContaining('start-dev') });
      expect(readFileSync(join(s.stateDir, 'temporal.pid'), 'utf8').trim()).toBe(`${server.pid} ${process.pid}`);

      const next = start(s);
      await expect.poll(() => next.output(), { timeout: 240_000 }).toContain('Caretaker is running.');
      expect(next.output()).toContain(`temporal: a dev server left running by an earlier npm start (pid ${server.pid}, state in `);
      expect(next.output()).toContain('database: default is DATABASE_URL');
      // A running start's server is not left over: a second start on the same state directory is refused and stops nothing.
      const second = start(s);
      expect(await second.exited).toEqual({ code: 1, signal: null });
      expect(second.output()).toMatch(/another npm start \(pid \d+\) runs with this state directory/);
      expect(await listening(s.port)).toBe(true);
      next.signalGroup('SIGINT');
      expect(await next.exited).toEqual({ code: 0, signal: null });
      await expectNothingLeft(s);
      expect(Object.keys(await databaseSnapshot(db.pool))).toEqual(before);
    },
  );
});
