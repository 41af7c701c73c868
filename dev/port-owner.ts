import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { commandLine } from './dev-server-process';

/** Socket inodes listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/**
 * The process listening on `port`, as "pid N (command line)", where /proc tells (Linux, and a
 * process this user may inspect); undefined elsewhere. For a message, never for a decision.
 */
export function describePortOwner(port: number): string | undefined {
  const inodes = listeningInodes(port);
  if (!inodes.size) return undefined;
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode && inodes.has(inode)) {
          const command = commandLine(Number(pid)) ?? '';
          return `pid ${pid} (${command.length > 200 ? `${command.slice(0, 200)}…` : command})`;
        }
      }
    } catch {
      /* ended meanwhile, or not ours to inspect */
    }
  }
  return undefined;
}
