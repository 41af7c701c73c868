import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTable, type ResolvedTable } from '../activities/sql/identifiers';
import { SqlParams } from '../activities/sql/params';
import { assertStableFunctions, renderSqlText } from '../activities/sql/sql-text';
import { parseSqlText, type SqlText } from '../tasks/sql-text';
import { createTestDatabase } from './support';

// Rendered expression text against a real PostgreSQL: which rows a condition selects, what an
// update value writes, that constants travel as parameters, and the live volatility check.

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let client: PoolClient;
let jobs: ResolvedTable;

beforeAll(async () => {
  db = await createTestDatabase('sql_text');
  client = await db.pool.connect();
  await client.query(`
    create type job_state as enum ('available', 'running', 'retryable', 'discarded', 'done', 'failed');
    create sequence s;
    create function volatile_fn() returns int language sql volatile as 'select 1';
    create function stable_fn(x int) returns int language sql stable as 'select x';
    create table jobs (
      id bigint primary key,
      state job_state not null,
      kind text,
      payload jsonb not null default '{}',
      tags text[] not null default '{}',
      attempt int not null default 0,
      max_attempts int not null default 3,
      locked_at timestamptz,
      run_at timestamptz not null default now(),
      errors jsonb[] not null default '{}',
      "we""ird; col" text
    );
    insert into jobs (id, state, kind, payload, tags, attempt, max_attempts, locked_at, run_at, "we""ird; col") values
      (1, 'running',   'import', '{"kind": "import", "n": 1}', '{a,b}', 0, 3, now() - interval '4 hours 1 minute', now() - interval '5 hours', null),
      (2, 'running',   'import', '{"kind": "import", "n": 2}', '{b}',   3, 3, now() - interval '3 hours 59 minutes', now() - interval '1 hour', 'x'),
      (3, 'done',      'export', '{"kind": "export"}',         '{}',    1, 5, null, now() - interval '2 days', null),
      (4, 'failed',    null,     '{}',                          '{c}',   5, 5, null, now() + interval '1 hour', 'it''s'),
      (5, 'available', 'import', '{"kind": "import"}',         '{a}',   2, 1, now() - interval '10 minutes', now() - interval '9 minutes', null);
  `);
  jobs = await resolveTable(client, 'jobs', [], 'test');
});

afterAll(async () => {
  client?.release();
  await db?.drop();
});

/** The ids whose row the condition selects, with the rendered SQL and its parameters. */
async function select(condition: string): Promise<{ ids: number[]; sql: string; values: unknown[] }> {
  const p = new SqlParams();
  const sql = renderSqlText(parseSqlText(condition, 'condition'), jobs, p);
  const { rows } = await client.query<{ id: string }>(`select t.id from ${jobs.sql} t where ${sql} order by t.id`, p.values);
  return { ids: rows.map((r) => Number(r.id)), sql, values: p.values };
}

describe('rendered conditions select exactly the right rows', () => {
  const cases: [string, number[]][] = [
    ["locked_at < now() - interval '4 hours'", [1]],
    ["payload->>'kind' = 'import' and run_at < locked_at", [1]],
    ['payload @> \'{"kind": "import"}\' and (payload->>\'n\')::int >= 2', [2]],
    ["state = any('{done,failed}')", [3, 4]],
    ["state in ('done', 'failed') and kind is null", [4]],
    ['attempt < max_attempts', [1, 3]],
    ['attempt = max_attempts and locked_at is null', [4]],
    ["'a' = any(tags) or tags @> '{c}'", [1, 4, 5]],
    ["tags[1] = 'b' or cardinality(tags) = 0", [2, 3]],
    ["run_at > now() + interval '59 minutes'", [4]],
    ["locked_at - run_at > interval '58 minutes' and run_at + interval '1 hour' < now()", [1]],
    ["coalesce(kind, 'none') = 'none'", [4]],
    ['(attempt, id) > (2, 0) and id between 2 and 5', [2, 4, 5]],
    ['(attempt, id) > (2, 4) and id not between 3 and 4', [2, 5]],
    ["case when state = 'running' then attempt > 0 else false end", [2]],
    ['jobs.attempt + 1 > public.jobs.max_attempts', [2, 4, 5]],
    ["lower(kind) like 'imp%' and not (locked_at is not distinct from null)", [1, 2, 5]],
    ['"we""ird; col" is not null', [2, 4]],
    ['stable_fn(attempt) = 5', [4]],
  ];
  it.each(cases)('%s', async (condition, expected) => {
    expect((await select(condition)).ids).toEqual(expected);
  });
});

describe('constants travel as parameters', () => {
  it('the rendered SQL contains no constant from the text; columns come quoted from the catalog', async () => {
    const { sql, values } = await select(
      "payload->>'kind' = 'import' and locked_at < now() - interval '4 hours' and attempt < 17 and state = any('{running,done}')",
    );
    for (const literal of ['import', 'kind', '4 hours', '17', 'running']) expect(sql).not.toContain(literal);
    expect(values).toEqual(['kind', 'import', '4 hours', '17', '{running,done}']);
    expect(sql).toContain('t."payload"');
    expect(sql).toContain('($3)::"pg_catalog"."interval"');
  });

  it('text that looks like SQL inside a string or a quoted name stays data', async () => {
    expect((await select("kind = 'x''; drop table jobs; --' or kind = 'import'' or ''1''=''1'")).ids).toEqual([]);
    expect((await select('"we""ird; col" = \'it\'\'s\'')).ids).toEqual([4]);
    expect(() => renderSqlText(parseSqlText('"id"" or true --" = 1', 'condition'), jobs, new SqlParams())).toThrow(/column "id" or true --" .*does not exist/);
    expect((await client.query('select count(*)::int as n from jobs')).rows[0].n).toBe(5);
  });
});

describe('update values', () => {
  it('write what the expression says, with literals resolved to the column types', async () => {
    const values: Record<string, string> = {
      state: "'retryable'",
      attempt: 'attempt + 1',
      locked_at: 'null',
      run_at: 'locked_at',
      errors: "array_append(errors, jsonb_build_object('at', now(), 'error', 'stuck'))",
      kind: "case when attempt < max_attempts then 'again' else 'last' end",
      payload: "coalesce(payload, '{}'::jsonb) || jsonb_build_object('moved', true)",
    };
    const p = new SqlParams();
    const set = Object.entries(values).map(([column, text]) => `${jobs.columns.get(column)!.sql} = ${renderSqlText(parseSqlText(text, 'value'), jobs, p)}`);
    await client.query('begin');
    try {
      await client.query(`update ${jobs.sql} t set ${set.join(', ')} where t.id = 1`, p.values);
      const { rows } = await client.query(
        `select state, attempt, locked_at, run_at = locked_at as same, errors[1]->>'error' as error, kind, payload from jobs where id = 1`,
      );
      expect(rows[0]).toEqual({
        state: 'retryable',
        attempt: 1,
        locked_at: null,
        same: null,
        error: 'stuck',
        kind: 'again',
        payload: { kind: 'import', n: 1, moved: true },
      });
      const untouched = await client.query('select id, attempt from jobs where id <> 1 order by id');
      expect(untouched.rows.map((r) => r.attempt)).toEqual([3, 1, 5, 2]);
    } finally {
      await client.query('rollback');
    }
  });

  it('an unknown column says did-you-mean, and for a value how to write text', () => {
    const render = (text: string, kind: 'condition' | 'value') => () =>
      renderSqlText(parseSqlText(text, kind), jobs, new SqlParams(), 't', 'rules[0] (requeue)');
    expect(render('atempt < 3', 'condition')).toThrow(
      /^rules\[0\] \(requeue\): column "atempt" in "atempt < 3" does not exist in table public\.jobs; did you mean "attempt"\? \(columns: id, state/,
    );
    expect(render('retryable', 'value')).toThrow(/column "retryable" .*; for the text write 'retryable' \(SQL quotes\) or \{ value: retryable \}/);
    expect(render('other.attempt > 1', 'condition')).toThrow(
      /"other\.attempt" in "other\.attempt > 1": a column may be qualified only by its table's name \(jobs\)/,
    );
  });
});

describe('assertStableFunctions (pg_proc.provolatile in the live database)', () => {
  const check = (...texts: string[]) =>
    assertStableFunctions(
      client,
      texts.map((t): SqlText => parseSqlText(t, 'condition')),
      'rules[1] (cleanup)',
    );

  it('accepts IMMUTABLE and STABLE functions and the special forms', async () => {
    await expect(
      check(
        "run_at < now() - interval '1 day'",
        "lower(kind) = 'x'",
        'coalesce(kind, kind) is null',
        'stable_fn(1) = 1',
        "extract(epoch from now()) > 0 and run_at at time zone 'UTC' < localtimestamp",
      ),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['random() < 0.5', /function pg_catalog\.random\(.*\) is VOLATILE/],
    ['pg_sleep(1) is null', /function pg_catalog\.pg_sleep\(.*\) is VOLATILE/],
    ["nextval('s') > 0", /function pg_catalog\.nextval\(.*\) is VOLATILE/],
    ['pg_advisory_lock(1) is null', /function pg_catalog\.pg_advisory_lock\(.*\) is VOLATILE/],
    ['volatile_fn() = 1', /function public\.volatile_fn\(\) is VOLATILE/],
    ['no_such_fn(1) = 1', /function no_such_fn\(\) does not exist in the search path/],
  ])('refuses %s', async (text, message) => {
    const refusal = check('lower(kind) is null', text);
    await expect(refusal).rejects.toThrow(message);
    await expect(refusal).rejects.toThrow(/^rules\[1\] \(cleanup\): .*; rule expressions may call only IMMUTABLE or STABLE functions/);
    await expect(refusal).rejects.toMatchObject({ type: 'ConfigError', nonRetryable: true });
  });

  it('refuses a user-defined aggregate that the parser cannot tell from a function', async () => {
    await client.query(`create aggregate my_sum(int) (sfunc = int4pl, stype = int)`);
    await expect(check('my_sum(attempt) > 1')).rejects.toThrow(/my_sum\(\) is an aggregate/);
  });
});
