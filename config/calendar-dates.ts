import { CALENDAR_FIELDS, type CalendarRange } from './calendar';

/** The date fields of a calendar or cron string, as ranges; an omitted field matches every value. */
export interface DateRanges {
  day_of_month?: CalendarRange[];
  month?: CalendarRange[];
  day_of_week?: CalendarRange[];
  year?: CalendarRange[];
}

const matches = (ranges: CalendarRange[] | undefined, value: number) =>
  ranges === undefined || ranges.some((r) => value >= r.start && value <= r.end && (value - r.start) % r.step === 0);

/**
 * Whether any date matches every date field at once (Temporal ANDs a calendar's fields), in the years
 * Temporal takes (2000-2100). `0 0 30 2 *` matches none: Temporal accepts it and never fires it.
 */
export function matchesSomeDate(fields: DateRanges): boolean {
  for (let year = CALENDAR_FIELDS.year.min; year <= CALENDAR_FIELDS.year.max; year++) {
    if (!matches(fields.year, year)) continue;
    for (let month = 1; month <= 12; month++) {
      if (!matches(fields.month, month)) continue;
      const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
      for (let day = 1; day <= days; day++) {
        if (matches(fields.day_of_month, day) && matches(fields.day_of_week, new Date(Date.UTC(year, month - 1, day)).getUTCDay())) return true;
      }
    }
  }
  return false;
}

/** Why a calendar that matches no date is refused. */
export const NEVER_FIRES =
  'it never fires: no date in 2000-2100 matches its day of month, month, day of week and year at once (Temporal accepts it and never runs it)';
