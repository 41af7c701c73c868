/**
 * `npm run histories:refresh`: runs every workflow type for real against a Temporal dev server
 * and a fresh demo database (the tasks of maintenance.yaml: one of every type, plus a dry run
 * and a cancelled run for the paths they take), and saves each run's history as JSON here.
 * test/replay.test.ts replays them. Run it after a deliberate, versioned workflow change (see
 * README "Upgrades"), never to make a failing replay test pass.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { buildTaskInput, workflowTypeFor } from '../../config/task-input';
import { loadConfigFile } from '../../config/load';
import { ensureDemoDatabase } from '../../dev/demo-db';
import { resolveTemporalCli } from '../../dev/temporal-cli';
import { quoteIdent } from '../../activities/sql/identifiers';
import { buildWorkflowBundle } from '../../worker/bundle';
import { createCaretakerWorker } from '../../worker/create-worker';
import { PoolRegistry } from '../../worker/databases';
import { runStartOptions } from '../../client/run-start';
import { startDevServer } from '../../dev/dev-server';

const HERE = __dirname;
const ROOT = join(HERE, '..', '..');
const ADMIN_URL = process.env.CARETAKER_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql: string): Promise<void> {
  const client = new PgClient({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const filesDir = mkdtempSync(join(tmpdir(), 'caretaker-histories-'));
  process.env.CARETAKER_DEMO_FILES = filesDir;
  process.env.REDIS_URL ||= 'redis://127.0.0.1:6379';
  const dbName = `caretaker_histories_${randomBytes(4).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  await ensureDemoDatabase(url.toString(), { filesDir });

  const cli = await resolveTemporalCli({ allowDownload: false });
  if (cli.source === 'sdk-download') throw new Error('unreachable: allowDownload is false');
  const env = await startDevServer({ executable: { type: 'existing-path', path: cli.path }, log: { format: 'pretty', level: 'error' } });
  const pools = new PoolRegistry(new Map([['default', url.toString()]]));
  const taskQueue = 'histories';
  try {
    const worker = await createCaretakerWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, databases: pools, workflowBundle: await buildWorkflowBundle() });
    const config = await loadConfigFile(join(ROOT, 'maintenance.yaml'));
    // Old histories go only once the new runs are under way (a run that cannot start keeps them).
    let cleared = false;
    const clear = () => {
      if (!cleared) for (const file of readdirSync(HERE).filter((f) => f.endsWith('.json'))) rmSync(join(HERE, file));
      cleared = true;
    };
    await worker.runUntil(async () => {
      const save = async (name: string, workflowId: string) => {
        // The Temporal CLI's JSON export, the format `historyFromJSON` (and `temporal workflow show`) uses.
        const json = execFileSync(cli.path, ['workflow', 'show', '--workflow-id', workflowId, '--address', env.address, '--output', 'json'], { encoding: 'utf8' });
        clear();
        writeFileSync(join(HERE, `${name}.json`), json);
        console.log(`saved test/histories/${name}.json (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
      };
      // A dry run that a safety limit refuses, before the real runs change the data it counts.
      const retention = config.tasks.find((t) => t.type === 'retention.enforce')!;
      const limited = { ...retention, config: { ...retention.config, max_fraction: 0.01 } };
      const refused = await env.client.workflow.start(workflowTypeFor(limited), { taskQueue, workflowId: `history-refused-dry-${retention.id}`, args: [buildTaskInput(limited, { dryRun: true })], ...runStartOptions(limited, { dryRun: true }) });
      await refused.result().catch((err: Error) => console.log(`refused dry run: ${err.message}`));
      await save(`${workflowTypeFor(limited)}.refused-dry-run`, refused.workflowId);
      for (const task of config.tasks) {
        const handle = await env.client.workflow.start(workflowTypeFor(task), { taskQueue, workflowId: `history-${task.id}`, args: [buildTaskInput(task)], ...runStartOptions(task) });
        await handle.result().catch((err: Error) => console.log(`${task.id}: ${err.message} (kept: a failed run's history replays too)`));
        await save(`${workflowTypeFor(task)}.${task.id}`, handle.workflowId);
      }
      // A dry run, and a run cancelled while its activity runs (the cancellation scope and the ledger read).
      const stale = config.tasks.find((t) => t.type === 'runs.cleanup_stale')!;
      const dry = await env.client.workflow.start(workflowTypeFor(stale), { taskQueue, workflowId: `history-dry-${stale.id}`, args: [buildTaskInput(stale, { dryRun: true })], ...runStartOptions(stale, { dryRun: true }) });
      await dry.result();
      await save(`${workflowTypeFor(stale)}.dry-run`, dry.workflowId);
      const vacuum = config.tasks.find((t) => t.type === 'db.vacuum')!;
      const cancelled = await env.client.workflow.start(workflowTypeFor(vacuum), { taskQueue, workflowId: `history-cancelled-${vacuum.id}`, args: [buildTaskInput(vacuum)], ...runStartOptions(vacuum) });
      for (;;) {
        const pending = (await cancelled.describe()).raw.pendingActivities ?? [];
        if (pending.some((a) => a.activityType?.name !== 'readRunLedger')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await cancelled.cancel();
      await cancelled.result().catch(() => undefined);
      await save(`${workflowTypeFor(vacuum)}.cancelled`, cancelled.workflowId);
    });
  } finally {
    await pools.close();
    await env.teardown();
    await admin(`drop database if exists ${quoteIdent(dbName)} with (force)`);
    rmSync(filesDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
