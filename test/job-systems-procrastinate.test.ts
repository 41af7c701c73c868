import { join } from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import type { WorkflowFailedError } from '@temporalio/client';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load';
import { parseTask, runTaskWorkflow, taskFailure } from './fixtures';
import { caretaker } from './cli';
import { useTaskEnvironment } from './support';
import { keys, loadSystem, onlyRules, systemConfig } from './job-systems/seeded';
import { dryRunThenRun, refusal } from './zoo/run';
import { comparable, diff, RECENT, snapshotAll, type Changes } from './zoo/snapshot';

/**
 * Procrastinate (procrastinate-org/procrastinate @ f099a753730d5492bdebdc1c1f2796ffa5cf5671): its
 * schema (test/job-systems/procrastinate.sql, procrastinate/sql/schema.sql verbatim), a seed in
 * every job status one minute either side of each threshold (procrastinate-seed.sql), and its own
 * stalled-worker and stalled-job rules as one rows.rules task (procrastinate.yaml). Each expected
 * fate names the Procrastinate file it mirrors; the first tests run Procrastinate's own SQL on the
 * seed, so the expectations are Procrastinate's, not ours.
 */
const env = useTaskEnvironment('jobs_procrastinate');
beforeEach(() => loadSystem(env.db.pool, 'procrastinate'));

/**
 * prune-stalled-workers: schema.sql procrastinate_prune_stalled_workers_v1(300) deletes workers 1
 * (heartbeat 6 min ago) and 3 (1 h); 2 (4 min) and 4 (now) stay (tests/integration/test_manager.py
 * test_prune_stalled_workers). procrastinate_jobs.worker_id is ON DELETE SET NULL: the doing jobs
 * 10, 11 and 15 of worker 1 lose their worker.
 */
const PRUNED: Changes = {
  'public.procrastinate_workers': { deleted: keys(1, 3) },
  'public.procrastinate_jobs': { updated: { '10': { worker_id: null }, '11': { worker_id: null }, '15': { worker_id: null } } },
};
/**
 * retry-stalled-jobs after the prune: the doing jobs without a worker (queries.sql
 * select_stalled_jobs_by_heartbeat; test_manager.py test_get_stalled_jobs_by_heartbeat__yes and
 * __pruned_worker), each retried as docs/howto/production/retry_stalled_jobs.md does with
 * JobManager.retry_job: schema.sql procrastinate_retry_job_v2(id, now, null, null, null).
 * 10, 13, 15 -> todo, attempts + 1, scheduled_at now; priority, queue_name and lock kept (15 keeps
 * priority 5 and lock report-42; test_manager.py test_retry_job). 11 has abort_requested -> failed.
 * Untouched: 12 (worker 2, 4 min) and 14 (worker 4), every todo and final job. Procrastinate's
 * own triggers write the events: doing -> todo 'deferred_for_retry' and, scheduled_at being set,
 * 'scheduled'; doing -> failed 'failed' (schema.sql procrastinate_trigger_function_status_events_update_v1,
 * procrastinate_trigger_function_scheduled_events_v1).
 */
const RETRIED: Changes = {
  'public.procrastinate_jobs': {
    updated: {
      '10': { status: 'todo', attempts: 1, scheduled_at: RECENT },
      '11': { status: 'failed' },
      '13': { status: 'todo', attempts: 3, scheduled_at: RECENT },
      '15': { status: 'todo', attempts: 2, scheduled_at: RECENT },
    },
  },
  'public.procrastinate_events': {
    inserted: [
      { job_id: '10', type: 'deferred_for_retry' },
      { job_id: '10', type: 'scheduled' },
      { job_id: '11', type: 'failed' },
      { job_id: '13', type: 'deferred_for_retry' },
      { job_id: '13', type: 'scheduled' },
      { job_id: '15', type: 'deferred_for_retry' },
      { job_id: '15', type: 'scheduled' },
    ],
  },
};
/** Both rules, as one real run leaves the rows: a job's columns from both merged. */
const PRUNED_AND_RETRIED: Changes = {
  'public.procrastinate_workers': PRUNED['public.procrastinate_workers']!,
  'public.procrastinate_jobs': {
    updated: Object.fromEntries(
      ['10', '11', '13', '15'].map((id) => [
        id,
        { ...PRUNED['public.procrastinate_jobs']!.updated![id], ...RETRIED['public.procrastinate_jobs']!.updated![id] },
      ]),
    ),
  },
  'public.procrastinate_events': RETRIED['public.procrastinate_events']!,
};

/**
 * delete_old_jobs (queries.sql; builtin_tasks.remove_old_jobs with max_hours=72 and
 * remove_failed / remove_cancelled / remove_aborted as docs/howto/production/delete_finished_jobs.md
 * shows): jobs in a final status whose latest event (the greatest procrastinate_events.at; NULLs
 * sort first in its ORDER BY at DESC) is older than 72 h. Deleted: 1 (succeeded, 72 h 1 min), 3
 * (failed), 4 (cancelled), 5 (aborted), 8 (succeeded 100 h ago). Kept: 2 and 9 (72 h less 1 min),
 * 6 (no event: the JOIN drops it), 7 (latest event has no time), every todo and doing job. Their
 * events go by ON DELETE CASCADE; the periodic defer of job 8 is unlinked by the BEFORE DELETE
 * trigger (procrastinate_unlink_periodic_defers_v1).
 */
const OLD_JOBS: Changes = {
  'public.procrastinate_jobs': { deleted: keys(1, 3, 4, 5, 8) },
  'public.procrastinate_periodic_defers': { updated: { '1': { job_id: null } } },
};
const STALLED_JOBS_SQL = `
  WITH stalled_workers AS (
     SELECT id FROM procrastinate_workers WHERE last_heartbeat < NOW() - (300 || ' SECOND')::INTERVAL
  )
  SELECT job.id FROM procrastinate_jobs job LEFT JOIN stalled_workers sw ON sw.id = job.worker_id
   WHERE job.status = 'doing' AND (job.worker_id IS NULL OR sw.id IS NOT NULL)`;
const DELETE_OLD_JOBS_SQL = `
  DELETE FROM procrastinate_jobs
  WHERE id IN (
      SELECT job.id FROM (
          SELECT DISTINCT ON (job.id) job.*, event.at AS latest_at
              FROM procrastinate_jobs job
              JOIN procrastinate_events event ON job.id = event.job_id
              ORDER BY job.id, event.at DESC
      ) AS job
      WHERE job.status = ANY('{succeeded,failed,cancelled,aborted}'::procrastinate_job_status[])
        AND (NULL::varchar IS NULL OR job.queue_name = NULL)
        AND latest_at < NOW() - (72 || 'HOUR')::INTERVAL
  )`;

/** The rows Procrastinate's own statements change when run (committed) on the seed. */
async function peerChanges(statements: string[]): Promise<{ changes: Changes; now: Date }> {
  const before = await snapshotAll(env.db.pool);
  for (const sql of statements) await env.db.pool.query(sql);
  const after = await snapshotAll(env.db.pool);
  return { changes: diff(before, after), now: after.now };
}

function expectChanges({ changes, now }: { changes: Changes; now: Date }, expected: Changes): void {
  const rows = comparable(changes, expected, now);
  expect(rows.actual).toEqual(rows.expected);
}

describe('Procrastinate', () => {
  it("Procrastinate's own functions (prune stalled workers, get stalled jobs, retry each) change exactly the expected rows", async () => {
    const peer = await peerChanges([
      // worker.py run(): JobManager.prune_stalled_workers(stalled_worker_timeout)
      'SELECT * FROM procrastinate_prune_stalled_workers_v1(300)',
      // docs/howto/production/retry_stalled_jobs.md: for job in get_stalled_jobs(): retry_job(job) (retry_at = now)
      `SELECT procrastinate_retry_job_v2(job.id, now(), NULL, NULL, NULL) FROM (${STALLED_JOBS_SQL}) job`,
    ]);
    expectChanges(peer, PRUNED_AND_RETRIED);
  });

  it('the other order (retry first, then a worker start prunes) ends the same but for one more scheduled event per retried job of a pruned worker', async () => {
    const peer = await peerChanges([
      `SELECT procrastinate_retry_job_v2(job.id, now(), NULL, NULL, NULL) FROM (${STALLED_JOBS_SQL}) job`,
      'SELECT * FROM procrastinate_prune_stalled_workers_v1(300)',
    ]);
    // The FK's SET NULL is an UPDATE of a todo job with scheduled_at set: schema.sql's
    // procrastinate_trigger_scheduled_events_v1 (AFTER UPDATE, any column) writes 'scheduled' again for 10 and 15.
    const events = RETRIED['public.procrastinate_events']!.inserted!;
    expectChanges(peer, {
      ...PRUNED_AND_RETRIED,
      'public.procrastinate_events': { inserted: [...events, { job_id: '10', type: 'scheduled' }, { job_id: '15', type: 'scheduled' }] },
    });
  });

  it("Procrastinate's own delete_old_jobs (72 h, every final status) changes exactly the expected rows", async () => {
    const peer = await peerChanges([DELETE_OLD_JOBS_SQL]);
    const { ['public.procrastinate_events']: events, ...rest } = peer.changes;
    // the deleted jobs' events go by cascade (3 + 3 + 3 + 4 + 3); no other event
    expect(events).toEqual({ deleted: expect.any(Array) });
    expect(events!.deleted).toHaveLength(16);
    expectChanges({ changes: rest, now: peer.now }, OLD_JOBS);
  });

  it('the config validates', async () => {
    const { task } = await systemConfig('procrastinate');
    expect(task.type).toBe('rows.rules');
  });

  // Gap: retry-stalled-jobs depends on prune-stalled-workers through procrastinate_jobs.worker_id's
  // ON DELETE SET NULL (rule 1 changes procrastinate_jobs without naming it), and validate only
  // compares the tables rules name, so it names no pair; the dry run (below) under-reports rule 2
  // and says nothing either. Design: "validate names pairs where a later rule reads a table that an
  // earlier rule changes". Remove .fails once validate or check follows foreign key actions.
  it.fails('validate names the pair that depends through a foreign key action (ON DELETE SET NULL)', async () => {
    const { warnings } = await systemConfig('procrastinate');
    expect(warnings.join('\n')).toMatch(/retry-stalled-jobs.*prune-stalled-workers/);
  });

  it("each rule as its own task, in order: each dry run equals its real run; together Procrastinate's result", async () => {
    const { task } = await systemConfig('procrastinate');
    await dryRunThenRun(env, onlyRules(task, ['prune-stalled-workers']), PRUNED);
    const { real } = await dryRunThenRun(env, onlyRules(task, ['retry-stalled-jobs']), RETRIED);
    expect(real.sets).toEqual({ 'retry-stalled-jobs': { matched: 4, failed: 1, requeued: 3 } });
  });

  it.each([
    { name: 'keys read ahead (default)', config: {} },
    { name: 'keys walked (read_ahead: 0)', config: { read_ahead: 0 } },
  ])(
    'both rules as one task, $name: the real run leaves the rows as Procrastinate does; its dry run cannot show rule 2 depending on rule 1',
    async ({ config }) => {
      const { task } = await systemConfig('procrastinate');
      const parsed = parseTask({ ...task, config: { ...task.config, ...config }, retry: { maximum_attempts: 1 } });
      const before = await snapshotAll(env.db.pool);
      const dry = await runTaskWorkflow(env.temporal, parsed, { dryRun: true });
      expect(diff(before, await snapshotAll(env.db.pool))).toEqual({});
      // The dry run judges each rule on the rows as they are (each dry-run rule rolls back): rule 2
      // sees only job 13, whose worker was pruned before; the real run also retries 10, 11 and 15.
      expect(dry.sets).toEqual({
        'prune-stalled-workers': { matched: 2, would_delete: 2 },
        'retry-stalled-jobs': { matched: 1, would_fail: 0, would_requeue: 1 },
      });

      const real = await runTaskWorkflow(env.temporal, parsed);
      const after = await snapshotAll(env.db.pool);
      const rows = comparable(diff(before, after), PRUNED_AND_RETRIED, after.now);
      expect(rows.actual).toEqual(rows.expected);
      expect(real.sets).toEqual({ 'prune-stalled-workers': { matched: 2, deleted: 2 }, 'retry-stalled-jobs': { matched: 4, failed: 1, requeued: 3 } });
      // Tuples, as PostgreSQL counts them: 10, 11 and 15 are updated twice (the FK's SET NULL, then the retry).
      expect(real.tables).toEqual({
        'public.procrastinate_workers': { deleted: 2 },
        'public.procrastinate_jobs': { updated: 7 },
        'public.procrastinate_events': { inserted: 7 },
      });
    },
  );

  describe('max_fraction 0.5 on a jobs table of the six doing jobs (10-15)', () => {
    const statuses = async () =>
      (await env.db.pool.query<{ id: string; status: string }>('select id::text, status::text from procrastinate_jobs order by id')).rows;
    beforeEach(() => env.db.pool.query('delete from procrastinate_jobs where id not between 10 and 15'));

    it('the control: with the stalled workers pruned first, retry-stalled-jobs alone (4 of 6 jobs) is refused and changes nothing', async () => {
      await env.db.pool.query('SELECT * FROM procrastinate_prune_stalled_workers_v1(300)');
      const { task } = await systemConfig('procrastinate');
      const failure = await refusal(env, onlyRules({ ...task, config: { ...task.config, max_fraction: 0.5 } }, ['retry-stalled-jobs']));
      expect(failure.message).toMatch(/retry-stalled-jobs.*procrastinate_jobs/);
    });

    // Before the first rule runs retry-stalled-jobs matches 1 job of 6; after prune-stalled-workers commits
    // it would change 4 of 6 (67%), over the 0.5 the task allows, and the prune's ON DELETE SET NULL already
    // updated 3. max_fraction is checked again when each rule starts (activities/engine/fraction.ts), with
    // what the run changed on the table so far.
    it('both rules as one task: retry-stalled-jobs is refused once the prune has committed; no job changes status', async () => {
      const before = await statuses();
      const { task } = await systemConfig('procrastinate');
      // The dry run is refused at the same rule (and changes nothing): its rolled-back prune still counts the 3 jobs the cascade updated.
      const dry = await runTaskWorkflow(env.temporal, parseTask({ ...task, config: { ...task.config, max_fraction: 0.5 }, retry: { maximum_attempts: 1 } }), {
        dryRun: true,
      }).then(
        () => expect.fail('expected the dry run to be refused'),
        (e: WorkflowFailedError) => e.cause as ApplicationFailure,
      );
      expect(dry.type).toBe('SafetyLimitExceeded');
      expect(dry.message).toMatch(/^retry-stalled-jobs: would update 1 more after this run changed 3: 4 of 6 rows of public\.procrastinate_jobs/);
      expect(await statuses()).toEqual(before);
      const failure = await taskFailure(
        runTaskWorkflow(env.temporal, parseTask({ ...task, config: { ...task.config, max_fraction: 0.5 }, retry: { maximum_attempts: 1 } })),
      );
      expect(failure.message).toMatch(/^retry-stalled-jobs: would update 4 more after this run changed 3: 7 of 6 rows of public\.procrastinate_jobs/);
      expect(await statuses()).toEqual(before);
    });
  });

  it("a stalled job whose queueing lock a todo job holds cannot go back to todo: Procrastinate's retry_job raises, and so does the run, after the batches before it", async () => {
    // Job 16 (todo) holds queueing_lock mail-7 (schema.sql procrastinate_jobs_queueing_lock_idx_v1: unique among todo jobs).
    await env.db.pool.query("update procrastinate_jobs set queueing_lock = 'mail-7' where id = 13");
    await expect(env.db.pool.query('SELECT procrastinate_retry_job_v2(13, now(), NULL, NULL, NULL)')).rejects.toThrow(
      /procrastinate_jobs_queueing_lock_idx_v1/,
    );

    const { task } = await systemConfig('procrastinate');
    const before = await snapshotAll(env.db.pool);
    const failure = await taskFailure(runTaskWorkflow(env.temporal, parseTask({ ...task, retry: { maximum_attempts: 1 } })));
    expect(failure.message).toMatch(/procrastinate_jobs_queueing_lock_idx_v1.*retry-stalled-jobs from key "13"/);
    // The prune and the first batch of retries (10, 11; batch_size 2) committed; the batch of 13 and 15 changed nothing.
    const after = await snapshotAll(env.db.pool);
    const rows = comparable(
      diff(before, after),
      {
        ...PRUNED,
        'public.procrastinate_jobs': {
          updated: {
            '10': { worker_id: null, status: 'todo', attempts: 1, scheduled_at: RECENT },
            '11': { worker_id: null, status: 'failed' },
            '15': { worker_id: null },
          },
        },
        'public.procrastinate_events': {
          inserted: [
            { job_id: '10', type: 'deferred_for_retry' },
            { job_id: '10', type: 'scheduled' },
            { job_id: '11', type: 'failed' },
          ],
        },
      },
      after.now,
    );
    expect(rows.actual).toEqual(rows.expected);
  });

  it("delete_old_jobs cannot be said: its age is a related table's greatest time, and a subquery is refused at validate", () => {
    const config = {
      tasks: [
        {
          id: 'old-jobs',
          type: 'rows.rules',
          config: {
            rules: [
              {
                name: 'delete-old-jobs',
                table: 'procrastinate_jobs',
                where:
                  "status = any('{succeeded,failed,cancelled,aborted}') and (select max(e.at) from procrastinate_events e where e.job_id = id) < now() - interval '72 hours'",
                delete: {},
              },
            ],
          },
        },
      ],
    };
    expect(() => parseConfigText(JSON.stringify(config), 'old-jobs.yaml', {})).toThrow(/subquer|SubLink|select/i);
  });

  it.todo(
    'delete_old_jobs as a rows.rules config (OLD_JOBS above): needs a condition over related rows, e.g. ' +
      'unreferenced_by: [{ table: procrastinate_events, column: job_id, where: "at is null or at >= now() - interval \'72 hours\'" }] ' +
      'plus "has at least one event" (the JOIN); the design has neither a where on a relation nor an aggregate over children',
  );

  it('caretaker check on procrastinate.yaml against the live tables: ok', async () => {
    process.env.DATABASE_URL = env.db.url;
    const run = await caretaker('check', '-f', join(__dirname, 'job-systems', 'procrastinate.yaml'));
    expect(run.out).toContain('procrastinate-stalled (rows.rules): ok');
    expect(run.code).toBe(0);
  });
});
