import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The dev server's process as `npm start` runs it: in a session of its own (so the terminal's
 * Ctrl-C reaches only Caretaker, which stops the worker first), with its pid in
 * `<state dir>/temporal.pid`. The pid is what finds the server again when the start that ran it
 * was killed: it is ours if its command line is a dev server of this state directory's database.
 */
export function serverDbPath(stateDir: string): string {
  return join(stateDir, 'temporal.db');
}

function pidFile(stateDir: string): string {
  return join(stateDir, 'temporal.pid');
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A wrapper that writes its pid and then execs the CLI under `setsid`: neither `exec` nor
 * `setsid` (the wrapper is not a process group leader) changes the pid, so the file holds the
 * server's pid, which is also its process group and session. Where setsid is missing (macOS)
 * the server stays in our session and Ctrl-C reaches both at once.
 */
export function ownSessionWrapper(cliPath: string, stateDir: string): string {
  const wrapper = join(stateDir, 'temporal-own-session.sh');
  const cli = shellQuote(cliPath);
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho $$ > ${shellQuote(pidFile(stateDir))}\nif command -v setsid >/dev/null 2>&1; then exec setsid ${cli} "$@"; fi\nexec ${cli} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

function commandLine(pid: number): string | undefined {
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

/** Alive and not a zombie (a dead child nobody has reaped yet listens on nothing). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
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
}

/** The dev server of this state directory named by its pid file, if it runs; a stale pid file is removed. */
export function runningServer(stateDir: string): ServerProcess | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(stateDir), 'utf8').trim());
  } catch {
    return undefined;
  }
  const command = Number.isInteger(pid) && pid > 1 && alive(pid) ? commandLine(pid) : undefined;
  if (command?.includes('start-dev') && command.includes(serverDbPath(stateDir))) return { pid, command };
  forgetServer(stateDir);
  return undefined;
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
