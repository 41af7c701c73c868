import type { PoolClient } from 'pg';
import { overFraction } from '../errors';
import { SqlParams } from '../sql/params';
import type { FractionTarget, WorkUnit } from './work-unit';

/**
 * max_fraction, checked once before the first batch, per table over every unit of the task
 * (two policies on one table at 45% each are 90% of it) and over child tables too. It runs in the
 * engine's read-only transaction, under the task's lock and statement timeouts.
 */
export async function checkFractions(client: PoolClient, units: readonly WorkUnit[], maxFraction: number): Promise<string[]> {
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
    const p = new SqlParams();
    const any = targets.map((t) => `(${t.condition(p)})`).join(' or ');
    const { rows } = await client.query<{ matching: string; total: string }>(
      `select count(*) filter (where ${any}) as matching, count(*) as total from ${targets[0]!.table.sql} t`,
      p.values,
    );
    const verbs = [...new Set(targets.map((t) => t.verb))].join(' or ');
    const problem = overFraction(`${[...labels].join(', ')}: would ${verbs}`, Number(rows[0]!.matching), Number(rows[0]!.total), `rows of ${targets[0]!.table.name}`, maxFraction);
    if (problem) problems.push(problem);
  }
  return problems;
}
