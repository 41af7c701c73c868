import { basename, extname, join, resolve } from 'node:path';

/** Where `npm start` keeps its dev server: the ports and the state directory, overridable from the environment. */
export interface StartSettings {
  /** The dev server's gRPC port (CARETAKER_TEMPORAL_PORT, default 7233). */
  port: number;
  /** The Web UI's port (CARETAKER_UI_PORT, default 8233). */
  uiPort: number;
  /**
   * temporal.db, the server's pid file and the demo files (CARETAKER_STATE_DIR). Default: `.caretaker`
   * for the demo, `.caretaker/configs/<name>` for your own CARETAKER_CONFIG, so the demo's schedules
   * (which would act on the `default` database, now yours) never live in your config's dev server.
   */
  stateDir: string;
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${name}: expected a TCP port number from 1 to 65535, got ${JSON.stringify(text)}`);
  return port;
}

export function startSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): StartSettings {
  const port = portFromEnv(env, 'CARETAKER_TEMPORAL_PORT', 7233);
  const uiPort = portFromEnv(env, 'CARETAKER_UI_PORT', 8233);
  if (port === uiPort) throw new Error(`CARETAKER_TEMPORAL_PORT and CARETAKER_UI_PORT: expected two different ports, got ${port} for both`);
  return { port, uiPort, stateDir: resolve(cwd, env.CARETAKER_STATE_DIR || defaultStateDir(env.CARETAKER_CONFIG)) };
}

/** `.caretaker` for the demo; `.caretaker/configs/<file name without extension>` for your own config. */
export function defaultStateDir(configFile: string | undefined): string {
  if (!configFile) return '.caretaker';
  const name = basename(configFile, extname(configFile)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'config';
  return join('.caretaker', 'configs', name);
}
