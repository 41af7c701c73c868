/**
 * Calendar fields as Temporal reads them: the value grammar of its CalendarSpec strings and cron
 * fields (`*`, `5`, `1-5`, `*\/15`, `5/15`, `1-30/5`, `mon-fri`, `jan,jul`), following
 * go.temporal.io/server service/worker/scheduler/calendar.go (makeRange, parseValue; v1.29).
 */

export type CalendarFieldName = 'second' | 'minute' | 'hour' | 'day_of_month' | 'month' | 'day_of_week' | 'year';

/** Inclusive range of values; a single value has start === end. */
export interface CalendarRange {
  start: number;
  end: number;
  step: number;
}

/** Either the value, or a message in the form "expected ..., got ...". */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

interface FieldRule {
  min: number;
  max: number;
  /** What the field accepts, for messages. */
  allowed: string;
  /** Names in order, matched by prefix (Temporal: at least 3 letters for months, 2 for days). */
  names?: { list: readonly string[]; first: number; minLength: number };
}

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export const CALENDAR_FIELDS: Record<CalendarFieldName, FieldRule> = {
  second: { min: 0, max: 59, allowed: 'a second 0-59' },
  minute: { min: 0, max: 59, allowed: 'a minute 0-59' },
  hour: { min: 0, max: 23, allowed: 'an hour 0-23' },
  day_of_month: { min: 1, max: 31, allowed: 'a day of month 1-31' },
  month: { min: 1, max: 12, allowed: 'a month 1-12 or a name like "jan"', names: { list: MONTH_NAMES, first: 1, minLength: 3 } },
  day_of_week: { min: 0, max: 7, allowed: 'a day of week 0-6 (7 is also Sunday) or a name like "mon"', names: { list: DAY_NAMES, first: 0, minLength: 2 } },
  year: { min: 2000, max: 2100, allowed: 'a year 2000-2100' },
};

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });
const INTEGER = /^[+-]?\d+$/; // Go's strconv.Atoi

/** One value: a number, or a name (prefix) for months and days of week; undefined outside [min, max]. */
export function parseCalendarValue(field: CalendarFieldName, text: string, min = CALENDAR_FIELDS[field].min): number | undefined {
  const rule = CALENDAR_FIELDS[field];
  let value: number | undefined;
  if (rule.names && text.length >= rule.names.minLength) {
    const index = rule.names.list.findIndex((name) => name.startsWith(text.toLowerCase()));
    if (index >= 0) value = index + rule.names.first;
  }
  if (value === undefined) {
    if (!INTEGER.test(text)) return undefined;
    value = Number(text);
  }
  return value >= min && value <= rule.max ? value : undefined;
}

/**
 * Day of week 7 is Sunday. Temporal's structured calendars only take 0-6, so a range reaching 7
 * becomes one ending at 6, plus 0 when the step lands on 7.
 */
export function foldSunday(field: CalendarFieldName, range: CalendarRange): CalendarRange[] {
  if (field !== 'day_of_week' || range.end !== 7) return [range];
  const out: CalendarRange[] = [];
  if ((7 - range.start) % range.step === 0 && range.start !== 0) out.push({ start: 0, end: 0, step: 1 });
  if (range.start <= 6) out.push({ ...range, end: 6 });
  return out;
}

/** A field in Temporal's string form, e.g. "1-5", "*\/15", "mon-fri", "1,15". */
export function parseCalendarText(field: CalendarFieldName, text: string): Parsed<CalendarRange[]> {
  const rule = CALENDAR_FIELDS[field];
  const ranges: CalendarRange[] = [];
  for (const part of text.trim().split(',')) {
    const got = JSON.stringify(part);
    const slashes = part.split('/');
    if (slashes.length > 2) return fail(`expected ${rule.allowed} with at most one "/step", got ${got}`);
    let step = 1;
    const hasStep = slashes.length === 2;
    if (hasStep) {
      step = INTEGER.test(slashes[1]!) ? Number(slashes[1]) : 0;
      if (step < 1) return fail(`expected a step >= 1 after "/", got ${got}`);
    }
    const body = slashes[0]!;
    let start = rule.min;
    let end = rule.max;
    if (body !== '*') {
      const dashes = body.split('-');
      if (dashes.length > 2) return fail(`expected ${rule.allowed}, or a range like "1-5", got ${got}`);
      const first = parseCalendarValue(field, dashes[0]!);
      if (first === undefined) return fail(`expected ${rule.allowed}, got ${got}`);
      start = first;
      if (dashes.length === 2) {
        const last = parseCalendarValue(field, dashes[1]!, first);
        if (last === undefined) return fail(`expected a range whose end is ${rule.allowed} and not before its start, got ${got}`);
        end = last;
      } else if (!hasStep) {
        end = first; // "5" is 5; "5/15" runs to the field's maximum
      }
    }
    ranges.push(...foldSunday(field, { start, end, step }));
  }
  return ok(ranges);
}

/** A range object: `{ start: 1, end: 5, step: 2 }`, start and end as numbers or names. */
export interface RangeObject {
  start: number | string;
  end?: number | string;
  step?: number;
}

/** One item of a calendar field in config: a number, a string form, or a range object. */
export function parseCalendarItem(field: CalendarFieldName, item: number | string | RangeObject): Parsed<CalendarRange[]> {
  const rule = CALENDAR_FIELDS[field];
  if (typeof item === 'string') return parseCalendarText(field, item);
  const single = (value: number | string, min?: number) => parseCalendarValue(field, String(value), min);
  if (typeof item === 'number') {
    const value = single(item);
    return value === undefined ? fail(`expected ${rule.allowed}, got ${item}`) : ok(foldSunday(field, { start: value, end: value, step: 1 }));
  }
  const start = single(item.start);
  if (start === undefined) return fail(`expected start to be ${rule.allowed}, got ${JSON.stringify(item.start)}`);
  if (item.end === undefined) {
    if (item.step !== undefined) return fail(`expected end with step (e.g. { start: ${start}, end: ${rule.max}, step: ${item.step} }), got no end`);
    return ok(foldSunday(field, { start, end: start, step: 1 }));
  }
  const end = single(item.end, start);
  if (end === undefined) return fail(`expected end to be ${rule.allowed} and not before start, got ${JSON.stringify(item.end)}`);
  return ok(foldSunday(field, { start, end, step: item.step ?? 1 }));
}
