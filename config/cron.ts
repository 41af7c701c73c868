import { type CalendarFieldName, type CalendarRange, fail, ok, parseCalendarText, type Parsed } from './calendar';
import { matchesSomeDate, NEVER_FIRES } from './calendar-dates';

/**
 * Temporal's cron strings, checked as the server parses them (go.temporal.io/server
 * service/worker/scheduler/calendar.go parseCronString, v1.29), so that `caretaker validate`
 * refuses what `schedules sync` would send and have rejected:
 *
 *   [TZ=zone ] minute hour day-of-month month day-of-week [year] [# comment]
 *   [TZ=zone ] second minute hour day-of-month month day-of-week year [# comment]
 *   @every 90m[/offset]   @yearly @annually @monthly @weekly @daily @midnight @hourly
 *
 * Six fields add a year, not seconds (unlike many cron libraries, which is why this is not one).
 */

const MACROS = new Map([
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
  ['@monthly', '0 0 1 * *'],
  ['@weekly', '0 0 * * 0'],
  ['@daily', '0 0 * * *'],
  ['@midnight', '0 0 * * *'],
  ['@hourly', '0 * * * *'],
]);

const FIELDS_BY_COUNT: Record<number, CalendarFieldName[]> = {
  5: ['minute', 'hour', 'day_of_month', 'month', 'day_of_week'],
  6: ['minute', 'hour', 'day_of_month', 'month', 'day_of_week', 'year'],
  7: ['second', 'minute', 'hour', 'day_of_month', 'month', 'day_of_week', 'year'],
};

const MAX_COMMENT_BYTES = 200;

export interface CronInfo {
  kind: 'calendar' | 'interval';
  /** From a `TZ=` or `CRON_TZ=` prefix. */
  timezone?: string;
}

const EXPECTED =
  'expected a cron string of 5 fields "minute hour day-of-month month day-of-week", 6 (plus year) or 7 (second first, year last), ' +
  '"@every <duration>" or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually';

export function parseCron(text: string): Parsed<CronInfo> {
  let rest = text.trim();
  let timezone: string | undefined;
  if (rest.startsWith('TZ=') || rest.startsWith('CRON_TZ=')) {
    const space = rest.indexOf(' ');
    if (space < 0) return fail(`${EXPECTED} after the time zone, got ${JSON.stringify(text)}`);
    timezone = rest.slice(rest.indexOf('=') + 1, space) || undefined; // "TZ= ..." counts as none, as on the server
    rest = rest.slice(space + 1);
  }
  const hash = rest.indexOf('#');
  const comment = hash < 0 ? '' : rest.slice(hash + 1).trim();
  rest = (hash < 0 ? rest : rest.slice(0, hash)).trim();

  if (rest.startsWith('@every')) {
    const every = parseEvery(rest);
    return every.ok ? ok({ kind: 'interval', timezone }) : fail(`${every.error} in ${JSON.stringify(text)}`);
  }
  const fields = (MACROS.get(rest) ?? rest).split(/\s+/).filter((f) => f !== '');
  const names = FIELDS_BY_COUNT[fields.length];
  if (!names) return fail(`${EXPECTED}, got ${JSON.stringify(text)}`);
  const ranges: Partial<Record<CalendarFieldName, CalendarRange[]>> = {};
  for (const [i, name] of names.entries()) {
    const field = parseCalendarText(name, fields[i]!);
    if (!field.ok) return fail(`${field.error} in ${JSON.stringify(text)}`);
    ranges[name] = field.value;
  }
  if (!matchesSomeDate(ranges)) return fail(`expected a cron string that fires, got ${JSON.stringify(text)}: ${NEVER_FIRES}`);
  const commentProblem = checkComment(comment, 'a comment after "#"');
  if (commentProblem) return fail(commentProblem);
  return ok({ kind: 'calendar', timezone });
}

/** Temporal refuses a calendar comment over 200 bytes. */
export function checkComment(comment: string, what = 'a comment'): string | undefined {
  const bytes = Buffer.byteLength(comment);
  return bytes > MAX_COMMENT_BYTES ? `expected ${what} of at most ${MAX_COMMENT_BYTES} bytes, got ${bytes}` : undefined;
}

/** `@every <interval>[/<offset>]`: interval >= 1s, 0 <= offset < interval. */
function parseEvery(text: string): Parsed<{ every: number; offset: number }> {
  const space = text.indexOf(' ');
  if (space < 0) return fail('expected "@every <duration>" like "@every 90m" or "@every 1d/2h", got no duration');
  const [everyText = '', offsetText = ''] = splitOnce(text.slice(space + 1), '/');
  const every = parseGoDuration(everyText);
  const offset = offsetText === '' ? 0 : parseGoDuration(offsetText);
  if (every === undefined) return fail(`expected a duration like "90m", "1h30m" or "1d" after @every, got ${JSON.stringify(everyText)}`);
  if (offset === undefined) return fail(`expected an offset duration like "15m" after "/", got ${JSON.stringify(offsetText)}`);
  if (every < 1_000) return fail(`expected an @every interval >= 1s, got ${JSON.stringify(everyText)}`);
  if (offset < 0 || offset >= every) return fail(`expected an @every offset >= 0 and below the interval (${everyText}), got ${JSON.stringify(offsetText)}`);
  return ok({ every, offset });
}

function splitOnce(text: string, separator: string): [string, string?] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + separator.length)];
}

const NS_PER_UNIT: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const MAX_NS = 2 ** 63 - 1;

/**
 * Go's time.ParseDuration with Temporal's "d" for 24h (common/primitives/timestamp): "90m",
 * "1h30m", "1.5d", "-5m", "0". Milliseconds, or undefined when Go would refuse it.
 */
export function parseGoDuration(text: string): number | undefined {
  const withDays = text.replace(/(\d+(?:\.\d*)?|\.\d+)d/g, (match) => `${Number.parseFloat(match) * 24}h`);
  const sign = withDays.startsWith('-') ? -1 : 1;
  const body = /^[-+]/.test(withDays) ? withDays.slice(1) : withDays;
  if (body === '0') return 0;
  if (!GO_DURATION.test(body)) return undefined;
  let ns = 0;
  for (const [, amount, unit] of body.matchAll(GO_PART)) ns += Number(amount) * NS_PER_UNIT[unit!]!;
  return ns > MAX_NS ? undefined : (sign * ns) / 1e6;
}
