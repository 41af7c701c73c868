import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { workerEnv, workerNodeArgs } from '../../worker/command';

const ROOT = join(__dirname, '..', '..');

/** What a worker process needs beyond the inherited environment. */
export interface WorkerEnv {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  CARETAKER_TASK_QUEUE: string;
  /** A bundle built once (`buildWorkflowBundle`), so N workers do not bundle N times. */
  CARETAKER_WORKFLOW_BUNDLE: string;
  [name: string]: string;
}

/**
 * One standalone worker, exactly as production runs it (worker/command.ts).
 * Its output goes to `output` (prefixed with `name`), or nowhere.
 */
export function spawnWorker(env: WorkerEnv, opts: { name?: string; output?: (line: string) => void } = {}): ChildProcess {
  const child = spawn(process.execPath, workerNodeArgs(), {
    cwd: ROOT,
    env: workerEnv({ ...process.env, ...env }),
    stdio: ['ignore', opts.output ? 'pipe' : 'ignore', opts.output ? 'pipe' : 'ignore'],
  });
  if (opts.output) {
    const out = opts.output;
    const prefix = opts.name ? `${opts.name}: ` : '';
    const forward = (chunk: Buffer) =>
      chunk
        .toString()
        .trimEnd()
        .split('\n')
        .forEach((line) => out(prefix + line));
    child.stdout!.on('data', forward);
    child.stderr!.on('data', forward);
  }
  return child;
}

/** SIGTERM (the worker drains) and wait for the exit; SIGKILL after `graceMs`. */
export async function stopWorker(child: ChildProcess, graceMs = 45_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(forced);
}
