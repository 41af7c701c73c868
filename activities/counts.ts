import type { PoolClient } from 'pg';
import type { CountsRebuildConfig } from '../tasks/counts-rebuild';
import type { TaskInput, TaskResult } from '../core/contract';
import { runUnits } from './engine/engine';
import type { ActMode, WorkUnit } from './engine/work-unit';
import type { ActivityDeps } from './engine/deps';
import { filterColumns, filterConditions } from './rows/row-sets';
import { assignmentList, readAs } from './sql/expressions';
import { ref } from '../core/column-refs';
import { SqlParams } from './sql/params';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { keyAfter, keyColumns, keyLabel, keyOf, keyOrder, keySelect, type KeyValue, resolveKeyed, type RowKey } from './sql/keys';
import { exclusive } from './engine/task-lock';

type Counter = CountsRebuildConfig['counters'][number];

interface ResolvedCounter {
  label: string;
  spec: Counter;
  key: RowKey;
  child: ResolvedTable;
}

interface ParentCount {
  key: KeyValue;
  recorded: string | null;
  actual: string;
}

/**
 * One batch of parents, locked (skip locked) unless predicting, with their recorded and actual
 * counts. The lock means an application that adds a child and increments the counter in one
 * transaction waits for this batch, and then increments the corrected value.
 */
async function countBatch(tx: PoolClient, c: ResolvedCounter, cursor: KeyValue | null, limit: number, mode: ActMode): Promise<ParentCount[]> {
  const p = new SqlParams();
  const { spec, key, child } = c;
  const parent = key.table;
  const childConds = filterConditions(child, spec.child_where, p, 'ch');
  const parentConds = [...filterConditions(parent, spec.where, p, 'p'), ...(cursor === null ? [] : [keyAfter(key, cursor, p, 'p')])];
  const refs = keyColumns(spec.child_column).map((c) => `ch.${col(child, c)}`);
  const raw = key.columns.map((k, i) => `p.${col(parent, k)} as o${i}`).join(', ');
  const rawNames = key.columns.map((_, i) => `o${i}`).join(', ');
  const { rows } = await tx.query<Record<string, unknown> & { recorded: string | null; actual: string }>(
    `with batch as (
       select ${keySelect(key, 'p')}, ${raw}, ${readAs(parent, ref(spec.count_column), 'bigint', p, 'p')} as recorded
       from ${parent.sql} p where ${parentConds.join(' and ') || 'true'} order by ${keyOrder(key, 'p')} limit ${p.add(limit, 'int')}
       ${mode === 'predict' ? '' : 'for update of p skip locked'}),
     actual as (
       select ${refs.map((r, i) => `${r} as o${i}`).join(', ')}, count(*)::bigint as n from ${child.sql} ch
       where (${refs.join(', ')}) in (select ${rawNames} from batch) ${childConds.map((x) => `and ${x}`).join(' ')}
       group by ${refs.map((_, i) => i + 1).join(', ')})
     select b.*, coalesce(a.n, 0)::bigint as actual from batch b left join actual a using (${rawNames})
     order by ${key.columns.map((_, i) => `b.o${i}`).join(', ')}`,
    p.values,
  );
  return rows.map((r) => ({ key: keyOf(r, key), recorded: r.recorded, actual: r.actual }));
}

/** Sets each drifted parent's counter (a column, or a value inside JSON) to its actual count, joined by key. */
async function fix(tx: PoolClient, c: ResolvedCounter, drifted: ParentCount[]): Promise<number> {
  const p = new SqlParams();
  const { key, spec } = c;
  const t = key.table;
  const keys = key.columns.map((k, i) =>
    p.add(
      drifted.map((d) => d.key[i]),
      `${colType(t, k)}[]`,
    ),
  );
  const names = key.columns.map((_, i) => `k${i}`);
  const res = await tx.query(
    `update ${t.sql} t set ${assignmentList(t, [[ref(spec.count_column), { sql: 'u.n' }]], p, c.label).join(', ')}
     from unnest(${keys.join(', ')}, ${p.add(
       drifted.map((d) => d.actual),
       'bigint[]',
     )}) as u(${names.join(', ')}, n)
     where ${key.columns.map((k, i) => `t.${col(t, k)} = u.${names[i]}`).join(' and ')}`,
    p.values,
  );
  return res.rowCount ?? 0;
}

function counterUnit(c: ResolvedCounter): WorkUnit<ParentCount, KeyValue> {
  const label = c.label;
  return {
    label,
    transactional: true,
    unplannable: 'counters',
    nextBatch: (tx, cursor, limit, mode) => countBatch(tx, c, cursor, limit, mode),
    cursorOf: (row) => row.key,
    act: async (tx, rows, mode) => {
      const drifted = rows.filter((r) => r.recorded === null || BigInt(r.recorded) !== BigInt(r.actual));
      const fixed = drifted.length === 0 ? 0 : mode === 'predict' ? drifted.length : await fix(tx, c, drifted);
      return {
        counts: { checked: rows.length, drifted: drifted.length, fixed },
        details: drifted.map((r) => ({
          counter: label,
          id: keyLabel(r.key),
          recorded: r.recorded === null ? null : Number(r.recorded),
          actual: Number(r.actual),
        })),
      };
    },
  };
}

export function createCountsActivities({ databases }: ActivityDeps) {
  return {
    /** `counts.rebuild`: compare counters with the real counts; fix the drift unless dry run. */
    async rebuildCounts(input: TaskInput<CountsRebuildConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (session) => {
        const units: WorkUnit[] = [];
        for (const [i, spec] of cfg.counters.entries()) {
          const where = `task ${input.taskId}: config.counters[${i}]`;
          const key = await resolveKeyed(session.client, spec.table, spec.id_column, [ref(spec.count_column).column, ...filterColumns(spec.where)], where);
          const child = await resolveTable(
            session.client,
            spec.child_table,
            [...keyColumns(spec.child_column), ...filterColumns(spec.child_where)],
            `${where}: child_table`,
          );
          units.push(counterUnit({ label: spec.name ?? `${key.table.name}.${spec.count_column}`, spec, key, child }) as WorkUnit);
        }
        return runUnits(session, units, { counters: ['checked', 'drifted', 'fixed'] });
      });
    },
  };
}
