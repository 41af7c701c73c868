import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseSqlText, sqlCondition, sqlValue, SqlTextError, SQL_TEXT_ALLOWED } from '../tasks/sql-text';

// Pure: PostgreSQL's parser (WebAssembly) and the allowed-node check, no database.

const accepted: [text: string, columns: string[], functions: string[]][] = [
  ["locked_at < now() - interval '4 hours'", ['locked_at'], ['now']],
  ["finished_at < now() - interval '14 days' and error is null", ['finished_at', 'error'], ['now']],
  ["state = any('{done,failed}') and finished_at < now() - interval '30 days'", ['state', 'finished_at'], ['now']],
  ["payload->>'kind' = 'import' and run_at < locked_at", ['payload', 'run_at', 'locked_at'], []],
  ["payload #>> '{a,b}' like 'x%' escape '!'", ['payload'], ['pg_catalog.like_escape']],
  ['attempt < max_attempts', ['attempt', 'max_attempts'], []],
  ['attempts = max_attempts and locked_at is null', ['attempts', 'max_attempts', 'locked_at'], []],
  ["status not in ('done', 'failed') or status is distinct from 'x'", ['status'], []],
  ['priority between 1 and 10 and not (paused is true)', ['priority', 'paused'], []],
  ["case when a > 0 then 'pos' else 'neg' end = 'pos'", ['a'], []],
  ['coalesce(a, 0) + nullif(b, 0) > greatest(c, least(d, 1.5))', ['a', 'b', 'c', 'd'], []],
  ["tags[1] = 'x' and tags[1:2] = array['a', 'b'] and 'y' = any(tags)", ['tags'], []],
  ['(a, b) < (1, 2)', ['a', 'b'], []],
  ["jobs.run_at < current_timestamp and public.jobs.id > 0 and lower(name) ~ '^imp'", ['run_at', 'id', 'name'], ['lower']],
  ["extract(epoch from now() - run_at) > 60 and run_at at time zone 'UTC' < localtimestamp", ['run_at'], ['pg_catalog.extract', 'now', 'pg_catalog.timezone']],
  ["errors::text[] @> '{a}'::text[] and x::numeric(10, 2) > 1", ['errors', 'x'], []],
  ["array_append(errors, jsonb_build_object('at', now(), 'error', 'stuck'))", ['errors'], ['array_append', 'jsonb_build_object', 'now']],
  ["coalesce(errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('error', 'stuck'))", ['errors'], ['jsonb_build_array', 'jsonb_build_object']],
  ['attempt + 1', ['attempt'], []],
  ["'retryable'", [], []],
  ['null', [], []],
];

const refused: [what: string, text: string, fragment: string][] = [
  ['subquery', 'id in (select job_id from other)', 'id in (select job_id from other)'],
  ['EXISTS subquery', 'exists (select 1 from other) and a', 'exists (select 1 from other)'],
  ['scalar subquery', 'a = (select max(b) from t)', '(select max(b) from t)'],
  ['SELECT', 'select 1', 'select'],
  ['a clause after the expression', 'true from pg_class', 'true from pg_class'],
  ['second statement', 'true; delete from jobs', '; delete from jobs'],
  ['trailing semicolon', 'a = 1;', ';'],
  ['parameter', 'id = $1', '$1'],
  ['aggregate', 'count(*) > 1', 'count(*)'],
  ['aggregate with argument', 'max(attempt) > 1', 'max(attempt)'],
  ['aggregate with DISTINCT', 'my_agg(distinct a) > 1', 'my_agg(distinct a)'],
  ['aggregate with FILTER', 'my_agg(a) filter (where a) > 1', 'my_agg(a) filter (where a)'],
  ['window function', 'row_number() over () > 1', 'row_number() over ()'],
  ['* (all columns)', 'jobs.* is null', 'jobs.*'],
  ['line comment', 'a = 1 -- and b', '-- and b'],
  ['block comment', "a = 1 /* '; drop table x */", "/* '; drop table x */"],
  ['unknown node (COLLATE)', 'a collate "C" = b', 'a collate'],
  ['unknown node (XML)', 'xmlelement(name a) is null', 'xmlelement(name a)'],
  ['unknown node (DEFAULT)', 'default', 'default'],
  ['field selection', '(a).f = 1', 'a'],
  ['list of expressions', 'a, b', 'a, b'],
  ['alias', 'a as b', 'a as b'],
  ['syntax error', "a = 'unterminated", "'unterminated"],
  ['syntax error at end', 'a +', 'a +'],
  ['empty text', '  ', '  '],
  ['interval fields', "interval '4' hour", "interval '4' hour"],
  ['bit string', "b'101' = x", "b'101'"],
];

describe('parseSqlText', () => {
  it.each(accepted)('accepts %s', (text, columns, functions) => {
    const parsed = parseSqlText(text, 'condition');
    expect(parsed.source).toBe(text);
    expect(parsed.columns).toEqual(columns);
    expect(parsed.functions.map((f) => (f.schema ? `${f.schema}.${f.name}` : f.name))).toEqual(functions);
  });

  it.each(refused)('refuses %s', (_what, text, fragment) => {
    let error: unknown;
    try {
      parseSqlText(text, 'condition');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SqlTextError);
    expect((error as SqlTextError).fragment).toBe(fragment.trim() || text);
    expect((error as SqlTextError).allowed).toBe(SQL_TEXT_ALLOWED);
    expect((error as SqlTextError).message).toContain(`"${fragment.trim() || text}" in "${text}"`);
  });

  it('keeps constants apart from the text, each with the type PostgreSQL gives the literal', () => {
    const { expr } = parseSqlText("a in (1, 3000000000, 99999999999999999999, 1.5, 1_000, true, 'x') and b is null", 'condition');
    const list = expr.kind === 'bool' && expr.args[0]!.kind === 'in' ? expr.args[0].list : [];
    expect(list).toEqual([
      { kind: 'const', type: 'int4', value: '1' },
      { kind: 'const', type: 'int8', value: '3000000000' },
      { kind: 'const', type: 'numeric', value: '99999999999999999999' },
      { kind: 'const', type: 'numeric', value: '1.5' },
      { kind: 'const', type: 'int4', value: '1000' },
      { kind: 'const', type: 'bool', value: 'true' },
      { kind: 'const', type: 'unknown', value: 'x' },
    ]);
    // Where PostgreSQL reads a quoted literal as text but could not infer a parameter's type.
    expect(parseSqlText("jsonb_build_object('k', 'v')", 'value').expr).toMatchObject({ args: [{ value: { type: 'text' } }, { value: { type: 'text' } }] });
    expect(parseSqlText("'x' is null", 'condition').expr).toMatchObject({ arg: { type: 'text' } });
  });

  it('cuts the fragment by characters, not bytes, after multi-byte text', () => {
    expect(() => parseSqlText("name = 'Zoë Ünïcode' and id = $1", 'condition')).toThrow(/"\$1" in/);
  });
});

describe('sqlCondition / sqlValue', () => {
  it('pass text through unchanged and explain a refusal with the fragment and what is allowed', () => {
    const schema = z.object({ where: sqlCondition(), set: sqlValue() });
    expect(schema.parse({ where: 'a < b', set: 'attempt + 1' })).toEqual({ where: 'a < b', set: 'attempt + 1' });
    const result = schema.safeParse({ where: 'a in (select b from c)', set: 'nextval($1)' });
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => [i.path.join('.'), i.message]);
    expect(messages).toEqual([
      ['where', expect.stringMatching(/^expected a SQL condition: subqueries are not allowed.*: "a in \(select b from c\)"; allowed: column names, constants/)],
      ['set', expect.stringMatching(/^expected a SQL value expression: parameters \(\$1\) are not allowed.*: "\$1"; allowed: /)],
    ]);
  });
});
