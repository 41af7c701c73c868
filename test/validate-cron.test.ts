import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { foldSunday, parseCalendarItem, parseCalendarText } from '../config/calendar';
import { parseCron, parseGoDuration } from '../config/cron';
import { NEVER_FIRES } from '../config/calendar-dates';
import { ConfigError, parseConfigText } from '../config/load';
import { scheduleOptionsFor } from '../client/schedule-options';

const error = (text: string) => {
  const parsed = parseCron(text);
  return parsed.ok ? undefined : parsed.error;
};

describe('cron strings (Temporal grammar)', () => {
  it('takes 5 fields, 6 with a year, 7 with seconds first and a year, macros and @every', () => {
    const valid = ['0 3 * * *', '0 0 1 1 * 2030', '30 0 3 * * * 2030', '@daily', '@annually', '@every 90m', '@every 1d/2h', 'TZ=UTC 0 3 * * * # nightly'];
    for (const text of valid) {
      expect(error(text), text).toBeUndefined();
    }
    expect(parseCron('@every 1h')).toEqual({ ok: true, value: { kind: 'interval', timezone: undefined } });
    expect(parseCron('CRON_TZ=Europe/Berlin 0 3 * * *')).toEqual({ ok: true, value: { kind: 'calendar', timezone: 'Europe/Berlin' } });
  });

  it('names the field, what it takes and the part it got', () => {
    expect(error('75 3 * * *')).toBe('expected a minute 0-59, got "75" in "75 3 * * *"');
    expect(error('0 24 * * *')).toBe('expected an hour 0-23, got "24" in "0 24 * * *"');
    expect(error('0 0 1 13 *')).toBe('expected a month 1-12 or a name like "jan", got "13" in "0 0 1 13 *"');
    expect(error('0 3 * * 1-5/0')).toBe('expected a step >= 1 after "/", got "1-5/0" in "0 3 * * 1-5/0"');
    expect(error('5-1 * * * *')).toBe('expected a range whose end is a minute 0-59 and not before its start, got "5-1" in "5-1 * * * *"');
    expect(error('0 0 1 1 * 1999')).toBe('expected a year 2000-2100, got "1999" in "0 0 1 1 * 1999"');
    expect(error('* * * *')).toMatch(/^expected a cron string of 5 fields "minute hour day-of-month month day-of-week", .*, got "\* \* \* \*"$/);
    expect(error('@every 500ms')).toBe('expected an @every interval >= 1s, got "500ms" in "@every 500ms"');
    expect(error('@every 1h/1h')).toBe('expected an @every offset >= 0 and below the interval (1h), got "1h" in "@every 1h/1h"');
    expect(error(`0 3 * * * # ${'x'.repeat(201)}`)).toBe('expected a comment after "#" of at most 200 bytes, got 201');
  });

  it('reads Go durations with Temporal days', () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5d')).toBe(129_600_000);
    expect(parseGoDuration('-5m')).toBe(-300_000);
    expect(parseGoDuration('0')).toBe(0);
    for (const bad of ['', '5', '5x', '1h 30m', '.h', '100000000h']) expect(parseGoDuration(bad), bad).toBeUndefined();
  });
});

describe('calendar fields', () => {
  it('reads string forms, names and range objects into ranges', () => {
    expect(parseCalendarText('minute', '*/15')).toEqual({ ok: true, value: [{ start: 0, end: 59, step: 15 }] });
    expect(parseCalendarText('minute', '5/15,1-3')).toEqual({
      ok: true,
      value: [
        { start: 5, end: 59, step: 15 },
        { start: 1, end: 3, step: 1 },
      ],
    });
    expect(parseCalendarText('day_of_week', 'MON-fri')).toEqual({ ok: true, value: [{ start: 1, end: 5, step: 1 }] });
    expect(parseCalendarText('month', 'jan,December')).toEqual({
      ok: true,
      value: [
        { start: 1, end: 1, step: 1 },
        { start: 12, end: 12, step: 1 },
      ],
    });
    expect(parseCalendarItem('month', { start: 'mar', end: 5 })).toEqual({ ok: true, value: [{ start: 3, end: 5, step: 1 }] });
    expect(parseCalendarItem('hour', 7)).toEqual({ ok: true, value: [{ start: 7, end: 7, step: 1 }] });
  });

  it('makes day of week 7 Sunday, which structured calendars spell 0', () => {
    expect(foldSunday('day_of_week', { start: 7, end: 7, step: 1 })).toEqual([{ start: 0, end: 0, step: 1 }]);
    expect(foldSunday('day_of_week', { start: 1, end: 7, step: 1 })).toEqual([
      { start: 0, end: 0, step: 1 },
      { start: 1, end: 6, step: 1 },
    ]);
    expect(foldSunday('day_of_week', { start: 0, end: 7, step: 1 })).toEqual([{ start: 0, end: 6, step: 1 }]);
    expect(foldSunday('day_of_week', { start: 2, end: 7, step: 2 })).toEqual([{ start: 2, end: 6, step: 2 }]);
  });

  it('refuses out-of-range values, two-letter months and a step without an end', () => {
    expect(parseCalendarItem('second', 60)).toEqual({ ok: false, error: 'expected a second 0-59, got 60' });
    expect(parseCalendarItem('day_of_month', 0)).toEqual({ ok: false, error: 'expected a day of month 1-31, got 0' });
    expect(parseCalendarItem('month', 'ja')).toEqual({ ok: false, error: 'expected a month 1-12 or a name like "jan", got "ja"' });
    expect(parseCalendarItem('minute', { start: 0, step: 15 })).toEqual({
      ok: false,
      error: 'expected end with step (e.g. { start: 0, end: 59, step: 15 }), got no end',
    });
    expect(parseCalendarItem('hour', { start: 5, end: 2 })).toEqual({ ok: false, error: 'expected end to be an hour 0-23 and not before start, got 2' });
  });
});

/** What the real server says, for cron strings and calendars as `schedules sync` sends them. */
describe('agreement with the Temporal server', () => {
  let connection: Connection;
  let client: Client;
  const created: string[] = [];
  const prefix = `validate-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: 'default' });
  });
  afterAll(async () => {
    await Promise.all(
      created.map((id) =>
        client.schedule
          .getHandle(id)
          .delete()
          .catch(() => undefined),
      ),
    );
    await connection?.close();
  });

  function configFor(schedule: Record<string, unknown>) {
    const tasks = [{ id: `${prefix}-${created.length}`, type: 'db.vacuum', schedule, config: {} }];
    return parseConfigText(JSON.stringify({ task_queue: prefix, tasks }), 'm.yaml', {});
  }

  async function serverAccepts(spec: Parameters<Client['schedule']['create']>[0]['spec']): Promise<boolean> {
    const scheduleId = `${prefix}-${created.length}`;
    try {
      const action = { type: 'startWorkflow' as const, workflowType: 'none', taskQueue: prefix };
      await client.schedule.create({ scheduleId, spec, action, state: { paused: true } });
      created.push(scheduleId);
      return true;
    } catch (err) {
      if (err instanceof TypeError) return false; // the SDK's translation of the server's INVALID_ARGUMENT
      throw err;
    }
  }

  it('validation accepts exactly the cron strings the server accepts', async () => {
    const accepted = [
      ...['0 3 * * *', '*/15 * * * *', '5/15 * * * *', '1-30/5 * * * *', '+5 */+5 * * *', '  0 3 * * *  ', '0 3 * * MON-FRI', '0 3 * * su'],
      ...['0 3 * * 0-7', '0 3 1 jan,JULY *', '0 0 29 feb *', '0 0 1 1 * 2030', '0 0 * * * *', '0 0 1 1 * 2000-2100/4', '30 0 3 * * * 2030'],
      ...['0 3 * * * # nightly', 'TZ=UTC 0 3 * * *', 'CRON_TZ=UTC 0 3 * * *', 'TZ= 0 3 * * *', '@daily', '@hourly', '@midnight', '@weekly'],
      ...['@monthly', '@yearly', '@annually', '@every 90m', '@every 1d/2h', '@every 1.5h', '@every 1h/', '@every 1h # hourly'],
    ];
    const rejected = [
      ...['75 3 * * *', '* * * *', '* * * * * * * *', '0 24 * * *', '0 3 0 * *', '0 3 32 * *', '0 0 1 13 *', '0 3 * * 8', '0 3 * * m'],
      ...['0 0 1 ja *', '5-1 * * * *', '1-2-3 * * * *', '*/0 * * * *', '*/ * * * *', '1/2/3 * * * *', '*/x * * * *', '1,,2 * * * *'],
      ...['0 0 1 1 * 1999', '0 0 L * *', '0 0 ? * *', '@reboot', '@daily extra', 'constructor', '@every', '@every 500ms', '@every 1h/1h'],
      ...['@every 1h/-5m', '@every 5x', 'TZ=UTC', `0 3 * * * # ${'x'.repeat(201)}`, '# only a comment'],
    ];
    const disagreements: string[] = [];
    const oursAccepted: string[] = [];
    for (const cron of [...accepted, ...rejected]) {
      let ours = true;
      try {
        configFor({ cron });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        ours = false;
      }
      const server = await serverAccepts({ cronExpressions: [cron], timezone: 'UTC' });
      if (ours) oursAccepted.push(cron);
      if (ours !== server) disagreements.push(`${JSON.stringify(cron)}: caretaker ${ours ? 'accepts' : 'rejects'}, Temporal ${server ? 'accepts' : 'rejects'}`);
    }
    expect(disagreements).toEqual([]);
    expect(oursAccepted).toEqual(accepted);
  });

  it('refuses exactly the cron strings the server accepts but never fires', async () => {
    const never = ['0 0 30 2 *', '0 0 31 4,6,9,11 *', '0 0 31 2 1', '0 0 29 2 * 2001'];
    const fires = ['0 0 29 2 *', '0 0 13 * 5', '0 0 31 * *', '0 0 29 2 * 2096'];
    for (const cron of [...never, ...fires]) {
      const scheduleId = `${prefix}-${created.length}`;
      await client.schedule.create({
        scheduleId,
        spec: { cronExpressions: [cron], timezone: 'UTC' },
        action: { type: 'startWorkflow', workflowType: 'none', taskQueue: prefix },
        state: { paused: true },
      });
      created.push(scheduleId);
      const next = (await client.schedule.getHandle(scheduleId).describe()).info.nextActionTimes;
      expect(next.length > 0, `${cron}: Temporal's next fire times`).toBe(fires.includes(cron));
      expect(error(cron), cron).toBe(fires.includes(cron) ? undefined : `expected a cron string that fires, got ${JSON.stringify(cron)}: ${NEVER_FIRES}`);
    }
  });

  it('every calendar form validation accepts reaches the server as the ranges it means', async () => {
    const calendars = [
      { month: [1, 'jul', 'October'], day_of_week: 'mon-fri', hour: '*/6', minute: [0, 30], second: '*', year: '*' },
      { day_of_week: [7, 'SUNDAY', 'sat'], day_of_month: { start: 1, end: 31, step: 2 }, year: 2030, comment: 'odd days' },
      { day_of_week: '1-7', hour: '5/6', month: { start: 'mar', end: 'may' } },
    ];
    const task = configFor({ calendars }).tasks[0]!;
    const options = scheduleOptionsFor(task, prefix);
    expect(await serverAccepts(options.spec)).toBe(true);
    const spec = (await client.schedule.getHandle(created.at(-1)!).describe()).spec;
    const range = (start: unknown, end = start, step = 1) => ({ start, end, step });
    expect(spec.calendars![0]).toMatchObject({
      month: [range('JANUARY'), range('JULY'), range('OCTOBER')],
      dayOfWeek: [range('MONDAY', 'FRIDAY')],
      hour: [range(0, 23, 6)],
      minute: [range(0), range(30)],
      second: [range(0, 59)],
    });
    expect(spec.calendars![1]).toMatchObject({
      dayOfWeek: [range('SUNDAY'), range('SUNDAY'), range('SATURDAY')],
      dayOfMonth: [range(1, 31, 2)],
      year: [range(2030)],
      comment: 'odd days',
    });
    // "1-7" includes Sunday (7) here; the server's own cron parser drops it (calendar.go makeRange keeps 1-6).
    expect(spec.calendars![2]).toMatchObject({
      dayOfWeek: [range('SUNDAY'), range('MONDAY', 'SATURDAY')],
      hour: [range(5, 23, 6)],
      month: [range('MARCH', 'MAY')],
    });
  });
});
