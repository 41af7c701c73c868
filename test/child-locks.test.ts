import type { PoolClient } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { changeUnlessWaiting, parentsWithLockedChildren, type ChildTable } from '../activities/rows/child-locks';
import { resolveChildren } from '../activities/rows/children';
import { changesBetween, readTableChanges } from '../activities/engine/table-changes';
import { actOnKeys, selectKeys, type RowSet } from '../activities/rows/row-sets';
import type { ActMode } from '../activities/engine/work-unit';
import { resolveTable } from '../activities/sql/identifiers';
import { resolveKeyed } from '../activities/sql/keys';
import { SqlParams } from '../activities/sql/params';
import { createTestDatabase, type TestDatabase } from './support';

// parentsWithLockedChildren on its own, in a real transaction: the NOWAIT fast path when no child is
// held, the skip-locked pass (after rolling back to the savepoint) when one is. The statements are
// recorded by a spy that passes every call through to PostgreSQL.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('child_locks');
});
afterAll(async () => {
  await db.drop();
});

// Orders 1-6 with three lines each; the batch's parents are orders 1-4. `tags` references a
// composite (order_id, line) pair.
beforeEach(async () => {
  await db.pool.query(`
    drop schema if exists app cascade;
    create schema app;
    create table app.order_lines (id bigserial primary key, order_id bigint not null, sku text not null);
    insert into app.order_lines (order_id, sku) select g, 'sku-' || g || '-' || l from generate_series(1, 6) g, generate_series(1, 3) l;
    create table app.tags (id bigserial primary key, order_id bigint not null, line text not null);
    insert into app.tags (order_id, line) select g, l from generate_series(1, 4) g, unnest(array['a', 'b']) l;`);
});

const opened: PoolClient[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) {
    await c.query('rollback');
    c.release();
  }
  vi.restoreAllMocks();
});

async function begin(): Promise<PoolClient> {
  const c = await db.pool.connect();
  opened.push(c);
  await c.query('begin');
  return c;
}

async function child(tx: PoolClient, table: string, columns: string[]): Promise<ChildTable> {
  return { table: await resolveTable(tx, table, columns, 'test'), columns };
}

/** The batch's children: those of orders 1-4. */
function batch(): { condition: string; params: SqlParams } {
  const params = new SqlParams();
  return { condition: `t.order_id = any(${params.add(['1', '2', '3', '4'], 'bigint[]')})`, params };
}

/** Statements `tx` sent, as text. */
function record(tx: PoolClient): string[] {
  const texts: string[] = [];
  const query = tx.query.bind(tx) as (...args: unknown[]) => unknown;
  vi.spyOn(tx, 'query').mockImplementation(((...args: unknown[]) => {
    texts.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text));
    return query(...args);
  }) as never);
  return texts;
}

/** How many lines of `orders` another transaction could lock now (skip locked), then lets them go. */
async function lockableElsewhere(table: string, orders: number[]): Promise<number> {
  const other = await db.pool.connect();
  try {
    await other.query('begin');
    const { rows } = await other.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${table} where order_id = any($1::bigint[]) for update skip locked) l`,
      [orders],
    );
    return rows[0]!.n;
  } finally {
    await other.query('rollback');
    other.release();
  }
}

describe('locking a batch’s child rows', () => {
  it('with no child held: one NOWAIT statement under a savepoint locks every child and names no parent', async () => {
    const tx = await begin();
    const lines = await child(tx, 'app.order_lines', ['order_id']);
    const texts = record(tx);
    const { condition, params } = batch();

    expect(await parentsWithLockedChildren(tx, lines, condition, params)).toEqual(new Set());
    expect(texts.map((t) => t.split(' ')[0])).toEqual(['savepoint', 'select', 'release']);
    expect(texts[1]).toContain('for update of t nowait');
    expect(texts.join('\n')).not.toContain('skip locked');

    // Every child of the batch is this transaction's now; the other orders' lines are not.
    expect(await lockableElsewhere('app.order_lines', [1, 2, 3, 4])).toBe(0);
    expect(await lockableElsewhere('app.order_lines', [5, 6])).toBe(6);
  });

  it('with a child held elsewhere: falls back to the skip-locked pass, names only that parent, and the transaction goes on', async () => {
    const holder = await begin();
    await holder.query(`select * from app.order_lines where order_id = 2 order by id limit 1 for update`);
    const tx = await begin();
    const lines = await child(tx, 'app.order_lines', ['order_id']);
    const texts = record(tx);
    const { condition, params } = batch();

    expect(await parentsWithLockedChildren(tx, lines, condition, params)).toEqual(new Set(['["2"]']));
    expect(texts.map((t) => t.split(' ').slice(0, 2).join(' '))).toEqual([
      'savepoint caretaker_child_locks',
      'select count(*)',
      'rollback to',
      'select k0',
      'release savepoint',
    ]);
    expect(texts[3]).toContain('for update of t skip locked');

    // The other parents' children are locked by the fallback; the held line stays its holder's.
    expect(await lockableElsewhere('app.order_lines', [1, 3, 4])).toBe(0);
    expect((await tx.query<{ n: number }>(`select count(*)::int as n from app.order_lines where order_id = 2`)).rows[0]!.n).toBe(3);
    await holder.query('rollback');
    expect(await lockableElsewhere('app.order_lines', [2])).toBe(1);
  });

  it('names a parent by every column of a composite reference, as text', async () => {
    const holder = await begin();
    await holder.query(`select * from app.tags where order_id = 3 and line = 'b' for update`);
    const tx = await begin();
    const tags = await child(tx, 'app.tags', ['order_id', 'line']);
    const { condition, params } = batch();

    expect(await parentsWithLockedChildren(tx, tags, condition, params)).toEqual(new Set(['["3","b"]']));
    expect(await lockableElsewhere('app.tags', [1, 2, 4])).toBe(0);
  });

  it('does not fall back on a lock_timeout (a table lock NOWAIT does not cover): the error stands, named with the table', async () => {
    const holder = await begin();
    await holder.query('lock table app.order_lines in access exclusive mode');
    const tx = await begin();
    const lines = await child(tx, 'app.order_lines', ['order_id']);
    await tx.query(`set local lock_timeout = '100ms'`);
    const texts = record(tx);
    const { condition, params } = batch();

    const err = await parentsWithLockedChildren(tx, lines, condition, params).then(
      () => undefined,
      (e: unknown) => e as { code?: string; relation?: string },
    );
    expect(err?.code).toBe('55P03');
    expect(err?.relation).toBe(lines.table.name);
    expect(texts.join('\n')).not.toContain('rollback to');
  });
});

describe('changing child rows unless one is held', () => {
  const lockTimeout = async (tx: PoolClient) => (await tx.query<{ t: string }>(`select current_setting('lock_timeout') as t`)).rows[0]!.t;
  const linesOf = async (tx: PoolClient, order: number) =>
    (await tx.query<{ n: number }>(`select count(*)::int as n from app.order_lines where order_id = $1`, [order])).rows[0]!.n;

  it('with no row held: the changes stand, and the batch’s own lock_timeout is back afterwards', async () => {
    const tx = await begin();
    await tx.query(`set local lock_timeout = '250ms'`);
    const during: string[] = [];
    const done = await changeUnlessWaiting(tx, async () => {
      during.push(await lockTimeout(tx));
      return (await tx.query(`delete from app.order_lines where order_id = any('{1,2}')`)).rowCount;
    });
    expect(done).toEqual({ changed: 6 });
    expect(during).toEqual(['1ms']);
    expect(await lockTimeout(tx)).toBe('250ms');
    expect([await linesOf(tx, 1), await linesOf(tx, 2), await linesOf(tx, 3)]).toEqual([0, 0, 3]);
  });

  it('a statement that meets a held row gives up (55P03 after 1 ms): every change under the savepoint is undone, lock_timeout restored', async () => {
    const holder = await begin();
    await holder.query(`select * from app.order_lines where order_id = 2 order by id limit 1 for update`);
    const tx = await begin();
    await tx.query(`set local lock_timeout = '30s'`);
    const done = await changeUnlessWaiting(tx, async () => {
      await tx.query(`delete from app.order_lines where order_id = 1`);
      await tx.query(`delete from app.order_lines where order_id = 2`);
      return 'changed';
    });
    // PostgreSQL's counters keep what the undone statements attempted: order 1's three lines (and
    // none of order 2's, whose first line is the held one); they come back for the batch to leave out.
    expect(done).toEqual({ undone: { 'app.order_lines': { deleted: 3 } } });
    expect([await linesOf(tx, 1), await linesOf(tx, 2)]).toEqual([3, 3]);
    expect(await lockTimeout(tx)).toBe('30s');
    // The transaction goes on.
    expect((await tx.query(`delete from app.order_lines where order_id = 1`)).rowCount).toBe(3);
  });

  it('any other error stands', async () => {
    const tx = await begin();
    const err = await changeUnlessWaiting(tx, () => tx.query(`delete from app.no_such_table`)).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).toBe('42P01');
  });
});

// A delete's batch through actOnKeys: the child tables are changed in plain statements that give up
// on a held row (changeUnlessWaiting); only then does each child table get its lock pass.
describe('a delete batch: children changed in plain statements, lock passes only when a row is held', () => {
  // Orders 1-6; three lines and two notes each. The batch picks orders 1-4.
  beforeEach(async () => {
    await db.pool.query(`
      drop schema if exists shop cascade;
      create schema shop;
      create table shop.orders (id bigint primary key);
      insert into shop.orders select generate_series(1, 6);
      create table shop.lines (id bigserial primary key, order_id bigint not null references shop.orders (id), sku text not null);
      insert into shop.lines (order_id, sku) select g, 'sku-' || g || '-' || l from generate_series(1, 6) g, generate_series(1, 3) l;
      create table shop.notes (id bigserial primary key, order_id bigint references shop.orders (id), note text not null);
      insert into shop.notes (order_id, note) select g, 'note-' || g || '-' || l from generate_series(1, 6) g, generate_series(1, 2) l;`);
  });

  /** The delete of orders with these child tables; the foreign key of a child table it does not name is dropped first. */
  async function orderSet(tx: PoolClient, children: { table: string; assign?: boolean }[]): Promise<RowSet> {
    for (const other of ['lines', 'notes'].filter((t) => !children.some((c) => c.table === `shop.${t}`)))
      await db.pool.query(`alter table shop.${other} drop constraint ${other}_order_id_fkey`);
    const key = await resolveKeyed(tx, 'shop.orders', 'id', [], 'test');
    const resolved = await resolveChildren(
      tx,
      key,
      children.map((c) => ({ table: c.table, column: 'order_id', no_foreign_key: false })),
      'test',
    );
    for (const [i, c] of children.entries()) {
      if (c.assign)
        resolved[i]!.assign = [
          [{ column: 'order_id', path: [] }, null],
          [{ column: 'note', path: [] }, { sql: `'orphaned ' || t.id::text` }],
        ];
    }
    return { label: 'orders', key, where: () => [], action: { kind: 'delete', children: resolved } };
  }

  /** Picks (and locks, unless predicting) orders 1-4, then acts on them with the statements recorded. */
  async function act(tx: PoolClient, set: RowSet, mode: ActMode = 'apply') {
    const keys = await selectKeys(tx, set, { after: null, limit: 4 }, mode);
    expect(keys).toEqual([['1'], ['2'], ['3'], ['4']]);
    const before = await readTableChanges(tx);
    const texts = record(tx);
    const effect = await actOnKeys(tx, set, keys, mode);
    vi.restoreAllMocks();
    const kinds = texts.map((t) => t.trim().split(/\s+/).slice(0, 3).join(' '));
    /**
     * Rows deleted from each table by the batch as the engine measures them: PostgreSQL's counters for
     * the transaction, less what statements rolled back to a savepoint attempted (`effect.undone`).
     */
    const deleted = async () => {
      const changes = changesBetween(before, await readTableChanges(tx), effect.undone);
      return Object.fromEntries(['lines', 'notes', 'orders'].map((t) => [t, changes[`shop.${t}`]?.deleted ?? 0]));
    };
    return { counts: effect.counts, texts, kinds, deleted, undone: effect.undone };
  }

  /** The statements of a batch whose children change with no row held: those changes between the short lock_timeout and its end, then the parents' delete. */
  const FAST = (changes: string[]) => [
    'select n.nspname ||',
    'savepoint caretaker_child_locks',
    "select w.was, set_config('lock_timeout',",
    ...changes,
    "select set_config('lock_timeout', $1,",
    'release savepoint caretaker_child_locks',
    'delete from "shop"."orders"',
  ];
  const left = async (tx: PoolClient, table: string) =>
    (await tx.query<{ order_id: string | null }>(`select order_id from ${table} order by order_id`)).rows.map((r) =>
      r.order_id === null ? null : Number(r.order_id),
    );
  it('no child table: the parents’ delete alone (no savepoint, no lock_timeout change, no reading of the counters)', async () => {
    const tx = await begin();
    const set = await orderSet(tx, []);
    const { counts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4 });
    expect(kinds).toEqual(['delete from "shop"."orders"']);
    expect(await deleted()).toEqual({ lines: 0, notes: 0, orders: 4 });
  });

  it('one child table: no lock statement; the children go in a plain delete under the short lock_timeout, then the parents', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const { counts, texts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(kinds).toEqual(FAST(['delete from "shop"."lines"']));
    expect(texts.join('\n')).not.toMatch(/skip locked|for update|select 1 from|tid\[\]/);
    expect(await left(tx, 'shop.lines')).toEqual([5, 5, 5, 6, 6, 6]);
    expect((await tx.query('select id from shop.orders order by id')).rows.map((r: { id: string }) => Number(r.id))).toEqual([5, 6]);
    expect(await deleted()).toEqual({ lines: 12, notes: 0, orders: 4 });
  });

  it('the executing dry run sends the same statements and counts; predicting locks and changes nothing', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const rehearsed = await act(tx, set, 'rehearse');
    expect(rehearsed.counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(rehearsed.kinds).toEqual(FAST(['delete from "shop"."lines"']));
    await tx.query('rollback');
    await tx.query('begin');

    const predicted = await act(tx, set, 'predict');
    expect(predicted.counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(predicted.texts.join('\n')).not.toMatch(/savepoint|for update|delete|update/);
    expect(await predicted.deleted()).toEqual({ lines: 0, notes: 0, orders: 0 });
    expect(await lockableElsewhere('shop.lines', [1, 2, 3, 4])).toBe(12);
  });

  it('a held child row: the plain delete gives up and changed nothing; the lock pass skips its parent with exact counts', async () => {
    const holder = await begin();
    await holder.query(`select * from shop.lines where order_id = 2 order by id limit 1 for update`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const { counts, kinds, deleted, undone } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 3, children_deleted: 9, skipped_for_locks: 1 });
    // The plain delete reached some lines before order 2's held one (how many depends on the plan);
    // PostgreSQL counts them, and the batch names them to be left out.
    expect(Object.keys(undone ?? {})).toEqual(['shop.lines']);
    expect(undone!['shop.lines']!.deleted).toBeGreaterThan(0);
    expect(kinds).toEqual([
      'select n.nspname ||',
      'savepoint caretaker_child_locks',
      "select w.was, set_config('lock_timeout',",
      'delete from "shop"."lines"',
      'rollback to savepoint',
      'release savepoint caretaker_child_locks',
      'select n.nspname ||',
      'savepoint caretaker_child_locks',
      'select count(*) from',
      'rollback to savepoint',
      'select k0 from',
      'release savepoint caretaker_child_locks',
      'delete from "shop"."lines"',
      'delete from "shop"."orders"',
    ]);
    expect(await left(tx, 'shop.lines')).toEqual([2, 2, 2, 5, 5, 5, 6, 6, 6]);
    expect((await tx.query('select id from shop.orders order by id')).rows.map((r: { id: string }) => Number(r.id))).toEqual([2, 5, 6]);
    // Less what the undone statement attempted, the measured deletes are the real ones.
    expect(await deleted()).toEqual({ lines: 9, notes: 0, orders: 3 });
  });

  it('two child tables: deleted in the config’s order (an earlier child may reference a later one), with no lock pass', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }, { table: 'shop.notes' }]);
    const { counts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 20 });
    expect(kinds).toEqual(FAST(['delete from "shop"."lines"', 'delete from "shop"."notes"']));
    expect(await left(tx, 'shop.lines')).toEqual([5, 5, 5, 6, 6, 6]);
    expect(await left(tx, 'shop.notes')).toEqual([5, 5, 6, 6]);
    expect(await deleted()).toEqual({ lines: 12, notes: 8, orders: 4 });
  });

  it('two child tables with the second one’s row held: the first one’s delete is undone too, then each table gets its lock pass', async () => {
    const holder = await begin();
    await holder.query(`select * from shop.notes where order_id = 3 order by id limit 1 for update`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }, { table: 'shop.notes' }]);
    const { counts, texts, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 3, children_deleted: 15, skipped_for_locks: 1 });
    expect(texts.filter((t) => t.includes('nowait'))).toHaveLength(2);
    expect(await left(tx, 'shop.lines')).toEqual([3, 3, 3, 5, 5, 5, 6, 6, 6]);
    expect(await left(tx, 'shop.notes')).toEqual([3, 3, 5, 5, 6, 6]);
    // Less what the undone statements attempted, only the rows the batch kept are counted.
    expect(await deleted()).toEqual({ lines: 9, notes: 6, orders: 3 });
  });

  it('two child tables with a row held in each: both parents skipped, the others’ children of both tables deleted', async () => {
    const holder = await begin();
    await holder.query(`select * from shop.lines where order_id = 2 order by id limit 1 for update`);
    await holder.query(`select * from shop.notes where order_id = 3 order by id limit 1 for update`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }, { table: 'shop.notes' }]);
    const { counts, texts, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 2, children_deleted: 10, skipped_for_locks: 2 });
    expect(texts.filter((t) => t.includes('skip locked'))).toHaveLength(2);
    expect(await left(tx, 'shop.lines')).toEqual([2, 2, 2, 3, 3, 3, 5, 5, 5, 6, 6, 6]);
    expect(await left(tx, 'shop.notes')).toEqual([2, 2, 3, 3, 5, 5, 6, 6]);
    expect(await deleted()).toEqual({ lines: 6, notes: 4, orders: 2 });
  });

  it('a child with assign: one plain update sets its rows (values read from the row itself); the rows of other parents do not change', async () => {
    const others = (await db.pool.query(`select * from shop.notes where order_id > 4 order by id`)).rows;
    const mine = (await db.pool.query<{ id: string }>(`select id from shop.notes where order_id <= 4 order by id`)).rows.map((r) => `orphaned ${r.id}`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.notes', assign: true }]);
    const { counts, texts, kinds } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_updated: 8 });
    expect(kinds).toEqual(FAST(['update "shop"."notes" t']));
    expect(texts.join('\n')).not.toContain('for update');
    const notes = (await tx.query<{ id: string; order_id: string | null; note: string }>(`select * from shop.notes order by id`)).rows;
    expect(notes.filter((n) => n.order_id === null).map((n) => n.note)).toEqual(mine);
    expect(mine).toHaveLength(8);
    expect(notes.filter((n) => n.order_id !== null)).toEqual(others);
  });

  it('a partitioned child takes the same plain delete', async () => {
    await db.pool.query(`
      create table shop.parts (order_id bigint not null references shop.orders (id), n int not null) partition by list (n);
      create table shop.parts_1 partition of shop.parts for values in (1);
      create table shop.parts_2 partition of shop.parts for values in (2);
      insert into shop.parts select g, n from generate_series(1, 6) g, generate_series(1, 2) n;`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.parts' }]);
    const { counts, kinds } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 8 });
    expect(kinds).toEqual(FAST(['delete from "shop"."parts"']));
    expect(await left(tx, 'shop.parts')).toEqual([5, 5, 6, 6]);
  });
});
