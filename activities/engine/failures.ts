import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import type { PartialResult } from '../../workflows/types';

/** A PostgreSQL error as node-postgres raises it. */
interface PgError extends Error {
  code?: string;
  detail?: string;
  where?: string;
}

/**
 * SQLSTATE classes that no retry can fix: 22 (data exception: a bad cast, an ENUM label that does
 * not exist, interval out of range) and 42 (syntax error or access rule violation).
 */
export function isPermanentSqlError(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('22') || code.startsWith('42'));
}

/**
 * The failure an activity raises, carrying what the run had done (`details[0]` is a
 * PartialResult): Temporal failures keep their type and retryability, PostgreSQL errors become
 * `PostgresError` (non-retryable for classes 22 and 42), anything else stays retryable.
 */
export function withPartial(err: unknown, partial: PartialResult): Error {
  if (err instanceof CancelledFailure) return new CancelledFailure(err.message, [partial], err.cause);
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({ message: err.message, type: err.type ?? undefined, nonRetryable: err.nonRetryable ?? false, details: [partial], cause: err.cause });
  }
  if (err instanceof TemporalFailure) return err;
  const e = err as PgError;
  if (e instanceof Error && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const extra = [e.detail, e.where].filter(Boolean).join('; ');
    return ApplicationFailure.create({
      message: `${e.message} (SQLSTATE ${e.code}${extra ? `; ${extra}` : ''})`,
      type: 'PostgresError',
      nonRetryable: isPermanentSqlError(e.code),
      details: [partial],
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message, type: err instanceof Error ? err.name : 'Error', nonRetryable: false, details: [partial] });
}
