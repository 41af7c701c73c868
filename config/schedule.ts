import { z } from 'zod';
import { type CalendarFieldName, type CalendarRange, parseCalendarItem } from './calendar';
import { checkComment, parseCron } from './cron';
import { matchesSomeDate, NEVER_FIRES } from './calendar-dates';
import { duration } from '../tasks/duration';
import { formatDuration } from '../core/duration';
import { resolveTimeZone } from '../core/time-zones';

/**
 * `schedule:` of a task. Everything Temporal's server would refuse when `schedules sync` creates
 * the schedule is refused here, so `caretaker validate` reports it with its line.
 */

const rangeObject = z
  .object({ start: z.union([z.number().int(), z.string()]), end: z.union([z.number().int(), z.string()]).optional(), step: z.number().int().min(1).optional() })
  .strict();
const calendarItem = z.union([z.number().int(), z.string().min(1), rangeObject]);

/** A number, a string form ("1-5", "*\/15", "mon-fri", "jan,jul"), a range object, or a list of them. */
function calendarField(field: CalendarFieldName) {
  return z
    .union([calendarItem, z.array(calendarItem).min(1)])
    .transform((value, ctx) => {
      const items = Array.isArray(value) ? value : [value];
      const ranges: CalendarRange[] = [];
      items.forEach((item, i) => {
        const parsed = parseCalendarItem(field, item);
        if (parsed.ok) ranges.push(...parsed.value);
        else ctx.addIssue({ code: 'custom', path: Array.isArray(value) ? [i] : [], message: parsed.error });
      });
      return ranges;
    })
    .optional();
}

/** Temporal CalendarSpec in snake_case; omitted fields follow Temporal's defaults (second 0, minute 0, hour 0, every day). */
const calendar = z
  .object({
    second: calendarField('second'),
    minute: calendarField('minute'),
    hour: calendarField('hour'),
    day_of_month: calendarField('day_of_month'),
    month: calendarField('month'),
    year: calendarField('year'),
    day_of_week: calendarField('day_of_week'),
    comment: z
      .string()
      .superRefine((comment, ctx) => {
        const problem = checkComment(comment);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!matchesSomeDate(c)) ctx.addIssue({ code: 'custom', message: `expected a calendar that fires: ${NEVER_FIRES}` });
  });

const interval = z.union([
  duration({ min: 1_000 }).transform((every) => ({ every, offset: 0 })),
  z
    .object({ every: duration({ min: 1_000 }), offset: duration().prefault('0s') })
    .strict()
    .superRefine((i, ctx) => {
      if (i.offset >= i.every) {
        const message = `expected an offset below every (${formatDuration(i.every)}), got ${formatDuration(i.offset)}`;
        ctx.addIssue({ code: 'custom', path: ['offset'], message });
      }
    }),
]);

const cronString = z.string().superRefine((text, ctx) => {
  const parsed = parseCron(text);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
});

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

export const scheduleSchema = z
  .object({
    cron: oneOrMany(cronString).optional(),
    every: oneOrMany(interval).optional(),
    calendars: z.array(calendar).min(1).optional(),
    timezone: z
      .string()
      .min(1)
      .superRefine((zone, ctx) => {
        const problem = checkTimeZone(zone);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('UTC'),
    jitter: duration().prefault('0s'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.cron && !s.every && !s.calendars) ctx.addIssue({ code: 'custom', message: 'expected at least one of cron, every or calendars' });
    // Runs even when a field failed, and then sees that field untransformed (a string rather than a list).
    const crons = [s.cron ?? []].flat().filter((c): c is string => typeof c === 'string');
    const problem = cronTimeZoneProblem(crons, s.timezone);
    if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: problem });
  });

/** Temporal loads zones with Go's time.LoadLocation: IANA names, case-sensitive ("utc" is refused). */
function checkTimeZone(zone: string): string | undefined {
  const expected = `expected an IANA time zone such as "UTC" or "Europe/Berlin", got ${JSON.stringify(zone)}`;
  const resolved = resolveTimeZone(zone);
  if (resolved === undefined) return expected;
  if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) return `${expected} (names are case-sensitive: "${resolved}")`;
  return undefined;
}

/**
 * A `TZ=` prefix in a cron string must name the schedule's own time zone (Caretaker always sends
 * `timezone`, UTC by default), and be on every cron string or none: Temporal refuses the rest.
 */
function cronTimeZoneProblem(crons: string[], timezone: string): string | undefined {
  const parsed = crons.flatMap((text) => {
    const cron = parseCron(text);
    return cron.ok ? [{ text, zone: cron.value.timezone }] : []; // the unparsable ones have their own message
  });
  if (parsed.every((c) => c.zone === undefined)) return undefined;
  const wrong = parsed.find((c) => c.zone !== undefined && c.zone !== timezone);
  if (wrong) return `expected no TZ= or TZ=${timezone} (set schedule.timezone instead), got ${JSON.stringify(wrong.text)}`;
  const missing = parsed.find((c) => c.zone === undefined);
  if (missing) return `expected TZ=${timezone} on every cron string or on none, got ${JSON.stringify(missing.text)} without it`;
  return undefined;
}
