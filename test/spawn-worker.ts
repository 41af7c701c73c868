import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { inject } from 'vitest';
import { freeLoopbackPort as freePort } from '../worker/metrics';
import { workerEnv, workerNodeArgs } from '../worker/command';

export { freePort };

const ROOT = join(__dirname, '..');

export interface SpawnedWorker {
  child: ChildProcess;
  taskQueue: string;
  /** CARETAKER_METRICS_PORT */
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  get: (path: string) => Promise<{ status: number; body: string }>;
  /** SIGKILL if still running (test cleanup). */
  kill: () => void;
}

/**
 * The standalone worker as production starts it (worker/command.ts), on its own
 * task queue against the test dev server, with a metrics port; resolves once it polls.
 */
export async function spawnWorker(env: Record<string, string>): Promise<SpawnedWorker> {
  const taskQueue = `test-spawned-${randomBytes(6).toString('hex')}`;
  const port = await freePort();
  const child = spawn(process.execPath, workerNodeArgs(), {
    cwd: ROOT,
    env: workerEnv({
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CARETAKER_TASK_QUEUE: taskQueue,
      CARETAKER_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      CARETAKER_METRICS_PORT: String(port),
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve((exit = { code, signal }))),
  );
  const kill = () => {
    if (exit === undefined) child.kill('SIGKILL');
  };
  // Resolves on the worker's start-up line; rejects if it exits first.
  const polling = new Promise<void>((resolve, reject) => {
    const seen = () => output.includes(`polling task queue "${taskQueue}"`) && resolve();
    child.stdout!.on('data', (chunk: Buffer) => ((output += chunk.toString()), seen()));
    child.stderr!.on('data', (chunk: Buffer) => ((output += chunk.toString()), seen()));
    void exited.then((e) => reject(new Error(`worker exited (${JSON.stringify(e)}) before polling:\n${output}`)));
  });
  try {
    await polling;
  } catch (err) {
    kill();
    throw err;
  }
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  return { child, taskQueue, port, output: () => output, exited, get, kill };
}

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}
