import { z } from 'zod';
import { configWarnings } from '../../config/warnings';
import { type CliContext, table, UsageError } from '../context';
import { scheduleWords } from '../schedule-words';
import { closestMatch } from '../../config/did-you-mean';
import { fieldDocs } from '../field-docs';

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

/** `caretaker tasks [<type>]`: the catalog (or one type, by name or alias) with each config field and its default. */
export async function tasks(ctx: CliContext): Promise<number> {
  const wanted = ctx.args[0];
  const catalog = ctx.catalog.types;
  const one = wanted === undefined ? undefined : ctx.catalog.find(wanted);
  // `tasks retention` or `tasks runs`: every type of that family.
  const family = wanted === undefined || one ? [] : catalog.filter((t) => t.type.startsWith(`${wanted}.`));
  if (wanted !== undefined && !one && family.length === 0) {
    const names = catalog.flatMap((t) => [t.type, ...t.aliases, t.type.split('.')[0]!]);
    const guess = closestMatch(wanted, names);
    throw new UsageError(`no task type "${wanted}"${guess ? `; did you mean "${guess}"?` : ''} (types: ${catalog.map((t) => t.type).join(', ')})`);
  }
  const docs = (one ? [one] : family.length ? family : catalog).map((t) => ({
    type: t.type,
    aliases: t.aliases,
    description: t.description,
    destructive: t.destructive,
    fields: fieldDocs(z.toJSONSchema(t.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
  }));
  ctx.print(docs, () =>
    docs
      .map((d) => {
        const head = `${d.type}${d.aliases.length ? ` (aliases: ${d.aliases.join(', ')})` : ''}\n  ${d.description}`;
        const rows = d.fields.map((f) => [`  ${f.field}`, f.type, f.required ?? '', f.default === undefined ? '' : JSON.stringify(f.default)]);
        return `${head}\n${table([['  FIELD', 'TYPE', 'REQUIRED', 'DEFAULT'], ...rows])}`;
      })
      .join('\n\n'),
  );
  return 0;
}
