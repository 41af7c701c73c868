import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { PoolClient } from 'pg';
import type { WorkUnit } from '../engine/work-unit';
import { keyLabel, type KeyValue } from '../sql/keys';

/** A row set's action that starts one workflow per row (id `<idPrefix><row id>`). */
export interface StartAction {
  kind: 'start_workflow';
  workflowType: string;
  taskQueue: string;
  idPrefix: string;
  executionTimeoutMs?: number;
}

/** The rows to start workflows for (a row set's, row-sets.ts): label, counter, table, and a batch of their keys after a cursor. */
export interface StartRows {
  label: string;
  counter?: string;
  table: string;
  read: (client: PoolClient, after: KeyValue | null, limit: number) => Promise<KeyValue[]>;
}

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
export function startWorkflowUnit(set: StartRows, action: StartAction): WorkUnit<KeyValue, KeyValue> {
  return {
    label: set.label,
    transactional: false,
    unplannable: 'workflow_starts',
    nextBatch: (client, after, limit) => set.read(client, after, limit),
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
        details: keys.map((k) => ({ set: set.label, table: set.table, id: keyLabel(k), action: action.kind })),
        capped: keys.length,
      };
    },
  };
}
