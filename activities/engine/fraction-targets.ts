import type { PoolClient } from 'pg';
import type { Counts } from '../../core/contract';
import { onTable } from './failures';
import { col, type ResolvedTable } from '../sql/identifiers';
import type { RowKey } from '../sql/keys';
import { SqlParams } from '../sql/params';

/**
 * What max_fraction limits, one interface for the rows of a table and the files of a directory:
 * the engine (fraction.ts) measures every target of a run the same way, before the first batch and
 * again when each later unit starts.
 */
export interface FractionTarget {
  /** Targets with one key are one whole (a table, a directory): counted together, each row or file once. */
  readonly key: string;
  /** The whole as a refusal names it: "rows of public.runs", "files", "files under /srv/assets". */
  readonly whole: string;
  /** What the run would do to its part of the whole: "delete", "update". */
  readonly verb: string;
  /**
   * How many of the whole `group` would touch (this target first, then the run's other targets with its key), each once, and the whole's size.
   * `known`: the matching count is known exactly (a whole read-ahead). `total`: `exact`; `enough` (the
   * count may stop once it proves the limit holds: then it is a lower bound); `skip` (0, not counted).
   */
  measure(
    client: PoolClient,
    group: readonly FractionTarget[],
    how: { known?: number; total: 'exact' | 'enough' | 'skip'; maxFraction: number },
  ): Promise<Measured>;
  /** Of the whole, what the run already changed, by the tally's per-table counts (the ledger's, after a crash); 0 for files. */
  changed(tables: Readonly<Record<string, Counts>>): number;
}

export interface Measured {
  matching: number;
  total: number;
}

/** Rows of a table a unit would change: a condition on alias `t`. */
export interface RowsOfTable {
  table: ResolvedTable;
  verb: string;
  condition: (p: SqlParams) => string;
  /**
   * Child rows are the ones whose `columns` reference a parent row matching `condition`: then one
   * hash join over the child table counts both its matching and its total rows.
   */
  through?: { columns: string[]; parent: RowKey; condition: (p: SqlParams) => string };
  /** Its rows are exactly the unit's items: a whole read-ahead (read-ahead.ts) counts them. */
  picked?: boolean;
  /** Work before the condition can be rendered (keys found outside SQL: rows whose file is missing); run before each count. */
  prepare?: (client: PoolClient) => Promise<void>;
}

/** The table implementation: counted in SQL, several targets on one table as one OR of their conditions. */
export class TableTarget implements FractionTarget, RowsOfTable {
  readonly table: ResolvedTable;
  readonly verb: string;
  readonly condition: (p: SqlParams) => string;
  readonly through?: RowsOfTable['through'];
  readonly picked?: boolean;
  readonly prepare?: RowsOfTable['prepare'];

  constructor(rows: RowsOfTable) {
    this.table = rows.table;
    this.verb = rows.verb;
    this.condition = rows.condition;
    if (rows.through) this.through = rows.through;
    if (rows.picked) this.picked = rows.picked;
    if (rows.prepare) this.prepare = rows.prepare;
  }

  get key(): string {
    return `table ${this.table.sql}`;
  }

  get whole(): string {
    return `rows of ${this.table.name}`;
  }

  async measure(client: PoolClient, group: readonly FractionTarget[], how: { known?: number; total: 'exact' | 'enough' | 'skip'; maxFraction: number }) {
    const targets = group.filter((t): t is TableTarget => t instanceof TableTarget);
    for (const t of targets) await t.prepare?.(client);
    if (how.known !== undefined && targets.length === 1) {
      const total = how.total === 'skip' ? 0 : await onTable(this.table.name, countTotal(client, this.table, how.total === 'enough' ? how : undefined));
      return { matching: how.known, total };
    }
    const [sql, values] = countQuery(targets, how.total !== 'skip');
    const { rows } = await onTable(this.table.name, client.query<{ matching: string; total: string | null }>(sql, values));
    return { matching: Number(rows[0]!.matching), total: Number(rows[0]!.total ?? 0) };
  }

  changed(tables: Readonly<Record<string, Counts>>): number {
    const counts = tables[this.table.name] ?? {};
    return (counts.deleted ?? 0) + (counts.updated ?? 0);
  }
}

/** A table target (row sets, stale runs, partitions, `missing_file` rules). */
export const rowsTarget = (rows: RowsOfTable): TableTarget => new TableTarget(rows);

/**
 * The files implementation: a unit that lists a directory counts what it would touch itself (its plan,
 * its orphans, its rows whose file is missing). Targets with one key add up.
 */
export function filesTarget(key: string, whole: string, verb: string, count: (client: PoolClient) => Promise<Measured>): FractionTarget {
  const target: FractionTarget & { count: typeof count } = {
    key,
    whole,
    verb,
    count,
    measure: async (client, group) => {
      let matching = 0;
      let total = 0;
      for (const t of group) {
        const m = await (t as typeof target).count(client);
        matching += m.matching;
        total = Math.max(total, m.total);
      }
      return { matching, total };
    },
    changed: () => 0,
  };
  return target;
}

/**
 * The table's rows; with `bound` (`known` matching exactly), a lower bound that already proves it is
 * within the limit: the count stops past matching / max_fraction rows, so for a sparse set it reads a
 * small part of the table where `count(*)` reads all of it.
 */
async function countTotal(client: PoolClient, table: ResolvedTable, bound?: { known?: number; maxFraction: number }): Promise<number> {
  if (bound === undefined) return Number((await client.query<{ n: string }>(`select count(*) as n from ${table.sql}`)).rows[0]!.n);
  if (bound.known === 0) return 0;
  const enough = Math.ceil(bound.known! / bound.maxFraction) + 1;
  const { rows } = await client.query<{ n: string }>(`select count(*) as n from (select from ${table.sql} limit $1) s`, [enough]);
  return Number(rows[0]!.n);
}

/** SQL and values that count the rows of one table the targets would change (`matching`) and, with `total`, all of them. */
function countQuery(targets: readonly TableTarget[], total: boolean): [string, unknown[]] {
  const p = new SqlParams();
  const table = targets[0]!.table;
  const through = targets.length === 1 ? targets[0]!.through : undefined;
  if (through) {
    // The parent's key is unique and NOT NULL (activities/sql/keys.ts): the join adds no rows.
    const { parent } = through;
    const keys = parent.columns.map((c, i) => `t.${col(parent.table, c)} as k${i}`).join(', ');
    const on = through.columns.map((c, i) => `t.${col(table, c)} = m.k${i}`).join(' and ');
    const matched = `from ${table.sql} t ${total ? 'left ' : ''}join (select ${keys} from ${parent.table.sql} t where ${through.condition(p)}) m on ${on}`;
    const sql = total ? `select count(*) filter (where m.k0 is not null) as matching, count(*) as total ${matched}` : `select count(*) as matching ${matched}`;
    return [sql, p.values];
  }
  const any = targets.map((t) => `(${t.condition(p)})`).join(' or ');
  // The conditions go in a WHERE, not a FILTER: there PostgreSQL turns a child table's
  // `(ref) in (select key ...)` (or an orphan rule's NOT EXISTS) into a join; in a FILTER it is a
  // subplan that, once the keys outgrow work_mem, rescans them for every row (minutes instead of
  // seconds at millions of rows).
  const all = total ? `(select count(*) from ${table.sql})` : 'null';
  return [`select (select count(*) from ${table.sql} t where ${any}) as matching, ${all} as total`, p.values];
}
