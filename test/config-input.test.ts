import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { MAX_ALIAS_VALUES, MAX_CONFIG_BYTES, MAX_NESTING } from '../config/yaml-limits';
import { caretaker } from './cli';

/** `caretaker validate` on files written here, as a user runs it: exit code and what it prints. */
const dir = mkdtempSync(join(tmpdir(), 'caretaker-config-input-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const setEnv: string[] = [];
afterEach(() => {
  for (const name of setEnv.splice(0)) delete process.env[name];
});
function env(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    process.env[name] = value;
    setEnv.push(name);
  }
}

async function validate(text: string): Promise<{ code: number; out: string; err: string; file: string }> {
  const file = join(dir, `m${++files}.yaml`);
  writeFileSync(file, text);
  return { ...(await caretaker('validate', '--json', '-f', file)), file };
}

const retention = (table: string, extra = '') => `
tasks:
  - id: purge
    type: retention.enforce
    schedule: { every: 1h }
    config:
      policies:
        - { table: ${table}, timestamp_column: created_at, older_than: 30d }
${extra}`;

describe('${VAR} is a value, never YAML', () => {
  it('a variable that spells more of the mapping is refused as the table name it is', async () => {
    env({ PURGE_TABLE: 'victims, timestamp_column: created_at, older_than: 1d } #' });
    const { code, err, file } = await validate(retention('${PURGE_TABLE}'));
    expect(code).toBe(2);
    expect(err).toContain(
      `${file}:8: tasks[0].config.policies[0].table: expected a table name like "runs" or "app.runs", got "victims, timestamp_column: created_at, older_than: 1d } #"`,
    );
  });

  it('a plain value keeps its policy as written', async () => {
    env({ PURGE_TABLE: 'app.events' });
    const { code, out } = await validate(retention('${PURGE_TABLE}'));
    expect(code).toBe(0);
    const [task] = JSON.parse(out).tasks;
    expect(task.config.policies).toMatchObject([{ table: 'app.events', timestamp_column: 'created_at', older_than: 30 * 86_400_000 }]);
  });

  it('is not read in comments: an unset variable there is no error', async () => {
    const { code, err } = await validate(`# Set \${NEVER_SET_ANYWHERE} to change the table\n${retention('events', '    # description: ${ALSO_NEVER_SET}')}`);
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  it('an unset variable in a value is refused with its line, and one in a key is refused', async () => {
    const unset = await validate(retention('events', '    description: ${NEVER_SET_ANYWHERE}'));
    expect(unset.code).toBe(2);
    expect(unset.err).toContain(
      `${unset.file}:9: environment variable NEVER_SET_ANYWHERE is not set (write \${NEVER_SET_ANYWHERE:-default} to give a default)`,
    );
    const key = await validate(retention('events', '    ${KEY_NAME:-description}: x'));
    expect(key.code).toBe(2);
    expect(key.err).toContain(`${key.file}:9: "\${KEY_NAME:-description}": \${...} and $$ are read in values only, not in keys`);
  });

  it('keeps every documented use: defaults, numbers and booleans unquoted, text quoted, inside flow mappings, $$', () => {
    const text = `
task_queue: \${QUEUE:-caretaker}
tasks:
  - id: stale
    type: runs.cleanup_stale
    enabled: \${ENABLED:-true}
    schedule: { every: \${EVERY} }
    config:
      table: \${RUNS_TABLE:-job_runs}
      max_retries: \${MAX_RETRIES:-3}
      max_fraction: \${FRACTION:-0.25}
      final_status: { running: "\${FAILED:-failed}", pending: "$$cancelled", submitted: failed }
      columns: { retry_count: retry_count, error: "\${ERROR_COLUMN}" }
`;
    const cfg = parseConfigText(text, 'm.yaml', { EVERY: '10m', MAX_RETRIES: '5', ERROR_COLUMN: 'error_message' });
    const task = cfg.tasks[0]!;
    expect(cfg.task_queue).toBe('caretaker');
    expect(task.enabled).toBe(true);
    expect(task.schedule!.every).toEqual([{ every: 600_000, offset: 0 }]);
    expect(task.config).toMatchObject({ table: 'job_runs', max_retries: 5, max_fraction: 0.25, final_status: { running: 'failed', pending: '$cancelled' } });
    expect(task.config.columns).toMatchObject({ error: 'error_message' });
    // Quoted, a number stays text; unquoted, text that is no number stays text.
    expect(() => parseConfigText(text.replace('${MAX_RETRIES:-3}', '"${MAX_RETRIES:-3}"'), 'm.yaml', { EVERY: '1h', ERROR_COLUMN: 'e' })).toThrow(
      'm.yaml:10: tasks[0].config.max_retries: expected number, got "3"',
    );
  });
});

describe('validation gaps', () => {
  it('refuses a run timeout below the activity timeout, naming both and the fix', async () => {
    const defaulted = await validate(retention('events', '    timeouts: { run: 5m }'));
    expect(defaulted.code).toBe(2);
    expect(defaulted.err).toContain(
      `${defaulted.file}:9: tasks[0].timeouts.run: expected at least activity (30m, the default), got 5m: set run to 30m or more, or activity to 5m or less`,
    );
    const both = await validate(retention('events', '    timeouts: { run: 5m, activity: 10m }'));
    expect(both.err).toContain('tasks[0].timeouts.run: expected at least activity (10m), got 5m: set run to 10m or more, or activity to 5m or less');
    const activity = await validate(retention('events', '    timeouts: { activity: 3h }'));
    expect(activity.err).toContain('tasks[0].timeouts.activity: expected at most run (2h, the default; set it too), got 3h');
    expect((await validate(retention('events', '    timeouts: { run: 5m, activity: 5m }'))).code).toBe(0);
  });

  it('refuses a cron string or calendar that matches no date, saying it never fires', async () => {
    const cron = await validate(retention('events').replace('{ every: 1h }', '{ cron: "0 0 30 2 *" }'));
    expect(cron.code).toBe(2);
    expect(cron.err).toContain(`${cron.file}:5: tasks[0].schedule.cron: expected a cron string that fires, got "0 0 30 2 *": it never fires`);
    const calendar = await validate(retention('events').replace('{ every: 1h }', '{ calendars: [{ month: apr, day_of_month: 31 }] }'));
    expect(calendar.code).toBe(2);
    expect(calendar.err).toContain('tasks[0].schedule.calendars[0]: expected a calendar that fires: it never fires');
    // The 29th of February exists in leap years.
    expect((await validate(retention('events').replace('{ every: 1h }', '{ cron: "0 0 29 2 *" }'))).code).toBe(0);
  });

  it('refuses an alias bomb as bad input: exit 2 with the file and line', async () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [i, name] of [...'bcdefghi'].entries()) levels.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`);
    const { code, err, file } = await validate(`${levels.join('\n')}\ntasks: []\n`);
    expect(code).toBe(2);
    expect(err).toContain(`${file}:6: aliases (*name) expand to more than ${MAX_ALIAS_VALUES} values`);
  });

  it('an anchor may be used more than a hundred times', async () => {
    const tasks = Array.from({ length: 120 }, (_, i) => `  - { id: t${i}, type: db.vacuum, schedule: { every: 1h }, timeouts: *timeouts }`);
    const { code, out } = await validate(`tasks:\n  - { id: base, type: db.vacuum, timeouts: &timeouts { run: 1h, activity: 10m } }\n${tasks.join('\n')}\n`);
    expect(code).toBe(0);
    expect(JSON.parse(out).tasks[120].timeouts).toEqual({ run: 3_600_000, activity: 600_000, heartbeat: 60_000 });
  });
});

describe('parse work is bounded', () => {
  it(`refuses a file over ${MAX_CONFIG_BYTES} bytes before parsing it`, async () => {
    const text = retention('events');
    const { code, err, file } = await validate(`${text}#${'x'.repeat(MAX_CONFIG_BYTES - text.length)}\n`);
    expect(code).toBe(2);
    expect(err).toBe(`caretaker: ${file}: ${MAX_CONFIG_BYTES + 2} bytes: expected a config file of at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`);
  });

  it(`refuses collections nested more than ${MAX_NESTING} deep, with the line`, async () => {
    const { code, err, file } = await validate(`tasks: []\nx: ${'['.repeat(2_000)}${']'.repeat(2_000)}\n`);
    expect(code).toBe(2);
    expect(err).toBe(`caretaker: ${file}:2: collections nested more than ${MAX_NESTING} deep: expected a config nested a few levels`);
  });

  it('parses a large valid file with one large mapping, and still finds a key written twice', async () => {
    const databases = Array.from({ length: 20_000 }, (_, i) => `  db${i}: { timestamps: { zone: UTC } }`);
    const text = `databases:\n${databases.join('\n')}\ntasks:\n  - { id: a, type: db.vacuum, database: db19999, config: { tables: [runs] } }\n`;
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_CONFIG_BYTES);
    const { code, out } = await validate(text);
    expect(code).toBe(0);
    expect(JSON.parse(out).tasks).toHaveLength(1);
    const twice = await validate(text.replace('  db19999:', '  db7:'));
    expect(twice.code).toBe(2);
    expect(twice.err).toContain(`${twice.file}:20001: "db7": expected each key once in a mapping, got it again (first on line 9)`);
  });
});
