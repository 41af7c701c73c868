import type { PoolClient } from 'pg';
import { resolveReadable } from '../sql/identifiers';
import { warning, type Finding } from './findings';

/** What `caretaker check` reads of a `rows.rules` rule to follow its deletes through foreign keys (tasks/rows-rules.ts). */
export interface RuleTables {
  name: string;
  table: string;
  delete?: { children?: { table: string; update?: unknown }[] };
  archive?: { table: string };
  cases?: { delete?: { children?: { table: string; update?: unknown }[] } }[];
  missing_parent?: { table: string };
  unreferenced_by?: { table: string }[];
  referenced_by?: { table: string }[];
  parent?: { table: string };
}

const ACTIONS: Record<string, string> = { c: 'ON DELETE CASCADE', n: 'ON DELETE SET NULL', d: 'ON DELETE SET DEFAULT' };

/** Foreign keys that change the referencing table's rows when a row of `$1` is deleted. */
const ACTING_FOREIGN_KEYS = `
  select c.conname as name, c.conrelid::int as child, c.conrelid::regclass::text as "childName", c.confdeltype as action
  from pg_constraint c
  where c.contype = 'f' and c.confrelid = $1 and c.confdeltype in ('c', 'n', 'd')`;

/** The tables a rule deletes rows from: its own (delete, archive, a deleting case) and the children it deletes. */
function deletesFrom(rule: RuleTables): string[] {
  const children = (d: RuleTables['delete']) => (d?.children ?? []).filter((c) => c.update === undefined).map((c) => c.table);
  const deleting = rule.delete !== undefined || rule.archive !== undefined || (rule.cases ?? []).some((b) => b.delete !== undefined);
  return [...(deleting ? [rule.table] : []), ...children(rule.delete), ...(rule.cases ?? []).flatMap((b) => children(b.delete))];
}

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
 * A later rule that reads a table an earlier rule changes only through a foreign key's ON DELETE
 * action (Procrastinate's pruned workers set their jobs' worker_id to NULL): `validate` cannot see
 * it (it compares the tables rules name), the catalog can. Each such pair as a warning: the real
 * run sees those changes, a dry run (each rule rolled back) cannot show them.
 */
export async function foreignKeyDependencies(client: PoolClient, rules: readonly RuleTables[], at: string): Promise<Finding[]> {
  const oids = new Map<string, number | undefined>();
  const oid = async (name: string) => {
    if (!oids.has(name))
      oids.set(
        name,
        await resolveReadable(client, name, [], at).then(
          (t) => t.oid,
          () => undefined,
        ),
      );
    return oids.get(name);
  };
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
