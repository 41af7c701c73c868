import type { WorkflowHandle } from '@temporalio/client';
import type { TaskResult } from '../workflows/types';
import { OUTCOME_MEMO } from '../workflows/run-task';
import { type CliContext, webUiLink } from './context';
import { countsText, failureOf, summarizeFailure, summarizeResult, tablesText } from './run-report';
import { progressLine } from './run-progress';

/** How often `run --wait` refreshes: an updating line on a terminal, a printed line otherwise. */
const TTY_REFRESH_MS = 1000;
const LOG_REFRESH_MS = 5000;

interface StoppedMemo {
  outcome: string;
  counts: Record<string, number>;
  tables: Record<string, Record<string, number>>;
}

/**
 * `run --wait`: live progress until the run ends, then its per-table summary, or the failure's
 * cause with exit 1. Ctrl-C leaves the run going and says how to follow or cancel it.
 */
export async function waitForRun(ctx: CliContext, handle: WorkflowHandle): Promise<number> {
  const { workflowId } = handle;
  const tty = !ctx.json && process.stdout.isTTY === true;
  const onInterrupt = () => {
    if (tty) process.stdout.write('\n');
    console.error(`caretaker: stopped waiting; the run goes on in Temporal.\n  follow it: caretaker status ${workflowId}\n  stop it:   caretaker cancel ${workflowId}`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let timer: NodeJS.Timeout | undefined;
  const ticker = ctx.json
    ? undefined
    : (timer = setInterval(
        () =>
          void handle.describe().then(
            (d) => (tty ? process.stdout.write(`\r\x1b[K  ${progressLine(d)}`) : console.log(`  ${progressLine(d)}`)),
            () => undefined,
          ),
        tty ? TTY_REFRESH_MS : LOG_REFRESH_MS,
      ));
  let result: TaskResult;
  try {
    result = (await handle.result()) as TaskResult;
  } catch (err) {
    const failure = failureOf(err);
    const memo = (await handle.describe().catch(() => undefined))?.memo?.[OUTCOME_MEMO] as StoppedMemo | undefined;
    const partial = { counts: memo?.counts ?? {}, tables: memo?.tables ?? {} };
    ctx.print({ workflowId, failed: true, outcome: failure.outcome, cause: failure.cause, type: failure.type, partial, url: webUiLink(workflowId) }, () =>
      [
        `${tty ? '\n' : ''}${workflowId}: ${summarizeFailure(failure)}`,
        `  changed before it stopped: ${countsText(partial.counts)}`,
        tablesText(partial.tables, '    '),
        `  ${webUiLink(workflowId)}`,
      ].join('\n'),
    );
    return 1;
  } finally {
    if (ticker) clearInterval(timer);
    process.removeListener('SIGINT', onInterrupt);
  }
  ctx.print({ workflowId, result }, () =>
    [
      `${tty ? '\n' : ''}${workflowId}: ${summarizeResult(result)} in ${result.batches} batch(es)`,
      `  per table${result.dryRun ? ' (would change; nothing was changed)' : ''}:`,
      tablesText(result.tables, '    '),
      ...(result.errors.length ? [`  errors (${result.errors.length}):`, ...result.errors.slice(0, 10).map((e) => `    ${e}`)] : []),
      ...(result.details.length ? [`  ${result.details.length} item(s) listed in the result${result.detailsOmitted ? `, ${result.detailsOmitted} more not listed` : ''}: ${webUiLink(workflowId)}`] : []),
    ].join('\n'),
  );
  // A dry run that finds the real run would be refused by a safety limit says so with its exit code.
  return result.status === 'refused' ? 1 : 0;
}
