import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The dev server's process as `npm start` runs it: in a session of its own (so the terminal's
 * Ctrl-C reaches only Caretaker, which stops the worker first), with its pid and the pid of the
 * start that ran it in `<state dir>/temporal.pid`. The pids find the server again when that start
 * was killed: it is this state directory's if its command line is a dev server of its database,
 * and left over if the start that ran it is gone.
 */
export function serverDbPath(stateDir: string): string {
  return join(stateDir, 'temporal.db');
}

function pidFile(stateDir: string): string {
  return join(stateDir, 'temporal.pid');
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A wrapper that writes its pid and its parent's (the start's) and then execs the CLI under
 * `setsid`: neither `exec` nor `setsid` (the wrapper is not a process group leader) changes the
 * pid, so the file holds the server's pid, which is also its process group and session. Where
 * setsid is missing (macOS) the server stays in our session and Ctrl-C reaches both at once.
 */
export function ownSessionWrapper(cliPath: string, stateDir: string): string {
  const wrapper = join(stateDir, 'temporal-own-session.sh');
  const cli = shellQuote(cliPath);
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho "$$ $PPID" > ${shellQuote(pidFile(stateDir))}\nif command -v setsid >/dev/null 2>&1; then exec setsid ${cli} "$@"; fi\nexec ${cli} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** A process's command line, from /proc (or `ps` where there is no /proc); undefined when it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    try {
      return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Alive, or a zombie whose other threads still exit (and may still hold its sockets); a zombie
 * alone (a dead child nobody has reaped yet) listens on nothing.
 */
function alive(pid: number): boolean {
  try {
    if (!/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

export interface ServerProcess {
  pid: number;
  command: string;
  /** The `npm start` process that ran it. */
  startPid: number;
}

/** The dev server of this state directory named by its pid file, if it runs; a stale pid file is removed. */
export function runningServer(stateDir: string): ServerProcess | undefined {
  let pids: number[];
  try {
    pids = readFileSync(pidFile(stateDir), 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
  const [pid = 0, startPid = 0] = pids;
  const command = Number.isInteger(pid) && pid > 1 && alive(pid) ? commandLine(pid) : undefined;
  if (command?.includes('start-dev') && command.includes(serverDbPath(stateDir))) return { pid, command, startPid };
  forgetServer(stateDir);
  return undefined;
}

/** Whether the `npm start` that ran `server` still runs (then the server is in use, not left over). */
export function startStillRunning(server: ServerProcess): boolean {
  return server.startPid > 1 && server.startPid !== process.pid && alive(server.startPid) && Boolean(commandLine(server.startPid)?.includes('start.ts'));
}

export function forgetServer(stateDir: string): void {
  rmSync(pidFile(stateDir), { force: true });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal); // not a group leader (no setsid), or already gone
    } catch {
      /* gone */
    }
  }
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) if (!alive(pid)) return true;
  return !alive(pid);
}

/** Stops a dev server by pid: SIGTERM to its process group (it shuts down cleanly), SIGKILL if it is still there after 10 s. */
export async function stopServerProcess(server: ServerProcess, stateDir: string): Promise<void> {
  signalGroup(server.pid, 'SIGTERM');
  if (!(await exitedWithin(server.pid, 10_000))) {
    signalGroup(server.pid, 'SIGKILL');
    await exitedWithin(server.pid, 5_000);
  }
  forgetServer(stateDir);
}
