import type { z } from 'zod';
import type { PlanRefusal } from './plannable';
import type { PresetRules, RulesForm } from './presets';

/**
 * One entry of the maintenance catalog. Everything Caretaker knows about a task type that is not
 * workflow or activity code lives here: the name operators write in config, the legacy names that
 * resolve to it, the zod schema of its `config` block (with the defaults users expect), and the name of
 * the workflow that runs it.
 */
export interface TaskType<S extends z.ZodType = z.ZodType> {
  /** Canonical `{domain}.{action}` name. */
  readonly type: string;
  /** Legacy names accepted in config and on the command line. */
  readonly aliases: readonly string[];
  readonly description: string;
  /** Workflow function exported from `workflows/index.ts`. */
  readonly workflow: string;
  /**
   * The activity that workflow runs, when it does its work through the batch engine: `caretaker
   * check` runs it under the plan inspector, so it resolves every name exactly as a run does.
   * Unset (health.report's read-only probes, plugin types): the type is validated only.
   */
  readonly engineActivity?: string;
  /** Does a real run change rows or files? Such tasks must honour `dry_run`. */
  readonly destructive: boolean;
  /**
   * The work of this config that cannot run with `approval:` (not table rows picked by key, so it
   * cannot be frozen as a plan; tasks/plannable.ts), or undefined when it can. Checked when the
   * config is loaded: a task's own `approval:` is refused, a global one is not applied to it. The
   * units its activity builds declare the same work (`WorkUnit.unplannable`), which the engine
   * refuses as `PlanNotSupported`; what only the database shows (partitions) only the engine can.
   */
  readonly unplannable?: (config: z.output<S>) => PlanRefusal | undefined;
  readonly configSchema: S;
  /** A preset of `rows.rules` (tasks/presets.ts): the rules this config is, which its activity runs and `caretaker rules` prints. */
  readonly preset?: (config: z.output<S>) => PresetRules;
  /**
   * Not a preset (its activity keeps its own path, so recorded results stay), but its rows as
   * rows.rules rules (tasks/presets.ts `RulesForm`): what `caretaker rules` prints for the task
   * `taskId` (a reason it writes names the task).
   */
  readonly rulesForm?: (config: z.output<S>, taskId: string) => RulesForm;
}

export function defineTask<S extends z.ZodType>(task: TaskType<S>): TaskType<S> {
  return task;
}
