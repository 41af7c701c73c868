import type { PoolClient } from 'pg';
import { resolveReadable } from './identifiers';

/** What a `rows.rules` rule says of the tables it deletes from and updates, to follow them through foreign keys (tasks/rows-rules.ts). */
export interface RuleTables {
  name: string;
  table: string;
  update?: Record<string, unknown>;
  delete?: { children?: { table: string; update?: Record<string, unknown> }[] };
  archive?: { table: string };
  cases?: { update?: Record<string, unknown>; delete?: { children?: { table: string; update?: Record<string, unknown> }[] } }[];
  missing_parent?: { table: string };
  unreferenced_by?: { table: string }[];
  referenced_by?: { table: string }[];
  parent?: { table: string };
}

/**
 * Foreign keys that refuse a delete of a row of `$1` while a row of another table references it
 * (ON DELETE NO ACTION, RESTRICT); a partition's copy of its parent's key is left out.
 */
const REFUSING_FOREIGN_KEYS = `
  select c.conname as name, c.conrelid::int as child, c.conrelid::regclass::text as "childName", c.confdeltype as action,
    array(select a.attname::text from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any(c.conkey) order by a.attnum) as columns
  from pg_constraint c
  where c.contype = 'f' and c.confrelid = $1 and c.confdeltype in ('a', 'r') and c.conrelid <> c.confrelid and c.conparentid = 0`;

const REFUSALS: Record<string, string> = { a: 'ON DELETE NO ACTION', r: 'ON DELETE RESTRICT' };

/** The tables a rule deletes rows from: its own (delete, archive, a deleting case) and the children it deletes. */
export function deletesFrom(rule: RuleTables): string[] {
  const children = (d: RuleTables['delete']) => (d?.children ?? []).filter((c) => c.update === undefined).map((c) => c.table);
  const deleting = rule.delete !== undefined || rule.archive !== undefined || (rule.cases ?? []).some((b) => b.delete !== undefined);
  return [...(deleting ? [rule.table] : []), ...children(rule.delete), ...(rule.cases ?? []).flatMap((b) => children(b.delete))];
}

/** A later rule that deletes rows of a table another table references, and an earlier rule that clears those references first. */
export interface RefusingPair {
  /** The later rule, which deletes (or archives) rows of `parent`. */
  later: number;
  /** The earlier rule, which deletes `child` rows or updates their referencing columns. */
  earlier: number;
  constraint: string;
  child: string;
  parent: string;
  action: string;
  /** What the earlier rule does: `deletes` `job_logs rows`, `updates` `job_logs.job_id`. */
  clears: { verb: 'deletes' | 'updates'; what: string };
}

type Oid = (name: string) => Promise<number | undefined>;

/** How `rule` clears the references of `child` (its OID) through `columns`, or undefined when it leaves them. */
async function clearing(rule: RuleTables, child: number, childName: string, columns: readonly string[], oid: Oid): Promise<RefusingPair['clears'] | undefined> {
  for (const table of deletesFrom(rule)) if ((await oid(table)) === child) return { verb: 'deletes', what: `${childName} rows` };
  const written = (update: Record<string, unknown> | undefined) => Object.keys(update ?? {}).filter((c) => columns.includes(c));
  const updates = (await oid(rule.table)) === child ? [rule.update, ...(rule.cases ?? []).map((b) => b.update)].flatMap(written) : [];
  const children = [...(rule.delete?.children ?? []), ...(rule.cases ?? []).flatMap((b) => b.delete?.children ?? [])];
  for (const c of children) if (c.update !== undefined && (await oid(c.table)) === child) updates.push(...written(c.update));
  return updates.length > 0 ? { verb: 'updates', what: [...new Set(updates)].map((c) => `${childName}.${c}`).join(', ') } : undefined;
}

/** `name`'s OID as a rule may read it, or undefined when the catalog has no such relation (the run's own check says so). */
export function oidReader(client: PoolClient, at: string): Oid {
  const oids = new Map<string, number | undefined>();
  return async (name: string) => {
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
}

/**
 * A later rule that deletes rows of a table P that a table C references with a foreign key that
 * refuses the delete (NO ACTION, RESTRICT), and an earlier rule that deletes C's rows or updates
 * its referencing columns: the later rule succeeds only after the earlier one committed. A dry run
 * rolls each rule back, so the later rule meets the references and fails with 23503. A later
 * rule that deletes or updates C itself (its `delete.children`) is not such a pair.
 */
export async function refusingPairs(client: PoolClient, rules: readonly RuleTables[], at: string): Promise<RefusingPair[]> {
  const oid = oidReader(client, at);
  const pairs: RefusingPair[] = [];
  for (const [j, later] of rules.entries()) {
    const ownChildren = await Promise.all(
      [...(later.delete?.children ?? []), ...(later.cases ?? []).flatMap((b) => b.delete?.children ?? [])].map((c) => oid(c.table)),
    );
    for (const deleted of new Set(deletesFrom(later))) {
      const parent = await oid(deleted);
      if (parent === undefined) continue;
      type Fk = { name: string; child: number; childName: string; action: string; columns: string[] };
      for (const fk of (await client.query<Fk>(REFUSING_FOREIGN_KEYS, [parent])).rows) {
        if (ownChildren.includes(fk.child)) continue;
        for (const [i, earlier] of rules.slice(0, j).entries()) {
          const clears = await clearing(earlier, fk.child, fk.childName, fk.columns, oid);
          if (clears === undefined) continue;
          pairs.push({ later: j, earlier: i, constraint: fk.name, child: fk.childName, parent: deleted, action: REFUSALS[fk.action]!, clears });
        }
      }
    }
  }
  return pairs;
}

/**
 * What a dry run that failed with a foreign-key violation cannot show: the earlier rules that clear
 * the references before the failing rule deletes (`refusingPairs`), or undefined when no such pair
 * names the rule (`failed`, its name) and the constraint. It says why the dry run failed, not that
 * the real run succeeds.
 */
export async function dryRunRefusalNote(
  client: PoolClient,
  rules: readonly RuleTables[],
  failed: { constraint: string; unit?: string },
  at: string,
): Promise<string | undefined> {
  const later = rules.findIndex((r) => r.name === failed.unit);
  if (later < 0) return undefined;
  const pairs = (await refusingPairs(client, rules, at)).filter((p) => p.later === later && p.constraint === failed.constraint);
  if (pairs.length === 0) return undefined;
  const gerund = { deletes: 'deleting', updates: 'updating' };
  const earlier = pairs.map((p) => `rules[${p.earlier}] (${rules[p.earlier]!.name}) ${gerund[p.clears.verb]} ${p.clears.what}`);
  return `a dry run (each rule rolled back) cannot show ${earlier.join(' or ')} first: see \`caretaker check\``;
}
