import { isDeepStrictEqual } from 'node:util';
import type { PoolClient } from 'pg';
import { configError } from '../../core/errors';
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
 *
 * A unit that may act only on the items that matched when it started (`readAhead.onlyAtStart`: a
 * rule's `first_per`, where a walk would act on a group's next row once a batch removed its first)
 * is always read ahead and never walked: with more than `limit` items it takes the first `limit` in
 * cursor order and leaves the rest for the next run, with a warning; a pass stopped by
 * statement_timeout fails the run (engine.ts). An attempt that resumes inside it (a retry after
 * batches committed) does not read it again (what is first now may not have been when it started: a
 * group whose first row a batch removed has a new first row): it takes the rest of the cursors the
 * unit read when it started, which the unit's first batch recorded in the ledger (`atStart`,
 * `Position.readAtStart`); with none recorded, it takes nothing more of it.
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
    /** The cursors units that act only on what matched when they started read then, by unit, from the ledger of an earlier attempt. */
    private readonly recorded: ReadonlyMap<number, unknown[]> = new Map(),
  ) {}

  /** Why the unit at `index` must be read ahead and never walked (`readAhead.onlyAtStart`), if it must. */
  onlyAtStart(index: number): string | undefined {
    return this.units[index]?.readAhead?.onlyAtStart;
  }

  /** Whether the unit at `index` still needs its pass (once per attempt, when the unit starts). */
  due(index: number): boolean {
    return !this.tried.has(index) && this.limit > 0 && this.units[index]?.transactional === true && this.units[index]?.readAhead !== undefined;
  }

  /**
   * Reads ahead the cursors of the unit at `from.unit` (after `from.cursor`: a retry resumes after its
   * ledger's cursor), and forgets those of the units before it. Returns the warnings of a unit that
   * may act only on what matched when it started and leaves some of it for the next run.
   */
  async read(client: PoolClient, from: Position): Promise<string[]> {
    for (const index of this.lists.keys()) if (index < from.unit) this.lists.delete(index);
    if (!this.due(from.unit)) return [];
    this.tried.add(from.unit);
    const unit = this.units[from.unit]!;
    const why = unit.readAhead!.onlyAtStart;
    if (why !== undefined && from.cursor !== null) {
      // The cursor is the last item a batch took, one of the cursors read at the start.
      const started = this.recorded.get(from.unit) ?? [];
      const at = started.findIndex((cursor) => isDeepStrictEqual(cursor, from.cursor));
      if (at >= 0) {
        const rest = started.slice(at + 1);
        this.total += rest.length;
        this.lists.set(from.unit, { cursors: rest, next: 0 });
        return [];
      }
      this.lists.set(from.unit, { cursors: [], next: 0 });
      return [
        `${unit.label}: ${why}; this attempt resumed after batches of the one before, when the first rows may have changed: the rest of its rows wait for the next run`,
      ];
    }
    if (why !== undefined) {
      const first = (await unit.readAhead!.cursors(client, null, this.limit + 1, true)) ?? [];
      const cursors = first.slice(0, this.limit);
      this.keep(unit, from, cursors);
      if (first.length <= this.limit) return [];
      return [
        `${unit.label}: more than read_ahead (${this.limit}) rows match, and ${why}: this run takes the first ${this.limit} in key order, the rest wait for the next run`,
      ];
    }
    const cursors = await unit.readAhead!.cursors(client, from.cursor, this.limit);
    if (cursors !== null) this.keep(unit, from, cursors);
    return [];
  }

  /**
   * The cursors the unit at `index` read when it started, when it acts only on those
   * (`readAhead.onlyAtStart`): its first batch records them in the ledger for a retry.
   */
  atStart(index: number): unknown[] | undefined {
    return this.onlyAtStart(index) === undefined ? undefined : this.lists.get(index)?.cursors;
  }

  private keep(unit: WorkUnit, from: Position, cursors: unknown[]): void {
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

  /** Refuses to walk a unit that may act only on what matched when it started, when it was not read ahead (read_ahead: 0). */
  assertReadAhead(index: number): void {
    const why = this.onlyAtStart(index);
    if (why !== undefined && !this.lists.has(index)) {
      throw configError(`${this.units[index]!.label}: ${why}, so its rows must be read ahead when it starts (read_ahead > 0), never walked in key order`);
    }
  }
}
