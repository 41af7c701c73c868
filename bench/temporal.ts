import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { buildTaskInput } from '../config/task-input';
import { parseConfigText } from '../config/load';
import { seedRuns, caretakerTask } from './retention';
import type { Stack } from './stack';
import { timed } from './stack';
import { workerEnv, workerNodeArgs } from '../worker/command';

/** A task that finds nothing to do: what a schedule fire or a warm run costs, not the data. */
const IDLE_TASK = { type: 'runs.cleanup_expired', config: { table: 'runs', details_limit: 0 } };

export async function idleDatabase(stack: Stack, name: string): Promise<string> {
  const db = await stack.database(name);
  await db.pool.query(`create table runs (id bigint primary key, status text not null, completed_at timestamptz)`);
  return db.url;
}

const time = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Schedule fire (its nominal time) -> the first activity's start, over `fires` fires of a 1s interval schedule. */
export async function fireLatency(stack: Stack, fires: number): Promise<{ fires: number; p50: number; p99: number; max: number }> {
  await idleDatabase(stack, 'fires');
  const parsed = parseConfigText(JSON.stringify({ tasks: [{ id: 'fires', database: 'fires', ...IDLE_TASK }] }), 'bench.yaml', {}).tasks[0]!;
  const scheduleId = `bench-fires-${randomBytes(4).toString('hex')}`;
  const handle = await stack.client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: '1s' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'runsCleanupExpiredWorkflow',
      taskQueue: stack.taskQueue,
      args: [buildTaskInput(parsed)],
      workflowId: `${scheduleId}-wf`,
    },
  });
  const latencies: number[] = [];
  const seen = new Set<string>();
  try {
    while (latencies.length < fires) {
      const recent = (await handle.describe()).info.recentActions;
      for (const action of recent) {
        const id = action.action.workflow.workflowId;
        if (seen.has(id)) continue;
        const history = await stack.client.workflow
          .getHandle(id, action.action.workflow.firstExecutionRunId)
          .fetchHistory()
          .catch(() => undefined);
        const started = history?.events?.find((e) => e.activityTaskStartedEventAttributes);
        if (!started) continue;
        seen.add(id);
        latencies.push(time(started.eventTime) - action.scheduledAt.getTime());
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await handle.delete();
  }
  return { fires: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) };
}

/** The standalone worker (`npm run worker`) as a child process on its own task queue. */
function spawnWorker(stack: Stack, taskQueue: string, databaseUrl: string, prebuilt: boolean): ChildProcess {
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: stack.env.address,
    CARETAKER_TASK_QUEUE: taskQueue,
    DATABASE_URL: databaseUrl,
    CARETAKER_WORKFLOW_BUNDLE: prebuilt ? stack.bundlePath : '',
  };
  return spawn(process.execPath, workerNodeArgs(join(__dirname, '..', 'worker', 'main.ts')), { env: workerEnv(env), stdio: 'ignore' });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function runIdle(stack: Stack, taskQueue: string, taskId: string) {
  const parsed = parseConfigText(JSON.stringify({ tasks: [{ id: taskId, ...IDLE_TASK }] }), 'bench.yaml', {}).tasks[0]!;
  return stack.client.workflow.execute('runsCleanupExpiredWorkflow', {
    taskQueue,
    workflowId: `${taskId}-${randomBytes(4).toString('hex')}`,
    args: [buildTaskInput(parsed)],
  });
}

/**
 * Spawn -> a waiting workflow's result, with the prebuilt bundle and with bundling at start: the
 * median of three starts each, alternating (one start swings by seconds on a busy machine).
 */
export async function coldStart(stack: Stack, databaseUrl: string): Promise<{ prebuiltMs: number; bundlingMs: number }> {
  const once = async (prebuilt: boolean) => {
    const queue = `bench-cold-${randomBytes(4).toString('hex')}`;
    const { ms, value: child } = await timed(async () => {
      const child = spawnWorker(stack, queue, databaseUrl, prebuilt);
      await runIdle(stack, queue, 'cold');
      return child;
    });
    await stopWorker(child);
    return ms;
  };
  await once(true); // warms the OS file cache for both
  const prebuilt: number[] = [];
  const bundling: number[] = [];
  for (let i = 0; i < 3; i++) {
    prebuilt.push(await once(true));
    bundling.push(await once(false));
  }
  return { prebuiltMs: percentile(prebuilt, 50), bundlingMs: percentile(bundling, 50) };
}

/** The standalone worker's resident memory after `runs` runs (20 at a time). */
export async function workerRss(stack: Stack, databaseUrl: string, runs: number): Promise<{ runs: number; rssMb: number }> {
  const queue = `bench-rss-${randomBytes(4).toString('hex')}`;
  const child = spawnWorker(stack, queue, databaseUrl, true);
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < runs) await runIdle(stack, queue, `rss-${next++}`);
      }),
    );
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return { runs, rssMb: kb / 1024 };
  } finally {
    await stopWorker(child);
  }
}

/** History size and events of a retention run on `small` and on 10x as many runs: both should be flat. */
export async function historyGrowth(
  stack: Stack,
  small: number,
): Promise<{ small: { runs: number; bytes: number; events: number }; large: { runs: number; bytes: number; events: number } }> {
  const measure = async (runs: number) => {
    const db = await stack.database(`history_${runs}`);
    await seedRuns(db.pool, runs);
    const { workflowId } = await stack.run(`history_${runs}`, caretakerTask());
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    await stack.dropDatabase(`history_${runs}`);
    return { runs, bytes: temporal.api.history.v1.History.encode(history).finish().length, events: history.events?.length ?? 0 };
  };
  return { small: await measure(small), large: await measure(small * 10) };
}
