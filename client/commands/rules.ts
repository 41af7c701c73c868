import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { asRowsRulesConfig, rulesFormConfig } from '../../tasks/presets';
import { type CliContext, UsageError } from '../context';

/** The task's keys as the file wrote them (schedule, database, ...), `${VAR}` placeholders kept, without id, type and config. */
async function writtenKeys(file: string, id: string): Promise<Record<string, unknown>> {
  const doc = parse(await readFile(file, 'utf8'), { maxAliasCount: -1 }) as { tasks?: Record<string, unknown>[] };
  const written = doc.tasks?.find((t) => t?.id === id) ?? {};
  return Object.fromEntries(Object.entries(written).filter(([k]) => !['id', 'type', 'config'].includes(k)));
}

/**
 * `caretaker rules <task-id>`: a task of a preset type (status.reset, runs.cleanup_expired,
 * sync.trigger) as the `rows.rules` task it runs, in YAML to paste in its place and edit; a
 * `rows.rules` task as it is. A type with a rows.rules form (runs.cleanup_stale,
 * extraction.queue_orphans, assets.detect_orphans) prints the rules that change the same rows; an
 * assets.detect_orphans task's file rules, which no row rule can say, stay a task of its own
 * (`<id>-files`), printed after the rules.
 */
export async function rules(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'task-id');
  const task = await ctx.task(id);
  const type = ctx.catalog.find(task.type)!;
  const form = rulesFormConfig(type, task.config, task.rawConfig, id);
  const config = task.type === 'rows.rules' ? task.rawConfig : (asRowsRulesConfig(type, task.config, task.rawConfig) ?? form?.rules);
  if (!config) {
    if (form) throw new UsageError(`task ${id} is ${task.type} with only file rules (missing_file, orphan_file), which no rows.rules rule can say`);
    const presets = ctx.catalog.types.filter((t) => t.preset).map((t) => t.type);
    const forms = ctx.catalog.types.filter((t) => t.rulesForm).map((t) => t.type);
    throw new UsageError(
      `task ${id} is ${task.type}, which is not a preset of rows.rules (the presets: ${presets.join(', ')}, and rows.rules itself; printed as rules too: ${forms.join(', ')})`,
    );
  }
  const written = await writtenKeys(ctx.configFile, id);
  const entries = [{ id, type: 'rows.rules', ...written, config }];
  if (form?.kept) entries.push({ id: `${id}-files`, type: task.type, ...written, config: form.kept });
  const kept = form?.kept ? `; its file rules stay ${task.type} as ${id}-files` : '';
  ctx.print(entries.length === 1 ? entries[0] : entries, () => {
    const head = `# ${id} (${task.type}) is these rows.rules rules${kept}: paste ${entries.length === 1 ? 'this task' : 'these tasks'} in its place to edit them.`;
    return `${head}\n${stringify(entries, { lineWidth: 0 })}`;
  });
  return 0;
}
