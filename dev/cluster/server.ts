import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { Connection } from '@temporalio/client';
import { ENVIRONMENT, writeServerConfig } from './server-config';
import { allPorts, clusterAddress, type ClusterSettings } from './settings';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The ports of `allPorts(port)` something already listens on. */
export async function portsInUse(port: number): Promise<number[]> {
  const ports = allPorts(port);
  const open = await Promise.all(ports.map(portOpen));
  return ports.filter((_, i) => open[i]);
}

/**
 * One `temporal-server start` process (all four services) with the config `writeServerConfig`
 * writes. `start()` resolves when the frontend answers GetSystemInfo; `stop()` sends SIGTERM and
 * resolves when the process has exited. Start and stop again as often as needed: the state is in
 * PostgreSQL.
 */
export class TemporalServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    private readonly binary: string,
    readonly settings: ClusterSettings,
  ) {}

  get address(): string {
    return clusterAddress(this.settings);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const busy = await portsInUse(this.settings.port);
    if (busy.length)
      throw new Error(`ports ${busy.join(', ')} are taken: is another cluster running? Choose other ports with --port or CARETAKER_CLUSTER_PORT`);
    const configDir = writeServerConfig(this.settings);
    const child = spawn(this.binary, ['--root', '/', '--config', configDir, '--env', ENVIRONMENT, '--allow-no-auth', 'start'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let exitCode: number | null | undefined;
    child.once('exit', (code) => {
      exitCode = code;
      this.child = undefined;
    });
    for (;;) {
      if (exitCode !== undefined)
        throw new Error(`temporal-server exited with ${exitCode} while starting (log: ${this.settings.dir}/server.log)\n${stderr.trim()}`);
      if (await this.answers()) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async answers(): Promise<boolean> {
    try {
      const connection = await Connection.connect({ address: this.address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(forced);
  }
}
