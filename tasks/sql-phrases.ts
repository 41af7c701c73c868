import { parseColumnRef } from '../core/column-refs';
import { quoteIdent } from '../core/identifiers';

/**
 * SQL text for the rules `caretaker rules` prints for a type whose activity keeps its own path
 * (runs.cleanup_stale, extraction.queue_orphans, assets.detect_orphans; tasks/presets.ts
 * `RulesForm`): plain text a user reads and edits, which rows.rules parses like any rule's text.
 * Each phrase says in SQL text what the type's activity writes with parameters; test/presets.test.ts
 * runs both on the same rows. Pure.
 */

/** `'text'`, quotes doubled (standard_conforming_strings: a backslash is an ordinary character). */
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A column or a JSON path (`meta->>'retries'`) as SQL text: `"status"`, `("meta"->>'retries')`. */
export function refSql(reference: string): string {
  const r = parseColumnRef(reference);
  if (!r) throw new Error(`not a column reference: ${reference} (the config schema accepts only references)`);
  if (r.path.length === 0) return quoteIdent(r.column);
  return `(${quoteIdent(r.column)}${r.path.map((k, i) => `${i === r.path.length - 1 ? '->>' : '->'}${literal(k)}`).join('')})`;
}

/** Whether a reference is a JSON path (its value reads as text). */
export const isJsonPath = (reference: string): boolean => (parseColumnRef(reference)?.path.length ?? 0) > 0;

/** `interval '1 hour 30 minutes'`: an exact duration (hours, never calendar days), as `ms * interval '1 millisecond'` is. */
export function intervalSql(ms: number): string {
  const units: [string, number][] = [
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
    ['millisecond', 1],
  ];
  let rest = ms;
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return `interval '${parts.join(' ') || '0 seconds'}'`;
}
