import type { PoolClient } from 'pg';
import type { TaskInput } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { DEFAULT_LEDGER_SCHEMA } from './engine/ledger';
import { ensureLedger } from './engine/ledger-schema';
import { quoteIdent } from './sql/identifiers';

/** What `approval.when` needs beyond the plan itself. */
export interface ApprovalFacts {
  /** No real run of this task has completed against this database (none recorded). */
  firstRun: boolean;
  /** The config digest of the last completed real run differs from this run's. */
  configChanged: boolean;
  /** Rows per planned table: pg_class.reltuples, or an exact count for a table never analyzed. */
  tableRows: Record<string, number>;
}

/**
 * `<ledger schema>.applied_configs` (ledger migration 3): the config digest of each task's last
 * completed real run, so `first_run` and `config_changed` are answered by the task's own database.
 */
async function ensureAppliedConfigs(client: PoolClient, schema: string, database: string): Promise<string> {
  await ensureLedger(client, schema, database);
  return `${quoteIdent(schema)}.applied_configs`;
}

async function tableRows(client: PoolClient, names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const { rows } = await client.query<{ quoted: string | null; reltuples: number }>(
      `select format('%I.%I', n.nspname, c.relname) as quoted, c.reltuples::float8 as reltuples
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)`,
      [name],
    );
    const row = rows[0];
    if (!row?.quoted) continue;
    out[name] =
      row.reltuples > 0 ? Math.round(row.reltuples) : Number((await client.query<{ n: string }>(`select count(*) as n from ${row.quoted}`)).rows[0]!.n);
  }
  return out;
}

export function createApprovalActivities({ databases }: ActivityDeps) {
  const schemaOf = (database: string) => databases.ledgerSchema?.(database) ?? DEFAULT_LEDGER_SCHEMA;
  return {
    /** The facts `approval.when` decides on: first run, config changed, and the planned tables' sizes. */
    async approvalFacts(input: TaskInput, tables: string[]): Promise<ApprovalFacts> {
      const client = await databases.get(input.database).connect();
      try {
        const table = await ensureAppliedConfigs(client, schemaOf(input.database), input.database);
        const { rows } = await client.query<{ config_digest: string }>(`select config_digest from ${table} where task_id = $1`, [input.taskId]);
        const last = rows[0]?.config_digest;
        return { firstRun: last === undefined, configChanged: last !== input.approval?.configDigest, tableRows: await tableRows(client, tables) };
      } finally {
        client.release();
      }
    },

    /** Remembers the config a real run of the task completed with (for the next run's `first_run` / `config_changed`). */
    async recordAppliedConfig(input: TaskInput): Promise<void> {
      if (!input.approval) return;
      const client = await databases.get(input.database).connect();
      try {
        const table = await ensureAppliedConfigs(client, schemaOf(input.database), input.database);
        await client.query(
          `insert into ${table} (task_id, config_digest) values ($1, $2)
           on conflict (task_id) do update set config_digest = excluded.config_digest, applied_at = now()`,
          [input.taskId, input.approval.configDigest],
        );
      } finally {
        client.release();
      }
    },
  };
}
