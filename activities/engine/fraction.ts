import type { PoolClient } from 'pg';
import { overFraction } from '../errors';
import { onTable } from './failures';
import { col } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import type { FractionTarget, WorkUnit } from './work-unit';

/**
 * max_fraction, checked once before the first batch, per table over every unit of the task
 * (two policies on one table at 45% each are 90% of it) and over child tables too. It runs in the
 * engine's read-only transaction, under the task's lock and statement timeouts.
 */
export async function checkFractions(
  client: PoolClient,
  units: readonly WorkUnit[],
  maxFraction: number,
  known: ReadonlyMap<FractionTarget, number> = new Map(),
): Promise<string[]> {
  // No run can change more than all of a table: `max_fraction: 1` turns the guard (and its scans) off.
  if (maxFraction >= 1) return [];
  const byTable = new Map<string, { targets: FractionTarget[]; labels: Set<string> }>();
  for (const unit of units) {
    for (const target of unit.fraction ?? []) {
      const entry = byTable.get(target.table.sql) ?? { targets: [], labels: new Set<string>() };
      entry.targets.push(target);
      entry.labels.add(unit.label);
      byTable.set(target.table.sql, entry);
    }
  }
  const problems: string[] = [];
  for (const { targets, labels } of byTable.values()) {
    const counted = targets.length === 1 ? known.get(targets[0]!) : undefined;
    const counting =
      counted === undefined
        ? countBoth(client, targets)
        : countTotal(client, targets[0]!, counted, maxFraction).then((total) => ({ matching: counted, total }));
    const { matching, total } = await onTable(targets[0]!.table.name, counting);
    const verbs = [...new Set(targets.map((t) => t.verb))].join(' or ');
    const problem = overFraction(`${[...labels].join(', ')}: would ${verbs}`, matching, total, `rows of ${targets[0]!.table.name}`, maxFraction);
    if (problem) problems.push(problem);
  }
  return problems;
}

async function countBoth(client: PoolClient, targets: readonly FractionTarget[]): Promise<{ matching: number; total: number }> {
  const { rows } = await client.query<{ matching: string; total: string }>(...countQuery(targets));
  return { matching: Number(rows[0]!.matching), total: Number(rows[0]!.total) };
}

/**
 * The table's rows when `matching` (known exactly) is over max_fraction of them, else a lower bound
 * that already proves it is not: the count stops past matching / max_fraction rows, so for a sparse
 * set it reads a small part of the table where `count(*)` reads all of it.
 */
async function countTotal(client: PoolClient, target: FractionTarget, matching: number, maxFraction: number): Promise<number> {
  if (matching === 0) return 0;
  const enough = Math.ceil(matching / maxFraction) + 1;
  const { rows } = await client.query<{ n: string }>(`select count(*) as n from (select from ${target.table.sql} limit $1) s`, [enough]);
  return Number(rows[0]!.n);
}

/** SQL and values that count the rows of one table the targets would change (`matching`) and all of them (`total`). */
function countQuery(targets: readonly FractionTarget[]): [string, unknown[]] {
  const p = new SqlParams();
  const table = targets[0]!.table;
  const through = targets.length === 1 ? targets[0]!.through : undefined;
  if (through) {
    // The parent's key is unique and NOT NULL (activities/sql/keys.ts): the join adds no rows.
    const { parent } = through;
    const keys = parent.columns.map((c, i) => `t.${col(parent.table, c)} as k${i}`).join(', ');
    const on = through.columns.map((c, i) => `t.${col(table, c)} = m.k${i}`).join(' and ');
    const sql = `select count(*) filter (where m.k0 is not null) as matching, count(*) as total
      from ${table.sql} t left join (select ${keys} from ${parent.table.sql} t where ${through.condition(p)}) m on ${on}`;
    return [sql, p.values];
  }
  const any = targets.map((t) => `(${t.condition(p)})`).join(' or ');
  // The conditions go in a WHERE, not a FILTER: there PostgreSQL turns a child table's
  // `(ref) in (select key ...)` (or an orphan rule's NOT EXISTS) into a join; in a FILTER it is a
  // subplan that, once the keys outgrow work_mem, rescans them for every row (minutes instead of
  // seconds at millions of rows).
  return [`select (select count(*) from ${table.sql} t where ${any}) as matching, (select count(*) from ${table.sql}) as total`, p.values];
}
