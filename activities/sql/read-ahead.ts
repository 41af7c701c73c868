import type { PoolClient } from 'pg';
import { keyAfter, keyOf, keyOrder, keySelect, type KeyValue, type RowKey } from './keys';
import { SqlParams } from './params';

/**
 * Keys read per pass. On a sparse set each pass is a full sequential scan (the top keys by order
 * need every match), so a pass takes as many as can be held (~10 MB of keys).
 */
const READ = 100_000;

/**
 * The keys of a sparse row set, read ahead. A batch that walks the key index until it has its rows
 * reads every row between them: when 1% of a table matches and no index covers the conditions,
 * each batch walks a hundred rows per match, and the run walks the whole table in index order
 * (random reads), where one sequential scan would do. This reads up to READ matching keys
 * after the cursor in one statement (the planner picks a sequential scan for a large LIMIT on a
 * sparse set) without locking them; each batch then locks and re-checks its slice by key.
 *
 * Keys handed out are gone from the buffer: a row skipped in its batch (locked by the application,
 * or no longer matching) waits for the next run, as a row a keyset walk passes does.
 */
export class KeyReadAhead {
  private buffer: KeyValue[] = [];
  /** Keys handed out since the last read, as JSON: a cursor among them continues the buffer. */
  private handed = new Set<string>();
  /** Where the buffer continues from: the last key handed out (null: the start). */
  private position: KeyValue | null = null;
  /** Nothing read yet, or read from a position the caller has left. */
  private stale = true;
  /** The buffer holds every key left: no further read is needed. */
  private complete = false;

  constructor(
    private readonly key: RowKey,
    private readonly conditions: (p: SqlParams) => string[],
    /** Keys per read (READ unless a test asks for fewer). */
    private readonly readSize = READ,
  ) {}

  /**
   * Up to `limit` keys after `cursor` (null: from the start) that matched when read, in key order.
   * `cursor` is where the caller stands: the last key of a slice, or any key handed out since the
   * last read (the engine's cursor is the last row a batch returned). Any other cursor (a resumed
   * attempt) starts a fresh read from it.
   */
  async next(tx: PoolClient, cursor: KeyValue | null, limit: number): Promise<KeyValue[]> {
    const continues = !this.stale && (cursor === null ? this.position === null : this.handed.has(JSON.stringify(cursor)));
    if (!continues) {
      this.position = cursor;
      this.buffer = [];
      this.complete = false;
      this.stale = false;
    }
    if (this.buffer.length === 0 && !this.complete) await this.read(tx);
    const slice = this.buffer.splice(0, limit);
    for (const k of slice) this.handed.add(JSON.stringify(k));
    if (slice.length > 0) this.position = slice[slice.length - 1]!;
    return slice;
  }

  private async read(tx: PoolClient): Promise<void> {
    const size = this.readSize;
    const p = new SqlParams();
    const conds = this.conditions(p);
    if (this.position !== null) conds.push(keyAfter(this.key, this.position, p));
    const { rows } = await tx.query(`select ${keySelect(this.key)} from ${this.key.table.sql} t where ${conds.join(' and ')} order by ${keyOrder(this.key)} limit ${p.add(size, 'int')}`, p.values);
    this.buffer = rows.map((r) => keyOf(r, this.key));
    this.complete = rows.length < size;
    // The position itself stays a valid cursor across the read.
    this.handed = new Set(this.position === null ? [] : [JSON.stringify(this.position)]);
  }
}
