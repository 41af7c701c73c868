import type { PoolClient } from 'pg';
import type { RunOptions } from '../engine/engine';
import { taskBatchSizer } from '../engine/batch-size';
import type { ActMode, EngineConfig, TaskSession, WorkUnit } from '../engine/work-unit';
import { TableTarget } from '../engine/fraction-targets';
import { quoteIdent } from '../sql/identifiers';
import { SqlParams } from '../sql/params';
import { estimatedRows, explainingClient, planNodes, type PlanNode } from './explain';
import { error, type Finding, warning } from './findings';
import { estimatedTableRows, hasLeadingIndex, missingPrivileges } from './table-facts';
import { naiveColumnsWithoutZone } from './zones';
import type { TimestampSettings } from '../../core/time-zones';

/** A sequential scan over a table with more rows than this (the planner's estimate) is a warning. */
export const SEQ_SCAN_WARNING_ROWS = 100_000;

/** An error's message, or the thrown value as text. */
export const messageOf = (err: unknown) => (err as Error).message ?? String(err);

/** `work` in a read-only transaction that is rolled back: the check changes nothing. */
async function readOnly<T>(client: PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('begin read only');
  try {
    return await work();
  } finally {
    await client.query('rollback');
  }
}

/**
 * What `caretaker check` reports about the units a task's activity built (every name in them
 * already resolved by the activity itself): the privileges of the connected role, child foreign
 * keys without an index, the plan of each unit's first batch, the planner's estimate of the rows
 * a run changes against max_fraction and max_rows_per_run, and naive timestamp columns read
 * without a zone. The units' preflights are left to the run: they count exactly (whole scans) and
 * look at the worker's file system, not this machine's.
 */
export async function inspectUnits(session: TaskSession, units: readonly WorkUnit[], opts: RunOptions): Promise<Finding[]> {
  const { client, input } = session;
  const cfg = input.config;
  const findings: Finding[] = (opts.warnings ?? []).map(warning);
  const mode: ActMode = cfg.dry_run && cfg.dry_run_mode === 'read_only' ? 'predict' : 'apply';
  const firstBatch = Math.min(taskBatchSizer(cfg, opts.batchSize).current, cfg.max_rows_per_run ?? Infinity);
  let estimated = 0;
  for (const unit of units) {
    for (const target of tableTargets(unit)) findings.push(...(await targetFindings(client, unit, target, cfg, (n) => (estimated += n))));
    if (unit.transactional) findings.push(...(await firstBatchFindings(client, unit, { limit: firstBatch, readAhead: cfg.read_ahead ?? 0 }, mode)));
  }
  const tables = new Map(units.flatMap((u) => [...tableTargets(u).map((t) => t.table), ...(u.picks ? [u.picks] : [])]).map((t) => [t.oid, t]));
  findings.push(...(await naiveColumnsWithoutZone(client, [...tables.values()], cfg as { timestamps?: TimestampSettings })));
  if (cfg.max_rows_per_run != null && estimated > cfg.max_rows_per_run) {
    findings.push(
      warning(
        `a run would change about ${Math.round(estimated)} rows (planner's estimate), more than max_rows_per_run ${cfg.max_rows_per_run}: each run stops there and the rest waits for the next`,
      ),
    );
  }
  return findings;
}

/** The rows of tables a unit changes (files are left to the run, as its preflights are). */
const tableTargets = (unit: WorkUnit) => (unit.fraction ?? []).filter((t): t is TableTarget => t instanceof TableTarget);

/** Privileges, the child's foreign key index and the estimated share of the table, for one table a unit changes. */
async function targetFindings(client: PoolClient, unit: WorkUnit, target: TableTarget, cfg: EngineConfig, count: (rows: number) => void): Promise<Finding[]> {
  const findings: Finding[] = [];
  const at = `${unit.label}: ${target.table.name}`;
  const missing = await missingPrivileges(client, target.table, target.verb);
  if (missing.length > 0)
    findings.push(
      error(
        `${at}: the role lacks ${missing.join(' and ')} on ${target.table.name}, which a run needs to ${target.verb} its rows; grant ${missing.join(', ')} on ${target.table.name} to it`,
      ),
    );
  if (target.through && !(await hasLeadingIndex(client, target.table, target.through.columns))) {
    findings.push(
      warning(
        `${at}: no index on ${target.table.name} (${target.through.columns.join(', ')}), the column(s) referencing ${target.through.parent.table.name}: every delete of parent rows scans the whole child table; create an index on (${target.through.columns.join(', ')})`,
      ),
    );
  }
  if (missing.includes('SELECT')) return findings;
  let estimate: { matching: number; total: number };
  try {
    estimate = await readOnly(client, async () => {
      const p = new SqlParams();
      const condition = target.condition(p);
      return { matching: await estimatedRows(client, target.table.sql, condition, p.values), total: await estimatedTableRows(client, target.table.sql) };
    });
  } catch (err) {
    return [...findings, error(`${at}: the rows a run would ${target.verb} cannot be selected: ${messageOf(err)}`)];
  }
  const { matching, total } = estimate;
  if (target.picked) count(matching);
  const max = cfg.max_fraction ?? 1;
  // An empty or never analyzed table (reltuples 0 or -1) has no estimate worth comparing.
  if (max < 1 && total > 0 && matching / total > max) {
    findings.push(
      warning(
        `${at}: a run would ${target.verb} about ${Math.round(matching)} of ${Math.round(total)} rows (planner's estimate, ${Math.round((matching / total) * 100)}%), more than max_fraction ${max}: a real run would refuse`,
      ),
    );
  }
  return findings;
}

/**
 * The plan of a unit's first batch (and of its read-ahead pass, which comes first when the task
 * reads ahead): its own statements, explained, never run.
 */
async function firstBatchFindings(client: PoolClient, unit: WorkUnit, size: { limit: number; readAhead: number }, mode: ActMode): Promise<Finding[]> {
  const plans: PlanNode[] = [];
  try {
    await readOnly(client, async () => {
      const explaining = explainingClient(client, plans);
      if (unit.readAhead && size.readAhead > 0) await unit.readAhead.cursors(explaining, null, size.readAhead, unit.readAhead.onlyAtStart !== undefined);
      await unit.nextBatch(explaining, null, size.limit, mode);
    });
  } catch (err) {
    return [error(`${unit.label}: the first batch fails: ${messageOf(err)}`)];
  }
  const findings: Finding[] = [];
  const scans = plans.flatMap(planNodes).filter(readsWholeTable);
  for (const scan of new Map(scans.map((s) => [`${s.Schema}.${s['Relation Name']}`, s])).values()) {
    const rows = await estimatedTableRows(client, `${quoteIdent(scan.Schema!)}.${quoteIdent(scan['Relation Name']!)}`);
    if (rows > SEQ_SCAN_WARNING_ROWS) {
      const how = scan['Node Type'] === 'Seq Scan' ? 'a sequential scan' : `a walk of all of index ${scan['Index Name']} with a filter`;
      findings.push(
        warning(
          `${unit.label}: the first batch reads all of ${scan.Schema}.${scan['Relation Name']} (${how} over about ${Math.round(rows)} rows): no index serves its conditions; add one on the columns the task filters by`,
        ),
      );
    }
  }
  return findings;
}

/** A scan that visits every row of its table: sequential, or an index walked without a condition on it. */
function readsWholeTable(node: PlanNode): boolean {
  if (!node.Schema || !node['Relation Name']) return false;
  if (node['Node Type'] === 'Seq Scan') return true;
  return (node['Node Type'] === 'Index Scan' || node['Node Type'] === 'Index Only Scan') && !node['Index Cond'] && Boolean(node.Filter);
}
