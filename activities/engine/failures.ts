import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import type { PartialResult } from '../../core/contract';
import { FailureType } from '../../core/failures';

/**
 * A PostgreSQL error as node-postgres raises it, plus where Caretaker was when it happened:
 * `relation` (the table a statement worked on, when PostgreSQL names none, as for a lock timeout)
 * and `batch` (the unit and the key of its batch's first row).
 */
interface PgError extends Error {
  code: string;
  detail?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  relation?: string;
  batch?: { unit: string; firstKey: unknown };
  /** What Caretaker knows of the cause, said after PostgreSQL's fields (`withNote`). */
  note?: string;
}

function isPgError(err: unknown): err is PgError {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** SQLSTATE class 23: integrity constraint violation (CHECK, NOT NULL, foreign key, unique, exclusion). */
export const isIntegrityViolation = (code: string) => code.startsWith('23');

/**
 * SQLSTATE classes that no retry can fix: 22 (data exception: a bad cast, an ENUM label that does
 * not exist, interval out of range), 23 (the data breaks a constraint of the table) and 42 (syntax
 * error or access rule violation).
 */
export function isPermanentSqlError(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('22') || isIntegrityViolation(code) || code.startsWith('42'));
}

/** Runs a statement on `table` (its qualified name); a PostgreSQL error that names no table then names this one. */
export async function onTable<T>(table: string, statement: Promise<T>): Promise<T> {
  try {
    return await statement;
  } catch (err) {
    if (isPgError(err)) err.relation ??= table;
    throw err;
  }
}

/** Marks a PostgreSQL error raised by a batch with its unit and the key of the batch's first row. */
export function inBatch(err: unknown, unit: string, firstKey: unknown): unknown {
  if (isPgError(err)) err.batch ??= { unit, firstKey };
  return err;
}

/** A foreign-key violation (23503) as PostgreSQL names it: the constraint, and the unit whose batch met it. */
export function foreignKeyViolation(err: unknown): { constraint: string; unit?: string } | undefined {
  if (!isPgError(err) || err.code !== '23503' || err.constraint === undefined) return undefined;
  return { constraint: err.constraint, unit: err.batch?.unit };
}

/** Adds what Caretaker knows of a PostgreSQL error's cause to its text (`describePgError`). */
export function withNote(err: unknown, note: string): unknown {
  if (isPgError(err)) err.note ??= note;
  return err;
}

/** A cursor as a key: `7` for a one-column key, `["a","7"]` for a composite one. */
function keyText(key: unknown): string {
  return JSON.stringify(Array.isArray(key) && key.length === 1 ? key[0] : key);
}

/**
 * The text of a PostgreSQL error that may leave the worker: its message, SQLSTATE, the constraint,
 * table and column it names, the batch and its first key, and the PL/pgSQL context. Never its
 * DETAIL: for a constraint violation that is the whole failing row (`Failing row contains (…)`),
 * application data that must not reach Temporal's history.
 */
export function describePgError(e: PgError): string {
  const table = e.table ? (e.schema ? `${e.schema}.${e.table}` : e.table) : e.relation;
  const parts = [
    `SQLSTATE ${e.code}`,
    e.constraint && `constraint ${e.constraint}`,
    table && `table ${table}`,
    e.column && `column ${e.column}`,
    e.batch && `in a batch of ${e.batch.unit} from key ${keyText(e.batch.firstKey)}`,
    e.where,
  ];
  return `${e.message} (${parts.filter(Boolean).join('; ')})${e.note ? ` (${e.note})` : ''}`;
}

/**
 * The failure an activity raises, carrying what the run had done (`details[0]` is a
 * PartialResult): Temporal failures keep their type and retryability, PostgreSQL errors become
 * `IntegrityViolation` (class 23) or `PostgresError` (non-retryable for classes 22 and 42),
 * anything else stays retryable.
 */
export function withPartial(err: unknown, partial: PartialResult): Error {
  if (err instanceof CancelledFailure) return new CancelledFailure(err.message, [partial], err.cause);
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type ?? undefined,
      nonRetryable: err.nonRetryable ?? false,
      details: [partial],
      cause: err.cause,
      category: err.category ?? undefined,
    });
  }
  if (err instanceof TemporalFailure) return err;
  if (isPgError(err)) {
    return ApplicationFailure.create({
      message: describePgError(err),
      type: isIntegrityViolation(err.code) ? FailureType.IntegrityViolation : FailureType.PostgresError,
      nonRetryable: isPermanentSqlError(err.code),
      details: [partial],
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message, type: err instanceof Error ? err.name : 'Error', nonRetryable: false, details: [partial] });
}
