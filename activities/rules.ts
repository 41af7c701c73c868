import type { RowsRulesConfig } from '../tasks/rows-rules';
import type { TaskInput, TaskResult } from '../core/contract';
import type { ActivityDeps } from './engine/deps';
import { exclusive } from './engine/task-lock';
import { runRules } from './rows/rules';

/** `rows.rules`: the rule compiler and runner live in the row machinery (rows/rules.ts), which presets use too. */
export function createRulesActivities({ databases }: ActivityDeps) {
  return {
    /** `rows.rules`: every rule in order, in batches, through the batch engine. */
    async applyRowRules(input: TaskInput<RowsRulesConfig>): Promise<TaskResult> {
      // The rules' SQL text is parsed in runRules; the parser loads once per worker, on the first run with text.
      return exclusive(databases, input, (session) => runRules(session, input.config.rules, input.config.timestamps));
    },
  };
}
