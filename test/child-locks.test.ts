import type { PoolClient } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { changeLockedChildren, parentsWithLockedChildren, type ChildTable } from '../activities/rows/child-locks';
import { resolveChildren } from '../activities/rows/children';
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

describe('locking and changing child rows in one statement', () => {
  it('a row updated by a transaction that commits while the statement runs is changed too (a second statement, new snapshot)', async () => {
    // The statement takes its snapshot, then waits (before locking any row) for an advisory lock
    // `gate` holds; meanwhile another connection updates a line of order 2 and commits.
    const gate = await begin();
    await gate.query('select pg_advisory_xact_lock(4242)');
    const tx = await begin();
    const lines = await child(tx, 'app.order_lines', ['order_id']);
    const pid = (await tx.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p;
    const texts = record(tx);
    const params = new SqlParams();
    const condition = `t.order_id = any(${params.add(['1', '2', '3', '4'], 'bigint[]')}) and (select count(*) from (select pg_advisory_xact_lock(4242)) a) = 1`;
    const done = changeLockedChildren(tx, lines, condition, params, (where) => `delete from app.order_lines t where ${where}`);
    for (;;) {
      const { rows } = await db.pool.query<{ w: string | null }>('select wait_event_type as w from pg_stat_activity where pid = $1', [pid]);
      if (rows[0]?.w === 'Lock') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await db.pool.query(`update app.order_lines set sku = 'changed' where id = (select min(id) from app.order_lines where order_id = 2)`);
    await gate.query('rollback');

    expect(await done).toEqual({ changed: 12 });
    expect(texts.filter((t) => t.includes('tid[]'))).toHaveLength(1);
    expect((await tx.query<{ n: number }>('select count(*)::int as n from app.order_lines where order_id <= 4')).rows[0]!.n).toBe(0);
    expect((await tx.query<{ n: number }>('select count(*)::int as n from app.order_lines where order_id > 4')).rows[0]!.n).toBe(6);
  });
});

// A delete's batch through actOnKeys: the last child table is locked and changed in one statement
// (the InitPlan locks with NOWAIT before any row changes); earlier ones keep their own lock pass.
describe('a delete batch: the last child table locked and changed in one statement', () => {
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
    const before = await deletedHere(tx);
    const texts = record(tx);
    const effect = await actOnKeys(tx, set, keys, mode);
    vi.restoreAllMocks();
    const kinds = texts.map((t) => t.trim().split(/\s+/).slice(0, 3).join(' '));
    /** Rows deleted from each table by the batch, as PostgreSQL counts them. */
    const deleted = async () => Object.fromEntries(Object.entries(await deletedHere(tx)).map(([t, n]) => [t, n - (before[t] ?? 0)]));
    return { counts: effect.counts, texts, kinds, deleted };
  }

  const left = async (tx: PoolClient, table: string) =>
    (await tx.query<{ order_id: string | null }>(`select order_id from ${table} order by order_id`)).rows.map((r) =>
      r.order_id === null ? null : Number(r.order_id),
    );
  /**
   * Rows deleted from each table, as PostgreSQL counts them for the transaction (what the ledger
   * reads); a connection's counts of earlier transactions may not be flushed yet, so `act` takes the difference.
   */
  const deletedHere = async (tx: PoolClient) =>
    Object.fromEntries(
      (
        await tx.query<{ relname: string; n: number }>(
          `select relname, n_tup_del::int as n from pg_stat_xact_user_tables where schemaname = 'shop' order by relname`,
        )
      ).rows.map((r) => [r.relname, r.n]),
    );

  it('one child table: no separate lock statement; the children go in the locking statement, then the parents', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const { counts, texts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(kinds).toEqual(['savepoint caretaker_child_locks', 'with locked as', 'release savepoint caretaker_child_locks', 'delete from "shop"."orders"']);
    expect(texts[1]).toContain('for update of t nowait');
    expect(texts[1]).toContain('delete from "shop"."lines" t where');
    expect(texts.join('\n')).not.toMatch(/skip locked|select 1 from|tid\[\]/);
    expect(await left(tx, 'shop.lines')).toEqual([5, 5, 5, 6, 6, 6]);
    expect((await tx.query('select id from shop.orders order by id')).rows.map((r: { id: string }) => Number(r.id))).toEqual([5, 6]);
    expect(await deleted()).toEqual({ lines: 12, notes: 0, orders: 4 });
  });

  it('the executing dry run sends the same statements and counts; predicting locks and changes nothing', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const rehearsed = await act(tx, set, 'rehearse');
    expect(rehearsed.counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(rehearsed.kinds).toEqual([
      'savepoint caretaker_child_locks',
      'with locked as',
      'release savepoint caretaker_child_locks',
      'delete from "shop"."orders"',
    ]);
    await tx.query('rollback');
    await tx.query('begin');

    const predicted = await act(tx, set, 'predict');
    expect(predicted.counts).toEqual({ matched: 4, deleted: 4, children_deleted: 12 });
    expect(predicted.texts.join('\n')).not.toMatch(/savepoint|for update|delete|update/);
    expect(await predicted.deleted()).toEqual({ lines: 0, notes: 0, orders: 0 });
    expect(await lockableElsewhere('shop.lines', [1, 2, 3, 4])).toBe(12);
  });

  it('a held child row: nothing changed by the locking statement; its parent is skipped with exact counts', async () => {
    const holder = await begin();
    await holder.query(`select * from shop.lines where order_id = 2 order by id limit 1 for update`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }]);
    const { counts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 3, children_deleted: 9, skipped_for_locks: 1 });
    expect(kinds).toEqual([
      'savepoint caretaker_child_locks',
      'with locked as',
      'rollback to savepoint',
      'select k0 from',
      'release savepoint caretaker_child_locks',
      'delete from "shop"."lines"',
      'delete from "shop"."orders"',
    ]);
    expect(await left(tx, 'shop.lines')).toEqual([2, 2, 2, 5, 5, 5, 6, 6, 6]);
    expect((await tx.query('select id from shop.orders order by id')).rows.map((r: { id: string }) => Number(r.id))).toEqual([2, 5, 6]);
    // The failed statement deleted nothing, so PostgreSQL's per-table counters hold only the real deletes.
    expect(await deleted()).toEqual({ lines: 9, notes: 0, orders: 3 });
  });

  it('two child tables: each keeps its NOWAIT lock pass and is deleted in the config’s order (an earlier child may reference a later one)', async () => {
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.lines' }, { table: 'shop.notes' }]);
    const { counts, texts, kinds, deleted } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 20 });
    expect(kinds).toEqual([
      'savepoint caretaker_child_locks',
      'select count(*) from',
      'release savepoint caretaker_child_locks',
      'savepoint caretaker_child_locks',
      'select count(*) from',
      'release savepoint caretaker_child_locks',
      'delete from "shop"."lines"',
      'delete from "shop"."notes"',
      'delete from "shop"."orders"',
    ]);
    expect(texts[1]).toContain('"shop"."lines"');
    expect(texts[4]).toContain('"shop"."notes"');
    expect(await left(tx, 'shop.lines')).toEqual([5, 5, 5, 6, 6, 6]);
    expect(await left(tx, 'shop.notes')).toEqual([5, 5, 6, 6]);
    expect(await deleted()).toEqual({ lines: 12, notes: 8, orders: 4 });
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

  it('a child with assign: one update locks and sets its rows (values read from the row itself); the rows of other parents do not change', async () => {
    const others = (await db.pool.query(`select * from shop.notes where order_id > 4 order by id`)).rows;
    const mine = (await db.pool.query<{ id: string }>(`select id from shop.notes where order_id <= 4 order by id`)).rows.map((r) => `orphaned ${r.id}`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.notes', assign: true }]);
    const { counts, texts, kinds } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_updated: 8 });
    expect(kinds).toEqual(['savepoint caretaker_child_locks', 'with locked as', 'release savepoint caretaker_child_locks', 'delete from "shop"."orders"']);
    expect(texts[1]).toContain('for update of t nowait');
    expect(texts[1]).toContain('update "shop"."notes" t set');
    const notes = (await tx.query<{ id: string; order_id: string | null; note: string }>(`select * from shop.notes order by id`)).rows;
    expect(notes.filter((n) => n.order_id === null).map((n) => n.note)).toEqual(mine);
    expect(mine).toHaveLength(8);
    expect(notes.filter((n) => n.order_id !== null)).toEqual(others);
  });

  it('a partitioned child (ctids repeat across partitions) keeps the separate lock pass', async () => {
    await db.pool.query(`
      create table shop.parts (order_id bigint not null references shop.orders (id), n int not null) partition by list (n);
      create table shop.parts_1 partition of shop.parts for values in (1);
      create table shop.parts_2 partition of shop.parts for values in (2);
      insert into shop.parts select g, n from generate_series(1, 6) g, generate_series(1, 2) n;`);
    const tx = await begin();
    const set = await orderSet(tx, [{ table: 'shop.parts' }]);
    const { counts, kinds } = await act(tx, set);

    expect(counts).toEqual({ matched: 4, deleted: 4, children_deleted: 8 });
    expect(kinds).toEqual([
      'savepoint caretaker_child_locks',
      'select count(*) from',
      'release savepoint caretaker_child_locks',
      'delete from "shop"."parts"',
      'delete from "shop"."orders"',
    ]);
    expect(await left(tx, 'shop.parts')).toEqual([5, 5, 6, 6]);
  });
});
