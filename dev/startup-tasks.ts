import type { Client } from '@temporalio/client';
import { startupWorkflowId } from '../core/workflow-ids';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { buildTaskInput, runTimeoutOf, workflowTypeFor } from '../config/task-input';
import { runStartOptions } from '../client/run-start';
import { failureOf, summarizeFailure, summarizeResult } from '../client/run-report';
import { webUiLink } from '../client/context';
import type { TaskResult } from '../core/contract';

/**
 * Runs the tasks marked `run_on_startup` once (seeds 001 and 004) and prints their results.
 * They start as ordinary workflows; the task lock keeps them from overlapping a scheduled run.
 */
export async function runStartupTasks(client: Client, config: CaretakerConfig): Promise<void> {
  await Promise.all(config.tasks.filter((t) => t.run_on_startup).map((task) => runOnce(client, config, task)));
}

/** One line per startup run: task, outcome, counts, link; an expected refusal is one line too. */
async function runOnce(client: Client, config: CaretakerConfig, task: TaskConfig): Promise<void> {
  const workflowId = startupWorkflowId(task.id, new Date());
  try {
    const handle = await client.workflow.start(workflowTypeFor(task), {
      workflowId,
      taskQueue: config.task_queue,
      args: [buildTaskInput(task)],
      workflowExecutionTimeout: runTimeoutOf(task),
      ...runStartOptions(task, { how: 'run on startup' }),
    });
    const result = (await handle.result()) as TaskResult;
    console.log(`startup run ${task.id}: ${summarizeResult(result)}  ${webUiLink(workflowId)}`);
  } catch (err) {
    console.log(`startup run ${task.id}: ${summarizeFailure(failureOf(err))}  ${webUiLink(workflowId)}`);
  }
}
