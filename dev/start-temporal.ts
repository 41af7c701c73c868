import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporalEnv } from '../config/temporal-env';
import { cloudHint, registerSearchAttributes } from '../client/register-search-attributes';
import { noCliMessage, resolveTemporalCli } from './temporal-cli';
import { startDevServer } from './dev-server';
import { forgetServer, ownSessionWrapper, runningServer, serverDbPath, startStillRunning, stopServerProcess } from './dev-server-process';
import { describePortOwner } from './port-owner';
import type { StartSettings } from './start-settings';

export interface StartedTemporal {
  connection: NativeConnection;
  client: Client;
  namespace: string;
  /** Closes the connections and stops the dev server (if npm start runs one); nothing of it is left running. */
  stop: () => Promise<void>;
  /** Whether npm start runs this server (false: TEMPORAL_ADDRESS, which it only connects to). */
  ownServer: boolean;
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Whether `port` is taken; after stopping a leftover server, give its sockets up to 5 s to close. */
async function portTaken(port: number, settle: boolean): Promise<boolean> {
  for (const deadline = Date.now() + (settle ? 5_000 : 0); await portInUse(port); await sleep(200)) if (Date.now() >= deadline) return true;
  return false;
}

/** Stops the dev server this process started, if it runs (a second Ctrl-C; after teardown, to be sure). */
export async function stopOwnServer(settings: StartSettings): Promise<void> {
  const server = runningServer(settings.stateDir);
  if (server?.startPid === process.pid) await stopServerProcess(server, settings.stateDir);
}

async function connectToAddress(): Promise<StartedTemporal> {
  const env = temporalEnv();
  console.log(`temporal: using ${env.address} (TEMPORAL_ADDRESS)`);
  const connection = await NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
  await registerSearchAttributes(connection, env.namespace).then(
    (r) => r.added.length && console.log(`temporal: registered search attributes ${r.added.join(', ')}`),
    (err: Error) =>
      console.log(
        `temporal: could not register Caretaker's search attributes (${err.message}); runs fail to record their outcome until they are. ${cloudHint(env.namespace)}`,
      ),
  );
  return {
    connection,
    client: new Client({ connection, namespace: env.namespace }),
    namespace: env.namespace,
    stop: () => connection.close(),
    ownServer: false,
  };
}

/**
 * The dev server with SQLite in the state directory and the Web UI; or TEMPORAL_ADDRESS when set.
 * A dev server that an earlier start of this state directory left running (that start was killed)
 * is stopped first; a port taken by anything else is refused, naming it.
 */
export async function startTemporal(settings: StartSettings): Promise<StartedTemporal> {
  if (process.env.TEMPORAL_ADDRESS) return connectToAddress();
  const { port, uiPort, stateDir } = settings;
  const inCwd = relative(process.cwd(), stateDir);
  const state = inCwd && !inCwd.startsWith('..') ? inCwd : stateDir;
  const leftover = runningServer(stateDir);
  if (leftover && startStillRunning(leftover)) {
    throw new Error(
      `another npm start (pid ${leftover.startPid}) runs with this state directory (${state}) and its dev server (pid ${leftover.pid}):` +
        ` stop it first (Ctrl-C in its terminal), or give this one its own CARETAKER_STATE_DIR, CARETAKER_TEMPORAL_PORT and CARETAKER_UI_PORT`,
    );
  }
  if (leftover) {
    console.log(`temporal: a dev server left running by an earlier npm start (pid ${leftover.pid}, state in ${state}): stopping it`);
    await stopServerProcess(leftover, stateDir);
  }
  for (const [taken, variable] of [
    [port, 'CARETAKER_TEMPORAL_PORT'],
    [uiPort, 'CARETAKER_UI_PORT'],
  ] as const) {
    if (await portTaken(taken, Boolean(leftover))) {
      const owner = describePortOwner(taken);
      throw new Error(
        `port ${taken} is taken${owner ? ` by ${owner}` : ''}, and not by a dev server of npm start in ${state}: is another Caretaker or Temporal running?` +
          `${taken === port ? ` To use that server, run with TEMPORAL_ADDRESS=localhost:${port};` : ''} to run npm start's own beside it, set ${variable} to a free port.`,
      );
    }
  }
  const cli = await resolveTemporalCli({ log: (l) => console.log(l) });
  mkdirSync(stateDir, { recursive: true });
  const executable =
    cli.source === 'sdk-download' ? ({ type: 'cached-download' } as const) : ({ type: 'existing-path', path: ownSessionWrapper(cli.path, stateDir) } as const);
  const env = await startDevServer({
    executable,
    dbFilename: serverDbPath(stateDir),
    port,
    ui: true,
    uiPort,
    log: { format: 'pretty', level: 'error' },
  }).catch((err: Error) => {
    throw new Error(`could not start the Temporal dev server: ${err.message}\n${cli.source === 'sdk-download' ? noCliMessage() : ''}`);
  });
  console.log(`temporal: dev server on localhost:${port} (state in ${state}/temporal.db, CLI from ${cli.source})`);
  const stop = async () => {
    await env.teardown();
    // teardown waits for the server it started; make sure, by its pid, that nothing of it is left.
    await stopOwnServer(settings);
    forgetServer(stateDir);
  };
  return { connection: env.nativeConnection, client: env.client, namespace: env.namespace ?? 'default', stop, ownServer: true };
}
