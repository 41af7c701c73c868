import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { applySync, planSync } from '../client/sync';

/** Two `schedules sync` at once against the real dev server: both succeed and the schedules end as configured. */
let connection: Connection;
let client: Client;
const prefix = `sync-race-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'caretaker-sync-race-'));

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: 'default' });
});
afterAll(async () => {
  for await (const s of client.schedule.list())
    if (s.scheduleId.startsWith(prefix))
      await client.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch(() => undefined);
  await connection?.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = (ids: string[], every: string) => ({
  task_queue: prefix,
  tasks: ids.map((id) => ({ id: `${prefix}-${id}`, type: 'db.vacuum', schedule: { every }, config: { tables: ['runs'] } })),
});
const parsed = (ids: string[], every: string) => parseConfigText(JSON.stringify(config(ids, every)), 'm.yaml', {});

async function intervalOf(id: string): Promise<number | undefined> {
  const desc = await client.schedule.getHandle(`${prefix}-${id}`).describe();
  return desc.spec.intervals?.[0]?.every as number | undefined;
}

describe('schedules sync, twice at once', () => {
  it('both plans say create; the one that gets there second finds the schedules unchanged, not a failure', async () => {
    const cfg = parsed(['a', 'b', 'c'], '1h');
    const [first, second] = [await planSync(client, cfg, { prune: false }), await planSync(client, cfg, { prune: false })];
    expect(second.map((s) => s.action)).toEqual(['create', 'create', 'create']);
    const [one, two] = await Promise.all([applySync(client, cfg, first), applySync(client, cfg, second)]);
    expect([...one.failures, ...two.failures]).toEqual([]);
    // Each schedule was created by exactly one of them; the other saw it as it should be.
    for (const id of ['a', 'b', 'c']) {
      const actions = [one, two].map((o) => o.steps.find((s) => s.id === `${prefix}-${id}`)!.action).sort();
      expect(actions).toEqual(['create', 'unchanged']);
      expect(await intervalOf(id)).toBe(3_600_000);
    }
    expect((await planSync(client, cfg, { prune: false })).map((s) => s.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
  });

  it('a sync whose schedule another sync created with an older definition updates it to its own', async () => {
    const older = parsed(['d'], '1h');
    const newer = parsed(['d'], '2h');
    const [olderPlan, newerPlan] = [await planSync(client, older, { prune: false }), await planSync(client, newer, { prune: false })];
    expect((await applySync(client, older, olderPlan)).failures).toEqual([]);
    const outcome = await applySync(client, newer, newerPlan);
    expect(outcome.failures).toEqual([]);
    expect(outcome.steps.filter((s) => s.id === `${prefix}-d`)).toEqual([
      { id: `${prefix}-d`, action: 'update', detail: 'definition; created by another sync meanwhile' },
    ]);
    expect(await intervalOf('d')).toBe(7_200_000);
  });

  it('two deletes of one schedule (--prune) both succeed', async () => {
    const kept = parsed(['e'], '1h');
    expect((await applySync(client, kept, await planSync(client, kept, { prune: false }))).failures).toEqual([]);
    const none = parseConfigText(JSON.stringify({ task_queue: prefix, tasks: [] }), 'm.yaml', {});
    const pruneE = async () => (await planSync(client, none, { prune: true })).filter((s) => s.id === `${prefix}-e`);
    // The list behind --prune comes from visibility, which may lag a new schedule by a moment.
    await expect.poll(pruneE, { timeout: 30_000 }).toEqual([{ id: `${prefix}-e`, action: 'delete', detail: 'not in config (--prune)' }]);
    const [first, second] = [await pruneE(), await pruneE()];
    const [one, two] = await Promise.all([applySync(client, none, first), applySync(client, none, second)]);
    expect([...one.failures, ...two.failures]).toEqual([]);
  });

  it('two `caretaker schedules sync` processes started together both exit 0', async () => {
    const file = join(dir, 'maintenance.yaml');
    writeFileSync(file, JSON.stringify(config(['f', 'g', 'h', 'i', 'j'], '1h')));
    const sync = () =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [join(__dirname, '..', 'bin', 'caretaker.js'), 'schedules', 'sync', '-f', file], {
          env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
        });
        let err = '';
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('close', (code) => resolve({ code, err }));
      });
    const results = await Promise.all([sync(), sync()]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(results.map((r) => r.err).join('')).not.toContain('already exists');
    for (const id of ['f', 'g', 'h', 'i', 'j']) expect(await intervalOf(id)).toBe(3_600_000);
  });
});
