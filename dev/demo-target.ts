import { databaseUrlsFromEnv } from '../worker/databases';
import { databaseUrlRefusal } from './demo-marker';

export const DEFAULT_DEMO_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/caretaker_demo';

/** The database npm start's demo creates and uses: CARETAKER_DEMO_DATABASE_URL, else caretaker_demo on the local server. */
export function demoDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.CARETAKER_DEMO_DATABASE_URL || DEFAULT_DEMO_DATABASE_URL;
}

export interface StartDatabases {
  /** The worker's databases by name. */
  urls: Map<string, string>;
  /** The demo database to create, migrate and seed (it is `default`); none when `default` is the user's DATABASE_URL. */
  demoUrl?: string;
}

function sameDatabase(a: string, b: string): boolean {
  return new URL(a).toString() === new URL(b).toString();
}

/**
 * Which databases `npm start` uses, and whether `default` is the demo's:
 * - the demo config (no CARETAKER_CONFIG): `default` is the demo database; a DATABASE_URL naming
 *   another database is refused, since the demo's tasks would delete and update rows in it;
 * - your own config (CARETAKER_CONFIG): `default` is DATABASE_URL, used as it is (never created,
 *   migrated or seeded; `--reseed` is refused), or the demo database when DATABASE_URL is unset.
 */
export function startDatabases(env: NodeJS.ProcessEnv, opts: { ownConfig: boolean; reseed: boolean }): StartDatabases {
  const demoUrl = demoDatabaseUrl(env);
  const userUrl = env.DATABASE_URL;
  if (userUrl && !opts.ownConfig && !sameDatabase(userUrl, demoUrl)) {
    throw databaseUrlRefusal(userUrl, demoUrl, 'and names another database than the demo');
  }
  if (userUrl && opts.ownConfig) {
    if (opts.reseed) throw databaseUrlRefusal(userUrl, demoUrl, 'with your own config (CARETAKER_CONFIG), and --reseed only reseeds the demo database');
    return { urls: databaseUrlsFromEnv(env) };
  }
  return { urls: databaseUrlsFromEnv({ ...env, DATABASE_URL: demoUrl }), demoUrl };
}
