import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT, poolSettingsFromEnv, PoolRegistry } from '../worker/databases';
import { createTestDatabase, type TestDatabase } from './support';

const ROOT = join(__dirname, '..');
/** The worker's start command, exactly as package.json has it. */
const WORKER_SCRIPT = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { worker: string } }).scripts.worker;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('worker_process');
});
afterAll(async () => {
  await db?.drop();
});

/** Processes whose environment holds `entry`: the spawned command and everything it started. */
function processesWith(entry: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    })
    .map(Number);
}

/** Starts the worker as production does, waits until it polls, sends SIGTERM to the spawned PID. */
async function startAndTerminate(
  command: string,
  args: string[],
): Promise<{ exit: { code: number | null; signal: string | null }; output: string; remaining: number[] }> {
  const taskQueue = `test-worker-process-${randomBytes(6).toString('hex')}`;
  const marker = `CARETAKER_TASK_QUEUE=${taskQueue}`;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CARETAKER_TASK_QUEUE: taskQueue,
      DATABASE_URL: db.url,
      CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve((exit = { code, signal }))),
  );
  try {
    await expect.poll(() => exit ?? output, { timeout: 60_000 }).toContain(`polling task queue "${taskQueue}"`);
    expect(processesWith(marker)).toContain(child.pid); // the marker finds the worker's processes
    child.kill('SIGTERM');
    const result = { exit: await exited, output, remaining: processesWith(marker) };
    return result;
  } finally {
    // Whatever survived the test is ours: end it by id, so no worker keeps polling.
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  }
}

describe('the standalone worker process', () => {
  it(`drains and exits on SIGTERM to its command (${WORKER_SCRIPT}), leaving no process behind`, async () => {
    const { exit, output, remaining } = await startAndTerminate('/bin/sh', ['-c', WORKER_SCRIPT]);
    expect({ exit, remaining }).toEqual({ exit: { code: 0, signal: null }, remaining: [] });
    expect(output).toContain('caretaker worker: stopped');
  });

  it('does the same on SIGTERM to `npm run worker`', async () => {
    const { exit, output, remaining } = await startAndTerminate('npm', ['run', 'worker']);
    expect({ exit, remaining }).toEqual({ exit: { code: 0, signal: null }, remaining: [] });
    expect(output).toContain('caretaker worker: stopped');
  });
});

describe('worker database pools', () => {
  it('open every connection with idle_in_transaction_session_timeout, 5m unless CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT says otherwise', async () => {
    const show = async (settings?: ReturnType<typeof poolSettingsFromEnv>) => {
      const pools = new PoolRegistry(new Map([['default', db.url]]), settings);
      try {
        const { rows } = await pools.get('default').query<{ idle_in_transaction_session_timeout: string }>('show idle_in_transaction_session_timeout');
        return rows[0]!.idle_in_transaction_session_timeout;
      } finally {
        await pools.close();
      }
    };
    expect(poolSettingsFromEnv({})).toMatchObject({ idleInTransactionTimeout: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT });
    expect(poolSettingsFromEnv({ CARETAKER_LEDGER_SCHEMA_REPORTS: 'ops_ledger' }).ledgerSchemas?.byName.get('reports')).toBe('ops_ledger');
    expect(() => poolSettingsFromEnv({ CARETAKER_LEDGER_SCHEMA: 'Bad-Name' })).toThrow(
      'CARETAKER_LEDGER_SCHEMA: expected a schema name of lower-case letters, digits and "_", got "Bad-Name"',
    );
    expect(await show()).toBe('5min');
    expect(await show(poolSettingsFromEnv({}))).toBe('5min');
    expect(await show(poolSettingsFromEnv({ CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT: '90s' }))).toBe('90s');
    expect(() => poolSettingsFromEnv({ CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT: 'soon' })).toThrow(
      'CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT: expected a duration of at least 1s like "5m" or "90s", or 0 for the server\'s setting, got "soon"',
    );
  });

  it('a session left idle in a transaction is ended by the server, releasing its row locks, and the worker lives on', async () => {
    await db.pool.query('create table locked (id int primary key); insert into locked values (1)');
    const pools = new PoolRegistry(new Map([['default', db.url]]), poolSettingsFromEnv({ CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT: '1s' }));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const frozen = await pools.get('default').connect();
    try {
      await frozen.query('begin');
      await frozen.query('select * from locked where id = 1 for update');
      // The frozen session sends nothing more; another session waits for the row lock and gets it.
      const other = await db.pool.connect();
      await other.query(`set lock_timeout = '30s'`);
      const locked = await other.query('select id from locked where id = 1 for update').finally(() => other.release(true));
      expect(locked.rows).toEqual([{ id: 1 }]);
      // The held client's error is logged (not an uncaught exception), and its next query fails.
      await expect
        .poll(() => logged.mock.calls.flat().join('\n'), { timeout: 30_000 })
        .toMatch(/connection to database "default" failed: .*idle-in-transaction timeout/);
      await expect(frozen.query('select 1')).rejects.toThrow();
    } finally {
      logged.mockRestore();
      frozen.release(true);
      await pools.close();
    }
  });
});
