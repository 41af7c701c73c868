import type { PoolClient } from 'pg';
import type { RowRule, RuleValue } from '../../tasks/rows-rules';
import type { TimestampSettings } from '../../tasks/fields';
import { ref, type ColumnRef } from '../../core/column-refs';
import { configError } from '../../core/errors';
import { jsonPathProblem, type Assigned } from '../sql/expressions';
import { resolveTable, type ResolvedTable } from '../sql/identifiers';
import type { RowKey } from '../sql/keys';
import { resolveChildren } from './children';
import type { ChildTable, RowAction } from './row-sets';
import { checkWrittenZones, ruleTexts, type ParseText, type RuleTexts } from './rule-text';

/**
 * What a rule or a case does to its rows, compiled for its row set (rules.ts; the strategies that
 * run each kind: actions/): an update's assignments (literals, SQL text, JSON paths), a delete and
 * the child tables it reaches (a child may be updated instead), a report, a workflow start. An
 * archive, which may read the rule's parent row, is rule-parent.ts `archiveAction`.
 */

/**
 * An update's assignments: literals as parameters cast to the column's type (inside JSON: as JSON),
 * strings as SQL value expressions; a target is a column or a JSON path (written with jsonb_set).
 */
function assignments(table: ResolvedTable, update: Record<string, RuleValue>, texts: RuleTexts, at: string): [ColumnRef, Assigned][] {
  return Object.entries(update).map(([target, value]): [ColumnRef, Assigned] => {
    const r = ref(target);
    const json = r.path.length > 0;
    const problem = json ? jsonPathProblem(table, r.column) : undefined;
    if (problem !== undefined) throw configError(`${at}.update.${target}: ${problem}`);
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return [r, value];
    if (typeof value === 'object') return [r, value.value];
    return [r, { sql: (json ? texts.jsonValue : texts.value)(value, `${at}.update.${target}`) }];
  });
}

/** The columns an update writes (a JSON path writes its column). */
export const updatedColumns = (update: Record<string, RuleValue> | undefined) => Object.keys(update ?? {}).map((target) => ref(target).column);

/** How the text an action writes is checked: the task's zones, and how text becomes its tree (rule-text.ts `checkWrittenZones`). */
export interface Written {
  zones: TimestampSettings;
  parse: ParseText;
}

/** The action of a rule or a branch. */
export async function ruleAction(
  client: PoolClient,
  key: RowKey,
  r: Pick<RowRule, 'update' | 'delete' | 'report'>,
  texts: RuleTexts,
  at: string,
  written: Written,
) {
  if (r.update) {
    checkWrittenZones(key.table, r.update, written.zones, written.parse, `${at}.update`);
    return { kind: 'update' as const, assign: assignments(key.table, r.update, texts, at) };
  }
  if (r.delete) return { kind: 'delete' as const, children: await deleteChildren(client, key, r.delete.children, `${at}.delete`, written) };
  return { kind: 'report' as const };
}

/** A delete's child tables; a child with `update` gets its assignments, SQL text read over the child's columns. */
async function deleteChildren(
  client: PoolClient,
  key: RowKey,
  children: NonNullable<RowRule['delete']>['children'],
  at: string,
  written: Written,
): Promise<ChildTable[]> {
  const resolved = await resolveChildren(client, key, children, at);
  for (const [i, c] of children.entries()) {
    if (!c.update) continue;
    const child = resolved[i]!;
    const cat = `${at}: children[${i}]`;
    await resolveTable(client, child.table.name, updatedColumns(c.update), `${cat}.update`);
    checkWrittenZones(child.table, c.update, written.zones, written.parse, `${cat}.update`);
    const texts = ruleTexts(child.table, cat);
    child.assign = assignments(child.table, c.update, texts, cat);
    await texts.checkFunctions(client);
  }
  return resolved;
}

/** A `start_workflow` rule's action: a workflow started for each row (start-workflows.ts). */
export function startAction(target: NonNullable<RowRule['start_workflow']>): RowAction {
  const { type, task_queue, id_prefix, execution_timeout } = target;
  return { kind: 'start_workflow', workflowType: type, taskQueue: task_queue, idPrefix: id_prefix, executionTimeoutMs: execution_timeout };
}
