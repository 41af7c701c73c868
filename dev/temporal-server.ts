import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, findGo, onPath } from './temporal-cli';

/** The Temporal server release `npm run cluster`, the cluster tests and docker-compose.yml run. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const MODULE = 'go.temporal.io/server';
/** `go install` names each binary after its package directory; the cache keeps Temporal's release names. */
const BINARIES = {
  server: { env: 'TEMPORAL_SERVER', name: 'temporal-server', goPackage: `${MODULE}/cmd/server`, goName: 'server' },
  sqlTool: { env: 'TEMPORAL_SQL_TOOL', name: 'temporal-sql-tool', goPackage: `${MODULE}/cmd/tools/sql`, goName: 'sql' },
} as const;

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** Where each came from, for the log line. */
  sources: string;
}

function found(kind: keyof typeof BINARIES): { path: string; source: string } | undefined {
  const b = BINARIES[kind];
  const fromEnv = process.env[b.env];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${b.env}=${fromEnv} does not exist`);
    return { path: fromEnv, source: b.env };
  }
  const fromPath = onPath(b.name);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = join(CACHE_DIR, b.name);
  return existsSync(cached) ? { path: cached, source: 'cache' } : undefined;
}

/**
 * Finds the Temporal server and its SQL tool like the CLI is found: $TEMPORAL_SERVER /
 * $TEMPORAL_SQL_TOOL, then `temporal-server` / `temporal-sql-tool` on PATH, then
 * ~/.cache/caretaker/bin, then builds the missing ones there with `go install` (~5 min on 2 cores).
 */
export async function resolveTemporalServer(log: (line: string) => void = (l) => console.error(l)): Promise<TemporalServerBinaries> {
  let server = found('server');
  let sqlTool = found('sqlTool');
  const missing = (['server', 'sqlTool'] as const).filter((k) => !(k === 'server' ? server : sqlTool));
  if (missing.length) {
    const go = findGo();
    if (!go) throw new Error(noServerMessage());
    log(
      `caretaker: building the Temporal server ${TEMPORAL_SERVER_VERSION} (${missing.map((k) => BINARIES[k].name).join(', ')}) with Go into ${CACHE_DIR} (first run only; ~5 minutes)...`,
    );
    await goInstall(go, missing);
    server ??= { path: join(CACHE_DIR, BINARIES.server.name), source: 'go install' };
    sqlTool ??= { path: join(CACHE_DIR, BINARIES.sqlTool.name), source: 'go install' };
  }
  return { server: server!.path, sqlTool: sqlTool!.path, sources: `server from ${server!.source}, sql tool from ${sqlTool!.source}` };
}

export function noServerMessage(): string {
  return [
    'caretaker: no Temporal server found, and no Go toolchain to build one. Any one of these works:',
    '  - set TEMPORAL_SERVER=/path/to/temporal-server and TEMPORAL_SQL_TOOL=/path/to/temporal-sql-tool',
    '  - put temporal-server and temporal-sql-tool on PATH (from a Temporal server release)',
    `  - install Go (https://go.dev/dl) and run \`npm run cluster\` again: it builds ${MODULE}@${TEMPORAL_SERVER_VERSION}`,
  ].join('\n');
}

/** Builds into a temporary GOBIN and renames, so a concurrent start never sees half a binary. */
async function goInstall(go: string, kinds: readonly (keyof typeof BINARIES)[]): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const staging = mkdtempSync(join(CACHE_DIR, '..', 'build-'));
  const packages = kinds.map((k) => `${BINARIES[k].goPackage}@${TEMPORAL_SERVER_VERSION}`);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', ...packages], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`\`go install ${packages.join(' ')}\` exited with ${code}\n${noServerMessage()}`);
    for (const k of kinds) renameSync(join(staging, BINARIES[k].goName), join(CACHE_DIR, BINARIES[k].name));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
