import { z } from 'zod';
import { catalog, findTaskType } from '../../tasks';
import { configWarnings } from '../../config/warnings';
import { type CliContext, table, UsageError } from '../context';
import { scheduleWords } from '../schedule-words';
import { closestMatch } from '../did-you-mean';

/** `caretaker validate`: parse and check the config file without touching Temporal. */
export async function validate(ctx: CliContext): Promise<number> {
  const cfg = await ctx.config();
  const warnings = configWarnings(cfg);
  ctx.print({ ok: true, file: ctx.configFile, tasks: cfg.tasks, warnings }, () => {
    const rows = cfg.tasks.map((t) => [t.id, t.type, t.enabled ? scheduleWords(t.schedule) : 'disabled', t.database]);
    const warned = warnings.map((w) => `warning: ${w}`).join('\n');
    return `${ctx.configFile}: ok, ${cfg.tasks.length} task(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}\n${table([['ID', 'TYPE', 'SCHEDULE', 'DATABASE'], ...rows])}${warned ? `\n${warned}` : ''}`;
  });
  return 0;
}

interface FieldDoc {
  field: string;
  type: string;
  default?: unknown;
}

/** Flattens a task's config JSON Schema into one line per field with its default. */
function fieldsOf(schema: Record<string, unknown>, prefix = ''): FieldDoc[] {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).flatMap(([name, prop]) => {
    const field = `${prefix}${name}`;
    if (prop.type === 'object' && prop.properties) return fieldsOf(prop, `${field}.`);
    const types = prop.anyOf ? (prop.anyOf as { type?: string }[]).map((t) => t.type ?? 'value').join('|') : String(prop.type ?? 'value');
    const doc: FieldDoc = { field, type: required.has(name) && prop.default === undefined ? `${types} (required)` : types };
    if (prop.default !== undefined) doc.default = prop.default;
    return [doc];
  });
}

/** `caretaker tasks [<type>]`: the catalog (or one type, by name or alias) with each config field and its default. */
export async function tasks(ctx: CliContext): Promise<number> {
  const wanted = ctx.args[0];
  const one = wanted === undefined ? undefined : findTaskType(wanted);
  if (wanted !== undefined && !one) {
    const names = catalog().flatMap((t) => [t.type, ...t.aliases]);
    const guess = closestMatch(wanted, names);
    throw new UsageError(`no task type "${wanted}"${guess ? `; did you mean "${guess}"?` : ''} (types: ${catalog().map((t) => t.type).join(', ')})`);
  }
  const docs = (one ? [one] : catalog()).map((t) => ({
    type: t.type,
    aliases: t.aliases,
    description: t.description,
    destructive: t.destructive,
    fields: fieldsOf(z.toJSONSchema(t.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
  }));
  ctx.print(docs, () =>
    docs
      .map((d) => {
        const head = `${d.type}${d.aliases.length ? ` (aliases: ${d.aliases.join(', ')})` : ''}\n  ${d.description}`;
        const rows = d.fields.map((f) => [`  ${f.field}`, f.type, f.default === undefined ? '' : JSON.stringify(f.default)]);
        return `${head}\n${table([['  FIELD', 'TYPE', 'DEFAULT'], ...rows])}`;
      })
      .join('\n\n'),
  );
  return 0;
}
