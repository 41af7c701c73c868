import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { quoteIdent } from '../activities/sql/identifiers';

const DEMO_DIR = join(__dirname, 'demo');

/** Creates the database named in `url` if it does not exist, connecting to its server's `postgres` database. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`create database ${quoteIdent(name)}`);
    return true;
  } finally {
    await client.end();
  }
}

/** Applies dev/demo/migrations/*.sql in name order, each once, recorded in caretaker_demo_migrations. */
async function migrate(client: Client): Promise<string[]> {
  await client.query('create table if not exists caretaker_demo_migrations (name text primary key, applied_at timestamptz not null default now())');
  const done = new Set((await client.query<{ name: string }>('select name from caretaker_demo_migrations')).rows.map((r) => r.name));
  const files = (await readdir(join(DEMO_DIR, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  for (const file of files.filter((f) => !done.has(f))) {
    await client.query('begin');
    try {
      await client.query(await readFile(join(DEMO_DIR, 'migrations', file), 'utf8'));
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

/** The demo database: created, migrated, and seeded once (a second start keeps what the first left). */
export async function ensureDemoDatabase(url: string, opts: { reseed?: boolean; filesDir?: string } = {}): Promise<DemoDatabaseReport> {
  const created = await ensureDatabase(url);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const migrations = await migrate(client);
    if (opts.reseed) {
      const { rows } = await client.query<{ tables: string }>(
        `select string_agg(format('%I', tablename), ', ') as tables from pg_tables where schemaname = 'public' and tablename <> 'caretaker_demo_migrations'`,
      );
      await client.query(`truncate ${rows[0]!.tables} restart identity cascade`);
    }
    const { rows } = await client.query<{ empty: boolean }>('select not exists (select 1 from job_runs) as empty');
    const seeded = Boolean(rows[0]?.empty);
    if (seeded) {
      await client.query(await readFile(join(DEMO_DIR, 'seed.sql'), 'utf8'));
      if (opts.filesDir) await seedDemoFiles(opts.filesDir);
    }
    return { created, migrations, seeded };
  } finally {
    await client.end();
  }
}
