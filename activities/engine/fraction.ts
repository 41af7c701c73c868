import type { PoolClient } from 'pg';
import type { Counts } from '../../core/contract';
import { overFraction } from '../../core/errors';
import type { FractionTarget } from './fraction-targets';
import type { WorkUnit } from './work-unit';

/**
 * max_fraction, over every target of a run (fraction-targets.ts: a table's rows, a directory's
 * files), per whole: two policies on one table at 45% each are 90% of it, child tables count too.
 *
 * - Before the first batch (`checkFractions`), over all units, as each would act on the data now.
 * - When each later unit starts (`recheckUnit`): what the run already changed of each of the unit's
 *   wholes (the tally's per-table counts: the ledger's, exact after a crash) plus what the unit
 *   would touch now, against the whole's size at the run's start. A unit that reaches rows because
 *   an earlier unit of the run changed them (claims of processes the run pruned, jobs whose worker a
 *   cascade cleared) is refused before it changes anything. For independent units on disjoint rows
 *   this is the first check again (the parts add up to their union); changes are counted as
 *   PostgreSQL counts tuples, so a row two units both update counts twice (stricter, never looser).
 *
 * Both run in the engine's read-only transactions, under the task's lock and statement timeouts.
 */

/** A whole and the targets on it, with the labels of their units. */
interface Whole {
  targets: FractionTarget[];
  labels: Set<string>;
}

function wholes(units: readonly WorkUnit[]): Map<string, Whole> {
  const byKey = new Map<string, Whole>();
  for (const unit of units) {
    for (const target of unit.fraction ?? []) {
      const entry = byKey.get(target.key) ?? { targets: [], labels: new Set<string>() };
      entry.targets.push(target);
      entry.labels.add(unit.label);
      byKey.set(target.key, entry);
    }
  }
  return byKey;
}

const verbs = (targets: readonly FractionTarget[]) => [...new Set(targets.map((t) => t.verb))].join(' or ');

/**
 * Before the first batch. Returns the refusals, and the size of every whole a later unit acts on
 * (counted exactly: `recheckUnit` measures against it; the engine records it in the ledger).
 */
export async function checkFractions(
  client: PoolClient,
  units: readonly WorkUnit[],
  maxFraction: number,
  known: ReadonlyMap<FractionTarget, number> = new Map(),
): Promise<{ problems: string[]; sizes: Record<string, number> }> {
  const problems: string[] = [];
  const sizes: Record<string, number> = {};
  // No run can change more than all of a whole: `max_fraction: 1` turns the guard (and its scans) off.
  if (maxFraction >= 1) return { problems, sizes };
  const later = new Set(units.slice(1).flatMap((u) => (u.fraction ?? []).map((t) => t.key)));
  for (const [key, { targets, labels }] of wholes(units)) {
    const first = targets[0]!;
    const counted = targets.length === 1 ? known.get(first) : undefined;
    const exact = later.has(key);
    const { matching, total } = await first.measure(client, targets, { known: counted, total: exact ? 'exact' : 'enough', maxFraction });
    if (exact) sizes[key] = total;
    const problem = overFraction(`${[...labels].join(', ')}: would ${verbs(targets)}`, matching, total, first.whole, maxFraction);
    if (problem) problems.push(problem);
  }
  return { problems, sizes };
}

/**
 * When a unit after the first starts (a fresh unit, not one a retry resumes within): per whole it
 * acts on, what the run already changed (`tables`) plus what the unit would touch now, against the
 * whole's size at the run's start (`sizes`; counted now when the run did not record it, which can
 * only make the guard stricter: the run's deletes made the table smaller).
 */
export async function recheckUnit(
  client: PoolClient,
  unit: WorkUnit,
  maxFraction: number,
  run: { known: ReadonlyMap<FractionTarget, number>; sizes: Readonly<Record<string, number>>; tables: Readonly<Record<string, Counts>> },
): Promise<string[]> {
  if (maxFraction >= 1) return [];
  const problems: string[] = [];
  for (const [key, { targets }] of wholes([unit])) {
    const first = targets[0]!;
    const counted = targets.length === 1 ? run.known.get(first) : undefined;
    const recorded = run.sizes[key];
    const { matching, total } = await first.measure(client, targets, { known: counted, total: recorded === undefined ? 'exact' : 'skip', maxFraction });
    const changed = first.changed(run.tables);
    const subject =
      changed > 0 ? `${unit.label}: would ${verbs(targets)} ${matching} more after this run changed ${changed}:` : `${unit.label}: would ${verbs(targets)}`;
    const problem = overFraction(
      subject,
      changed + matching,
      recorded ?? total,
      `${first.whole}${recorded === undefined ? '' : " as at the run's start"}`,
      maxFraction,
    );
    if (problem) problems.push(problem);
  }
  return problems;
}
