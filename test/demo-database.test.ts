import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoDatabase } from '../dev/demo-db';
import { DemoRefusal } from '../dev/demo-marker';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from './support';
import { databaseSnapshot, spawnStart } from './npm-start';

// An application's database: what DATABASE_URL points at when a user tries `npm start` on their app.
const USER_SCHEMA = `
  create table customers (id bigint primary key, name text not null);
  create table orders (id bigint primary key, customer_id bigint not null references customers (id), total numeric not null);
  insert into customers values (1, 'Ada'), (2, 'Grace');
  insert into orders values (10, 1, 12.5), (11, 2, 7), (12, 1, 99.9);`;

let user: TestDatabase;
let userRows: Record<string, unknown[]>;
let stateDir: string;
const demos: string[] = [];

/** A demo database name nobody has used yet, dropped after the file. */
function freshDemoUrl(): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/caretaker_test_demo_${Math.random().toString(16).slice(2, 10)}`;
  demos.push(url.pathname.slice(1));
  return url.toString();
}

beforeAll(async () => {
  user = await createTestDatabase('appdb');
  await user.pool.query(USER_SCHEMA);
  userRows = await databaseSnapshot(user.pool);
  stateDir = mkdtempSync(join(tmpdir(), 'caretaker-demo-db-'));
});
afterAll(async () => {
  await user?.drop();
  const admin = new Pool({ connectionString: ADMIN_URL, max: 1 });
  for (const name of demos) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('npm start on a database it did not create', () => {
  it('ensureDemoDatabase refuses it, with or without --reseed, and changes nothing in it', async () => {
    for (const reseed of [false, true]) {
      const refused = await ensureDemoDatabase(user.url, { reseed }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DemoRefusal);
      const message = (refused as Error).message;
      expect(message).toContain(`database "${user.name}" on 127.0.0.1:5432 exists and was not created by npm start's demo`);
      expect(message).toContain('nothing was created, migrated, seeded or emptied');
      expect(message).toContain('CARETAKER_DEMO_DATABASE_URL=');
      expect(message).toContain('CARETAKER_CONFIG=your.yaml DATABASE_URL=');
    }
    // Every user row and table as it was: no demo tables, no migrations table, nothing emptied.
    expect(await databaseSnapshot(user.pool)).toEqual(userRows);
  });

  it('the real `npm start` refuses DATABASE_URL and CARETAKER_DEMO_DATABASE_URL naming it: exit 2, the user database unchanged', async () => {
    const cases: { env: Record<string, string>; says: string }[] = [
      { env: { DATABASE_URL: user.url }, says: `DATABASE_URL is set ("${user.name}" on 127.0.0.1:5432) and names another database than the demo` },
      { env: { CARETAKER_DEMO_DATABASE_URL: user.url }, says: `database "${user.name}" on 127.0.0.1:5432 exists and was not created by npm start's demo` },
    ];
    for (const { env, says } of cases) {
      const start = spawnStart({ ...env, CARETAKER_STATE_DIR: stateDir }, ['--reseed']);
      expect(await start.exited).toEqual({ code: 2, signal: null });
      expect(start.output()).toContain(says);
      expect(start.output()).not.toContain('temporal:');
      expect(await databaseSnapshot(user.pool)).toEqual(userRows);
    }
  });
});

describe('the demo database npm start creates', () => {
  it('is created marked, migrated and seeded once; a reseed empties only the demo tables, not a table someone added', async () => {
    const url = freshDemoUrl();
    const first = await ensureDemoDatabase(url);
    expect(first).toEqual({ created: true, migrations: ['001_job_runs.sql', '002_catalog_demo.sql'], seeded: true });
    expect(await ensureDemoDatabase(url)).toEqual({ created: false, migrations: [], seeded: false });

    const demo = new Pool({ connectionString: url, max: 2 });
    try {
      // Rows per demo table: the public tables but the demo's bookkeeping and the one added below.
      const counts = async () =>
        (
          await demo.query<{ name: string; n: number }>(
            `select tablename as name, (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I', tablename), false, true, '')))[1]::text::int as n
             from pg_tables where schemaname = 'public' and tablename not like 'caretaker\\_demo\\_%' and tablename <> 'notes_of_mine' order by 1`,
          )
        ).rows;
      const seeded = await counts();
      expect(seeded).toHaveLength(12);
      expect(seeded.map((t) => t.name)).toContain('job_runs');
      expect(seeded.find((t) => t.name === 'job_runs')!.n).toBeGreaterThan(0);
      await demo.query(`delete from run_log_events; delete from job_runs;
        create table notes_of_mine (id int primary key, body text not null);
        insert into notes_of_mine values (1, 'keep me'), (2, 'me too');`);
      const mine = (await demo.query('select * from notes_of_mine order by id')).rows;

      expect(await ensureDemoDatabase(url, { reseed: true })).toEqual({ created: false, migrations: [], seeded: true });
      expect(await counts()).toEqual(seeded);
      expect((await demo.query('select * from notes_of_mine order by id')).rows).toEqual(mine);
    } finally {
      await demo.end();
    }
  });

  it('two starts creating it at once: one creates it, the other uses it; migrated and seeded once', async () => {
    const url = freshDemoUrl();
    const reports = await Promise.all([ensureDemoDatabase(url), ensureDemoDatabase(url)]);
    expect(reports.map((r) => r.created).sort()).toEqual([false, true]);
    expect(reports.map((r) => r.seeded).sort()).toEqual([false, true]);
    expect(reports.flatMap((r) => r.migrations)).toEqual(['001_job_runs.sql', '002_catalog_demo.sql']);
  });
});
