import type { SearchAttributePair } from '@temporalio/common';
import type { TaskConfig } from '../config/schema';
import { DRY_RUN, OUTCOME, TASK_ID, TASK_TYPE } from '../core/search-attributes';
import { runDetails, runSummary } from '../core/run-text';

/**
 * What every start of a task's workflow carries (a schedule's action, `caretaker run`, a startup
 * run): the search attributes Temporal Web and `caretaker history` filter on, with the outcome
 * `running` until the workflow records how it ended, and the summary and details Temporal Web shows
 * on the run's page (DRY RUN first when it is one; the task's `description:` from the config).
 */
export function runStartOptions(task: TaskConfig, opts: { dryRun?: boolean; how?: string } = {}) {
  const dryRun = Boolean(opts.dryRun) || task.config.dry_run === true;
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: TASK_ID, value: task.id },
    { key: TASK_TYPE, value: task.type },
    { key: DRY_RUN, value: dryRun },
    { key: OUTCOME, value: 'running' },
  ];
  const who = { taskId: task.id, type: task.type, dryRun, description: task.description };
  return { typedSearchAttributes, staticSummary: runSummary(who, opts.how), staticDetails: runDetails(who) };
}
