import { isGrpcServiceError, ServiceError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TaskResult } from '../workflows/types';
import { readOutcomeMemo } from '../core/outcome';
import { type CliContext, webUiLink } from './context';
import { countsText, failureOf, summarizeFailure, summarizeResult, tablesText } from './run-report';
import { progressLine } from './run-progress';

/** How often `run --wait` refreshes: an updating line on a terminal, a printed line otherwise. */
const TTY_REFRESH_MS = 1000;
const LOG_REFRESH_MS = 5000;

/** `run --wait`'s exit code when it lost Temporal while waiting: the run's outcome is not known. */
export const LOST_CONTACT_EXIT = 3;

/**
 * `run --wait`: live progress until the run ends, then its per-table summary, or the failure's
 * cause with exit 1. Ctrl-C leaves the run going and says how to follow or cancel it. Losing the
 * connection to Temporal is not the run's failure: it says so, and how to follow the run, with exit 3.
 */
export async function waitForRun(ctx: CliContext, handle: WorkflowHandle): Promise<number> {
  const { workflowId } = handle;
  const tty = !ctx.json && process.stdout.isTTY === true;
  const onInterrupt = () => {
    if (tty) process.stdout.write('\n');
    console.error(
      `caretaker: stopped waiting; the run goes on in Temporal.\n  follow it: caretaker status ${workflowId}\n  stop it:   caretaker cancel ${workflowId}`,
    );
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
    if (err instanceof ServiceError || isGrpcServiceError(err)) return lostContact(ctx, workflowId, err, tty);
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = failureOf(err);
    const memo = readOutcomeMemo((await handle.describe().catch(() => undefined))?.memo);
    const partial = { counts: memo?.counts ?? {}, tables: memo?.tables ?? {} };
    ctx.print(
      {
        workflowId,
        failed: true,
        outcome: failure.outcome,
        dryRun: memo?.dryRun ?? false,
        cause: failure.cause,
        type: failure.type,
        partial,
        url: webUiLink(workflowId),
      },
      () =>
        [
          `${tty ? '\n' : ''}${workflowId}: ${summarizeFailure(failure)}${memo?.dryRun ? ' (dry run)' : ''}`,
          `  ${memo?.dryRun ? 'would change (dry run; nothing was changed)' : 'changed before it stopped'}: ${countsText(partial.counts)}`,
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
      ...(result.details.length
        ? [
            `  ${result.details.length} item(s) listed in the result${result.detailsOmitted ? `, ${result.detailsOmitted} more not listed` : ''}: ${webUiLink(workflowId)}`,
          ]
        : []),
    ].join('\n'),
  );
  // A dry run recorded before refusals failed it completed with status refused: still exit 1.
  return result.status === 'refused' ? 1 : 0;
}

/** The wait ended on an RPC error (server gone, network cut), not on the run's end: the run goes on. */
function lostContact(ctx: CliContext, workflowId: string, err: unknown, tty: boolean): number {
  const cause = failureOf(err).cause;
  const url = webUiLink(workflowId);
  if (ctx.json) ctx.print({ workflowId, lostConnection: true, cause, url }, () => '');
  console.error(
    [
      `${tty ? '\n' : ''}caretaker run: lost the connection to Temporal while waiting for ${workflowId} (${cause}).`,
      '  The run was not stopped by this: it goes on in Temporal, and its outcome is not known here.',
      `  follow it: caretaker status ${workflowId}   (or caretaker describe <task>, or ${url})`,
    ].join('\n'),
  );
  return LOST_CONTACT_EXIT;
}
