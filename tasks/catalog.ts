import type { TaskType } from './types';

/**
 * The task types a config may name: the built-ins plus those of the plugins an entry point loaded
 * (`catalogWithPlugins`, config/plugins.ts). A value, built once at the edge (CLI, worker, `npm
 * start`) and passed to whatever parses or lists task types, so what a config means never depends
 * on which module ran first.
 */
export class Catalog {
  private readonly byName = new Map<string, TaskType>();

  readonly types: readonly TaskType[];

  /** Refuses two types that share a name or alias; the same type listed twice counts once. */
  constructor(types: readonly TaskType[]) {
    this.types = [...new Set(types)];
    for (const task of this.types) {
      for (const name of [task.type, ...task.aliases]) {
        const taken = this.byName.get(name);
        if (taken)
          throw new Error(`task type name "${name}" of ${task.type} is already taken by ${taken.type}: expected each type and alias once in the catalog`);
        this.byName.set(name, task);
      }
    }
  }

  /** This catalog and `more` (plugins' types); refuses a name that is already taken. */
  with(more: readonly TaskType[]): Catalog {
    return more.every((t) => this.types.includes(t)) ? this : new Catalog([...this.types, ...more]);
  }

  /** A canonical type or a legacy alias; undefined when unknown. */
  find(name: string): TaskType | undefined {
    return this.byName.get(name);
  }

  /** Every canonical name and alias, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
