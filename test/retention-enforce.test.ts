import { realNames } from '../activities/engine/counters';
import { beforeEach, describe, expect, it } from 'vitest';
import { useTaskEnvironment } from './support';
import { parseTask, runTaskWorkflow, snapshot } from './fixtures';

const env = useTaskEnvironment('retention');

/** Seed 002's download and job history, seed 004's tokens, seed 000's temp artifacts. */
beforeEach(async () => {
  await env.db.pool.query(`
    drop table if exists handled_downloads, access_tokens, temp_artifacts, job_history, job_history_archive;
    create table handled_downloads (id bigserial primary key, handled_at timestamptz not null, handled boolean not null);
    create table access_tokens (token_id bigserial primary key, expires_at timestamptz not null);
    create table temp_artifacts (id bigserial primary key, created_at timestamptz not null, deleted_at timestamptz);
    create table job_history (id bigserial primary key, status text not null, finished_at timestamptz not null, payload jsonb);
    create table job_history_archive (id bigint primary key, status text not null, finished_at timestamptz not null, payload jsonb, archived_at timestamptz default now());

    insert into handled_downloads (handled_at, handled) values
      (now() - interval '20 days', true), (now() - interval '15 days', true), (now() - interval '20 days', false),
      (now() - interval '13 days', true), (now() - interval '1 day', true), (now() - interval '2 days', true);
    insert into access_tokens (expires_at) values (now() - interval '1 minute'), (now() - interval '3 days'), (now() + interval '1 hour'), (now() + interval '1 day'), (now() + interval '2 days');
    insert into temp_artifacts (created_at, deleted_at) values
      (now() - interval '10 days', null), (now() - interval '9 days', null), (now() - interval '10 days', now() - interval '1 day'), (now() - interval '1 day', null), (now() - interval '2 hours', null);
    insert into job_history (status, finished_at, payload) values
      ('completed', now() - interval '40 days', '{"a": 1}'), ('completed', now() - interval '31 days', null), ('running', now() - interval '40 days', null),
      ('completed', now() - interval '5 days', null), ('completed', now() - interval '6 days', null);`);
});

const policies = [
  { name: 'downloads', table: 'handled_downloads', timestamp_column: 'handled_at', older_than: '14d', where: { handled: true } },
  { name: 'tokens', table: 'access_tokens', id_column: 'token_id', expires_column: 'expires_at' },
  { name: 'temp artifacts', table: 'temp_artifacts', timestamp_column: 'created_at', older_than: '7d', action: 'mark', mark: { column: 'deleted_at' } },
  {
    name: 'job history',
    table: 'job_history',
    timestamp_column: 'finished_at',
    older_than: '30d',
    where: { status: 'completed' },
    action: 'archive',
    archive_table: 'job_history_archive',
  },
];
const task = (extra: Record<string, unknown> = {}) =>
  parseTask({ id: 'retention', type: 'retention.enforce', config: { policies, batch_size: 1, ...extra }, retry: { maximum_attempts: 1 } });

async function everything() {
  return {
    downloads: await snapshot(env.db.pool, 'handled_downloads', 'id'),
    tokens: await snapshot(env.db.pool, 'access_tokens', 'token_id'),
    artifacts: await snapshot(env.db.pool, 'temp_artifacts', 'id'),
    jobs: await snapshot(env.db.pool, 'job_history', 'id'),
    archive: await snapshot(env.db.pool, 'job_history_archive', 'id'),
  };
}

describe('retention.enforce', () => {
  it('dry run reports per policy exactly what the real run changes, and changes nothing', async () => {
    const before = await everything();
    const preview = await runTaskWorkflow(env.temporal, task(), { dryRun: true });
    expect(await everything()).toEqual(before);
    expect(preview.counts).toEqual({ matched: 8, would_delete: 4, would_mark: 2, would_archive: 2 });
    const real = await runTaskWorkflow(env.temporal, task());
    expect(real.counts).toEqual(realNames(preview.counts));
    expect(real.details).toEqual(preview.details);
    expect(preview.details.filter((d) => d.set === 'tokens').map((d) => d.id)).toEqual(['1', '2']);
  });

  it('deletes, marks and archives exactly the rows past retention', async () => {
    const before = await everything();
    await runTaskWorkflow(env.temporal, task());
    const after = await everything();
    // Downloads: handled and older than 14 days go; unhandled and recent stay as they were.
    expect(after.downloads).toEqual(before.downloads.filter((r) => ![1, 2].includes(Number(r.id))));
    // Tokens: only the expired ones go.
    expect(after.tokens).toEqual(before.tokens.filter((r) => ![1, 2].includes(Number(r.token_id))));
    // Artifacts: soft-deleted; an already-marked row keeps its original mark; recent rows untouched.
    expect(after.artifacts.filter((r) => [1, 2].includes(Number(r.id))).every((r) => r.deleted_at instanceof Date)).toBe(true);
    expect(after.artifacts.filter((r) => ![1, 2].includes(Number(r.id)))).toEqual(before.artifacts.filter((r) => ![1, 2].includes(Number(r.id))));
    // Job history: old completed rows moved, with every column, in one transaction.
    expect(after.jobs).toEqual(before.jobs.filter((r) => ![1, 2].includes(Number(r.id))));
    expect(after.archive.map(({ archived_at: _, ...r }) => r)).toEqual(before.jobs.filter((r) => [1, 2].includes(Number(r.id))));

    const again = await runTaskWorkflow(env.temporal, task());
    expect(again.counts).toEqual({ matched: 0, deleted: 0, marked: 0, archived: 0 });
  });

  it('names the policy, and what exists, when a table or column is wrong', async () => {
    const wrong = parseTask({
      id: 'retention',
      type: 'retention.enforce',
      config: { policies: [policies[0], { ...policies[3], archive_table: 'handled_downloads' }] },
      retry: { maximum_attempts: 1 },
    });
    await expect(runTaskWorkflow(env.temporal, wrong)).rejects.toThrow();
    const failed = await runTaskWorkflow(env.temporal, wrong).catch((e: { cause?: { cause?: Error } }) => e.cause?.cause?.message);
    expect(failed).toMatch(/^task retention: config\.policies\[1\]: archive_table: column "status" does not exist in table public\.handled_downloads/);
  });

  it('validates policies: exactly one rule (age, expiry, count or size cap), no short retention, action settings present', () => {
    const bad =
      (policy: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      () =>
        parseTask({ type: 'retention.enforce', config: { policies: [{ table: 't', ...policy }], ...extra } });
    expect(bad({ timestamp_column: 'at', older_than: '2h' })).toThrow(
      'tasks[0].config.policies[0].older_than: expected at least 1d (retention below one day needs allow_short_retention: true), got 2h',
    );
    expect(bad({ timestamp_column: 'at', older_than: '2h' }, { allow_short_retention: true })).not.toThrow();
    expect(bad({ timestamp_column: 'at' })).toThrow(
      'policies[0].older_than: expected exactly one of older_than, expires_column, keep_newest, max_total_size; got none',
    );
    expect(bad({ timestamp_column: 'at', older_than: '2d', expires_column: 'e' })).toThrow(
      'policies[0].expires_column: expected exactly one of older_than, expires_column, keep_newest, max_total_size; got older_than and expires_column',
    );
    expect(bad({ older_than: '2d' })).toThrow('policies[0].timestamp_column: expected timestamp_column with older_than (the age of a row)');
    expect(bad({ expires_column: 'e', timestamp_column: 'at' })).toThrow('policies[0].timestamp_column: expected no timestamp_column with expires_column');
    expect(bad({ timestamp_column: 'at', older_than: '2d', size_column: 'bytes' })).toThrow(
      'policies[0].size_column: expected size_column only with max_total_size',
    );
    expect(bad({ expires_column: 'e', action: 'mark' })).toThrow('policies[0].mark: expected mark: { column, value? } for action mark');
    expect(bad({ expires_column: 'e', action: 'archive' })).toThrow('policies[0].archive_table: expected archive_table for action archive');
  });
});
