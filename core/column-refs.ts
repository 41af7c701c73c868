import { IDENTIFIER } from './identifiers';

/**
 * Where config names a column it may also name a value inside a JSON column or build text from
 * several columns. These are the only shapes accepted: no SQL text from config ever reaches a
 * statement. Every column is checked in the catalog and quoted, JSON keys travel as parameters.
 *
 * - `retry_count`: a column;
 * - `config->>'retry_count'`, `meta->'limits'->>'max'`: a value inside a json/jsonb column;
 * - `generated/apps/{model_slug}/app{app_number}`: a text template over columns (paths).
 */

/** A column, or a value inside a json/jsonb column (`path` non-empty). */
export interface ColumnRef {
  column: string;
  path: string[];
}

/** Literal text and column references, concatenated (NULL when any reference is NULL). */
export type TextTemplate = (string | ColumnRef)[];

const REF = new RegExp(`^(${IDENTIFIER})((?:\\s*->>?\\s*'[^']+')*)$`);
const STEP = /->(>?)\s*'([^']+)'/g;

/** Parses `col` or `col->'a'->>'b'`; null when the text is neither. Only the last step may be `->>`. */
export function parseColumnRef(text: string): ColumnRef | null {
  const m = REF.exec(text.trim());
  if (!m) return null;
  const steps = [...m[2]!.matchAll(STEP)];
  if (steps.slice(0, -1).some((s) => s[1] === '>')) return null;
  return { column: m[1]!, path: steps.map((s) => s[2]!) };
}

/** Parses a template: `{...}` parts are column references, the rest literal text. Null when a part is not a reference. */
export function parseTemplate(text: string): TextTemplate | null {
  if (!text.includes('{')) {
    const ref = parseColumnRef(text);
    return ref ? [ref] : null;
  }
  const parts: TextTemplate = [];
  const re = /\{([^{}]*)\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const ref = parseColumnRef(m[1]!);
    if (!ref) return null;
    parts.push(ref);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  if (parts.some((p) => typeof p === 'string' && /[{}]/.test(p)) || !parts.some((p) => typeof p !== 'string')) return null;
  return parts;
}

/** The columns a set of references reads, for the catalog check. */
export function refColumns(...refs: (ColumnRef | TextTemplate | null | undefined)[]): string[] {
  return refs
    .flatMap((r) => (r === null || r === undefined ? [] : Array.isArray(r) ? r.filter((p): p is ColumnRef => typeof p !== 'string') : [r]))
    .map((r) => r.column);
}

/** How a reference reads in messages: `config->>'retry_count'`. */
export function formatRef(ref: ColumnRef): string {
  return ref.column + ref.path.map((k, i) => `${i === ref.path.length - 1 ? '->>' : '->'}'${k}'`).join('');
}

/** Parses a value the schema already accepted. */
export function ref(text: string): ColumnRef {
  const parsed = parseColumnRef(text);
  if (!parsed) throw new Error(`not a column reference: ${text} (the config schema accepts only references)`);
  return parsed;
}

export function template(text: string): TextTemplate {
  const parsed = parseTemplate(text);
  if (!parsed) throw new Error(`not a text template: ${text} (the config schema accepts only templates)`);
  return parsed;
}

/**
 * The value an assignment writes: a literal (cast to the column's type; inside JSON, as JSON), NULL,
 * `{ now: true }` (the database clock), or `{ increment: N }` (NULL counts as 0). The config schema
 * (tasks/column-refs.ts) accepts exactly these.
 */
export type AssignedValue = string | number | boolean | null | { now: true } | { increment: number };

/** `{ started_at: null, broker_task_id: null, "config->>'retries'": { increment: 1 }, finished_at: { now: true } }` */
export type Assignments = Record<string, AssignedValue>;

/** A plain column as a reference. */
export const whole = (column: string): ColumnRef => ({ column, path: [] });

/** The columns that identify a row: one column, or a list for a composite key (the config field: tasks/fields.ts keyColumn). */
export type KeyColumn = string | string[];
