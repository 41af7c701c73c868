import type { PoolClient } from 'pg';
import type { TimestampSettings } from '../../core/time-zones';
import type { ResolvedTable } from '../sql/identifiers';
import { isNaiveTimestamp } from '../sql/time';
import { type Finding, warning } from './findings';

const UNKNOWN_ZONES = `select z from unnest($1::text[]) z where not exists (select 1 from pg_timezone_names where name = z) and not exists (select 1 from pg_timezone_abbrevs where abbrev = z)`;

/** The configured zones this PostgreSQL does not know (its tz database may differ from Node's). */
export async function unknownZones(client: PoolClient, zones: readonly string[]): Promise<string[]> {
  return (await client.query<{ z: string }>(UNKNOWN_ZONES, [[...new Set(zones)]])).rows.map((r) => r.z);
}

/** Every string in a task's config: the column names it mentions are among them. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

const UTC = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Universal', 'Zulu', 'UCT', 'Etc/UCT', 'Etc/Universal', 'Etc/Zulu']);

/**
 * `timestamp without time zone` columns the config names, read without a configured zone while the
 * session's TimeZone is not UTC: their age is then measured in that zone, off by its offset when
 * the application writes UTC (activities/sql/time.ts).
 */
export async function naiveColumnsWithoutZone(
  client: PoolClient,
  tables: readonly ResolvedTable[],
  config: { timestamps?: TimestampSettings },
): Promise<Finding[]> {
  const named = new Set(stringsOf(config));
  const zoned = (column: string) => Boolean(config.timestamps?.zone ?? config.timestamps?.columns[column]);
  const naive = tables.flatMap((t) =>
    [...t.columns].filter(([name, c]) => named.has(name) && isNaiveTimestamp(c.type) && !zoned(name)).map(([name]) => `${t.name}.${name}`),
  );
  if (naive.length === 0) return [];
  const zone = (await client.query<{ TimeZone: string }>('show timezone')).rows[0]!.TimeZone;
  if (UTC.has(zone)) return [];
  return naive.map((c) =>
    warning(
      `${c} is timestamp without time zone and no timestamps.zone is set: its age is read in the session's TimeZone ${zone}; if the application writes UTC, set timestamps: { zone: UTC } (or the zone it writes in)`,
    ),
  );
}
