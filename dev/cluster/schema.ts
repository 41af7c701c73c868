import { spawn } from 'node:child_process';
import { urlOfDatabase, withClient } from '../pg-client';
import { quoteIdent } from '../../activities/sql/identifiers';
import type { ClusterSettings } from './settings';

/** Temporal's schemas are embedded in temporal-sql-tool, so the tool and its schema always match. */
const SCHEMA_NAMES = { persistence: 'postgresql/v12/temporal', visibility: 'postgresql/v12/visibility' } as const;

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.trim()}`))));
  });
}

/**
 * Creates (first start) and migrates (every start) the persistence and visibility databases with
 * temporal-sql-tool: `create-database`, `setup-schema -v 0.0`, then `update-schema` to the
 * version the tool embeds. A second start finds the schema in place and only updates it, which is
 * a no-op unless the server was upgraded. Returns which databases were created.
 */
export async function ensureClusterSchemas(sqlTool: string, settings: ClusterSettings): Promise<string[]> {
  const url = new URL(settings.postgresUrl);
  const connection = [
    '--plugin',
    'postgres12',
    '--endpoint',
    url.hostname,
    '--port',
    url.port || '5432',
    '--user',
    decodeURIComponent(url.username) || 'postgres',
    ...(url.password ? ['--password', decodeURIComponent(url.password)] : []),
  ];
  const created: string[] = [];
  for (const kind of ['persistence', 'visibility'] as const) {
    const database = settings.databases[kind];
    const exists = await withClient(
      settings.postgresUrl,
      async (c) => (await c.query('select 1 from pg_database where datname = $1', [database])).rowCount === 1,
    );
    if (!exists) {
      await run(sqlTool, [...connection, '--database', database, 'create-database']);
      created.push(database);
    }
    const versioned = await withClient(
      urlOfDatabase(settings.postgresUrl, database),
      async (c) => (await c.query(`select to_regclass('public.schema_version') is not null as ok`)).rows[0].ok as boolean,
    );
    if (!versioned) await run(sqlTool, [...connection, '--database', database, 'setup-schema', '-v', '0.0']);
    await run(sqlTool, [...connection, '--database', database, 'update-schema', '--schema-name', SCHEMA_NAMES[kind]]);
  }
  return created;
}

/** Drops both databases (the cluster tests' teardown). */
export async function dropClusterDatabases(settings: ClusterSettings): Promise<void> {
  await withClient(settings.postgresUrl, async (c) => {
    for (const database of Object.values(settings.databases)) await c.query(`drop database if exists ${quoteIdent(database)} with (force)`);
  });
}
