import { Client, Connection } from '@temporalio/client';
import { loadConfigFile } from '../config/load';
import type { CaretakerConfig, TaskConfig } from '../config/schema';
import { temporalEnv } from '../config/temporal-env';
import { dataConverterFromEnv } from '../config/codec';
import type { Catalog } from '../tasks';

/** Wrong use of the command line or an unknown name: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What every command gets: the parsed flags, the task catalog (built-ins and plugins), lazily loaded config and a lazily connected client. */
export class CliContext {
  private cachedConfig?: Promise<CaretakerConfig>;
  private connection?: Connection;
  private cachedClient?: Promise<Client>;

  constructor(
    readonly args: string[],
    readonly flags: Record<string, string | boolean | undefined>,
    readonly configFile: string,
    readonly json: boolean,
    readonly catalog: Catalog,
  ) {}

  config(): Promise<CaretakerConfig> {
    this.cachedConfig ??= loadConfigFile(this.configFile, process.env, this.catalog);
    return this.cachedConfig;
  }

  async task(id: string): Promise<TaskConfig> {
    const cfg = await this.config();
    const task = cfg.tasks.find((t) => t.id === id);
    if (!task) throw new UsageError(`no task "${id}" in ${this.configFile} (tasks: ${cfg.tasks.map((t) => t.id).join(', ') || 'none'})`);
    return task;
  }

  client(): Promise<Client> {
    this.cachedClient ??= (async () => {
      const env = temporalEnv();
      this.connection = await Connection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
      return new Client({ connection: this.connection, namespace: env.namespace, dataConverter: dataConverterFromEnv() });
    })();
    return this.cachedClient;
  }

  arg(index: number, name: string): string {
    const value = this.args[index];
    if (!value) throw new UsageError(`missing <${name}>`);
    return value;
  }

  flag(name: string): string | undefined {
    const value = this.flags[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** Prints `data` as JSON with --json, else the human text. */
  print(data: unknown, text: () => string): void {
    console.log(this.json ? JSON.stringify(data, null, 2) : text());
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }
}

/** Link to a workflow in the Temporal Web UI. */
export function webUiLink(workflowId: string, runId?: string): string {
  const base = (process.env.CARETAKER_UI_URL || 'http://localhost:8233').replace(/\/$/, '');
  const ns = encodeURIComponent(process.env.TEMPORAL_NAMESPACE || 'default');
  return `${base}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}/history` : ''}`;
}

/** Fixed-width columns for human output. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}
