import type { CalendarFieldName, CalendarRange } from '../config/calendar';
import { CALENDAR_FIELDS } from '../config/calendar';
import { formatDuration } from '../core/duration';
import type { ScheduleConfig } from '../config/schema';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const ORDER: CalendarFieldName[] = ['month', 'day_of_month', 'day_of_week', 'hour', 'minute', 'second', 'year'];
const LABEL: Record<CalendarFieldName, string> = {
  month: 'in',
  day_of_month: 'on day',
  day_of_week: 'on',
  hour: 'hour',
  minute: 'minute',
  second: 'second',
  year: 'in',
};

function unit(field: CalendarFieldName, n: number): string {
  return field === 'month' ? MONTHS[n - 1]! : field === 'day_of_week' ? DAYS[n % 7]! : String(n);
}

function rangeWords(field: CalendarFieldName, r: CalendarRange): string {
  if (r.start === r.end) return unit(field, r.start);
  const span = `${unit(field, r.start)}-${unit(field, r.end)}`;
  return r.step === 1 ? span : `every ${r.step} from ${span}`;
}

/** A calendar in words: "on Mon-Fri hour 3 minute 0 (nightly)"; fields left at every value are omitted. */
export function calendarWords(calendar: Partial<Record<CalendarFieldName, CalendarRange[]>> & { comment?: string }): string {
  const parts: string[] = [];
  for (const field of ORDER) {
    const ranges = calendar[field];
    if (!ranges) continue;
    const { min, max } = CALENDAR_FIELDS[field];
    const all = ranges.length === 1 && ranges[0]!.start === min && ranges[0]!.end >= (field === 'day_of_week' ? 6 : max) && ranges[0]!.step === 1;
    if (!all) parts.push(`${LABEL[field]} ${ranges.map((r) => rangeWords(field, r)).join(', ')}`);
  }
  return `${parts.join(' ') || 'every second'}${calendar.comment ? ` (${calendar.comment})` : ''}`;
}

/** A task's schedule as the user wrote it: cron strings, intervals, calendars in words, time zone. */
export function scheduleWords(schedule: ScheduleConfig | undefined): string {
  if (!schedule) return 'ad hoc only';
  const parts = [
    ...(schedule.cron ?? []).map((c) => `cron "${c}"`),
    ...(schedule.every ?? []).map((i) => `every ${formatDuration(i.every)}${i.offset ? ` (offset ${formatDuration(i.offset)})` : ''}`),
    ...(schedule.calendars ?? []).map((c) => `calendar: ${calendarWords(c as Parameters<typeof calendarWords>[0])}`),
  ];
  return `${parts.join(' + ')} ${schedule.timezone}${schedule.jitter ? `, jitter ${formatDuration(schedule.jitter)}` : ''}`;
}
