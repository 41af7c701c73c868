import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorkflowBundle } from '../worker/bundle';
import { foregroundBench } from './foreground';
import { writeReport, type BenchRun } from './report';
import { retentionBench } from './retention';
import { admin, Stack, timed } from './stack';
import { partitionBench, staleBench } from './stale-partitions';
import { coldStart, fireLatency, historyGrowth, idleDatabase, workerRss } from './temporal';

/**
 * `npm run bench`: Caretaker through the real stack (dev server, worker, PostgreSQL) against
 * hand-written baselines measured in the same run, on the same machine and data. BENCH_SCALE
 * (default 1) shrinks every data set and count for a quick run. Writes BENCHMARKS.md and
 * bench/results.json.
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 1)) throw new Error(`BENCH_SCALE: expected a number in (0, 1], got ${process.env.BENCH_SCALE}`);
const n = (full: number, least: number) => Math.max(least, Math.round(full * SCALE));
/**
 * BENCH_ONLY=stale (or retention) runs only the stale-scan (or retention) benchmark, a minute or two
 * instead of seven, and prints its figures and ratios; it writes neither BENCHMARKS.md nor
 * bench/results.json, which describe a whole run.
 */
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'stale' && ONLY !== 'retention')
  throw new Error(`BENCH_ONLY: expected "stale" or "retention" (or unset for the whole suite), got ${ONLY}`);

/** The throttle the foreground benchmark uses: small batches, in the database at most a fifth of the time (README "Throttle"). */
export const THROTTLED = { batch_size: { target: '20ms' }, throttle: { nice_ratio: 4 } };

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'caretaker-bench-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  const bundle = await timed(() => buildWorkflowBundle());
  writeFileSync(bundlePath, bundle.value.code);
  const stack = await Stack.start(bundlePath);
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const { ms, value } = await timed(fn);
    console.log(`bench: ${name} (${(ms / 1000).toFixed(1)} s)`);
    return value;
  };
  try {
    if (ONLY === 'stale') {
      const stale = await step('stale runs', () => staleBench(stack, n(1_000_000, 1_000)));
      const r2 = (x: number) => Math.round(x * 100) / 100;
      console.log(
        JSON.stringify({
          scale: SCALE,
          stale,
          stale_vs_raw: r2(stale.caretakerMs / stale.rawMs),
          stale_activity_vs_raw: r2(stale.caretakerActivityMs / stale.rawMs),
          load: loadavg(),
        }),
      );
      return;
    }
    if (ONLY === 'retention') {
      const ret = await step('retention', () => retentionBench(stack, n(2_000_000, 2_000)));
      const r2 = (x: number) => Math.round(x * 100) / 100;
      console.log(
        JSON.stringify({
          scale: SCALE,
          retention: ret,
          retention_vs_bulk: r2(ret.bulkMs / ret.caretakerMs),
          retention_vs_node_loop: r2(ret.nodeLoopMs / ret.caretakerMs),
          retention_unguarded_vs_node_loop: r2(ret.nodeLoopMs / ret.unguardedMs),
          load: loadavg(),
        }),
      );
      return;
    }
    const run: BenchRun = {
      scale: SCALE,
      bundleMs: bundle.ms,
      retention: await step('retention', () => retentionBench(stack, n(2_000_000, 2_000))),
      stale: await step('stale runs', () => staleBench(stack, n(1_000_000, 1_000))),
      partition: await step('partition drop', () => partitionBench(stack, n(1_000_000, 1_000))),
      history: await step('history growth', () => historyGrowth(stack, n(20_000, 500))),
      fires: await step('schedule fires', () => fireLatency(stack, n(60, 10))),
      ...(await step('worker process', async () => {
        const url = await idleDatabase(stack, 'worker');
        return { cold: await coldStart(stack, url), rss: await workerRss(stack, url, n(1_000, 50)) };
      })),
      foreground: await step('foreground pgbench', () => foregroundBench(stack, n(400_000, 2_000), n(10, 1), n(10, 3), THROTTLED)),
      throttled: THROTTLED,
      load: { before: loadBefore, after: loadavg() },
      seconds: (Date.now() - started) / 1000,
      postgres: await admin(async (c) => `PostgreSQL ${(await c.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v}`),
    };
    writeReport(run);
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
