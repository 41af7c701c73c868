import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { asRowsRulesConfig } from '../../tasks/presets';
import { type CliContext, UsageError } from '../context';

/** The task's keys as the file wrote them (schedule, database, ...), `${VAR}` placeholders kept, without id, type and config. */
async function writtenKeys(file: string, id: string): Promise<Record<string, unknown>> {
  const doc = parse(await readFile(file, 'utf8'), { maxAliasCount: -1 }) as { tasks?: Record<string, unknown>[] };
  const written = doc.tasks?.find((t) => t?.id === id) ?? {};
  return Object.fromEntries(Object.entries(written).filter(([k]) => !['id', 'type', 'config'].includes(k)));
}

/**
 * `caretaker rules <task-id>`: a task of a preset type (status.reset, runs.cleanup_expired,
 * sync.trigger, retention.enforce) as the `rows.rules` task it runs (and, as comments, what the
 * type does that no rule says: retention's whole partitions), in YAML to paste in its place and edit; a
 * `rows.rules` task as it is.
 */
export async function rules(ctx: CliContext): Promise<number> {
  const id = ctx.arg(0, 'task-id');
  const task = await ctx.task(id);
  const type = ctx.catalog.find(task.type)!;
  const config = task.type === 'rows.rules' ? task.rawConfig : asRowsRulesConfig(type, task.config, task.rawConfig);
  if (!config) {
    const presets = ctx.catalog.types.filter((t) => t.preset).map((t) => t.type);
    throw new UsageError(`task ${id} is ${task.type}, which is not a preset of rows.rules (the presets: ${presets.join(', ')}, and rows.rules itself)`);
  }
  const entry = { id, type: 'rows.rules', ...(await writtenKeys(ctx.configFile, id)), config };
  const notes = task.type === 'rows.rules' ? [] : (type.presetNotes?.(task.config) ?? []);
  ctx.print(
    entry,
    () =>
      `# ${id} (${task.type}) is these rows.rules rules: paste this task in its place to edit them.\n` +
      notes.map((n) => `# ${n}\n`).join('') +
      stringify([entry], { lineWidth: 0 }),
  );
  return 0;
}
