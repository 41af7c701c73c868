import type { PoolClient } from 'pg';
import type { RowRule, RuleValue } from '../../tasks/rows-rules';
import { configError } from '../../core/errors';
import { col, colType, type ResolvedTable } from '../sql/identifiers';
import { keyColumns, resolveKeyed, type RowKey } from '../sql/keys';
import type { SqlParams } from '../sql/params';
import { checkWrittenZones, ruleTexts, type ParseText } from './rule-text';
import type { TimestampSettings } from '../../core/time-zones';

/**
 * Two rule fields that say "one at a time" (Solid Queue's BlockedExecution.unblock: per concurrency
 * key, release the first blocked execution if its semaphore has a slot): `first_per`, a condition, and
 * `acquire`, a slot taken in another table in the batch's transaction before the row is acted on.
 */

type Condition = (p: SqlParams) => string;

/**
 * `first_per`: the row is the first of its group in the whole table: no row with equal `columns`
 * comes before it by (`order_by`, then the key). Columns are NOT NULL so the order is total; a row
 * with a NULL group column is in no group and never picked.
 */
export function firstPerCondition(key: RowKey, cfg: NonNullable<RowRule['first_per']>, at: string): Condition {
  const table = key.table;
  const groups = keyColumns(cfg.columns);
  const order = [...cfg.order_by, ...key.columns.filter((c) => !cfg.order_by.includes(c))];
  for (const c of [...groups, ...order]) {
    if (!table.columns.has(c))
      throw configError(`${at}.first_per: column "${c}" does not exist in table ${table.name} (columns: ${table.allColumns.join(', ')})`);
  }
  const nullable = cfg.order_by.filter((c) => !table.columns.get(c)!.notNull);
  if (nullable.length > 0) {
    throw configError(
      `${at}.first_per.order_by: column ${nullable.map((c) => `"${c}"`).join(', ')} of ${table.name} allows NULL; order by NOT NULL columns (a NULL has no place in the order)`,
    );
  }
  const same = groups.map((g) => `o.${col(table, g)} = t.${col(table, g)}`);
  const tuple = (alias: string) => `(${order.map((c) => `${alias}.${col(table, c)}`).join(', ')})`;
  const notNull = groups.map((g) => `t.${col(table, g)} is not null`);
  return () => [...notNull, `not exists (select 1 from ${table.sql} o where ${[...same, `${tuple('o')} < ${tuple('t')}`].join(' and ')})`].join(' and ');
}

/** Why a `first_per` rule is read ahead and never walked: once a batch acts on a group's first row, the next row is first. */
export const FIRST_PER_AT_START = 'first_per acts only on the rows first in their group when the rule starts';

/** A common table expression that takes the picked rows' slots (`cte`, named `took`), and the condition that keeps the rows whose slot it took. */
export type Acquire = (p: SqlParams, picked: string) => { cte: string; holds: string };

/** A value written into the slot table: literals as parameters of the column's type, strings as SQL text over `texts`' table. */
function slotValue(slots: ResolvedTable, column: string, value: RuleValue, text: (source: string, at: string) => Condition, at: string): Condition {
  const type = colType(slots, column);
  if (value === null) return () => `NULL::${type}`;
  if (typeof value === 'string') {
    const render = text(value, `${at}.${column}`);
    return (p) => `(${render(p)})::${type}`;
  }
  const literal = typeof value === 'object' ? value.value : value;
  return (p) => (literal === null ? `NULL::${type}` : p.add(String(literal), type));
}

/**
 * `acquire`, checked in the catalog: the slot table's `parent_column` is a unique NOT NULL column (the
 * ON CONFLICT target), `insert` texts read the rule's row, `when` and `update` the slot row. Returns
 * the condition the rule's rows must meet (no slot, or one whose `when` holds: what a dry run
 * predicts) and the statement a real run takes the slots with (insert ... on conflict do update ...
 * where `when` returning the slots taken; row-sets.ts acts on the rows that took theirs).
 */
export async function resolveAcquire(
  client: PoolClient,
  table: ResolvedTable,
  cfg: NonNullable<RowRule['acquire']>,
  at: string,
  parse: ParseText,
  zones: TimestampSettings,
): Promise<{ condition: Condition; acquire: Acquire }> {
  const where = `${at}.acquire`;
  if (!table.columns.has(cfg.column)) {
    throw configError(`${where}: column "${cfg.column}" does not exist in table ${table.name} (columns: ${table.allColumns.join(', ')})`);
  }
  const slotKey = await resolveKeyed(
    client,
    cfg.table,
    cfg.parent_column,
    [...Object.keys(cfg.insert), ...Object.keys(cfg.update ?? {})],
    where,
    'parent_column',
  );
  const slots = slotKey.table;
  checkWrittenZones(slots, cfg.insert, zones, parse, `${where}.insert`);
  checkWrittenZones(slots, cfg.update, zones, parse, `${where}.update`);
  const rowTexts = ruleTexts(table, where, 't', parse);
  const slotTexts = ruleTexts(slots, where, 's', parse);
  const inserted = Object.entries(cfg.insert).map(([c, v]) => ({ column: c, value: slotValue(slots, c, v, rowTexts.value, `${where}.insert`) }));
  const updated = Object.entries(cfg.update ?? {}).map(([c, v]) => ({ column: c, value: slotValue(slots, c, v, slotTexts.value, `${where}.update`) }));
  const when = cfg.when === undefined ? undefined : slotTexts.condition(cfg.when, `${where}.when`);
  await rowTexts.checkFunctions(client);
  await slotTexts.checkFunctions(client);
  const pc = col(slots, cfg.parent_column);
  const ref = `t.${col(table, cfg.column)}`;
  return {
    // The rows a run can take a slot for, as the data stands: no slot row, or one whose `when` holds.
    condition: (p) => `not exists (select 1 from ${slots.sql} s where s.${pc} = ${ref}${when ? ` and not coalesce((${when(p)}), false)` : ''})`,
    acquire: (p, picked) => {
      const into = [pc, ...inserted.map((v) => col(slots, v.column))].join(', ');
      const values = [ref, ...inserted.map((v) => v.value(p))].join(', ');
      const onConflict =
        updated.length === 0
          ? 'do nothing'
          : `do update set ${updated.map((v) => `${col(slots, v.column)} = ${v.value(p)}`).join(', ')}${when ? ` where ${when(p)}` : ''}`;
      return {
        cte: `took as (insert into ${slots.sql} as s (${into}) select ${values} from ${table.sql} t where ${picked} on conflict (${pc}) ${onConflict} returning s.${pc})`,
        holds: `${ref} in (select took.${pc} from took)`,
      };
    },
  };
}
