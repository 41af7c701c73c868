import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities';
import { ConfigError, parseConfigText } from '../config/load';
import { catalogWithPlugins, loadPlugins } from '../config/plugins';
import { builtinCatalog, builtinTaskTypes, Catalog, defineTask } from '../tasks';
import { caretaker } from './cli';

// The catalog is a value: built-ins, plus the plugins an entry point loaded, passed to the parser.
const PLUGIN = join(__dirname, '..', 'examples', 'custom-task', 'index.ts');
const dir = mkdtempSync(join(tmpdir(), 'caretaker-catalog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leases = JSON.stringify({ tasks: [{ id: 'leases', type: 'queue.release_leases', config: { table: 'jobs' } }] });
const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('the task catalog as a value', () => {
  it('refuses two types sharing a name or an alias, and counts the same type listed twice once', () => {
    const twin = defineTask({ ...builtinTaskTypes[0]!, type: 'other.type', aliases: [builtinTaskTypes[0]!.type] });
    expect(() => builtinCatalog.with([twin])).toThrow(
      `task type name "runs.cleanup_stale" of other.type is already taken by runs.cleanup_stale: expected each type and alias once in the catalog`,
    );
    expect(new Catalog([...builtinTaskTypes, ...builtinTaskTypes]).types).toEqual(builtinTaskTypes);
    expect(builtinCatalog.with(builtinTaskTypes)).toBe(builtinCatalog);
  });

  it('parses a plugin type only with the catalog that holds it, whatever was loaded before', async () => {
    const before = problems(() => parseConfigText(leases, 'm.yaml', {}));
    const plugins = await loadPlugins(PLUGIN);
    const catalog = catalogWithPlugins(plugins);
    // Loading the plugin changed nothing global: the built-in catalog still lacks its type.
    expect(builtinCatalog.find('queue.release_leases')).toBeUndefined();
    expect(problems(() => parseConfigText(leases, 'm.yaml', {}))).toEqual(before);
    expect(before).toEqual([`m.yaml:1: tasks[0].type: expected one of ${builtinCatalog.names().join(', ')}; got "queue.release_leases"`]);

    const task = parseConfigText(leases, 'm.yaml', {}, catalog).tasks[0]!;
    expect(task).toMatchObject({ type: 'queue.release_leases', workflow: 'queueReleaseLeasesWorkflow', config: { table: 'jobs', lease: 4 * 3_600_000 } });
    expect(catalogWithPlugins([...plugins, ...plugins])).toEqual(catalog);
  });

  it('records the workflow of each task from its catalog entry, aliases resolved', () => {
    const text = JSON.stringify({ tasks: [{ id: 'old-name', type: 'stale_run.cleanup', config: { table: 'job_runs', max_retries: 0 } }] });
    expect(parseConfigText(text, 'm.yaml', {}).tasks[0]).toMatchObject({ type: 'runs.cleanup_stale', workflow: 'runsCleanupStaleWorkflow' });
  });

  it("names, for each built-in that runs through the engine, one of Caretaker's activities", () => {
    const activities = createActivities({ databases: { get: () => Promise.reject(new Error('no database')) as never, names: () => [] } });
    const named = builtinTaskTypes.flatMap((t) => (t.engineActivity === undefined ? [] : [t.engineActivity]));
    expect(named.filter((name) => !Object.hasOwn(activities, name))).toEqual([]);
    expect(builtinTaskTypes.filter((t) => t.engineActivity === undefined).map((t) => t.type)).toEqual(['health.report']);
  });
});

describe('caretaker and CARETAKER_PLUGINS', () => {
  it('knows a plugin type only in the invocation that loaded the plugin', async () => {
    const file = join(dir, 'leases.yaml');
    writeFileSync(file, leases);
    const saved = process.env.CARETAKER_PLUGINS;
    try {
      process.env.CARETAKER_PLUGINS = PLUGIN;
      expect((await caretaker('validate', '--file', file)).code).toBe(0);
      delete process.env.CARETAKER_PLUGINS;
      const without = await caretaker('validate', '--file', file);
      expect(without.code).toBe(2);
      expect(without.err).toContain('tasks[0].type: expected one of');
    } finally {
      if (saved === undefined) delete process.env.CARETAKER_PLUGINS;
      else process.env.CARETAKER_PLUGINS = saved;
    }
  });
});
