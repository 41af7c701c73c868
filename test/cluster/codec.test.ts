import { createHash, randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTaskInput, workflowTypeFor } from '../../config/task-input';
import { dataConverterFromEnv } from '../../config/codec';
import type { TaskResult } from '../../workflows/types';
import { parseTask } from '../fixtures';
import { clusterClient, createTestDatabase, type ClusterTestDatabase, startWorkers, stopWorkers, uniqueTaskQueue, type ClusterWorker } from './support';

// The result carries md5(seed), computed in the database: the input holds only the seed.
const SCHEMA = `create function secret_of(seed text) returns text language sql as $$ select 'secret-' || md5(seed) $$;`;
const CODEC_ENV = {
  CARETAKER_CODEC_KEYS: `old:${randomBytes(32).toString('base64')},current:${randomBytes(32).toString('base64')}`,
  CARETAKER_CODEC_KEY_ID: 'current',
};

let db: ClusterTestDatabase;
let plainClient: Client;
let codecClient: Client;
let workers: ClusterWorker[] = [];
const encrypted = uniqueTaskQueue('codec');
const plain = uniqueTaskQueue('plain');

beforeAll(async () => {
  db = await createTestDatabase('cluster_codec');
  await db.pool.query(SCHEMA);
  plainClient = await clusterClient();
  codecClient = new Client({ connection: plainClient.connection, namespace: inject('clusterNamespace'), dataConverter: dataConverterFromEnv(CODEC_ENV) });
  workers = [...(await startWorkers(1, encrypted, { DATABASE_URL: db.url, ...CODEC_ENV })), ...(await startWorkers(1, plain, { DATABASE_URL: db.url }))];
});
afterAll(async () => {
  await stopWorkers(workers);
  await plainClient?.connection.close();
  await db?.drop();
});

async function run(client: Client, taskQueue: string): Promise<{ secret: string; result: TaskResult; workflowId: string }> {
  const seed = randomBytes(8).toString('hex');
  const task = parseTask({
    id: `codec-${seed}`,
    type: 'procedure.execute',
    config: { allowlist: ['secret_of'], calls: [{ name: 'secret_of', args: [seed] }] },
  });
  const handle = await client.workflow.start(workflowTypeFor(task), { taskQueue, workflowId: task.id, args: [buildTaskInput(task)] });
  return { secret: `secret-${createHash('md5').update(seed).digest('hex')}`, result: (await handle.result()) as TaskResult, workflowId: handle.workflowId };
}

/** Rows of Temporal's persistence database (history, mutable state) whose bytes contain `text`. */
async function rowsContaining(text: string): Promise<number> {
  const pg = new PgClient({ connectionString: inject('clusterPersistenceUrl') });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ n: string }>(
      `select (select count(*) from history_node where position(convert_to($1, 'UTF8') in data) > 0)
            + (select count(*) from executions where position(convert_to($1, 'UTF8') in data) > 0) as n`,
      [text],
    );
    return Number(rows[0]!.n);
  } finally {
    await pg.end();
  }
}

describe('encrypted payloads on the cluster', () => {
  it('with the codec on, the persistence database holds no plaintext of a run result; the client with the key reads it', async () => {
    const { secret, result, workflowId } = await run(codecClient, encrypted);
    expect(result.details).toEqual([expect.objectContaining({ routine: 'secret_of', result: secret })]);
    expect(await rowsContaining(secret)).toBe(0);
    expect(await rowsContaining(workflowId)).toBeGreaterThan(0); // ids are not payloads: the search works
    // Without the key, a client gets the encrypted payload, not the result.
    await expect(plainClient.workflow.getHandle(workflowId).result()).rejects.toThrow(/binary\/encrypted|[Ee]ncoding/);
  });

  it('with the codec off (the default), the same result is in the database in plaintext', async () => {
    const { secret, result } = await run(plainClient, plain);
    expect(result.details).toEqual([expect.objectContaining({ result: secret })]);
    expect(await rowsContaining(secret)).toBeGreaterThan(0);
  });
});
