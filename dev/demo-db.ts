import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import { withClient } from './pg-client';
import { assertDemoDatabase, createMarkedDatabase } from './demo-marker';

const DEMO_DIR = join(__dirname, 'demo');

/** The tables of schema public: a migration's tables are those it adds. */
const PUBLIC_TABLES = `from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')`;

/**
 * Applies dev/demo/migrations/*.sql in name order, each once, recorded in caretaker_demo_migrations;
 * the tables each one creates are recorded in caretaker_demo_tables, the only tables a reseed empties.
 */
async function migrate(client: Client): Promise<string[]> {
  await client.query(`create table if not exists caretaker_demo_migrations (name text primary key, applied_at timestamptz not null default now());
    create table if not exists caretaker_demo_tables (table_oid oid primary key)`);
  const done = new Set((await client.query<{ name: string }>('select name from caretaker_demo_migrations')).rows.map((r) => r.name));
  const files = (await readdir(join(DEMO_DIR, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  for (const file of files.filter((f) => !done.has(f))) {
    await client.query('begin');
    try {
      const before = (await client.query<{ oids: number[] }>(`select coalesce(array_agg(oid), '{}') as oids ${PUBLIC_TABLES}`)).rows[0]!.oids;
      await client.query(await readFile(join(DEMO_DIR, 'migrations', file), 'utf8'));
      await client.query(`insert into caretaker_demo_tables (table_oid) select oid ${PUBLIC_TABLES} and oid <> all($1::oid[])`, [before]);
      await client.query('insert into caretaker_demo_migrations (name) values ($1)', [file]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback');
      throw new Error(`demo migration ${file} failed: ${(err as Error).message}`);
    }
    applied.push(file);
  }
  return applied;
}

/** Demo files: the assets' files (two missing on purpose), stray uploads, old logs, a cache. */
export async function seedDemoFiles(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  const day = 86_400_000;
  const put = async (rel: string, ageDays: number, bytes = 1024) => {
    const full = join(root, rel);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, Buffer.alloc(bytes, 'x'));
    const t = new Date(Date.now() - ageDays * day);
    await utimes(full, t, t);
  };
  for (let i = 1; i <= 30; i++) await put(`assets/asset-${i}.pdf`, 1);
  for (let i = 1; i <= 3; i++) await put(`assets/stray-${i}.pdf`, 3); // no row points at these
  for (let i = 1; i <= 12; i++) await put(`logs/app-${String(i).padStart(2, '0')}.log`, i, i === 1 ? 3 * 2 ** 20 : 4096);
  for (let i = 1; i <= 20; i++) await put(`cache/thumb-${i}.png`, i * 3, 64 * 1024);
}

export interface DemoDatabaseReport {
  created: boolean;
  migrations: string[];
  seeded: boolean;
}

/**
 * Empties the tables the demo's migrations created (and only those: no cascade, so a table of
 * someone else's that references one makes the reseed fail instead of emptying it too).
 */
async function emptyDemoTables(client: Client): Promise<void> {
  const { rows } = await client.query<{ tables: string | null }>(
    `select string_agg(c.oid::regclass::text, ', ' order by c.oid) as tables from caretaker_demo_tables d join pg_class c on c.oid = d.table_oid`,
  );
  if (rows[0]!.tables) await client.query(`truncate ${rows[0]!.tables} restart identity`);
}

/**
 * The demo database: created (and marked as the demo's), migrated, and seeded once (a second start
 * keeps what the first left). A database that exists without the demo's marker is refused
 * (DemoRefusal) before anything is written to it. The session's advisory lock serialises two starts.
 */
export async function ensureDemoDatabase(url: string, opts: { reseed?: boolean; filesDir?: string } = {}): Promise<DemoDatabaseReport> {
  const created = await createMarkedDatabase(url);
  return withClient(url, async (client) => {
    await assertDemoDatabase(client, url);
    // Two starts at once: one migrates and seeds, the other waits and finds it done.
    await client.query(`select pg_advisory_lock(hashtext('caretaker demo setup'))`);
    const migrations = await migrate(client);
    if (opts.reseed) await emptyDemoTables(client);
    const { rows } = await client.query<{ empty: boolean }>('select not exists (select 1 from job_runs) as empty');
    const seeded = Boolean(rows[0]?.empty);
    if (seeded) {
      await client.query(await readFile(join(DEMO_DIR, 'seed.sql'), 'utf8'));
      if (opts.filesDir) await seedDemoFiles(opts.filesDir);
    }
    return { created, migrations, seeded };
  });
}
