import type { PoolClient } from 'pg';
import type { Backlog, Counts, RunBacklog } from '../../core/contract';
import type { Position } from './ledger';
import type { WorkUnit } from './work-unit';

/**
 * What a run leaves for the next one, per unit that can say (`WorkUnit.rowsLeft`, rows picked by
 * conditions). A unit the run finished left only its rows skipped for locks (`skipped_for_locks` in
 * its set's counts), known without a query; the unit the run stopped in (max_rows_per_run) and those
 * after it ask one query each: their eligible rows after the stop, plus what they skipped before it.
 * A dry run leaves every row in place, and its cursor stops where the real run's would: the same
 * query gives the backlog the real run would leave. Undefined when no unit picks rows.
 */
export async function leftBehind(
  client: PoolClient,
  units: readonly WorkUnit[],
  stop: Position,
  sets: Record<string, Counts>,
): Promise<RunBacklog | undefined> {
  const bySet: Record<string, Backlog> = {};
  for (const [i, unit] of units.entries()) {
    if (!unit.rowsLeft) continue;
    const skipped = sets[unit.label]?.skipped_for_locks ?? 0;
    const after = i === stop.unit ? stop.cursor : null;
    const left = i < stop.unit ? { rows: 0 } : await unit.rowsLeft(client, after);
    bySet[unit.label] = add(bySet[unit.label], { ...left, rows: left.rows + skipped });
  }
  const all = Object.values(bySet);
  if (all.length === 0) return undefined;
  return { ...all.reduce<Backlog>((total, b) => add(total, b), { rows: 0 }), sets: bySet };
}

/** Rows add up; the oldest is the older of the two. */
function add(a: Backlog | undefined, b: Backlog): Backlog {
  if (a === undefined) return b;
  const ages = [a.oldest_age_seconds, b.oldest_age_seconds].filter((x) => x !== undefined);
  return { rows: a.rows + b.rows, ...(ages.length > 0 && { oldest_age_seconds: Math.max(...ages) }) };
}
