import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { formatDuration, parseDuration } from '../core/duration';
import { interpolateEnv } from '../config/interpolate';

const task = (extra: string) => `
tasks:
  - id: stale
    type: runs.cleanup_stale
    schedule: { every: 5m }
    config:
      table: job_runs
      columns: { retry_count: retry_count }
${extra}`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'maintenance.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('maintenance.yaml', () => {
  it('applies defaults, resolves legacy aliases and always sets a catch-up window', () => {
    const cfg = parseConfigText(task('').replace('runs.cleanup_stale', 'stale_run.cleanup'), 'm.yaml', {});
    const [t] = cfg.tasks;
    expect(t!.type).toBe('runs.cleanup_stale');
    expect(t!.overlap).toBe('skip');
    expect(t!.catchup_window).toBe(600_000);
    expect(t!.paused).toBeUndefined();
    expect(t!.config).toMatchObject({ thresholds: { submitted: 1_800_000, pending: 3_600_000, running: 7_200_000 }, max_retries: 3 });
    expect(cfg.task_queue).toBe('caretaker');
  });

  it('names the file, line, path, what was expected and what it got', () => {
    const text = task('').replace('columns: { retry_count: retry_count }', 'columns: { retry_count: retry_count }\n      max_retries: -1\n      batch_size: 0');
    expect(problems(text)).toEqual([
      'maintenance.yaml:9: tasks[0].config.max_retries: expected a number >= 0, got -1',
      'maintenance.yaml:10: tasks[0].config.batch_size: expected a number >= 1, got 0',
    ]);
  });

  it('reports an unknown task type with the known names', () => {
    const [p] = problems('tasks:\n  - id: x\n    type: gc.nope\n');
    expect(p).toMatch(/^maintenance.yaml:3: tasks\[0\]\.type: expected one of .*runs\.cleanup_stale.*; got "gc.nope"$/);
  });

  it('rejects unknown keys, bad durations, overlap policies and time zones', () => {
    const text = `
tasks:
  - id: a
    type: runs.cleanup_stale
    overlap: sometimes
    schedule: { every: 5x, timezone: Mars/Olympus }
    retention: 3
    config: { table: runs, max_retries: 0 }
`;
    const out = problems(text);
    expect(out).toContain(
      'maintenance.yaml:5: tasks[0].overlap: expected one of "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all", got "sometimes"',
    );
    expect(out).toContain('maintenance.yaml:6: tasks[0].schedule.every: expected a duration like "30s", "15m", "2h" or "7d", got "5x"');
    expect(out.some((p) => p.includes('tasks[0]: unexpected key retention'))).toBe(true);
  });

  it('requires a schedule to say when, and task ids to be unique', () => {
    const text = `
tasks:
  - { id: a, type: runs.cleanup_stale, schedule: { timezone: UTC }, config: { table: runs, max_retries: 0 } }
  - { id: a, type: runs.cleanup_stale, config: { table: runs, max_retries: 0 } }
`;
    expect(problems(text)).toEqual([
      'maintenance.yaml:3: tasks[0].schedule: expected at least one of cron, every or calendars',
      'maintenance.yaml:4: tasks[1].id: expected a unique id; "a" is also tasks[0].id',
    ]);
  });

  it('checks the task config against its own schema, including cross-field rules', () => {
    const text = 'tasks:\n  - id: a\n    type: runs.cleanup_stale\n    config: { table: "runs; drop table x", thresholds: { zombie: 1h } }\n';
    const out = problems(text);
    expect(out).toContain('maintenance.yaml:4: tasks[0].config.table: expected a table name like "runs" or "app.runs", got "runs; drop table x"');
  });

  it('interpolates ${VAR:-default} and reports an unset variable without a default', () => {
    const cfg = parseConfigText(task('').replace('job_runs', '${RUNS_TABLE:-job_runs}').replace('5m', '${EVERY}'), 'm.yaml', { EVERY: '10m' });
    expect(cfg.tasks[0]!.config.table).toBe('job_runs');
    expect(cfg.tasks[0]!.schedule!.every).toEqual([{ every: 600_000, offset: 0 }]);
    expect(() => parseConfigText('a: ${MISSING}\n', 'm.yaml', {})).toThrow('m.yaml:1: environment variable MISSING is not set');
    expect(interpolateEnv('cost: $$5 ${A:-x}', { A: 'y' }, 'f')).toBe('cost: $5 y');
  });

  it('checks cron strings and calendar values, with the line, path, expected and received', () => {
    const text = `
tasks:
  - id: a
    type: db.vacuum
    schedule:
      cron:
        - "0 3 * * MON-FRI"
        - "75 3 * * *"
      calendars:
        - { hour: "1-30", month: 1, day_of_week: [mon, 8] }
        - { minute: { start: 0, step: 15 }, year: 1999, comment: nightly }
  - { id: b, type: db.vacuum, schedule: { cron: "0 3 * *" } }
`;
    expect(problems(text)).toEqual([
      'maintenance.yaml:8: tasks[0].schedule.cron[1]: expected a minute 0-59, got "75" in "75 3 * * *"',
      'maintenance.yaml:10: tasks[0].schedule.calendars[0].hour: expected a range whose end is an hour 0-23 and not before its start, got "1-30"',
      'maintenance.yaml:10: tasks[0].schedule.calendars[0].day_of_week[1]: expected a day of week 0-6 (7 is also Sunday) or a name like "mon", got 8',
      'maintenance.yaml:11: tasks[0].schedule.calendars[1].minute: expected end with step (e.g. { start: 0, end: 59, step: 15 }), got no end',
      'maintenance.yaml:11: tasks[0].schedule.calendars[1].year: expected a year 2000-2100, got 1999',
      expect.stringMatching(/^maintenance.yaml:12: tasks\[1\]\.schedule\.cron: expected a cron string of 5 fields .*, got "0 3 \* \*"$/),
    ]);
  });

  it('refuses what Temporal refuses at runtime: retry intervals, interval offsets, time zones', () => {
    const text = `
tasks:
  - id: a
    type: db.vacuum
    retry: { initial_interval: 2m, maximum_interval: 30s }
    schedule: { every: { every: 1h, offset: 1h }, timezone: europe/berlin }
  - id: b
    type: db.vacuum
    retry: { initial_interval: 5m }
    schedule: { cron: "TZ=Europe/Berlin 0 3 * * *" }
  - id: c
    type: db.vacuum
    retry: { maximum_attempts: 1, initial_interval: 5m }
    schedule: { cron: ["TZ=Asia/Tokyo 0 3 * * *", "0 4 * * *"], timezone: Asia/Tokyo }
`;
    expect(problems(text)).toEqual([
      'maintenance.yaml:5: tasks[0].retry.maximum_interval: expected at least initial_interval (2m), got 30s',
      'maintenance.yaml:6: tasks[0].schedule.every.offset: expected an offset below every (1h), got 1h',
      'maintenance.yaml:6: tasks[0].schedule.timezone: expected an IANA time zone such as "UTC" or "Europe/Berlin", got "europe/berlin" (names are case-sensitive: "Europe/Berlin")',
      'maintenance.yaml:9: tasks[1].retry.initial_interval: expected at most maximum_interval (1m, the default; set it too), got 5m',
      'maintenance.yaml:10: tasks[1].schedule.cron: expected no TZ= or TZ=UTC (set schedule.timezone instead), got "TZ=Europe/Berlin 0 3 * * *"',
      'maintenance.yaml:14: tasks[2].schedule.cron: expected TZ=Asia/Tokyo on every cron string or on none, got "0 4 * * *" without it',
    ]);
    const ok = parseConfigText(text.replace('"0 4 * * *"', '"TZ=Asia/Tokyo 0 4 * * *"').replace(/^ {2}- id: [ab]\n(?: {4}.*\n)*/gm, ''), 'm.yaml', {});
    expect(ok.tasks[0]!.retry).toEqual({ maximum_attempts: 1, initial_interval: 300_000, backoff_coefficient: 2, maximum_interval: 60_000 });
  });

  it('refuses what PostgreSQL refuses at runtime: a lock or statement timeout over 2^31-1 ms', () => {
    expect(problems(task('      sql: { statement_timeout: 25d, lock_timeout: 24d }'))).toEqual([
      'maintenance.yaml:9: tasks[0].config.sql.statement_timeout: expected a duration <= 24d20h31m23s647ms, got "25d"',
    ]);
  });

  it('points a missing key at the mapping that should hold it, and an empty file at line 1', () => {
    expect(problems('tasks:\n  - id: a\n    config: {}\n  - type: db.vacuum\n')).toEqual([
      'maintenance.yaml:2: tasks[0].type: required: expected string',
      'maintenance.yaml:4: tasks[1].id: required: expected string',
    ]);
    expect(problems('version: 1\n')).toEqual(['maintenance.yaml:1: tasks: required: expected array']);
    expect(problems('')).toEqual(['maintenance.yaml:1: file is empty: expected a mapping with tasks: [...]']);
    expect(problems('# nothing yet\n\n')).toEqual(['maintenance.yaml:1: file is empty: expected a mapping with tasks: [...]']);
  });

  it('reports invalid YAML with its line', () => {
    expect(problems('tasks:\n  - id: [unclosed\n')[0]).toMatch(/^maintenance.yaml:\d+: invalid YAML: /);
  });
});

describe('durations', () => {
  it('parses single and compound units and rejects the rest', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('14d')).toBe(14 * 86_400_000);
    expect(parseDuration('5')).toBeUndefined();
    expect(parseDuration('-5m')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('gives whole milliseconds: a decimal amount is rounded, not left with float noise', () => {
    expect(parseDuration('8.2m')).toBe(492_000);
    expect(formatDuration(parseDuration('8.2m')!)).toBe('8m12s');
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0.0004s')).toBe(0);
    const tenths = Array.from({ length: 100 }, (_, i) => parseDuration(`${i / 10}m`)!);
    expect(tenths.every(Number.isInteger)).toBe(true);
  });
});
