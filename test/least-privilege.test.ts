import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../activities/sql/identifiers';
import { caretaker } from './cli';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';
import { createTestDatabase, startTestWorker, type TestDatabase, type TestTemporal } from './support';

// A worker role with only what its tasks need: no CREATE on the database or any schema.
const role = `caretaker_worker_${randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let worker: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('least_privilege');
  await db.pool.query(`
    create role ${quoteIdent(role)} login;
    create schema app;
    create table app.events (id bigint primary key, created_at timestamptz not null);
    insert into app.events select g, now() - case when g <= 6 then interval '100 days' else interval '1 day' end from generate_series(1, 10) g;
    grant connect on database ${quoteIdent(db.name)} to ${quoteIdent(role)};
    grant usage on schema app to ${quoteIdent(role)};
    -- Row locks (for update skip locked) need UPDATE as well as SELECT.
    grant select, update, delete on app.events to ${quoteIdent(role)};`);
  const url = new URL(db.url);
  url.username = role;
  worker = await startTestWorker({ default: url.toString() });
});

afterAll(async () => {
  await worker?.stop();
  await db?.pool.query(`drop owned by ${quoteIdent(role)}; drop role if exists ${quoteIdent(role)}`);
  await db?.drop();
});

const retention = () =>
  parseTask({
    id: 'least-privilege',
    type: 'retention.enforce',
    config: { policies: [{ table: 'app.events', timestamp_column: 'created_at', older_than: '30d' }], max_fraction: 1 },
    retry: { maximum_attempts: 3, initial_interval: '100ms' },
  });
const ids = async () => (await db.pool.query<{ id: string }>('select id from app.events order by id')).rows.map((r) => Number(r.id));

/** `caretaker setup --database default` with DATABASE_URL pointing at the test database as the administrator. */
async function setupLedger(name = 'default'): Promise<Awaited<ReturnType<typeof caretaker>>> {
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = db.url;
  try {
    return await caretaker('setup', '--database', name);
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
}

describe('a worker role without CREATE', () => {
  it('fails without the ledger, naming the privilege it lacks and the fix, and changes nothing', async () => {
    const failure = await taskFailure(runTaskWorkflow(worker, retention()));
    expect(failure.type).toBe('MissingPrivilege');
    expect(failure.message).toContain(`the run ledger (schema "caretaker") is missing in database "${db.name}" and role "${role}" may not create it`);
    expect(failure.message).toContain(`it needs CREATE on database "${db.name}"`);
    expect(failure.message).toContain('caretaker setup --database default');
    expect(failure.message).toContain(`grant create on database "${db.name}" to "${role}"`);
    expect(await ids()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('runs a real task once an administrator created the ledger with `caretaker setup --database`', async () => {
    expect((await setupLedger('nope')).code).toBe(2);
    const setup = await setupLedger();
    expect(setup.code).toBe(0);
    expect(setup.out).toContain(
      'run ledger ready in schema caretaker (ledger, attempts, detached_partitions, run_outcomes, plans, plan_keys, applied_configs)',
    );
    await db.pool.query(`grant usage on schema caretaker to ${quoteIdent(role)};
      grant select, insert, update, delete on all tables in schema caretaker to ${quoteIdent(role)}`);
    const { rows } = await db.pool.query<{ create: boolean }>(`select has_database_privilege($1, current_database(), 'CREATE') as create`, [role]);
    expect(rows[0]!.create).toBe(false);

    const result = await runTaskWorkflow(worker, retention());
    expect(result.counts).toMatchObject({ matched: 6, deleted: 6 });
    expect(await ids()).toEqual([7, 8, 9, 10]);
  });
});
