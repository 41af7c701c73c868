import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { realNames } from '../activities/engine/counters';
import { runTaskWorkflow } from './fixtures';
import { useTaskEnvironment } from './support';

/**
 * An `action: update` rule changes only rows that do not already hold its values (issue 16, item 7):
 * a row that does is neither picked nor counted, so a second run updates nothing, and a dry run
 * reports what the real run writes. `xmin` shows whether PostgreSQL rewrote a row.
 */
const env = useTaskEnvironment('update_guard');

beforeEach(async () => {
  await env.db.pool.query(`drop schema if exists shop cascade;
    create schema shop;
    create table shop.stores (id int primary key);
    create table shop.items (id int primary key, store_id int not null, status text not null, meta jsonb not null default '{}');
    insert into shop.stores values (1);
    insert into shop.items values
      (1, 1, 'active', '{}'),                                -- its store exists: never touched
      (2, 9, 'active', '{}'),                                -- orphan: both values to write
      (3, 9, 'orphaned', '{"state": "orphaned"}'),           -- orphan that already holds both values
      (4, 9, 'orphaned', '{}'),                              -- orphan missing only the JSON value
      (5, 9, 'active', '{"state": "orphaned", "x": 1}');      -- orphan missing only the status`);
});

function task() {
  const rule = {
    kind: 'missing_parent',
    name: 'orphan items',
    table: 'shop.items',
    reference_column: 'store_id',
    parent_table: 'shop.stores',
    action: 'update',
    set: { status: 'orphaned', "meta->>'state'": 'orphaned' },
  };
  const text = JSON.stringify({ tasks: [{ id: 'orphans', type: 'assets.detect_orphans', config: { batch_size: 2, max_fraction: 1, rules: [rule] } }] });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

const rows = async () =>
  (await env.db.pool.query(`select id, status, meta, xmin::text as xmin from shop.items order by id`)).rows as { id: number; xmin: string }[];

describe('action: update', () => {
  it('rewrites only rows that differ from the values it sets; a second run updates nothing; the dry run says the same', async () => {
    const before = await rows();
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    expect(await rows()).toEqual(before);

    const first = await runTaskWorkflow(env.temporal, task());
    expect(first.counts).toMatchObject({ matched: 3, updated: 3 });
    expect(realNames(preview.counts)).toEqual(first.counts);
    expect((first.details as { id: string }[]).map((d) => d.id).sort()).toEqual(['2', '4', '5']);

    const after = await rows();
    expect(after.map(({ xmin: _, ...r }) => r)).toEqual([
      { id: 1, status: 'active', meta: {} },
      { id: 2, status: 'orphaned', meta: { state: 'orphaned' } },
      { id: 3, status: 'orphaned', meta: { state: 'orphaned' } },
      { id: 4, status: 'orphaned', meta: { state: 'orphaned' } },
      { id: 5, status: 'orphaned', meta: { state: 'orphaned', x: 1 } },
    ]);
    // Rows 1 and 3 were not rewritten at all (same row version).
    expect([after[0]!.xmin, after[2]!.xmin]).toEqual([before[0]!.xmin, before[2]!.xmin]);

    const again = await runTaskWorkflow(env.temporal, task());
    expect(again.counts).toMatchObject({ matched: 0, updated: 0 });
    expect(await rows()).toEqual(after);
    expect((await runTaskWorkflow(env.temporal, task(), { dryRun: true })).counts).toMatchObject({ matched: 0, would_update: 0 });
  });
});
