import { Pool } from 'pg';
import { configError } from '../core/errors';
import type { DatabasePools } from '../activities/engine/deps';
import { DEFAULT_LEDGER_SCHEMA } from '../activities/engine/ledger';
import { formatDuration, parseDuration } from '../core/duration';

/**
 * Target databases by name, from the environment: DATABASE_URL is "default", and
 * CARETAKER_DB_<NAME>=postgres://... adds "<name>" (lower-cased). One pool per name, opened lazily.
 *
 * Every connection is opened with idle_in_transaction_session_timeout, so a worker that freezes
 * inside a batch (a stopped VM, a hung event loop) cannot hold its row locks: the server ends the
 * session after that long idle in a transaction. CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT sets it as a
 * duration ("5m", "90s"; default 5m); "0" leaves the server's own setting.
 */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT = 5 * 60_000;

export interface PoolSettings {
  /** Milliseconds; 0 sends nothing (the server's setting applies). */
  idleInTransactionTimeout: number;
  /** Schema of the run ledger per database name (CARETAKER_LEDGER_SCHEMA_<NAME>, else CARETAKER_LEDGER_SCHEMA). */
  ledgerSchemas?: { byName: Map<string, string>; fallback?: string };
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Ledger schema names from the environment, checked to be plain lower-case identifiers. */
export function ledgerSchemasFromEnv(env: NodeJS.ProcessEnv = process.env): NonNullable<PoolSettings['ledgerSchemas']> {
  const checked = (key: string, value: string) => {
    if (!SCHEMA_NAME.test(value)) throw new Error(`${key}: expected a schema name of lower-case letters, digits and "_", got ${JSON.stringify(value)}`);
    return value;
  };
  const byName = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    const match = /^CARETAKER_LEDGER_SCHEMA_([A-Z][A-Z0-9_]*)$/.exec(key);
    if (match && value) byName.set(match[1]!.toLowerCase(), checked(key, value));
  }
  const fallback = env.CARETAKER_LEDGER_SCHEMA ? checked('CARETAKER_LEDGER_SCHEMA', env.CARETAKER_LEDGER_SCHEMA) : undefined;
  return { byName, fallback };
}

export function poolSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): PoolSettings {
  const text = env.CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT;
  if (!text) return { idleInTransactionTimeout: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT, ledgerSchemas: ledgerSchemasFromEnv(env) };
  const ms = text.trim() === '0' ? 0 : parseDuration(text);
  if (ms === undefined || (ms > 0 && ms < 1_000)) {
    throw new Error(
      `CARETAKER_IDLE_IN_TRANSACTION_TIMEOUT: expected a duration of at least 1s like "5m" or "90s", or 0 for the server's setting, got ${JSON.stringify(text)}`,
    );
  }
  return { idleInTransactionTimeout: ms, ledgerSchemas: ledgerSchemasFromEnv(env) };
}

export function databaseUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const urls = new Map<string, string>();
  urls.set('default', env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/caretaker_demo');
  for (const [key, value] of Object.entries(env)) {
    const match = /^CARETAKER_DB_([A-Z][A-Z0-9_]*)$/.exec(key);
    if (match && value) urls.set(match[1]!.toLowerCase(), value);
  }
  return urls;
}

export class PoolRegistry implements DatabasePools {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly urls: Map<string, string>,
    private readonly settings: PoolSettings = { idleInTransactionTimeout: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT },
  ) {}

  ledgerSchema(name: string): string {
    const schemas = this.settings.ledgerSchemas;
    return schemas?.byName.get(name) ?? schemas?.fallback ?? DEFAULT_LEDGER_SCHEMA;
  }

  get(name: string): Pool {
    let pool = this.pools.get(name);
    if (pool) return pool;
    const url = this.urls.get(name);
    if (!url) {
      throw configError(
        `database "${name}" is not configured on this worker (known: ${this.names().join(', ')}); set CARETAKER_DB_${name.toUpperCase()}=postgres://...`,
      );
    }
    pool = new Pool({
      connectionString: url,
      max: 10,
      application_name: `caretaker:${name}`,
      idle_in_transaction_session_timeout: Math.round(this.settings.idleInTransactionTimeout) || undefined,
    });
    // A connection's error must not crash the worker: an idle one (the server restarted) or one an
    // activity holds between queries (the server ended it after the idle-in-transaction timeout).
    // The activity learns of it from its next query, which fails and is retried. The pool reports
    // idle clients' errors too; every client already logs its own.
    pool.on('connect', (client) => client.on('error', (err) => console.error(`caretaker: connection to database "${name}" failed: ${err.message}`)));
    pool.on('error', () => undefined);
    this.pools.set(name, pool);
    return pool;
  }

  /** The timeout every connection is opened with, for the worker's start-up line. */
  describeSettings(): string {
    const ms = this.settings.idleInTransactionTimeout;
    return `idle_in_transaction_session_timeout ${ms ? formatDuration(ms) : "the server's"}`;
  }

  names(): string[] {
    return [...this.urls.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
