import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolClient } from 'pg';
import { resolveKeyed } from '../activities/sql/keys';
import { KeyReadAhead } from '../activities/sql/read-ahead';
import { createTestDatabase, type TestDatabase } from './support';

let db: TestDatabase;
let client: PoolClient;

// Every 50th of 1000 rows matches (20 keys); composite keys (a, b) so the order is a row comparison.
beforeAll(async () => {
  db = await createTestDatabase('read_ahead');
  await db.pool.query(`create table jobs (a int not null, b text not null, status text not null, primary key (a, b));
    insert into jobs select g / 10, lpad((g % 10)::text, 2, '0'), case when g % 50 = 0 then 'running' else 'done' end from generate_series(1, 1000) g`);
  client = await db.pool.connect();
});
afterAll(async () => {
  client.release();
  await db.drop();
});

async function reader(readSize: number) {
  const key = await resolveKeyed(client, 'jobs', ['a', 'b'], ['status'], 'test');
  return new KeyReadAhead(key, () => [`t.status = 'running'`], readSize);
}
const expected = Array.from({ length: 20 }, (_, i) => (i + 1) * 50).map((g) => [String(Math.floor(g / 10)), String(g % 10).padStart(2, '0')]);

describe('KeyReadAhead (real PostgreSQL)', () => {
  it('hands out every matching key once, in key order, across several reads', async () => {
    const ahead = await reader(7);
    const seen: string[][] = [];
    let cursor: string[] | null = null;
    for (;;) {
      const keys = await ahead.next(client, cursor, 3);
      if (keys.length === 0) break;
      expect(keys.length).toBeLessThanOrEqual(3);
      seen.push(...keys);
      cursor = keys[keys.length - 1]!;
    }
    expect(seen).toEqual(expected);
  });

  it('continues from a key it handed out that is not the last (a batch whose last rows were skipped)', async () => {
    const ahead = await reader(100);
    const first = await ahead.next(client, null, 4);
    // The batch returned only its first two rows: the next batch starts after the slice, not at row 3.
    const second = await ahead.next(client, first[1]!, 4);
    expect(second).toEqual(expected.slice(4, 8));
  });

  it('reads afresh from a cursor it never handed out (a resumed attempt), and sees rows that match later', async () => {
    const ahead = await reader(100);
    await db.pool.query(`update jobs set status = 'running' where a = 99 and b = '01'`);
    expect(await ahead.next(client, expected[17]!, 10)).toEqual([...expected.slice(18, 19), ['99', '01'], expected[19]]);
    await db.pool.query(`update jobs set status = 'done' where a = 99 and b = '01'`);
  });
});
