/** Every workflow the worker registers. The names must match `workflow` in the task catalog. */
export { runsCleanupStaleWorkflow } from './runs-cleanup-stale';
export { progressQuery } from './run-task';
