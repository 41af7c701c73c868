import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsRulesConfig } from '../tasks/rows-rules';
import { workerNodeArgs } from '../worker/command';
import { createTestDatabase } from './support';

/**
 * The worker loads the SQL parser only when a rule holds text no preset built (activities/rows/rules.ts
 * `textParser`, from `ruleTextSources`). A rule whose only SQL text is in one of these fields once
 * left it unloaded and failed "parser is not loaded" on its first run in a worker. Each case compiles
 * in a fresh process, as a worker's first run does: the test files' own setup loads the parser, so
 * only a process of its own can tell.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase('parser_load');
  await db.pool.query(`create table parents (id int primary key, state text);
    create table items (id int primary key, parent_id int, note text, data jsonb);
    create table items_archive (id int primary key, note text);
    create table kids (id int primary key, item_id int references items, note text);`);
});
afterAll(() => db.drop());

const run = promisify(execFile);
async function compileFresh(rule: Record<string, unknown>): Promise<string> {
  const script = join(__dirname, 'parser-load-compile.ts');
  const config = JSON.stringify(rowsRulesConfig.parse({ rules: [{ name: 'r', table: 'items', ...rule }] }));
  const { stdout } = await run(process.execPath, [...workerNodeArgs(script), db.url, config], { cwd: join(__dirname, '..') });
  return stdout.trim();
}

describe('a rule whose only SQL text is in one field loads the parser in a fresh process', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['archive.values', { match: {}, archive: { table: 'items_archive', columns: ['id'], values: { note: "'archived: ' || note" } } }],
    ['missing_parent.value', { missing_parent: { table: 'parents', value: ['parent_id + 0'], parent_column: 'id' }, report: {} }],
    ['referenced_by[].where', { referenced_by: [{ table: 'kids', column: 'item_id', where: "note <> 'keep'" }], report: {} }],
    ['delete.children[].update', { match: {}, delete: { children: [{ table: 'kids', column: 'item_id', update: { note: "'orphaned ' || id::text" } }] } }],
  ];
  it.each(cases)('%s', async (_field, rule) => {
    expect(await compileFresh(rule)).toBe('ok');
  });
});
