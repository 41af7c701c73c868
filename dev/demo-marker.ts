import { randomBytes } from 'node:crypto';
import { urlOfDatabase, withClient } from './pg-client';
import type { Client } from 'pg';
import { quoteIdent } from '../activities/sql/identifiers';

/**
 * The demo database's marker: a table `caretaker_demo_marker` that `npm start` writes into a
 * database it has just created, before the database gets its name. A table rather than
 * `comment on database`: it travels with the database (pg_dump, `create database … template`), a
 * DBA's comment on an application's database cannot overwrite or fake it, and the connection that
 * migrates reads it. Written under a staging name and then renamed (one atomic catalog change), a
 * database with the demo's name is either marked or was never created by `npm start`: a start
 * interrupted half-way leaves only a `caretaker_demo_new_…` database, never an unmarked demo.
 */
export const DEMO_MARKER_TABLE = 'caretaker_demo_marker';

/** A refusal of `npm start` to touch a database: the message says what happened and what to do. Exit code 2. */
export class DemoRefusal extends Error {
  readonly exitCode = 2;
}

/** `host:port/name` of a connection string, without user or password, for messages. */
export function describeDatabase(url: string): string {
  const u = new URL(url);
  return `"${databaseName(url)}" on ${u.hostname || 'localhost'}:${u.port || '5432'}`;
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/**
 * Creates the database named in `url`, marked as the demo's, unless a database of that name exists
 * (then `false`: the caller checks its marker). Connects to the server's `postgres` database.
 */
export async function createMarkedDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const adminUrl = urlOfDatabase(url, 'postgres');
  return withClient(adminUrl, async (admin) => {
    if ((await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount) return false;
    const staging = `caretaker_demo_new_${randomBytes(4).toString('hex')}`;
    await admin.query(`create database ${quoteIdent(staging)}`);
    try {
      await withClient(urlOfDatabase(url, staging), (db) =>
        db.query(
          `create table ${DEMO_MARKER_TABLE} (created_at timestamptz not null default now(), note text not null);
           insert into ${DEMO_MARKER_TABLE} (note) values ('created by npm start for its demo; npm start migrates, seeds and reseeds only databases with this table');`,
        ),
      );
      await admin.query(`alter database ${quoteIdent(staging)} rename to ${quoteIdent(name)}`);
      return true;
    } catch (err) {
      await admin.query(`drop database if exists ${quoteIdent(staging)}`);
      // Another start created it meanwhile (42P04 duplicate_database): its marker decides, as for any existing database.
      if ((err as { code?: string }).code === '42P04') return false;
      throw err;
    }
  });
}

const HOW_TO_GO_ON = [
  '  - run the demo in a database of its own: unset DATABASE_URL and CARETAKER_DEMO_DATABASE_URL (the demo then uses caretaker_demo),',
  '    or set CARETAKER_DEMO_DATABASE_URL=postgres://…/a_new_name (npm start creates and marks it)',
  '  - run Caretaker on your own database: write your config (see examples/), check it with `CARETAKER_CONFIG=your.yaml npx caretaker validate`, then',
  '    CARETAKER_CONFIG=your.yaml DATABASE_URL=postgres://…/yours npm start (npm start never creates, migrates or seeds DATABASE_URL),',
  '    or with your own Temporal: DATABASE_URL=… npm run worker, and CARETAKER_CONFIG=your.yaml npx caretaker schedules sync',
];

/** Refuses (DemoRefusal) unless the database `client` is connected to carries the demo's marker. */
export async function assertDemoDatabase(client: Client, url: string): Promise<void> {
  const { rows } = await client.query<{ marked: boolean; legacy: boolean }>(
    `select to_regclass($1) is not null as marked, to_regclass('public.caretaker_demo_migrations') is not null as legacy`,
    [`public.${DEMO_MARKER_TABLE}`],
  );
  if (rows[0]!.marked) return;
  throw new DemoRefusal(
    [
      `npm start: database ${describeDatabase(url)} exists and was not created by npm start's demo (it has no ${DEMO_MARKER_TABLE} table),`,
      `so npm start leaves it alone: nothing was created, migrated, seeded or emptied in it. The demo's tasks delete and update rows; they run only in a database npm start created.`,
      ...(rows[0]!.legacy
        ? [
            `  - it has the demo's tables of an earlier Caretaker (caretaker_demo_migrations): if it holds nothing else, drop it (dropdb ${quoteIdent(databaseName(url))}) and npm start creates it again`,
          ]
        : []),
      ...HOW_TO_GO_ON,
    ].join('\n'),
  );
}

/** The refusal when DATABASE_URL names another database than the demo's. */
export function databaseUrlRefusal(databaseUrl: string, demoUrl: string, why: string): DemoRefusal {
  return new DemoRefusal(
    [
      `npm start: DATABASE_URL is set (${describeDatabase(databaseUrl)}) ${why}; nothing was created, migrated, seeded or emptied.`,
      `npm start's demo (maintenance.yaml: its tasks delete and update rows) runs only in a database it created and marked: ${describeDatabase(demoUrl)} (CARETAKER_DEMO_DATABASE_URL).`,
      ...HOW_TO_GO_ON,
    ].join('\n'),
  );
}
