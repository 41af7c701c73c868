import type { CountsRebuildConfig } from '../tasks/counts-rebuild';
import type { TaskInput, TaskResult } from '../workflows/types';
import { runBatches } from './batch-loop';
import type { ActivityDeps } from './deps';
import { filterConditions } from './row-sets';
import { SqlParams } from './sql/params';
import { col, colType, resolveTable, type ResolvedTable } from './sql/identifiers';
import { exclusive } from './task-lock';

type Counter = CountsRebuildConfig['counters'][number];

interface ResolvedCounter {
  spec: Counter;
  parent: ResolvedTable;
  child: ResolvedTable;
}

/**
 * One batch of parents, locked (skip locked), with their recorded and actual counts. The lock
 * means an application that adds a child and increments the counter in one transaction waits for
 * this batch, and then increments the corrected value.
 */
function countBatchSql(c: ResolvedCounter, cursor: string | null, limit: number, lock: boolean) {
  const p = new SqlParams();
  const { spec, parent, child } = c;
  const pid = `p.${col(parent, spec.id_column)}`;
  const childConds = filterConditions(child, spec.child_where, p, 'ch');
  const after = cursor === null ? 'true' : `${pid} > ${p.add(cursor, colType(parent, spec.id_column))}`;
  const text = `
    with batch as (
      select ${pid} as id, p.${col(parent, spec.count_column)}::bigint as recorded
      from ${parent.sql} p where ${after} order by ${pid} limit ${p.add(limit, 'int')}
      ${lock ? 'for update of p skip locked' : ''}),
    actual as (
      select ch.${col(child, spec.child_column)} as id, count(*)::bigint as n
      from ${child.sql} ch
      where ch.${col(child, spec.child_column)} in (select id from batch) ${childConds.map((x) => `and ${x}`).join(' ')}
      group by 1)
    select b.id::text as id, b.recorded, coalesce(a.n, 0)::bigint as actual
    from batch b left join actual a on a.id = b.id order by b.id`;
  return { text, values: p.values };
}

function fixSql(c: ResolvedCounter): string {
  const { spec, parent } = c;
  return `update ${parent.sql} p set ${col(parent, spec.count_column)} = u.n
    from unnest($1::text[], $2::bigint[]) as u(id, n)
    where p.${col(parent, spec.id_column)} = u.id::${colType(parent, spec.id_column)}`;
}

export function createCountsActivities({ databases }: ActivityDeps) {
  return {
    /** `counts.rebuild`: compare counters with the real counts; fix the drift unless dry run. */
    async rebuildCounts(input: TaskInput<CountsRebuildConfig>): Promise<TaskResult> {
      const cfg = input.config;
      return exclusive(databases, input, async (client) => {
        const counters: ResolvedCounter[] = [];
        for (const [i, spec] of cfg.counters.entries()) {
          const where = `task ${input.taskId}: config.counters[${i}]`;
          counters.push({
            spec,
            parent: await resolveTable(client, spec.table, [spec.id_column, spec.count_column], where),
            child: await resolveTable(client, spec.child_table, [spec.child_column, ...Object.keys(spec.child_where)], `${where}: child_table`),
          });
        }
        return runBatches<{ counter: number; id: string | null }>({
          client,
          input,
          initialCursor: { counter: 0, id: null },
          counters: ['checked', 'drifted', 'fixed'],
          step: async (tx, cursor, summary) => {
            const counter = counters[cursor.counter];
            if (!counter) return { cursor, done: true };
            const q = countBatchSql(counter, cursor.id, cfg.batch_size, !cfg.dry_run);
            const { rows } = await tx.query<{ id: string; recorded: string | null; actual: string }>(q.text, q.values);
            const drifted = rows.filter((r) => r.recorded === null || BigInt(r.recorded) !== BigInt(r.actual));
            if (drifted.length > 0 && !cfg.dry_run) {
              const res = await tx.query(fixSql(counter), [drifted.map((r) => r.id), drifted.map((r) => r.actual)]);
              summary.count('fixed', res.rowCount ?? 0);
            }
            summary.count('checked', rows.length);
            summary.count('drifted', drifted.length);
            const label = counter.spec.name ?? `${counter.parent.name}.${counter.spec.count_column}`;
            for (const r of drifted) {
              summary.detail({ counter: label, id: r.id, recorded: r.recorded === null ? null : Number(r.recorded), actual: Number(r.actual) });
            }
            if (rows.length < cfg.batch_size) {
              const next = cursor.counter + 1;
              return { cursor: { counter: next, id: null }, done: next >= counters.length };
            }
            return { cursor: { counter: cursor.counter, id: rows.at(-1)!.id }, done: false };
          },
        });
      });
    },
  };
}
