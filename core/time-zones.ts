/**
 * The IANA name a time zone resolves to (`Intl`, which accepts any case: "utc" is "UTC"), or
 * undefined when there is no such zone. Building an Intl.DateTimeFormat takes about half a
 * millisecond, so names seen before are remembered: a config that names one zone in many places
 * checks it once.
 */
const resolved = new Map<string, string | undefined>();
const REMEMBERED = 2_000;

export function resolveTimeZone(zone: string): string | undefined {
  if (resolved.has(zone)) return resolved.get(zone);
  let name: string | undefined;
  try {
    name = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    name = undefined;
  }
  if (resolved.size < REMEMBERED) resolved.set(zone, name);
  return name;
}

/**
 * The zone that `timestamp without time zone` columns hold wall times of (null: the database
 * session's TimeZone), and per-column overrides (the config field: tasks/fields.ts timestamps).
 */
export interface TimestampSettings {
  zone: string | null;
  columns: Record<string, string>;
}
