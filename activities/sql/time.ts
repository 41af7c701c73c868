import type { TimestampSettings } from '../../core/time-zones';
import { col, colType, type ResolvedTable } from './identifiers';
import type { SqlParams } from './params';

const NAIVE = /^timestamp(\(\d\))? without time zone$/;

/** Whether a catalog type is `timestamp without time zone`: wall times of a zone the column does not say. */
export const isNaiveTimestamp = (type: string): boolean => NAIVE.test(type);

/** `<ms> * interval '1 millisecond'` with the milliseconds as a parameter. */
export function millis(p: SqlParams, ms: number): string {
  return `${p.add(ms, 'float8')} * interval '1 millisecond'`;
}

/**
 * Age comparisons against the database clock. A `timestamp without time zone` column holds wall
 * times of some zone; PostgreSQL compares it with `now()` in the session's TimeZone, which is wrong
 * by the offset when the application wrote UTC into a server set to another zone. With
 * `timestamps: { zone }` (per task or per database, `columns` per column) such a column is read in
 * that zone. The cutoff is converted, not the column, so an index on the column still serves.
 */
export class TimestampZones {
  constructor(private readonly settings: TimestampSettings | undefined) {}

  /** The zone a naive column is read in, or null (timestamptz, or no zone configured: the session's). */
  zoneOf(table: ResolvedTable, column: string): string | null {
    if (!isNaiveTimestamp(colType(table, column))) return null;
    return this.settings?.columns[column] ?? this.settings?.zone ?? null;
  }

  /** A timestamptz expression as a value comparable with the column. */
  at(table: ResolvedTable, column: string, instant: string, p: SqlParams): string {
    const zone = this.zoneOf(table, column);
    return zone === null ? instant : `((${instant}) at time zone ${p.add(zone, 'text')})`;
  }

  /** `t.col < now() - <interval>`: the row is older than the interval. */
  olderThan(table: ResolvedTable, column: string, interval: string, p: SqlParams, alias = 't'): string {
    return `${alias}.${col(table, column)} < ${this.at(table, column, `now() - ${interval}`, p)}`;
  }

  /** `t.col < now()`: the moment has passed. */
  passed(table: ResolvedTable, column: string, p: SqlParams, alias = 't'): string {
    return `${alias}.${col(table, column)} < ${this.at(table, column, 'now()', p)}`;
  }

  /** The column as a timestamptz, for arithmetic with now(). */
  instant(table: ResolvedTable, column: string, p: SqlParams, alias = 't'): string {
    const zone = this.zoneOf(table, column);
    const c = `${alias}.${col(table, column)}`;
    return zone === null ? c : `(${c} at time zone ${p.add(zone, 'text')})`;
  }

  /** `now()` as the column stores it. */
  now(table: ResolvedTable, column: string, p: SqlParams): string {
    return this.at(table, column, 'now()', p);
  }
}
