import type { PoolClient } from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import type { ResolvedTable } from '../sql/identifiers';
import type { WorkUnit } from './work-unit';
import { TableTarget } from './fraction-targets';

/**
 * The tables a run changes (each unit's max_fraction targets, child tables included), pinned by the
 * OID their names resolved to when the run planned them. Statements name their tables, so a table
 * renamed away and replaced by another of the same name during a run would otherwise be changed
 * without the max_fraction check its rows never had. The guard's transaction and every batch check
 * that each name still resolves to its pinned OID; a batch checks after its statements, which then
 * hold their tables' locks (a rename waits for them), so its transaction rolls back instead of
 * committing a change to a replaced table.
 */
export class TablePins {
  private readonly tables: readonly ResolvedTable[];

  constructor(units: readonly WorkUnit[]) {
    const byOid = new Map<number, ResolvedTable>();
    for (const unit of units) for (const target of unit.fraction ?? []) if (target instanceof TableTarget) byOid.set(target.table.oid, target.table);
    this.tables = [...byOid.values()];
  }

  /** Throws a non-retryable `TableReplaced` naming the first table whose name resolves elsewhere now. */
  async check(client: PoolClient): Promise<void> {
    const replaced = await this.firstReplaced(client);
    if (replaced) throw replaced;
  }

  /**
   * What to report for a batch that failed with `err`: a statement that met a replaced table fails on
   * its own (a foreign key the new table lacks, a missing column) before the batch's check; the
   * replacement is the cause to name. `err` itself when no table was replaced, or the check cannot run.
   */
  async explain(client: PoolClient, err: unknown): Promise<unknown> {
    return (await this.firstReplaced(client).catch(() => undefined)) ?? err;
  }

  private async firstReplaced(client: PoolClient): Promise<ApplicationFailure | undefined> {
    if (this.tables.length === 0) return undefined;
    const { rows } = await client.query<{ oids: (number | null)[] }>(
      `select array(select to_regclass(name)::oid from unnest($1::text[]) with ordinality u(name, i) order by i) as oids`,
      [this.tables.map((t) => t.sql)],
    );
    for (const [i, table] of this.tables.entries()) {
      const now = rows[0]!.oids[i] ?? null;
      if (now === null || Number(now) !== table.oid) return tableReplaced(table.name, table.oid, now);
    }
    return undefined;
  }
}

function tableReplaced(name: string, pinned: number, now: number | null): ApplicationFailure {
  const what = now === null ? `renamed or dropped during the run (oid ${pinned} → none)` : `replaced during the run (oid ${pinned} → ${now})`;
  return ApplicationFailure.nonRetryable(`${name} was ${what}; nothing more was changed; the next run checks the new table's guard`, 'TableReplaced');
}
