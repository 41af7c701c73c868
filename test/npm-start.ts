import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Pool } from 'pg';

const ROOT = join(__dirname, '..');

export interface StartedProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the whole process group, as a terminal's Ctrl-C does. */
  signalGroup: (signal: NodeJS.Signals) => void;
}

/** Variables of this process that would change what `npm start` does; the test gives its own. */
const OWN_SETTINGS = /^(DATABASE_URL|CARETAKER_.*|TEMPORAL_ADDRESS|TEMPORAL_NAMESPACE|npm_.*)$/;

/**
 * `npm start [-- args]` as a user runs it (package.json's script through npm), in a process group
 * of its own so a test can Ctrl-C it like a terminal does, with only the Caretaker settings given.
 */
export function spawnStart(env: Record<string, string>, args: string[] = []): StartedProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !OWN_SETTINGS.test(key)));
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    env: { ...base, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited, signalGroup: (signal) => process.kill(-child.pid!, signal) };
}

/** Every table outside the system schemas with all its rows, to prove nothing changed. */
export async function databaseSnapshot(pool: Pool): Promise<Record<string, unknown[]>> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `select format('%I.%I', table_schema, table_name) as name from information_schema.tables
     where table_schema not in ('pg_catalog', 'information_schema') order by 1`,
  );
  const snapshot: Record<string, unknown[]> = {};
  for (const { name } of tables) snapshot[name] = (await pool.query(`select * from ${name} order by 1`)).rows;
  return snapshot;
}

/** Processes whose command line contains `text` (Linux /proc), e.g. a dev server of a state directory. */
export function processesMentioning(text: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (command.includes(text)) found.push({ pid: Number(entry), command });
    } catch {
      /* it ended meanwhile */
    }
  }
  return found;
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
