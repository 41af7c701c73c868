import type { PoolClient } from 'pg';
import type { RowRule } from '../../tasks/rows-rules';
import { configError } from '../../core/errors';
import type { ResolvedTable } from '../sql/identifiers';
import type { RowKey } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import { keepNewestCondition, keepTotalSizeCondition, leftBy, type KeepScope } from './keep-bounds';
import { filterConditions, type RowSet } from './row-sets';

/**
 * A rule's conditions on the rules compiled before it and on the rows it keeps (rules.ts compiles
 * them into its row set): `not_matched_by`, the own conditions of the earlier rules it names, and
 * the caps `keep_newest` / `keep_total_size` (their boundaries: keep-bounds.ts), counted among the
 * rows of the rule's `match` that those earlier rules leave.
 */

/** A rule compiled before the one at hand: its row set and its own conditions (without what it leaves to rules before it). */
export interface CompiledRule {
  set: RowSet;
  own: (p: SqlParams) => string[];
}

/** The own conditions of the earlier rules `not_matched_by` names, each on the rule's table. */
export function notMatchedBy(rule: RowRule, earlier: readonly CompiledRule[], table: ResolvedTable, at: string): ((p: SqlParams) => string[])[] {
  return (rule.not_matched_by ?? []).map((name, j) => {
    const found = earlier.find((e) => e.set.label === name);
    if (!found) throw configError(`${at}.not_matched_by[${j}]: expected the name of an earlier rule of this task, got "${name}"`);
    if (found.set.key.table.oid !== table.oid) {
      throw configError(`${at}.not_matched_by[${j}]: expected a rule on ${table.name}, got "${name}", a rule on ${found.set.key.table.name}`);
    }
    return found.own;
  });
}

/**
 * `keep_newest` / `keep_total_size` (keep-bounds.ts): counted among the rows of the rule's `match`
 * that the `not_matched_by` rules leave; the size cap's boundary row is read here, once.
 */
export async function keepCondition(
  client: PoolClient,
  key: RowKey,
  rule: RowRule,
  before: ((p: SqlParams) => string[])[],
): Promise<((p: SqlParams) => string) | undefined> {
  const scope: KeepScope = (p) => [...filterConditions(key.table, rule.match ?? {}, p, 's'), ...before.map((e) => leftBy(key, e, p))];
  const newest = rule.keep_newest;
  if (newest) return (p) => keepNewestCondition(key, newest.order_by, newest.count, scope, p);
  if (rule.keep_total_size) return keepTotalSizeCondition(client, key, rule.keep_total_size, scope);
  return undefined;
}
