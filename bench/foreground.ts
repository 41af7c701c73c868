import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bulkDelete, caretakerTask, seedRuns } from './retention';
import type { Stack } from './stack';
import { percentile } from './temporal';

const run = promisify(execFile);
const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
/** The application: pgbench's TPC-B-like transactions from two clients, on its own tables. */
const CLIENTS = 2;
const SLICE_S = 2;

export interface Foreground {
  p99Ms: number;
  p50Ms: number;
  tps: number;
  transactions: number;
  /** How long the cleanup took (0 when idle), and rows it deleted. */
  cleanupMs: number;
  cleanupRows: number;
}

/** pgbench in back-to-back slices of SLICE_S seconds until `until` settles (each slice ends cleanly and writes its log). */
async function pgbenchWhile(url: string, until: Promise<unknown>): Promise<{ latenciesMs: number[]; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-pgbench-'));
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const latenciesMs: number[] = [];
  let seconds = 0;
  try {
    for (let i = 0; !done || i === 0; i++) {
      const started = Date.now();
      await run(PGBENCH, ['-n', '-c', String(CLIENTS), '-j', String(CLIENTS), '-T', String(SLICE_S), '-l', `--log-prefix=${join(dir, `s${i}`)}`, url]);
      seconds += (Date.now() - started) / 1000;
    }
    for (const file of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        const latencyUs = Number(line.split(' ')[2]);
        if (line && Number.isFinite(latencyUs)) latenciesMs.push(latencyUs / 1000);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { latenciesMs, seconds };
}

/**
 * The application's p99 and throughput, idle and while a cleanup runs: a bulk DELETE, Caretaker at
 * its defaults, and Caretaker throttled. Each phase on its own copy of the same data.
 */
export async function foregroundBench(
  stack: Stack,
  runs: number,
  pgbenchScale: number,
  idleSeconds: number,
  throttled: Record<string, unknown>,
): Promise<Record<'idle' | 'bulk' | 'caretaker' | 'throttled', Foreground>> {
  const seed = await stack.database('fg_seed');
  await run(PGBENCH, ['-i', '-q', '-s', String(pgbenchScale), seed.url]);
  await seedRuns(seed.pool, runs);
  await stack.dropPool('fg_seed');

  const phase = async (name: string, cleanup: (db: { url: string; pool: import('pg').Pool }) => Promise<number>): Promise<Foreground> => {
    const db = await stack.database(`fg_${name}`, 'fg_seed');
    const started = Date.now();
    const work = cleanup(db);
    const bench = await pgbenchWhile(db.url, work);
    const rows = await work;
    const cleanupMs = Date.now() - started;
    await stack.dropDatabase(`fg_${name}`);
    const lat = bench.latenciesMs;
    return {
      p99Ms: percentile(lat, 99),
      p50Ms: percentile(lat, 50),
      tps: lat.length / bench.seconds,
      transactions: lat.length,
      cleanupMs: name === 'idle' ? 0 : cleanupMs,
      cleanupRows: rows,
    };
  };
  const caretaker = (name: string, extra: Record<string, unknown>) => async () =>
    (await stack.run(`fg_${name}`, caretakerTask(extra))).result.counts.deleted ?? 0;
  const result = {
    idle: await phase('idle', () => new Promise((r) => setTimeout(() => r(0), idleSeconds * 1000))),
    bulk: await phase('bulk', (db) => bulkDelete(db.pool)),
    caretaker: await phase('caretaker', caretaker('caretaker', {})),
    throttled: await phase('throttled', caretaker('throttled', throttled)),
  };
  await stack.dropDatabase('fg_seed');
  return result;
}
