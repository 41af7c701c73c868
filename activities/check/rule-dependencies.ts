import type { PoolClient } from 'pg';
import { deletesFrom, oidReader, refusingPairs, type RuleTables } from '../sql/refusing-keys';
import { warning, type Finding } from './findings';

export type { RuleTables };

const ACTIONS: Record<string, string> = { c: 'ON DELETE CASCADE', n: 'ON DELETE SET NULL', d: 'ON DELETE SET DEFAULT' };

/** Foreign keys that change the referencing table's rows when a row of `$1` is deleted. */
const ACTING_FOREIGN_KEYS = `
  select c.conname as name, c.conrelid::int as child, c.conrelid::regclass::text as "childName", c.confdeltype as action
  from pg_constraint c
  where c.contype = 'f' and c.confrelid = $1 and c.confdeltype in ('c', 'n', 'd')`;

/** The tables a rule reads: its own and its relations'. */
function reads(rule: RuleTables): string[] {
  return [
    rule.table,
    ...(rule.missing_parent ? [rule.missing_parent.table] : []),
    ...(rule.parent ? [rule.parent.table] : []),
    ...[...(rule.unreferenced_by ?? []), ...(rule.referenced_by ?? [])].map((r) => r.table),
  ];
}

/**
 * Each refusing pair (`refusingPairs`) as a warning: the real run clears the references first, a
 * dry run (each rule rolled back) cannot show that.
 */
export async function refusingDependencies(client: PoolClient, rules: readonly RuleTables[], at: string): Promise<Finding[]> {
  return (await refusingPairs(client, rules, at)).map((p) =>
    warning(
      `${at}: config.rules[${p.later}] (${rules[p.later]!.name}) ${rules[p.later]!.archive ? 'archives' : 'deletes'} rows of ${p.parent} that ${p.child} references ` +
        `(foreign key ${p.constraint}, ${p.action}); rules[${p.earlier}] (${rules[p.earlier]!.name}) ${p.clears.verb} ${p.clears.what} first: ` +
        `a dry run (each rule rolled back) cannot show that, and fails with a foreign-key violation (23503) where a row of ${p.parent} is still referenced`,
    ),
  );
}

/**
 * A later rule that reads a table an earlier rule changes only through a foreign key's ON DELETE
 * action (Procrastinate's pruned workers set their jobs' worker_id to NULL): `validate` cannot see
 * it (it compares the tables rules name), the catalog can. Each such pair as a warning: the real
 * run sees those changes, a dry run (each rule rolled back) cannot show them.
 */
export async function foreignKeyDependencies(client: PoolClient, rules: readonly RuleTables[], at: string): Promise<Finding[]> {
  const oid = oidReader(client, at);
  const findings: Finding[] = [];
  for (const [i, earlier] of rules.entries()) {
    for (const deleted of new Set(deletesFrom(earlier))) {
      const parent = await oid(deleted);
      if (parent === undefined) continue;
      const fks = (await client.query<{ name: string; child: number; childName: string; action: string }>(ACTING_FOREIGN_KEYS, [parent])).rows;
      for (const fk of fks) {
        for (const [j, later] of rules.entries()) {
          if (j <= i) continue;
          const read = await Promise.all(reads(later).map(oid));
          if (!read.includes(fk.child)) continue;
          findings.push(
            warning(
              `${at}: config.rules[${j}] (${later.name}) reads ${fk.childName}, which rules[${i}] (${earlier.name}) changes through its foreign key ` +
                `${fk.name} (${ACTIONS[fk.action]}) when it deletes from ${deleted}: the real run sees those changes, a dry run (each rule rolled back) cannot show them`,
            ),
          );
        }
      }
    }
  }
  return findings;
}
