import type { PoolClient } from 'pg';
import { keyIn, keyOrder, type KeyValue, type RowKey } from '../sql/keys';
import { SqlParams } from '../sql/params';

/** Characters of a value a plan's sample shows; longer values are cut. */
export const SAMPLE_VALUE_CHARS = 200;
/** Characters of one sampled row (as JSON) at most: columns past it are left out, and counted. */
export const SAMPLE_ROW_CHARS = 2000;
/** What a sample shows instead of a value whose column (or JSON field) looks secret. */
export const MASKED = '[masked]';

/**
 * Column and JSON field names whose values a sample never shows. Broad on purpose: a plan's sample
 * goes to Temporal's history and to webhooks, and hiding a harmless value costs less than showing a
 * password.
 */
const SECRET_NAME = /pass|pwd|secret|token|key|credential|auth|salt|signature|cookie|private/i;

/**
 * Rows of `key.table` with these keys, every column (as `to_jsonb` gives it), in key order: what a
 * plan shows a reviewer. Bounded by the caller (a few keys) and by `maskRow`.
 */
export async function rowSample(client: PoolClient, key: RowKey, keys: readonly KeyValue[]): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return [];
  const p = new SqlParams();
  const { rows } = await client.query<{ row: Record<string, unknown> }>(
    `select to_jsonb(t) as row from ${key.table.sql} t where ${keyIn(key, keys, p)} order by ${keyOrder(key)}`,
    p.values,
  );
  return rows.map((r) => bounded(maskRow(r.row)));
}

/** The row's columns in order while they fit SAMPLE_ROW_CHARS; the rest as `{ "…": "N more columns" }`. */
function bounded(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const entries = Object.entries(row);
  let chars = 2;
  for (const [i, [name, value]] of entries.entries()) {
    chars += JSON.stringify(name).length + JSON.stringify(value).length + 2;
    if (chars > SAMPLE_ROW_CHARS) return { ...out, '…': `${entries.length - i} more columns` };
    out[name] = value;
  }
  return out;
}

/** A row as a sample shows it: secret-looking columns and JSON fields masked, long values cut. */
export function maskRow(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([name, value]) => [name, shown(name, value)]));
}

function shown(name: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (SECRET_NAME.test(name)) return MASKED;
  if (typeof value === 'string') return cut(value);
  if (typeof value !== 'object') return value;
  const masked = Array.isArray(value) ? value.map((v) => shown('', v)) : maskRow(value as Record<string, unknown>);
  const text = JSON.stringify(masked);
  return text.length > SAMPLE_VALUE_CHARS ? cut(text) : masked;
}

function cut(text: string): string {
  return text.length > SAMPLE_VALUE_CHARS ? `${text.slice(0, SAMPLE_VALUE_CHARS)}… (${text.length} characters)` : text;
}
