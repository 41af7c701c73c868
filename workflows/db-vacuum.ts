import type { DbVacuumConfig } from '../tasks/db-vacuum';
import { runTask } from './run-task';
import type { TaskInput, TaskResult } from '../core/contract';

/** `db.vacuum`: VACUUM (ANALYZE) table by table, then REINDEX CONCURRENTLY of bloated b-trees. */
export async function dbVacuumWorkflow(input: TaskInput<DbVacuumConfig>): Promise<TaskResult> {
  return runTask(input, (activities) => activities.vacuumDatabase(input));
}
