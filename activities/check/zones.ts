import type { PoolClient } from 'pg';

const UNKNOWN_ZONES = `select z from unnest($1::text[]) z where not exists (select 1 from pg_timezone_names where name = z) and not exists (select 1 from pg_timezone_abbrevs where abbrev = z)`;

/** The configured zones this PostgreSQL does not know (its tz database may differ from Node's). */
export async function unknownZones(client: PoolClient, zones: readonly string[]): Promise<string[]> {
  return (await client.query<{ z: string }>(UNKNOWN_ZONES, [[...new Set(zones)]])).rows.map((r) => r.z);
}
