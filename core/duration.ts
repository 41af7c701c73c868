/** Durations as config writes them ("90s", "1h30m", "14d"), in milliseconds; pure, no zod (the config field is tasks/duration.ts). */

/** Units accepted in config durations, in milliseconds. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/**
 * Parses "90s", "30m", "2h", "1h30m", "14d" into whole milliseconds; undefined when malformed. A
 * decimal amount is rounded to the millisecond: "8.2m" is 492000, not the float 491999.99999999994
 * (which `formatDuration` wrote as "8m11s999ms" while SQL's numeric cast wrote "8m12s").
 */
export function parseDuration(text: string): number | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!WHOLE.test(compact)) return undefined;
  let total = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Math.round(total);
}

/** The units `formatDuration` writes, largest first. */
const FORMAT_UNITS = ['d', 'h', 'm', 's', 'ms'] as const;

/** Milliseconds as the shortest exact duration string ("90m" -> "1h30m"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of FORMAT_UNITS) {
    const size = UNIT_MS[unit];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/**
 * `formatDuration` as SQL text: an expression of milliseconds (at least 0) as the shortest exact
 * duration text ("1h30m"; "0s" for 0), to `smallest` ('m': to the minute, the rest below it left
 * out; "0s" when nothing is left, and for NULL). The expression is repeated once per unit instead of
 * read once in a subquery, and only immutable or stable functions are called, so the same text is
 * valid in an activity's UPDATE and in rule text (the rules `caretaker rules` prints), and both write
 * the same words. A zero part is NULL, which `concat` leaves out. A negative duration (a stale run's
 * age, when its naive timestamp falls in a DST fall-back's repeated hour) is "", as formatDuration
 * writes it, not a negative part per unit.
 */
export function durationSql(ms: string, smallest: (typeof FORMAT_UNITS)[number] = 'ms'): string {
  const value = `(${ms})::numeric`;
  const units = FORMAT_UNITS.slice(0, FORMAT_UNITS.indexOf(smallest) + 1);
  const parts = units.map((unit, i) => {
    const rest = i === 0 ? value : `mod(${value}, ${UNIT_MS[units[i - 1]!]})`;
    const size = UNIT_MS[unit];
    return `nullif(floor(${size === 1 ? rest : `${rest} / ${size}`}), 0)::text || '${unit}'`;
  });
  return `case when ${value} < 0 then '' else coalesce(nullif(concat(${parts.join(', ')}), ''), '0s') end`;
}

/** An age for people, to the minute: "3h", "2d4h5m", "0m" under a minute. */
export function ageText(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes === 0 ? '0m' : formatDuration(minutes * 60_000);
}
