import { statusResetRules, type StatusResetConfig } from '../tasks/status-reset';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { runRules } from './rows/rules';
import { exclusive } from './engine/task-lock';

export function createStatusActivities({ databases }: ActivityDeps) {
  return {
    /** `status.reset`: rows stuck in a status whose job is gone or not running are reset; the rule it is (tasks/status-reset.ts), run as rows.rules runs it. */
    async resetStuckStatus(input: TaskInput<StatusResetConfig>): Promise<TaskResult> {
      const { rules, texts } = statusResetRules(input.config);
      return exclusive(databases, input, (session) => runRules(session, rules, input.config.timestamps, texts));
    },
  };
}
