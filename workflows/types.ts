/**
 * The contract moved to core/contract.ts (issue 17). This re-export keeps the tests, benchmarks, the
 * plugin example (and plugins written from it) and the branches in flight that import
 * `workflows/types` working; import `core/contract` in new code.
 */
export { PROGRESS_QUERY, PROGRESS_SIGNAL } from '../core/contract';
export type {
  Backlog,
  BatchCheckpoint,
  Counts,
  PartialResult,
  PlanDirective,
  PlanSummary,
  RetrySpec,
  RunBacklog,
  RunPace,
  TaskInput,
  TaskProgress,
  TaskResult,
  TaskStatus,
  ThrottleReport,
} from '../core/contract';
