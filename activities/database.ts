import type { PoolClient } from 'pg';
import type { DbVacuumConfig } from '../tasks/db-vacuum';
import type { ProcedureExecuteConfig } from '../tasks/procedure-execute';
import type { TaskInput, TaskResult } from '../core/contract';
import { runUnits } from './engine/engine';
import type { BatchEffect } from './engine/tally';
import type { ActMode, WorkUnit } from './engine/work-unit';
import type { ActivityDeps } from './engine/deps';
import { configError } from '../core/errors';
import { resolveTable } from './sql/identifiers';
import { exclusive } from './engine/task-lock';

// Names below come back from the catalog already quoted by PostgreSQL's format('%I.%I').
const ALL_TABLES = `
  select format('%I.%I', n.nspname, c.relname) as sql, n.nspname || '.' || c.relname as name, c.oid::int as oid
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
  order by 1`;
const TABLE_STATS = `select coalesce(n_live_tup, 0)::bigint as live, coalesce(n_dead_tup, 0)::bigint as dead from pg_stat_all_tables where relid = $1::oid`;
const BTREE_INDEXES = `
  select format('%I.%I', n.nspname, c.relname) as sql, n.nspname || '.' || c.relname as name, c.oid::int as oid, pg_relation_size(c.oid)::bigint as bytes
  from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
  join pg_am am on am.oid = c.relam
  where am.amname = 'btree' and i.indisvalid and i.indrelid = any($1::oid[])
  order by 1`;
const HAS_PGSTATTUPLE = `select exists (select 1 from pg_extension where extname = 'pgstattuple') as ok`;
const FIND_ROUTINE = `
  select format('%I.%I', n.nspname, p.proname) as sql, p.prokind::text as kind
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where p.proname = $2 and p.prokind in ('f', 'p')
    and (case when $1::text is null then n.nspname = any(current_schemas(false)) else n.nspname = $1 end)
  order by array_position(current_schemas(false), n.nspname::text) nulls last limit 1`;
/** Estimated bloat of a b-tree: 1 - leaf density / 90% (the default fillfactor). */
const INDEX_BLOAT = `select greatest(0, 1 - avg_leaf_density / 90.0)::float8 as bloat from pgstatindex($1::oid::regclass)`;

/** `sql` is the quoted name for statements, `name` the plain one for results. */
type VacuumItem = { kind: 'vacuum'; sql: string; name: string; oid: number } | { kind: 'reindex'; sql: string; name: string; oid: number; bytes: number };

async function vacuumPlan(client: PoolClient, cfg: DbVacuumConfig, where: string): Promise<{ items: VacuumItem[]; problems: string[] }> {
  let tables: { sql: string; name: string; oid: number }[];
  if (cfg.tables.length === 0) {
    tables = (await client.query<{ sql: string; name: string; oid: number }>(ALL_TABLES)).rows;
  } else {
    tables = [];
    for (const name of cfg.tables) {
      const t = await resolveTable(client, name, [], `${where}: config.tables`);
      const { rows } = await client.query<{ oid: number }>(`select $1::regclass::oid::int as oid`, [t.sql]);
      tables.push({ sql: t.sql, name: t.name, oid: rows[0]!.oid });
    }
  }
  const items: VacuumItem[] = tables.map((t) => ({ kind: 'vacuum', ...t }));
  const problems: string[] = [];
  if (cfg.reindex.enabled) {
    if ((await client.query<{ ok: boolean }>(HAS_PGSTATTUPLE)).rows[0]?.ok) {
      const { rows } = await client.query<{ sql: string; name: string; oid: number; bytes: string }>(BTREE_INDEXES, [tables.map((t) => t.oid)]);
      items.push(...rows.map((r) => ({ kind: 'reindex' as const, sql: r.sql, name: r.name, oid: r.oid, bytes: Number(r.bytes) })));
    } else {
      problems.push('reindex skipped: the pgstattuple extension is not installed in this database (CREATE EXTENSION pgstattuple) to measure index bloat');
    }
  }
  return { items, problems };
}

/** Runs `work` with a session statement_timeout, for statements that cannot use SET LOCAL. */
async function withStatementTimeout<T>(client: PoolClient, ms: number, work: () => Promise<T>): Promise<T> {
  await client.query(`set statement_timeout = ${Math.ceil(ms)}`);
  try {
    return await work();
  } finally {
    await client.query('reset statement_timeout');
  }
}

type Routine = { sql: string; kind: string; call: ProcedureExecuteConfig['calls'][number] };

/** A list worked through one item at a time, outside a transaction (VACUUM and procedures cannot run in one). */
function listUnit<T>(
  label: string,
  work: 'vacuum' | 'procedure',
  items: readonly T[],
  act: (conn: PoolClient, item: T, mode: ActMode) => Promise<BatchEffect>,
): WorkUnit<{ index: number; item: T }, number> {
  return {
    label,
    transactional: false,
    unplannable: work,
    compare: (a, b) => a - b,
    cursorOf: (entry) => entry.index,
    nextBatch: async (_conn, cursor, limit) =>
      items
        .map((item, index) => ({ index, item }))
        .slice(cursor === null ? 0 : cursor + 1)
        .slice(0, limit),
    act: (conn, [entry], mode) => act(conn, entry!.item, mode),
  };
}

async function vacuumItem(conn: PoolClient, item: VacuumItem, cfg: DbVacuumConfig, mode: ActMode): Promise<BatchEffect> {
  if (item.kind === 'vacuum') {
    const stats = (await conn.query<{ live: string; dead: string }>(TABLE_STATS, [item.oid])).rows[0];
    const live = Number(stats?.live ?? 0);
    const dead = Number(stats?.dead ?? 0);
    const ratio = live + dead === 0 ? 0 : dead / (live + dead);
    if (ratio < cfg.min_dead_ratio) return { counts: { skipped: 1 }, details: [] };
    if (mode === 'apply') await conn.query(`vacuum (${cfg.analyze ? 'analyze' : 'analyze false'}) ${item.sql}`);
    return {
      counts: { vacuumed: 1 },
      details: [{ action: 'vacuum', table: item.name, live_tuples: live, dead_tuples: dead, dead_ratio: Math.round(ratio * 1000) / 1000 }],
    };
  }
  if (item.bytes < cfg.reindex.min_size_bytes) return { counts: {}, details: [] };
  const bloat = (await conn.query<{ bloat: number }>(INDEX_BLOAT, [item.oid])).rows[0]?.bloat ?? 0;
  if (bloat <= cfg.reindex.bloat_threshold) return { counts: {}, details: [] };
  if (mode === 'apply') await conn.query(`reindex index concurrently ${item.sql}`);
  return { counts: { reindexed: 1 }, details: [{ action: 'reindex', index: item.name, bytes: item.bytes, estimated_bloat: Math.round(bloat * 1000) / 1000 }] };
}

async function callRoutine(conn: PoolClient, r: Routine, mode: ActMode): Promise<BatchEffect> {
  const placeholders = r.call.args.map((_, j) => `$${j + 1}`).join(', ');
  let result: unknown = null;
  const started = Date.now();
  if (mode === 'apply') {
    const sql = r.kind === 'p' ? `call ${r.sql}(${placeholders})` : `select ${r.sql}(${placeholders}) as result`;
    result = (await conn.query<{ result?: unknown }>(sql, r.call.args)).rows[0]?.result ?? null;
  }
  return {
    counts: { called: 1 },
    details: [{ routine: r.call.name, kind: r.kind === 'p' ? 'procedure' : 'function', args: r.call.args, result, ms: Date.now() - started }],
  };
}

export function createDatabaseActivities({ databases }: ActivityDeps) {
  return {
    /** `db.vacuum`: VACUUM (ANALYZE) table by table, then REINDEX CONCURRENTLY bloated b-trees. */
    async vacuumDatabase(input: TaskInput<DbVacuumConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const { items, problems } = await vacuumPlan(session.client, cfg, `task ${input.taskId}`);
        const unit = listUnit('vacuum', 'vacuum', items, (conn, item, mode) => vacuumItem(conn, item, cfg, mode));
        return withStatementTimeout(session.client, cfg.statement_timeout, () =>
          runUnits(session, [unit as WorkUnit], { counters: ['vacuumed', 'reindexed', 'skipped'], warnings: problems, batchSize: 100 }),
        );
      });
    },

    /** `procedure.execute`: call allowlisted routines with a statement timeout. */
    async executeProcedures(input: TaskInput<ProcedureExecuteConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const routines: Routine[] = [];
        for (const [i, call] of cfg.calls.entries()) {
          if (!cfg.allowlist.includes(call.name)) throw configError(`task ${input.taskId}: config.calls[${i}].name: "${call.name}" is not in the allowlist`);
          const [schema, name] = call.name.includes('.') ? call.name.split('.', 2) : [null, call.name];
          const { rows } = await session.client.query<{ sql: string; kind: string }>(FIND_ROUTINE, [schema, name]);
          if (!rows[0]) throw configError(`task ${input.taskId}: config.calls[${i}].name: no function or procedure "${call.name}" in this database`);
          routines.push({ ...rows[0], call });
        }
        const unit = listUnit('procedures', 'procedure', routines, callRoutine);
        return withStatementTimeout(session.client, cfg.timeout, () => runUnits(session, [unit as WorkUnit], { counters: ['called'], batchSize: 100 }));
      });
    },
  };
}
