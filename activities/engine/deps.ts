import type { Pool } from 'pg';

/** Named target databases. Connection strings stay in the worker; workflows only see names. */
export interface DatabasePools {
  get(name: string): Pool;
  names(): string[];
  /** Schema of Caretaker's run ledger in that database (default `caretaker`). */
  ledgerSchema?(name: string): string;
}

/** What activities need from the outside world, injected so tests use real but separate resources. */
export interface ActivityDeps {
  databases: DatabasePools;
}
