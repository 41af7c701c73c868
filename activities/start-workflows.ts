import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { WorkUnit } from './engine/work-unit';
import type { RowAction, RowSet } from './row-sets';
import { selectKeys } from './row-sets';
import { keyLabel, type KeyValue } from './sql/keys';

type StartAction = Extract<RowAction, { kind: 'start_workflow' }>;

/** Is a workflow with this id running now? */
async function running(workflowId: string): Promise<boolean> {
  try {
    return (await Context.current().client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Rows for which to start a workflow each. The rows are read in a short transaction; the starts
 * happen outside it (a workflow start cannot be rolled back), one row at a time, each recorded
 * in the ledger when done. A dry run starts nothing and asks Temporal which would already be running.
 */
export function startWorkflowUnit(set: RowSet, action: StartAction): WorkUnit<KeyValue, KeyValue> {
  return {
    label: set.label,
    transactional: false,
    nextBatch: (client, after, limit) => selectKeys(client, set, { after, limit }, 'predict'),
    cursorOf: (key) => key,
    act: async (_client, keys, mode) => {
      let started = 0;
      for (const key of keys) {
        const id = keyLabel(key);
        const workflowId = `${action.idPrefix}${Array.isArray(id) ? id.join('-') : id}`;
        if (mode !== 'apply') {
          if (!(await running(workflowId))) started += 1;
          continue;
        }
        try {
          await Context.current().client.workflow.start(action.workflowType, {
            workflowId,
            taskQueue: action.taskQueue,
            args: [{ id }],
            workflowExecutionTimeout: action.executionTimeoutMs,
          });
          started += 1;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      return {
        counts: { matched: keys.length, [set.counter ?? 'started']: started, already_running: keys.length - started },
        details: keys.map((k) => ({ set: set.label, table: set.key.table.name, id: keyLabel(k), action: set.action.kind })),
        capped: keys.length,
      };
    },
  };
}
