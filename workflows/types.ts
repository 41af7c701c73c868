/**
 * The contract moved to core/contract.ts (issue 17). This re-export keeps the ~70 activities, tests,
 * benchmarks and the plugin example that import `workflows/types` working while other branches that
 * edit them land; import `core/contract` in new code.
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
