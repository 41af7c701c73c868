import type { PoolClient } from 'pg';
import type { Position } from './ledger';
import type { ActMode, WorkUnit } from './work-unit';
import { type FractionTarget, TableTarget } from './fraction-targets';

/**
 * Cursors read ahead for one attempt. A unit whose items are rows picked by conditions can read the
 * cursors of all its matching rows in one pass when there are few (`WorkUnit.readAhead`). For a sparse
 * set (stale runs, a day's expired rows: 1% of a table) that pass is one sequential scan, where
 * batches in key order walk the key index through every row of the table; and the count it gives is
 * the exact number of rows the unit would change, so max_fraction needs no count of its own
 * (fraction.ts then only counts the table as far as the limit needs).
 *
 * Each unit's pass runs when that unit starts, after the units before it committed, so a rule sees
 * what earlier rules of the task changed, exactly as a walk in key order would (read ahead or not,
 * the same config changes the same rows). It runs in a read-only transaction of its own, never inside
 * a batch: no batch transaction is held open by it or timed with it. Each batch then takes the rows
 * among the next cursors that still match, locked as `nextBatch` would lock them, so a row that
 * stopped matching is skipped and never changed. A row that starts matching after the pass waits for
 * the next run, as it would behind a keyset cursor that has passed it.
 */
export class ReadAheads {
  private readonly lists = new Map<number, { cursors: unknown[]; next: number }>();
  /** Units whose pass was tried (read, too many, or not readable ahead). */
  private readonly tried = new Set<number>();
  /** Exact counts of the rows a unit picks, by its `picked` fraction target, from whole read-aheads. */
  readonly counts = new Map<FractionTarget, number>();
  /** Cursors read ahead, over all units. */
  total = 0;

  /**
   * `limit`: at most this many cursors per unit (the task's `read_ahead`, 100,000 by default: a few MB
   * of keys, held only while the unit runs); a unit with more is batched by its own `nextBatch`, a
   * walk in cursor order.
   */
  constructor(
    private readonly units: readonly WorkUnit[],
    private readonly limit: number,
  ) {}

  /** Whether the unit at `index` still needs its pass (once per attempt, when the unit starts). */
  due(index: number): boolean {
    return !this.tried.has(index) && this.limit > 0 && this.units[index]?.transactional === true && this.units[index]?.readAhead !== undefined;
  }

  /**
   * Reads ahead the cursors of the unit at `from.unit` (after `from.cursor`: a retry resumes after its
   * ledger's cursor), and forgets those of the units before it.
   */
  async read(client: PoolClient, from: Position): Promise<void> {
    for (const index of this.lists.keys()) if (index < from.unit) this.lists.delete(index);
    if (!this.due(from.unit)) return;
    this.tried.add(from.unit);
    const unit = this.units[from.unit]!;
    const cursors = await unit.readAhead!.cursors(client, from.cursor, this.limit);
    if (cursors === null) return;
    this.total += cursors.length;
    this.lists.set(from.unit, { cursors, next: 0 });
    const picked = unit.fraction?.find((target) => target instanceof TableTarget && target.picked);
    if (picked && from.cursor === null) this.counts.set(picked, cursors.length);
  }

  /**
   * Up to `room` items of the unit at `index` from its cursors read ahead: fewer only when they are
   * used up, so the engine ends the unit where a keyset walk would. Undefined when it was not read ahead.
   */
  async next(tx: PoolClient, index: number, room: number, mode: ActMode): Promise<unknown[] | undefined> {
    const list = this.lists.get(index);
    const readAhead = this.units[index]?.readAhead;
    if (!list || !readAhead) return undefined;
    const items: unknown[] = [];
    // At least once, even with no cursors left: the unit's query is built and run as in a walk, so a
    // config error in it (a column it cannot read) fails the run whether or not anything matched.
    do {
      const among = list.cursors.slice(list.next, list.next + room - items.length);
      list.next += among.length;
      items.push(...(await readAhead.among(tx, among, mode)));
    } while (items.length < room && list.next < list.cursors.length);
    return items;
  }
}
