import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinCatalog, type Catalog, type TaskType } from '../tasks';

/**
 * A module of custom task types (see examples/custom-task): their catalog entries, a factory for
 * their activities, and a module exporting their workflows. Named in CARETAKER_PLUGINS
 * (comma-separated paths), and loaded by the CLI, `npm start` and the worker alike. `Deps` is what
 * the worker passes to `createActivities`: `ActivityDeps` (activities/engine/deps.ts), which config/ does
 * not import.
 */
export interface CaretakerPlugin<Deps = unknown> {
  name: string;
  taskTypes: readonly TaskType[];
  createActivities(deps: Deps): object;
  /** Absolute path of the module exporting the plugin's workflow functions. */
  workflowsPath: string;
}

export function definePlugin<Deps>(plugin: CaretakerPlugin<Deps>): CaretakerPlugin<Deps> {
  return plugin;
}

/** The built-in catalog plus every plugin's task types: what an entry point parses configs with. */
export function catalogWithPlugins(plugins: readonly CaretakerPlugin[]): Catalog {
  return builtinCatalog.with(plugins.flatMap((p) => p.taskTypes));
}

/**
 * Loads the plugins named in `spec` (default: $CARETAKER_PLUGINS). Changes nothing global: pass
 * them to `catalogWithPlugins`, the workflow bundle and the worker.
 */
export async function loadPlugins(spec: string | undefined = process.env.CARETAKER_PLUGINS): Promise<CaretakerPlugin[]> {
  const paths = (spec ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const plugins: CaretakerPlugin[] = [];
  for (const path of paths) {
    const file = resolve(path);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (err) {
      throw new Error(`CARETAKER_PLUGINS: cannot load ${file}: ${(err as Error).message}`);
    }
    // ESM/CommonJS interop may wrap the module's default export once more.
    const candidate = loaded.default as { default?: unknown } | undefined;
    const plugin = (isPlugin(candidate) ? candidate : candidate?.default) as CaretakerPlugin | undefined;
    if (!isPlugin(plugin)) {
      throw new Error(`CARETAKER_PLUGINS: ${file} must default-export definePlugin({ name, taskTypes, createActivities, workflowsPath })`);
    }
    plugins.push(plugin);
  }
  return plugins;
}

function isPlugin(value: unknown): value is CaretakerPlugin {
  const p = value as Partial<CaretakerPlugin> | undefined;
  return Boolean(p && Array.isArray(p.taskTypes) && typeof p.createActivities === 'function' && typeof p.workflowsPath === 'string');
}
