/**
 * How a standalone worker process is started, everywhere: `npm run worker`, the Dockerfile,
 * `npm run cluster`, the tests and the benchmarks (test/compose-parity.test.ts keeps the first two
 * in step with this).
 *
 * V8's defaults size the heap for the machine (gigabytes here) and collect lazily, so a worker's
 * memory climbed by ~120 MB over 1,000 runs without holding anything (bench/temporal.ts). A 4 MB
 * young generation (default 16) and a 384 MB old-space cap keep it flat at ~240 MB; a worker that
 * needs more than 384 MB of JavaScript heap is leaking, and when it stops the ledger resumes its
 * runs on another. Raise the cap with a larger `--max-old-space-size` if a plugin task needs it.
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=384'] as const;

/** `node` arguments of the standalone worker; `main` is worker/main.ts relative to the working directory, or absolute. */
export function workerNodeArgs(main = 'worker/main.ts'): string[] {
  return [...WORKER_NODE_FLAGS, '--import', 'tsx', main];
}
