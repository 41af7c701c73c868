import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load';
import { parseDuration } from '../config/duration';
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
    expect(out).toContain('maintenance.yaml:5: tasks[0].overlap: expected one of "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all", got "sometimes"');
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
    expect(() => interpolateEnv('a: ${MISSING}\n', {}, 'm.yaml')).toThrow('m.yaml:1: environment variable MISSING is not set');
    expect(interpolateEnv('cost: $$5 ${A:-x}', { A: 'y' }, 'f')).toBe('cost: $5 y');
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
});
