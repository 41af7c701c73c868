import type { PoolClient } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parentsWithLockedChildren, type ChildTable } from '../activities/rows/child-locks';
import { resolveTable } from '../activities/sql/identifiers';
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
