/**
 * How a standalone worker process is started, everywhere: `npm run worker`, the Dockerfile,
 * `npm run cluster`, the tests and the benchmarks (test/compose-parity.test.ts keeps the first two
 * in step with this).
 *
 * V8's defaults size the heap for the machine (gigabytes here) and collect lazily, so a worker's
 * memory climbed by ~120 MB over 1,000 runs without holding anything (bench/temporal.ts). A 4 MB
 * young generation (default 16) and a 384 MB old-space cap keep it flat at ~240 MB. They go in
 * NODE_OPTIONS ahead of the operator's own, so a later `--max-old-space-size` there wins (a task
 * that holds a very large directory listing, say: files rules list a directory tree in memory).
 */
export const WORKER_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=384';

/**
 * glibc malloc arenas for the worker process. By default glibc gives each thread that allocates
 * its own arena, up to 8 per core; a worker runs about 17 threads (V8's, libuv's, the Temporal
 * core's Rust runtime), and freed memory stays spread over those arenas: RSS 243-259 MB after 1,000
 * runs with the JS heaps flat (bench/temporal.ts). Two arenas: 215-221 MB. glibc reads it at
 * process start, so it goes in the environment of every worker start; an operator's own value wins.
 */
export const WORKER_MALLOC_ARENA_MAX = '2';

/** `node` arguments of the standalone worker; `main` is worker/main.ts relative to the working directory, or absolute. */
export function workerNodeArgs(main = 'worker/main.ts'): string[] {
  return ['--import', 'tsx', main];
}

/** `env` with the worker's NODE_OPTIONS first, then any NODE_OPTIONS it already had, and its malloc arenas unless `env` sets them. */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX,
    NODE_OPTIONS: [WORKER_NODE_OPTIONS, env.NODE_OPTIONS].filter(Boolean).join(' '),
  };
}
