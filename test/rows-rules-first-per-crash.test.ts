import { beforeEach, describe, expect, it } from 'vitest';
import { realNames } from '../activities/engine/counters';
import { parseConfigText } from '../config/load';
import type { TaskConfig } from '../config/schema';
import type { TaskResult } from '../workflows/types';
import { runTaskWorkflow } from './fixtures';
import { expectFates, rowsOf } from './rows-rules-support';
import { useTaskEnvironment } from './support';

/**
 * A `first_per` rule whose activity fails after its first batch committed, and is retried by
 * Temporal: the retry acts on the rest of the rows that were first in their group when the rule
 * started, no more (a group's next row, first now that its first row is gone, waits for the next
 * run) and no fewer. The tables are Solid Queue's blocked and ready executions (solid-queue.sql),
 * cut to the columns the rule reads; the rule is BlockedExecution.unblock's
 * (job-systems/solid-queue-concurrency.yaml), with and without its semaphore.
 */
const env = useTaskEnvironment('rows_rules_first_per_crash');

// Eight concurrency keys of three executions each, ids interleaved so that every key's later rows
// come after the other keys' first rows in key order; rows 1xx have priority 0, so in the even keys
// the first execution by (priority, job_id) is the middle one. Key k7's first execution has not
// expired (the key has expired ones: it is released all the same), no execution of k8 has, and
// executions without a key are in no group.
const SCHEMA = `
  drop schema if exists caretaker cascade;
  drop table if exists blocked_executions, ready_executions, semaphores cascade;
  drop sequence if exists blocked_deletes;
  create table blocked_executions (
    id bigint primary key, job_id bigint not null, queue_name text not null, priority int not null,
    concurrency_key text, expires_at timestamptz not null, created_at timestamptz not null);
  create table ready_executions (
    id bigserial primary key, job_id bigint not null unique, queue_name text not null, priority int not null, created_at timestamptz not null);
  create table semaphores (
    id bigserial primary key, key text not null unique, value int not null, expires_at timestamptz not null,
    created_at timestamptz not null, updated_at timestamptz not null);
  insert into blocked_executions
    select r * 100 + g, 1000 + r * 100 + g, 'default', case when r = 1 and g % 2 = 0 then 0 else 5 end, 'k' || g,
      case when g = 8 or (g = 7 and r = 0) then now() + interval '1 hour' else now() - interval '1 minute' end,
      now() - interval '1 hour'
    from generate_series(0, 2) r, generate_series(1, 8) g;
  insert into blocked_executions values (9, 1009, 'default', 0, null, now() - interval '1 minute', now() - interval '1 hour'),
    (109, 1109, 'default', 0, null, now() - interval '1 minute', now() - interval '1 hour');`;

/** The first of each key by (priority, job_id), keys k1..k7: what one run releases. */
const RELEASED = ['1', '3', '5', '7', '102', '104', '106'];

// The second DELETE of a blocked execution (the rule's second batch) fails once, as a lost
// connection or a lock timeout would, after the first batch committed. The count lives in a
// sequence: nextval survives the rollback of the failing batch.
const FAIL_SECOND_BATCH = `
  create sequence blocked_deletes;
  create or replace function fail_second_batch() returns trigger language plpgsql as $$
  begin
    if nextval('blocked_deletes') = 2 then
      raise exception 'injected: the worker lost its connection in the second batch' using errcode = 'lock_not_available';
    end if;
    return null;
  end $$;
  create trigger fail_second_batch before delete on blocked_executions for each statement execute function fail_second_batch();`;

const unblock = {
  name: 'unblock',
  table: 'blocked_executions',
  referenced_by: [{ table: 'blocked_executions', column: 'concurrency_key', parent_column: 'concurrency_key', where: 'expires_at < now()' }],
  first_per: { columns: 'concurrency_key', order_by: ['priority', 'job_id'] },
  archive: { table: 'ready_executions', columns: ['job_id', 'queue_name', 'priority'], values: { created_at: 'now()' } },
  counter: 'released',
};
const semaphore = {
  table: 'semaphores',
  column: 'concurrency_key',
  parent_column: 'key',
  insert: { value: 0, expires_at: "now() + interval '3 minutes'", created_at: 'now()', updated_at: 'now()' },
  when: 'value > 0',
  update: { value: 'value - 1', expires_at: "now() + interval '3 minutes'" },
};

/** Batches of two (seven rows: four batches), retried at once after the failure. */
function task(rule: Record<string, unknown>): TaskConfig {
  const text = JSON.stringify({
    tasks: [
      {
        id: 'unblock',
        type: 'rows.rules',
        retry: { maximum_attempts: 3, initial_interval: '100ms', maximum_interval: '1s' },
        config: { batch_size: 2, max_fraction: 1, rules: [rule] },
      },
    ],
  });
  return parseConfigText(text, 'test.yaml', {}).tasks[0]!;
}

const count = async (sql: string) => Number((await env.db.pool.query<{ n: string }>(sql)).rows[0]!.n);
const released = (r: TaskResult) => r.details.map((d) => String(d.id)).sort((a, b) => Number(a) - Number(b));

beforeEach(async () => {
  await env.db.pool.query(SCHEMA);
});

describe('first_per: a retry after a crash in the middle of the rule', () => {
  it.each([
    ['without a slot', unblock],
    ['with a semaphore slot (acquire)', { ...unblock, acquire: semaphore }],
  ])('%s: releases exactly the rows its dry run reported, one per key, counted once', async (_, rule) => {
    const before = await rowsOf(env.db.pool, 'blocked_executions');
    const dryRuns: TaskResult[] = [];
    for (const mode of ['execute', 'read_only']) {
      const t = task(rule);
      dryRuns.push(await runTaskWorkflow(env.temporal, { ...t, config: { ...t.config, dry_run_mode: mode } }, { dryRun: true }));
    }
    expect(await rowsOf(env.db.pool, 'blocked_executions')).toEqual(before);
    expect(await count('select count(*) as n from ready_executions')).toBe(0);
    for (const dry of dryRuns) {
      expect(dry.status).toBe('completed');
      expect(released(dry)).toEqual(RELEASED);
    }

    await env.db.pool.query(FAIL_SECOND_BATCH);
    const real = await runTaskWorkflow(env.temporal, task(rule));

    // The crash happened after the first batch committed, and Temporal's retry finished the rule.
    const attempts = await env.db.pool.query<{ attempt: number; batches: number }>(
      'select attempt, count(*)::int as batches from caretaker.ledger group by attempt order by attempt',
    );
    expect(attempts.rows[0]).toEqual({ attempt: 1, batches: 1 });
    expect(attempts.rows.map((r) => r.attempt)).toEqual([1, 2]);

    // What the dry runs reported is what the real run did, row by row and in every count.
    expect(real.status).toBe('completed');
    expect(real.errors).toEqual([]);
    expect(released(real)).toEqual(RELEASED);
    for (const dry of dryRuns) {
      expect(realNames(dry.counts)).toEqual(real.counts);
      expect(Object.fromEntries(Object.entries(dry.sets).map(([k, v]) => [k, realNames(v)]))).toEqual(real.sets);
    }
    expect(real.sets.unblock).toEqual({ matched: 7, released: 7 });
    // Four batches (2, 2, 2, 1) and the failed one: five DELETE statements.
    expect(await count('select last_value as n from blocked_deletes')).toBe(5);
    expect(real.tables['public.blocked_executions']).toEqual({ deleted: 7 });

    // Every blocked execution: the seven released are gone, every other row is as it was.
    expectFates(before, await rowsOf(env.db.pool, 'blocked_executions'), { gone: RELEASED });
    // Each released one has its ready execution, and nothing else is ready: one per key.
    const ready = await env.db.pool.query<{ job_id: string; queue_name: string; priority: number }>(
      'select job_id::text, queue_name, priority from ready_executions order by job_id',
    );
    const expected = RELEASED.map((id) => before.get(id)!)
      .map((row) => ({ job_id: String(row.job_id), queue_name: row.queue_name, priority: row.priority }))
      .sort((a, b) => Number(a.job_id) - Number(b.job_id));
    expect(ready.rows).toEqual(expected);
    const keys = RELEASED.map((id) => before.get(id)!.concurrency_key);
    expect(new Set(keys).size).toBe(RELEASED.length);

    if ('acquire' in rule) {
      const slots = await env.db.pool.query<{ key: string; value: number }>('select key, value from semaphores order by key');
      expect(slots.rows).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].map((key) => ({ key, value: 0 })));
    } else {
      expect(await count('select count(*) as n from semaphores')).toBe(0);
    }
  });
});
