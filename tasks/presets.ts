import { z } from 'zod';
import { formatDuration } from '../core/duration';
import { rowsRulesConfig, type RowRule } from './rows-rules';
import type { SqlText } from './sql-text';
import type { TaskType } from './types';

/**
 * Task types that are presets of `rows.rules` (issue 18): a pure function from the type's parsed
 * config to the rules it is (`TaskType.preset`). Its activity runs exactly those rules through
 * `runRules` (activities/rows/rules.ts), and `caretaker rules <task>` prints them as a `rows.rules`
 * task to paste and edit (`asRowsRulesConfig`).
 */
export interface PresetRules {
  rules: RowRule[];
  /** The SQL text the rules hold, built with its checked tree (tasks/sql-build.ts): a run looks it up and never loads the parser. */
  texts: SqlText[];
  /** rows.rules settings the type fixes, whatever its config says (sync.trigger: every matching row gets its workflow). */
  fixed?: { max_rows_per_run: null; max_fraction: number };
}

/** A parsed rule as a user writes it: durations back as text (`4h`), everything else as it is, in the rule's own order. */
function ruleInput(rule: RowRule): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(rule).map(([field, value]) => {
      if (field === 'older_than' && rule.older_than?.age !== undefined) return [field, { ...rule.older_than, age: formatDuration(rule.older_than.age) }];
      const timeout = rule.start_workflow?.execution_timeout;
      if (field === 'start_workflow' && timeout !== undefined) return [field, { ...rule.start_workflow, execution_timeout: formatDuration(timeout) }];
      return [field, value];
    }),
  );
}

/** The batch size a config schema starts at when the config says none (its `sqlTaskFields` default). */
function defaultBatchStart(schema: z.ZodType): number | undefined {
  const field = schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>).batch_size : undefined;
  const parsed = field?.safeParse(undefined);
  return parsed?.success && typeof parsed.data === 'object' && parsed.data !== null ? (parsed.data as { start?: number }).start : undefined;
}

/** The rows.rules settings a task's config wrote (`raw`, rules aside), and its type's default batch size where rows.rules' differs. */
function engineSettings(type: TaskType, raw: Record<string, unknown>): Record<string, unknown> {
  const fields = rowsRulesConfig.shape as Record<string, unknown>;
  const shared = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'rules' && k in fields));
  const start = defaultBatchStart(type.configSchema);
  const batch = 'batch_size' in raw || start === undefined || start === defaultBatchStart(rowsRulesConfig) ? {} : { batch_size: { start } };
  return { ...batch, ...shared };
}

/**
 * The `rows.rules` config a preset task is, as YAML input: the rules, the engine settings its
 * config wrote (`raw`: batch size, read-ahead, throttle, details, dry run, SQL limits, timestamps,
 * safety limits; the rest is in the rules), the settings the type fixes, and the type's own
 * default batch size where rows.rules' differs. Undefined for a type that is not a preset.
 */
export function asRowsRulesConfig(type: TaskType, config: unknown, raw: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!type.preset) return undefined;
  const preset = type.preset(config);
  return { ...engineSettings(type, raw), ...preset.fixed, rules: preset.rules.map(ruleInput) };
}

/**
 * The rows.rules form of a type whose activity keeps its own path (runs.cleanup_stale,
 * extraction.queue_orphans, assets.detect_orphans: their recorded results and histories stay as
 * they are): the rules `caretaker rules` prints, which change the same rows to the same values
 * (test/presets.test.ts runs both). Its counts and details are the rules' own.
 */
export interface RulesForm {
  rules: RowRule[];
  /** The config's rules that are no row rules (assets.detect_orphans' file kinds), by index: they stay a task of the type. */
  kept?: number[];
}

/** A name unique among `taken` (`name (2)`, ...): rows.rules names each rule once. */
export function uniqueName(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n++) unique = `${name} (${n})`;
  taken.add(unique);
  return unique;
}

/**
 * What `caretaker rules` prints for a task of a type with a rows.rules form: the rows.rules config
 * (as `asRowsRulesConfig` builds it; undefined when the config has no row rule) and, when some of
 * its rules are no row rules, its own config with only those (`kept`). Undefined for other types.
 */
export function rulesFormConfig(
  type: TaskType,
  config: unknown,
  raw: Record<string, unknown>,
  taskId: string,
): { rules?: Record<string, unknown>; kept?: Record<string, unknown> } | undefined {
  if (!type.rulesForm) return undefined;
  const form = type.rulesForm(config, taskId);
  const settings = engineSettings(type, raw);
  const rawRules = Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  return {
    ...(form.rules.length > 0 && { rules: { ...settings, rules: form.rules.map(ruleInput) } }),
    ...(form.kept && form.kept.length > 0 && { kept: { ...raw, rules: form.kept.map((i) => rawRules[i]) } }),
  };
}
