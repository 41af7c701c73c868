import type { Client } from '@temporalio/client';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { buildTaskInput, workflowTypeFor } from '../client/task-input';
import { summarizeResult } from '../client/commands/runs';
import type { TaskResult } from '../workflows/types';

/**
 * Runs the tasks marked `run_on_startup` once (seeds 001 and 004) and prints their results.
 * They start as ordinary workflows; the task lock keeps them from overlapping a scheduled run.
 */
export async function runStartupTasks(client: Client, config: CaretakerConfig): Promise<void> {
  await Promise.all(config.tasks.filter((t) => t.run_on_startup).map((task) => runOnce(client, config, task)));
}

async function runOnce(client: Client, config: CaretakerConfig, task: TaskConfig): Promise<void> {
  try {
    const handle = await client.workflow.start(workflowTypeFor(task), {
      workflowId: `${task.id}-startup-${new Date().toISOString().replace(/[:.]/g, '-')}`,
      taskQueue: config.task_queue,
      args: [buildTaskInput(task)],
      workflowExecutionTimeout: task.timeouts.run,
      staticSummary: `Caretaker ${task.type} (${task.id}), run on startup`,
    });
    const result = (await handle.result()) as TaskResult;
    console.log(`startup run ${task.id}: ${summarizeResult(result)}`);
    for (const item of result.details.slice(0, 5)) console.log(`    ${JSON.stringify(item)}`);
    if (result.details.length > 5) console.log(`    ... and ${result.details.length - 5} more in the run's result (Web UI)`);
  } catch (err) {
    console.error(`startup run ${task.id} failed: ${(err as Error).message}`);
  }
}
