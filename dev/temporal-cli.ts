import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The newest CLI tag whose go.mod has no `replace` directive, which `go install pkg@version` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export const CACHE_DIR = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'caretaker', 'bin');
export const CACHED_CLI = join(CACHE_DIR, 'temporal');

/** Where the Temporal CLI (dev server + Web UI) came from; `sdk-download` has no local path. */
export type TemporalCli = { source: 'TEMPORAL_CLI' | 'PATH' | 'cache' | 'go install'; path: string } | { source: 'sdk-download' };

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function findGo(): string | undefined {
  return onPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/**
 * Finds the Temporal CLI: $TEMPORAL_CLI, then `temporal` on PATH, then a cached build under
 * ~/.cache/caretaker/bin, then builds it there with `go install` (a few minutes, once). Without Go
 * it falls back to the SDK's download, which needs internet; `allowDownload: false` refuses that.
 */
export async function resolveTemporalCli(opts: { allowDownload?: boolean; log?: (line: string) => void } = {}): Promise<TemporalCli> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} does not exist`);
    return { source: 'TEMPORAL_CLI', path: fromEnv };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { source: 'PATH', path: fromPath };
  if (existsSync(CACHED_CLI)) return { source: 'cache', path: CACHED_CLI };
  const go = findGo();
  if (go) {
    log(`caretaker: building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${CACHE_DIR} (first run only; a few minutes)...`);
    await goInstall(go);
    return { source: 'go install', path: CACHED_CLI };
  }
  if (opts.allowDownload === false) throw new Error(noCliMessage());
  log('caretaker: no Temporal CLI and no Go toolchain found; trying the Temporal SDK download (needs internet).');
  return { source: 'sdk-download' };
}

export function noCliMessage(): string {
  return [
    'caretaker: no Temporal CLI found. Any one of these works:',
    '  - set TEMPORAL_CLI=/path/to/temporal',
    '  - put `temporal` on PATH (https://docs.temporal.io/cli)',
    `  - install Go and run: GOBIN=${CACHE_DIR} go install ${GO_PACKAGE}`,
    '  - on a machine with internet, the Temporal SDK downloads the dev server itself',
  ].join('\n');
}

/** Builds into a temporary GOBIN and renames, so a concurrent start never sees half a binary. */
async function goInstall(go: string): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const staging = mkdtempSync(join(CACHE_DIR, '..', 'build-'));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', GO_PACKAGE], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`\`go install ${GO_PACKAGE}\` exited with ${code}\n${noCliMessage()}`);
    renameSync(join(staging, 'temporal'), CACHED_CLI);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
