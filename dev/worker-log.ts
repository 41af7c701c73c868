import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { EXPECTED_TYPES } from '../core/failures';

function expected(entry: LogEntry): boolean {
  const error = entry.meta?.error as { type?: string } | undefined;
  return entry.message === 'Activity failed' && EXPECTED_TYPES.has(error?.type ?? '');
}

/**
 * The worker's log for `npm start`: warnings and errors as the SDK writes them, except an expected
 * refusal (a safety limit, bad config), which the startup line or `caretaker status` already says.
 */
export function quietWorkerLogger(): DefaultLogger {
  const write = (entry: LogEntry) => {
    if (expected(entry)) return;
    const meta = entry.meta === undefined ? '' : ` ${JSON.stringify(entry.meta, (_k, v: unknown) => (v instanceof Error ? (v.stack ?? v.message) : v))}`;
    process.stderr.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${meta}\n`);
  };
  return new DefaultLogger('WARN', write);
}
