import { Pool } from 'pg';
import { configError } from '../activities/errors';
import type { DatabasePools } from '../activities/deps';

/**
 * Target databases by name, from the environment: DATABASE_URL is "default", and
 * CARETAKER_DB_<NAME>=postgres://... adds "<name>" (lower-cased). One pool per name, opened lazily.
 */
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

  constructor(private readonly urls: Map<string, string>) {}

  get(name: string): Pool {
    let pool = this.pools.get(name);
    if (pool) return pool;
    const url = this.urls.get(name);
    if (!url) {
      throw configError(
        `database "${name}" is not configured on this worker (known: ${this.names().join(', ')}); set CARETAKER_DB_${name.toUpperCase()}=postgres://...`,
      );
    }
    pool = new Pool({ connectionString: url, max: 10, application_name: `caretaker:${name}` });
    // An idle client's error (e.g. the server restarted) must not crash the worker.
    pool.on('error', (err) => console.error(`caretaker: idle connection to database "${name}" failed: ${err.message}`));
    this.pools.set(name, pool);
    return pool;
  }

  names(): string[] {
    return [...this.urls.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
