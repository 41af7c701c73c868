import { Client } from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configWarnings } from '../config/warnings';
import { quoteIdent } from '../activities/sql/identifiers';
import { runTaskWorkflow, taskFailure } from './fixtures';
import { useTaskEnvironment } from './support';
import { changesOf, dryRunThenRun, loadConfigFile, loadSystem, systemTask } from './job-systems/harness';
import { comparable, diff, rowCounts, snapshotAll, type Changes } from './zoo/snapshot';

/**
 * Two Rails job systems on their own tables (test/job-systems/solid-queue.sql, good-job.sql: the
 * schemas their install generators create, seeded one minute either side of every threshold) and
 * their own cleanup and rescue rules as rows.rules configs (solid-queue.yaml, good-job.yaml). For
 * each: the rules written by hand in SQL, as the peer's Ruby runs them, make exactly the expected
 * changes (so the expectations are the peer's); the Caretaker config makes the same changes, its dry
 * run changes nothing and reports what the real run does. Every expectation names the peer file it
 * mirrors: rails/solid_queue @ 29e818d9c1181195736ffc5d7c1d1c03757b7752, bensheldon/good_job @
 * 81db22b7cfde2579b2d735e076fa6eaacc65affa (v4.19.2).
 *
 * The database's TimeZone is America/Los_Angeles: Rails stores naive UTC wall times and sets its
 * own sessions to UTC, a maintenance tool's session gets the database default, so the configs say
 * `timestamps: { zone: UTC }` (the last test shows what happens without it).
 */
const env = useTaskEnvironment('job_systems_rails');
beforeAll(async () => {
  const client = new Client({ connectionString: env.db.url });
  await client.connect();
  await client.query(`alter database ${quoteIdent(env.db.name)} set timezone to 'America/Los_Angeles'`);
  await client.end();
});

const UTC_NOW = `(now() at time zone 'UTC')`;
const t = (name: string) => `public.${name}`;
const uuid = (n: number) => `00000000-0000-0000-0000-000000000${n}`;

// ---------------------------------------------------------------------------------------------
// Solid Queue
// ---------------------------------------------------------------------------------------------

/** A failed execution's error as FailedExecution writes it (serialize :error, coder: JSON: Ruby's compact to_json). */
const PRUNED = (lastHeartbeat: RegExp) =>
  expect.stringMatching(
    new RegExp(
      `^\\{"exception_class":"SolidQueue::Processes::ProcessPrunedError","message":"Process was found dead and pruned \\(last heartbeat at: ${lastHeartbeat.source} UTC\\)","backtrace":null\\}$`,
    ),
  );
const MISSING =
  '{"exception_class":"SolidQueue::Processes::ProcessMissingError","message":"The process that was running this job no longer exists","backtrace":null}';
const TIME = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

/**
 * What Solid Queue's maintenance does to the seed:
 * - app/models/solid_queue/process/prunable.rb (test/models/solid_queue/process_test.rb "prune processes with
 *   expired heartbeats", "... including their supervisor ... and fail claimed executions"): processes 1
 *   (supervisor), 2 and 6 (workers), 4 (dispatcher) heartbeat 6 minutes ago and are pruned; 3, 5, 7 (4 minutes,
 *   30 seconds) stay. The claims of the pruned workers (claims 1 and 5, jobs 107 and 113) fail with
 *   ProcessPrunedError: a failed execution per job, the claim gone; claim 2 (job 108, live worker 3) stays.
 * - lib/solid_queue/supervisor/maintenance.rb fail_orphaned_executions (test/unit/fork_supervisor_test.rb "fail
 *   orphaned executions"): claims whose process row is missing, process 99 (claim 3, job 109) and NULL
 *   (claim 4, job 110), fail with ProcessMissingError.
 * - app/models/solid_queue/job/clearable.rb (test/integration/jobs_lifecycle_test.rb "clear finished jobs after
 *   configured period"): jobs finished over a day ago (101: 1 day + 1 minute, 103, 111) are deleted; 102 (1 day
 *   - 1 minute) and unfinished jobs stay; 111's recurring execution goes by ON DELETE CASCADE.
 * - lib/solid_queue/dispatcher/concurrency_maintenance.rb expire_semaphores: semaphore 1 (expired a minute ago)
 *   is deleted, 2 (expires in a minute) stays.
 * Nothing else changes: the scheduled, ready, failed and blocked executions, pauses, recurring tasks.
 */
const SOLID_QUEUE: Changes = {
  [t('solid_queue_processes')]: { deleted: ['1', '2', '4', '6'] },
  [t('solid_queue_claimed_executions')]: { deleted: ['1', '3', '4', '5'] },
  [t('solid_queue_failed_executions')]: {
    inserted: [
      { job_id: '107', error: PRUNED(TIME), created_at: expect.any(Date) },
      { job_id: '109', error: MISSING, created_at: expect.any(Date) },
      { job_id: '110', error: MISSING, created_at: expect.any(Date) },
      { job_id: '113', error: PRUNED(TIME), created_at: expect.any(Date) },
    ],
  },
  [t('solid_queue_jobs')]: { deleted: ['101', '103', '111'] },
  [t('solid_queue_recurring_executions')]: { deleted: ['1'] },
  [t('solid_queue_semaphores')]: { deleted: ['1'] },
};

/**
 * The same rules as the Ruby runs them, by hand in SQL. Time.current is UTC (Rails), ranges as Ruby
 * writes them: `..x` is <= x, `...x` is < x.
 */
const SOLID_QUEUE_BY_HAND = `
  -- Process.prune: for each prunable process, a Worker fails its claimed executions, then it is destroyed.
  insert into solid_queue_failed_executions (job_id, error, created_at)
    select c.job_id,
           '{"exception_class":"SolidQueue::Processes::ProcessPrunedError","message":"Process was found dead and pruned (last heartbeat at: '
             || to_char(p.last_heartbeat_at, 'YYYY-MM-DD HH24:MI:SS') || ' UTC)","backtrace":null}',
           ${UTC_NOW}
    from solid_queue_claimed_executions c join solid_queue_processes p on p.id = c.process_id
    where p.last_heartbeat_at <= ${UTC_NOW} - interval '5 minutes' and p.kind = 'Worker';
  delete from solid_queue_claimed_executions c using solid_queue_processes p
    where p.id = c.process_id and p.last_heartbeat_at <= ${UTC_NOW} - interval '5 minutes' and p.kind = 'Worker';
  delete from solid_queue_processes where last_heartbeat_at <= ${UTC_NOW} - interval '5 minutes';
  -- ClaimedExecution.orphaned (where.missing(:process)).fail_all_with(ProcessMissingError)
  insert into solid_queue_failed_executions (job_id, error, created_at)
    select c.job_id, '${MISSING}', ${UTC_NOW} from solid_queue_claimed_executions c left join solid_queue_processes p on p.id = c.process_id where p.id is null;
  delete from solid_queue_claimed_executions c where not exists (select from solid_queue_processes p where p.id = c.process_id);
  -- Job.clear_finished_in_batches
  delete from solid_queue_jobs where finished_at is not null and finished_at < ${UTC_NOW} - interval '1 day';
  -- Semaphore.expired.delete_all
  delete from solid_queue_semaphores where expires_at < ${UTC_NOW}`;

/**
 * Blocked executions and semaphores for BlockedExecution.unblock, on top of the seed (which has blocked execution 1,
 * job 112, key NonOverlappingJob/A, expired 2 days ago, and semaphores 1, NonOverlappingJob/A value 0 expired a
 * minute ago, and 2, ThrottledJob/B value 1 expiring in a minute). Jobs are NonOverlappingJob / ThrottledJob with
 * limits_concurrency's defaults (to: 1, duration: 3 minutes).
 */
const BLOCKED = [
  // [id, job_id, priority, concurrency_key, expires_at]: NonOverlappingJob/B, all expired: the first by (priority, job_id) is 11.
  [10, 120, 5, 'NonOverlappingJob/B', `${UTC_NOW} - interval '3 days'`],
  [11, 121, 0, 'NonOverlappingJob/B', `${UTC_NOW} - interval '3 days'`],
  [12, 122, 0, 'NonOverlappingJob/B', `${UTC_NOW} - interval '3 days'`],
  // ThrottledJob/B: its semaphore (2) is open (value 1): released, the semaphore decremented.
  [13, 123, 0, 'ThrottledJob/B', `${UTC_NOW} - interval '1 day'`],
  // NonOverlappingJob/C: its semaphore (4) is closed and expires in 2 minutes: stays.
  [14, 124, 0, 'NonOverlappingJob/C', `${UTC_NOW} - interval '1 day'`],
  // NonOverlappingJob/D: expires in a minute, no expired execution under the key: stays.
  [15, 125, 0, 'NonOverlappingJob/D', `${UTC_NOW} + interval '1 minute'`],
  // NonOverlappingJob/E: 17 expired a minute ago, so the key is unblocked, and its first execution is 16 (priority 0), not yet expired.
  [16, 126, 0, 'NonOverlappingJob/E', `${UTC_NOW} + interval '1 minute'`],
  [17, 127, 3, 'NonOverlappingJob/E', `${UTC_NOW} - interval '1 minute'`],
] as const;
const BLOCKED_SEED = `
  insert into solid_queue_jobs (id, queue_name, class_name, arguments, priority, active_job_id, scheduled_at, concurrency_key, created_at, updated_at) values
    ${BLOCKED.map(([, job, priority, key]) => `(${job}, 'default', '${key.split('/')[0]}', '{"arguments":[]}', ${priority}, 'aj-${job}', ${UTC_NOW} - interval '3 days', '${key}', ${UTC_NOW} - interval '3 days', ${UTC_NOW} - interval '3 days')`).join(',\n    ')};
  insert into solid_queue_blocked_executions (id, job_id, queue_name, priority, concurrency_key, expires_at, created_at) values
    ${BLOCKED.map(([id, job, priority, key, expires]) => `(${id}, ${job}, 'default', ${priority}, '${key}', ${expires}, ${UTC_NOW} - interval '3 days')`).join(',\n    ')};
  insert into solid_queue_semaphores (id, key, value, expires_at, created_at, updated_at) values
    (3, 'NonOverlappingJob/B', 0, ${UTC_NOW} - interval '1 minute', ${UTC_NOW} - interval '3 days', ${UTC_NOW} - interval '3 days'),
    (4, 'NonOverlappingJob/C', 0, ${UTC_NOW} + interval '2 minutes', ${UTC_NOW} - interval '1 minute', ${UTC_NOW} - interval '1 minute')`;

/**
 * What the dispatcher's concurrency maintenance does to that: expire_semaphores deletes semaphores 1 and 3; unblock
 * releases one execution per releasable key: 1 (job 112, A: no semaphore left), 11 (job 121, B: first by priority,
 * job_id), 13 (job 123, ThrottledJob/B: open semaphore) and 16 (job 126, E: first of the key, though not expired),
 * each as a ready execution with its queue and priority; it creates the semaphores of A, B and E (value 0) and
 * decrements ThrottledJob/B's (value and expires_at; update_all leaves updated_at). C (closed) and D (not expired) stay.
 */
const UNBLOCKED: Changes = {
  [t('solid_queue_semaphores')]: {
    deleted: ['1', '3'],
    inserted: ['NonOverlappingJob/A', 'NonOverlappingJob/B', 'NonOverlappingJob/E'].map((key) => ({
      key,
      value: 0,
      expires_at: expect.any(Date),
      created_at: expect.any(Date),
      updated_at: expect.any(Date),
    })),
    updated: { '2': { value: 0, expires_at: expect.any(Date) } },
  },
  [t('solid_queue_blocked_executions')]: { deleted: ['1', '11', '13', '16'] },
  [t('solid_queue_ready_executions')]: {
    inserted: ['112', '121', '123', '126'].map((job_id) => ({ job_id, queue_name: 'default', priority: 0, created_at: expect.any(Date) })),
  },
};

/** expire_semaphores and BlockedExecution.unblock by hand: releasable keys, the first execution of each, Semaphore.wait, promote_to_ready, destroy!. */
const UNBLOCK_BY_HAND = `
  delete from solid_queue_semaphores where expires_at < ${UTC_NOW};
  with released as (
    select distinct on (b.concurrency_key) b.* from solid_queue_blocked_executions b
    where b.concurrency_key in (select concurrency_key from solid_queue_blocked_executions where expires_at < ${UTC_NOW})
      and not exists (select from solid_queue_semaphores s where s.key = b.concurrency_key and s.value <= 0)
    order by b.concurrency_key, b.priority, b.job_id),
  decremented as (
    update solid_queue_semaphores s set value = s.value - 1, expires_at = ${UTC_NOW} + interval '3 minutes'
    from released r where s.key = r.concurrency_key and s.value > 0 returning s.key),
  created as (
    insert into solid_queue_semaphores (key, value, expires_at, created_at, updated_at)
    select r.concurrency_key, 0, ${UTC_NOW} + interval '3 minutes', ${UTC_NOW}, ${UTC_NOW} from released r
    where not exists (select from solid_queue_semaphores s where s.key = r.concurrency_key) returning key),
  ready as (
    insert into solid_queue_ready_executions (job_id, queue_name, priority, created_at)
    select job_id, queue_name, priority, ${UTC_NOW} from released returning job_id)
  delete from solid_queue_blocked_executions b using released r where b.id = r.id`;

describe('Solid Queue', () => {
  beforeEach(() => loadSystem(env.db.pool, 'solid-queue'));

  it("the peer's rules by hand in SQL make exactly the expected changes (the expectations are Solid Queue's)", async () => {
    const got = await changesOf(env.db.pool, SOLID_QUEUE_BY_HAND);
    const rows = comparable(got, SOLID_QUEUE, new Date());
    expect(rows.actual).toEqual(rows.expected);
  });

  describe('as a rows.rules config', () => {
    it('the config file validates; validate names the rule that reads what an earlier rule deletes', () => {
      const config = loadConfigFile('solid-queue');
      expect(config.tasks.map((task) => task.id)).toEqual(['solid-queue-maintenance', 'solid-queue-maintenance-exact', 'solid-queue-clear-add-to-buffer']);
      const warnings = configWarnings(config).join('\n');
      expect(warnings).toMatch(/fail-orphaned-claims/);
      expect(warnings).toMatch(/prune-dead-processes/);
    });

    // Each rule selects when it starts, after the rules before it committed: keys read ahead or walked.
    it.each([
      { name: 'keys read ahead', read_ahead: 100_000 },
      { name: 'keys walked (read_ahead: 0)', read_ahead: 0 },
    ])('solid-queue-maintenance, $name: every row as Solid Queue leaves it; the dry run shows all but what depends on the prune', async ({ read_ahead }) => {
      await dryRunThenRun(env, systemTask('solid-queue', 'solid-queue-maintenance', { batch_size: 2, read_ahead }), {
        // Failed executions: which jobs failed is what Solid Queue's own tests assert (process_test.rb:
        // FailedExecution.count +3, jobs.all?(&:failed?)); the error is ProcessMissingError for all four
        // (ProcessPrunedError for 107 and 113 is a gap, below); the time they failed is checked after.
        changes: {
          ...SOLID_QUEUE,
          [t('solid_queue_failed_executions')]: { inserted: ['107', '109', '110', '113'].map((job_id) => ({ job_id, error: MISSING })) },
        },
        sets: {
          'prune-dead-processes': { matched: 4, deleted: 4 },
          'fail-orphaned-claims': { matched: 3, archived: 3 },
          'fail-claims-without-process': { matched: 1, archived: 1 },
          'describe-failures': { matched: 4, updated: 4 },
          'clear-finished-jobs': { matched: 3, deleted: 3 },
          'expire-semaphores': { matched: 1, deleted: 1 },
        },
        // The failed executions are inserted by the fail rules, then updated by describe-failures.
        tables: { ...rowCounts(SOLID_QUEUE), [t('solid_queue_failed_executions')]: { inserted: 4, updated: 4 } },
        // Rolled back, the prune leaves processes 2 and 6 in place: the dry run sees only claim 3 (process 99)
        // orphaned, and none of the failed executions the fail rules insert.
        dryRunOfDependents: { 'fail-orphaned-claims': { matched: 1, archived: 1 }, 'describe-failures': { matched: 0, updated: 0 } },
      });
      // now() written into a naive column in the task's zone (UTC), not the session's (America/Los_Angeles).
      const failedNow = await env.db.pool.query<{ job_id: string }>(
        `select job_id::text from solid_queue_failed_executions where created_at between ${UTC_NOW} - interval '5 minutes' and ${UTC_NOW} order by job_id`,
      );
      expect(failedNow.rows.map((r) => r.job_id)).toEqual(['107', '109', '110', '113']);
    });

    // test/integration/jobs_lifecycle_test.rb "respect class name when clearing finished jobs":
    // clear_finished_in_batches(class_name: "AddToBufferJob") leaves RaisingJob 103 and PeriodicReportJob 111.
    it('solid-queue-clear-add-to-buffer: only finished AddToBufferJob jobs', async () => {
      await dryRunThenRun(env, systemTask('solid-queue', 'solid-queue-clear-add-to-buffer'), {
        changes: { [t('solid_queue_jobs')]: { deleted: ['101'] } },
        sets: { 'clear-finished-jobs': { matched: 1, deleted: 1 } },
      });
    });

    // app/models/solid_queue/process/prunable.rb: prune takes the prunable processes with non_blocking_lock
    // (FOR UPDATE SKIP LOCKED); a process whose row another transaction holds (Process#heartbeat runs
    // with_lock) is left for the next prune, and so are its claims. Caretaker selects `for update skip locked`.
    it('skips a dead process whose row another transaction holds, and its claims, as prune does', async () => {
      const holder = new Client({ connectionString: env.db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select id from solid_queue_processes where id = 2 for update');
        const real = await runTaskWorkflow(env.temporal, systemTask('solid-queue', 'solid-queue-maintenance'));
        expect(real.sets['prune-dead-processes']).toEqual({ matched: 3, deleted: 3 });
        expect(real.sets['fail-orphaned-claims']).toEqual({ matched: 2, archived: 2 });
      } finally {
        await holder.query('rollback');
        await holder.end();
      }
      const left = await env.db.pool.query<{ id: string }>('select id::text from solid_queue_processes order by id');
      expect(left.rows.map((r) => r.id)).toEqual(['2', '3', '5', '7']);
      const claims = await env.db.pool.query<{ job_id: string }>('select job_id::text from solid_queue_claimed_executions order by job_id');
      expect(claims.rows.map((r) => r.job_id)).toEqual(['107', '108']);
    });

    it.each([
      { name: 'keys read ahead', read_ahead: 100_000 },
      { name: 'keys walked (read_ahead: 0)', read_ahead: 0 },
    ])('solid-queue-maintenance-exact, $name: every row as Solid Queue leaves it, errors included; the dry run shows all of it', async ({ read_ahead }) => {
      await dryRunThenRun(env, systemTask('solid-queue', 'solid-queue-maintenance-exact', { batch_size: 2, read_ahead }), {
        changes: SOLID_QUEUE,
        sets: {
          'fail-claims-of-pruned-workers': { matched: 2, archived: 2 },
          'prune-dead-processes': { matched: 4, deleted: 4 },
          'fail-orphaned-claims': { matched: 1, archived: 1 },
          'fail-claims-without-process': { matched: 1, archived: 1 },
          'clear-finished-jobs': { matched: 3, deleted: 3 },
          'expire-semaphores': { matched: 1, deleted: 1 },
        },
      });
    });

    // Prunable.prune takes the prunable processes with non_blocking_lock: a process row another transaction
    // holds (Process#heartbeat runs with_lock) is neither pruned nor are its claims failed. The rule share-locks
    // each claim's parent row, skipping one that is held.
    it('solid-queue-maintenance-exact leaves a held dead process and its claims for the next run, as prune does', async () => {
      const holder = new Client({ connectionString: env.db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select id from solid_queue_processes where id = 2 for update');
        const real = await runTaskWorkflow(env.temporal, systemTask('solid-queue', 'solid-queue-maintenance-exact'));
        expect(real.sets['fail-claims-of-pruned-workers']).toEqual({ matched: 1, archived: 1 });
        expect(real.sets['prune-dead-processes']).toEqual({ matched: 3, deleted: 3 });
      } finally {
        await holder.query('rollback');
        await holder.end();
      }
      const claims = await env.db.pool.query<{ job_id: string }>('select job_id::text from solid_queue_claimed_executions order by job_id');
      expect(claims.rows.map((r) => r.job_id)).toEqual(['107', '108']);
      const failed = await env.db.pool.query<{ job_id: string }>('select job_id::text from solid_queue_failed_executions order by job_id');
      expect(failed.rows.map((r) => r.job_id)).not.toContain('107');
    });

    // Process#prune fails a pruned worker's claims with ProcessPrunedError, whose message names the process's
    // last heartbeat (lib/solid_queue/processes/process_pruned_error.rb), before the process goes: in
    // solid-queue-maintenance-exact the claim rule reads its process as `parent` and archives with values from it.
    it('the claims of pruned workers fail with ProcessPrunedError and the last heartbeat, as Solid Queue writes them', async () => {
      const heartbeats = await env.db.pool.query<{ job_id: string; at: string }>(
        `select c.job_id::text, to_char(p.last_heartbeat_at, 'YYYY-MM-DD HH24:MI:SS') as at
           from solid_queue_claimed_executions c join solid_queue_processes p on p.id = c.process_id where p.id in (2, 6) order by c.job_id`,
      );
      const before = await snapshotAll(env.db.pool);
      await runTaskWorkflow(env.temporal, systemTask('solid-queue', 'solid-queue-maintenance-exact'));
      const rows = comparable(diff(before, await snapshotAll(env.db.pool)), SOLID_QUEUE, new Date());
      expect(rows.actual[t('solid_queue_failed_executions')]).toEqual(rows.expected[t('solid_queue_failed_executions')]);
      const errors = await env.db.pool.query<{ job_id: string; error: string }>(
        `select job_id::text, error from solid_queue_failed_executions where job_id in (107, 113) order by job_id`,
      );
      expect(errors.rows).toEqual(heartbeats.rows.map((h) => ({ job_id: h.job_id, error: PRUNED(new RegExp(h.at.replace(/[-:]/g, (c) => `\\${c}`))) })));
    });

    // Before the first batch the fail rules match 2 of the 5 claims (40%); after the prune commits they
    // move 4 (80%), and describe-failures would update 4 of the 5 failed executions (80%), when it matched
    // none then. So max_fraction is checked again when each rule starts (activities/engine/fraction.ts):
    // fail-orphaned-claims moves 3 of 5 (60%, allowed); fail-claims-without-process would make it 4 of 5.
    it('max_fraction 0.6 holds over the rows a rule reaches because an earlier rule of the run changed them', async () => {
      const task = systemTask('solid-queue', 'solid-queue-maintenance', { max_fraction: 0.6 });
      // A dry run cannot show it: each rule rolled back, the prune leaves the processes in place, the fail rules
      // match 2 claims (40%) and the dry run completes; validate and `run --dry-run` name the pair instead.
      expect((await runTaskWorkflow(env.temporal, task, { dryRun: true })).status).toBe('completed');
      const failure = await taskFailure(runTaskWorkflow(env.temporal, task));
      expect(failure.message).toMatch(
        /^fail-claims-without-process: would archive 1 more after this run changed 3: 4 of 5 rows of public\.solid_queue_claimed_executions as at the run's start \(80%\), more than max_fraction 0\.6/,
      );
      const { rows } = await env.db.pool.query<{ claims: number; described: number }>(
        `select (select count(*)::int from solid_queue_claimed_executions) as claims,
                (select count(*)::int from solid_queue_failed_executions where error like '%ProcessMissingError%') as described`,
      );
      // At most 60% of the 5 claims may go (2 stay), and at most 60% of the failed executions change.
      expect(rows[0]!.claims).toBeGreaterThanOrEqual(2);
      expect(rows[0]!.described).toBeLessThanOrEqual(3);
    });

    // lib/solid_queue/dispatcher/concurrency_maintenance.rb runs expire_semaphores, then BlockedExecution.unblock
    // (app/models/solid_queue/blocked_execution.rb): per concurrency key of an expired blocked execution whose
    // semaphore is gone or open, release_one takes the key's first blocked execution (priority, job_id) and, in one
    // transaction, takes the semaphore (semaphore.rb Semaphore.wait: insert value limit - 1, or decrement),
    // inserts its ready execution and deletes it (solid-queue-concurrency.yaml: first_per and acquire).
    // test/integration/instrumentation_test.rb "unblocking jobs in bulk emits release_many_blocked event": the
    // first unblock releases one per key (size 2), the second none (size 0): the semaphores it took are closed.
    it('releases one expired blocked execution per concurrency key (BlockedExecution.unblock)', async () => {
      // unblock reads the semaphores expire-semaphores deletes first: validate names the pair.
      expect(configWarnings(loadConfigFile('solid-queue-concurrency')).join('\n')).toMatch(
        /\(unblock-blocked-executions\) reads solid_queue_semaphores, which rules\[0\] \(expire-semaphores\) changes first/,
      );
      await env.db.pool.query(BLOCKED_SEED);
      await dryRunThenRun(env, systemTask('solid-queue-concurrency', 'solid-queue-concurrency-maintenance', { batch_size: 100 }), {
        changes: UNBLOCKED,
        sets: { 'expire-semaphores': { matched: 2, deleted: 2 }, 'unblock-blocked-executions': { matched: 4, released: 4 } },
        // Rolled back, expire-semaphores leaves the closed semaphores of NonOverlappingJob/A and /B: the dry run of
        // unblock releases only ThrottledJob/B (open) and NonOverlappingJob/E (none).
        dryRunOfDependents: { 'unblock-blocked-executions': { matched: 2, released: 2 } },
      });
      // Semaphore.wait wrote expires_at concurrency_duration (3 minutes) from now, in UTC like Rails.
      const taken = await env.db.pool.query<{ key: string; value: number; ok: boolean }>(
        `select key, value, expires_at between ${UTC_NOW} + interval '2 minutes' and ${UTC_NOW} + interval '3 minutes' as ok
         from solid_queue_semaphores where key <> 'NonOverlappingJob/C' order by key`,
      );
      expect(taken.rows).toEqual(
        ['NonOverlappingJob/A', 'NonOverlappingJob/B', 'NonOverlappingJob/E', 'ThrottledJob/B'].map((key) => ({ key, value: 0, ok: true })),
      );
      // The second unblock releases nothing: every key left is closed.
      const before = await snapshotAll(env.db.pool);
      const again = await runTaskWorkflow(env.temporal, systemTask('solid-queue-concurrency', 'solid-queue-concurrency-maintenance'));
      expect(again.sets['unblock-blocked-executions']).toEqual({ matched: 0, released: 0 });
      expect(diff(before, await snapshotAll(env.db.pool))).toEqual({});
    });

    // Semaphore.wait takes the semaphore in release's transaction: a semaphore another process creates for the key
    // between the rule's select and its write (attempt_creation's insert loses: RecordNotUnique, limit 1, false) is
    // not taken a second time, and the execution stays blocked. The rule inserts with ON CONFLICT ... DO UPDATE
    // WHERE value > 0 and, in the same transaction, moves only the rows whose slot it took.
    it('leaves the execution blocked when another transaction takes its semaphore first, as Semaphore.wait does', async () => {
      await env.db.pool.query(BLOCKED_SEED);
      const holder = new Client({ connectionString: env.db.url });
      await holder.connect();
      let run: ReturnType<typeof runTaskWorkflow> | undefined;
      try {
        await holder.query('begin');
        await holder.query(
          `insert into solid_queue_semaphores (key, value, expires_at, created_at, updated_at) values ('NonOverlappingJob/E', 0, ${UTC_NOW} + interval '3 minutes', ${UTC_NOW}, ${UTC_NOW})`,
        );
        run = runTaskWorkflow(env.temporal, systemTask('solid-queue-concurrency', 'solid-queue-concurrency-maintenance'));
        // The rule's insert waits on the holder's uncommitted key; then the holder commits.
        for (let waiting = false; !waiting;) {
          const { rows } = await env.db.pool.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%took as (insert into%'`,
          );
          waiting = rows[0]!.n > 0;
          if (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await holder.query('commit');
        const real = await run;
        // Four picked, three released: E's semaphore was taken by the holder, and E is left for the next run.
        expect(real.sets['unblock-blocked-executions']).toEqual({ matched: 4, released: 3, skipped_for_locks: 1 });
        expect(real.details.filter((d) => d.set === 'unblock-blocked-executions').map((d) => d.id)).toEqual(['1', '11', '13']);
      } finally {
        await holder.end();
      }
      const left = await env.db.pool.query<{ id: string }>(`select id::text from solid_queue_blocked_executions order by id`);
      expect(left.rows.map((r) => r.id)).toEqual(['10', '12', '14', '15', '16', '17']);
      const ready = await env.db.pool.query<{ job_id: string }>(`select job_id::text from solid_queue_ready_executions order by job_id`);
      expect(ready.rows.map((r) => r.job_id)).toEqual(['105', '112', '121', '123']);
      const e = await env.db.pool.query(`select value, updated_at = created_at as untouched from solid_queue_semaphores where key = 'NonOverlappingJob/E'`);
      expect(e.rows).toEqual([{ value: 0, untouched: true }]);
    });

    it("BlockedExecution.unblock by hand in SQL makes exactly the expected changes (the expectations are Solid Queue's)", async () => {
      await env.db.pool.query(BLOCKED_SEED);
      const rows = comparable(await changesOf(env.db.pool, UNBLOCK_BY_HAND), UNBLOCKED, new Date());
      expect(rows.actual).toEqual(rows.expected);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// good_job
// ---------------------------------------------------------------------------------------------

/**
 * What good_job's maintenance does to the seed:
 * - app/models/good_job/process.rb Process.cleanup (`inactive`: lock_type NULL and updated_at < 5 minutes ago):
 *   process 301 (6 minutes) is deleted and job 106, which it locked, gets locked_by_id and locked_at NULL
 *   (lock_type and everything else as it was); 302 (4 minutes) and its job 107 stay.
 * - lib/good_job.rb cleanup_preserved_jobs (spec/lib/good_job_spec.rb ".cleanup_preserved_jobs deletes finished
 *   jobs"): jobs finished 14 days + 1 minute ago or more, succeeded (101, 108) and discarded (103) alike, with
 *   their executions (201; 203, 204; 207); 102 and 104 (14 days - 1 minute) and the unfinished 105 stay; then
 *   batches finished 14 days + 1 minute ago (401 succeeded, 403 discarded); 402 (14 days - 1 minute) and 404
 *   (callbacks not finished: "does not delete batches until their callbacks have finished") stay.
 * Nothing else changes (settings, the executions of kept jobs).
 */
const GOOD_JOB: Changes = {
  [t('good_job_processes')]: { deleted: [uuid(301)] },
  [t('good_jobs')]: { deleted: [uuid(101), uuid(103), uuid(108)], updated: { [uuid(106)]: { locked_by_id: null, locked_at: null } } },
  [t('good_job_executions')]: { deleted: [uuid(201), uuid(203), uuid(204), uuid(207)] },
  [t('good_job_batches')]: { deleted: [uuid(401), uuid(403)] },
};

/** cleanup_discarded_jobs: false (good_job_spec.rb "respects the cleanup_discarded_jobs? configuration"): discarded job 103 and batch 403 stay. */
const GOOD_JOB_KEEP_DISCARDED: Changes = {
  [t('good_jobs')]: { deleted: [uuid(101), uuid(108)] },
  [t('good_job_executions')]: { deleted: [uuid(201), uuid(207)] },
  [t('good_job_batches')]: { deleted: [uuid(401)] },
};

/** good_job's rules by hand in SQL: Process.cleanup, then cleanup_preserved_jobs (executions by active_job_id, jobs, batches). */
const goodJobByHand = (includeDiscarded: boolean) => `
  ${
    includeDiscarded
      ? `update good_jobs set locked_by_id = null, locked_at = null
           where locked_by_id in (select id from good_job_processes where lock_type is null and updated_at < ${UTC_NOW} - interval '5 minutes');
         delete from good_job_processes where lock_type is null and updated_at < ${UTC_NOW} - interval '5 minutes';`
      : ''
  }
  delete from good_job_executions where active_job_id in
    (select active_job_id from good_jobs where finished_at <= ${UTC_NOW} - interval '14 days' ${includeDiscarded ? '' : 'and finished_at is not null and error is null'});
  delete from good_jobs where finished_at <= ${UTC_NOW} - interval '14 days' ${includeDiscarded ? '' : 'and finished_at is not null and error is null'};
  delete from good_job_batches where finished_at <= ${UTC_NOW} - interval '14 days' ${includeDiscarded ? '' : 'and finished_at is not null and discarded_at is null'}`;

describe('good_job', () => {
  beforeEach(() => loadSystem(env.db.pool, 'good-job'));

  it.each([
    { name: 'maintenance', includeDiscarded: true, expected: GOOD_JOB },
    { name: 'keep discarded', includeDiscarded: false, expected: GOOD_JOB_KEEP_DISCARDED },
  ])("$name: the peer's rules by hand in SQL make exactly the expected changes", async ({ includeDiscarded, expected }) => {
    const got = await changesOf(env.db.pool, goodJobByHand(includeDiscarded));
    const rows = comparable(got, expected, new Date());
    expect(rows.actual).toEqual(rows.expected);
  });

  describe('as a rows.rules config', () => {
    it('the config file validates; validate names the rule that reads what an earlier rule changes', () => {
      const config = loadConfigFile('good-job');
      expect(config.tasks.map((task) => task.id)).toEqual(['good-job-maintenance', 'good-job-keep-discarded']);
      // True but harmless here: the process rules unlock unfinished jobs, which cleanup-preserved-jobs never picks.
      const warnings = configWarnings(config).join('\n');
      expect(warnings).toMatch(/\(cleanup-preserved-jobs\) reads good_jobs, which rules\[0\] \(cleanup-inactive-processes\) changes first/);
    });

    it.each([
      { name: 'keys read ahead', read_ahead: 100_000 },
      { name: 'keys walked (read_ahead: 0)', read_ahead: 0 },
    ])('good-job-maintenance, $name: every row as good_job leaves it; the dry run shows all of it', async ({ read_ahead }) => {
      await dryRunThenRun(env, systemTask('good-job', 'good-job-maintenance', { batch_size: 2, read_ahead }), {
        changes: GOOD_JOB,
        sets: {
          // Process 301 goes, and its job 106 is unlocked as its child, in the same transaction.
          'cleanup-inactive-processes': { matched: 1, deleted: 1, children_updated: 1 },
          'cleanup-unlocked-processes': { matched: 0, deleted: 0 },
          'cleanup-preserved-jobs': { matched: 3, deleted: 3, children_deleted: 4 },
          'cleanup-preserved-batches': { matched: 2, deleted: 2 },
        },
      });
    });

    it('good-job-keep-discarded: discarded jobs and batches stay', async () => {
      await dryRunThenRun(env, systemTask('good-job', 'good-job-keep-discarded'), {
        changes: GOOD_JOB_KEEP_DISCARDED,
        sets: { 'cleanup-preserved-jobs': { matched: 2, deleted: 2, children_deleted: 2 }, 'cleanup-preserved-batches': { matched: 1, deleted: 1 } },
      });
    });

    // lib/good_job.rb cleanup_preserved_jobs deletes executions by the job's active_job_id
    // (GoodJob::Execution.where(active_job_id: active_job_ids)), whatever the job's id: spec/lib/good_job_spec.rb
    // creates jobs whose id differs. The child references the parent's active_job_id (parent_column).
    it('deletes the executions of a job whose id is not its active_job_id, by active_job_id as good_job does', async () => {
      await env.db.pool.query(`
        insert into good_jobs (id, active_job_id, queue_name, job_class, finished_at, created_at, updated_at)
          values ('${uuid(109)}', '${uuid(199)}', 'default', 'ExampleJob', ${UTC_NOW} - interval '15 days', ${UTC_NOW} - interval '16 days', ${UTC_NOW} - interval '15 days');
        insert into good_job_executions (id, active_job_id, job_class, finished_at, created_at, updated_at)
          values ('${uuid(209)}', '${uuid(199)}', 'ExampleJob', ${UTC_NOW} - interval '15 days', ${UTC_NOW} - interval '16 days', ${UTC_NOW} - interval '15 days')`);
      await runTaskWorkflow(env.temporal, systemTask('good-job', 'good-job-maintenance'));
      expect((await env.db.pool.query(`select id from good_jobs where id = '${uuid(109)}'`)).rows).toEqual([]);
      expect((await env.db.pool.query(`select id from good_job_executions where id = '${uuid(209)}'`)).rows).toEqual([]);
    });

    // app/models/good_job/process.rb `inactive` also holds a process with lock_type advisory (0) whose advisory
    // lock no session holds (advisory_unlocked: app/models/concerns/good_job/advisory_lockable.rb
    // joins_advisory_locks, a LEFT JOIN on pg_locks by the md5 key of 'good_job_processes-<id>'), whatever its
    // updated_at; Process.cleanup unlocks its jobs and deletes it. One whose lock a session holds is `active`.
    it('deletes a process of lock type advisory whose advisory lock no session holds, and unlocks its jobs; a held one stays', async () => {
      const key = (id: string) => `('x' || substr(md5('good_job_processes' || '-' || '${id}'), 1, 16))::bit(64)::bigint`;
      const holder = new Client({ connectionString: env.db.url });
      await holder.connect();
      try {
        // find_or_create_record(with_advisory_lock: true): the record and its session-level advisory lock.
        await holder.query(`select pg_advisory_lock(${key(uuid(304))})`);
        await env.db.pool.query(`
          insert into good_job_processes (id, created_at, updated_at, state, lock_type)
            values ('${uuid(303)}', ${UTC_NOW}, ${UTC_NOW}, '{}', 0), ('${uuid(304)}', ${UTC_NOW} - interval '1 hour', ${UTC_NOW} - interval '1 hour', '{}', 0);
          update good_jobs set locked_by_id = '${uuid(303)}', locked_at = ${UTC_NOW} where id = '${uuid(107)}';
          update good_jobs set locked_by_id = '${uuid(304)}', locked_at = ${UTC_NOW} where id = '${uuid(105)}'`);
        const before = await snapshotAll(env.db.pool);
        const byHand = `
          select p.id::text from good_job_processes p
          left join pg_locks on pg_locks.locktype = 'advisory' and pg_locks.objsubid = 1
            and pg_locks.classid = substring((${key("' || p.id::text || '")})::bit(64) from 1 for 32)::bit(32)::int
            and pg_locks.objid = substring((${key("' || p.id::text || '")})::bit(64) from 33 for 32)::bit(32)::int
          where p.lock_type = 0 and pg_locks.locktype is null`;
        expect((await env.db.pool.query<{ id: string }>(byHand)).rows.map((r) => r.id)).toEqual([uuid(303)]);
        const real = await runTaskWorkflow(env.temporal, systemTask('good-job', 'good-job-maintenance'));
        expect(real.sets['cleanup-unlocked-processes']).toEqual({ matched: 1, deleted: 1, children_updated: 1 });
        const rows = comparable(
          diff(before, await snapshotAll(env.db.pool)),
          {
            ...GOOD_JOB,
            [t('good_job_processes')]: { deleted: [uuid(301), uuid(303)] },
            [t('good_jobs')]: {
              ...GOOD_JOB[t('good_jobs')],
              updated: { [uuid(106)]: { locked_by_id: null, locked_at: null }, [uuid(107)]: { locked_by_id: null, locked_at: null } },
            },
          },
          new Date(),
        );
        expect(rows.actual).toEqual(rows.expected);
      } finally {
        await holder.end();
      }
    });

    // Process.cleanup unlocks only the jobs of the processes it deletes (GoodJob::Job.where(locked_by_id:
    // process.id) for each inactive process): a job whose locked_by_id names a process row that was already gone
    // stays locked. The rule unlocks a deleted process's jobs as children of its delete, so this one stays too.
    it('leaves a job locked by a process row that was already gone, as good_job does', async () => {
      await env.db.pool.query(`update good_jobs set locked_by_id = '${uuid(398)}' where id = '${uuid(105)}'`);
      await runTaskWorkflow(env.temporal, systemTask('good-job', 'good-job-maintenance'));
      expect((await env.db.pool.query(`select locked_by_id::text from good_jobs where id = '${uuid(105)}'`)).rows).toEqual([{ locked_by_id: uuid(398) }]);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Naive UTC timestamps read from a session in another zone
// ---------------------------------------------------------------------------------------------

describe('Rails timestamps without timestamps.zone', () => {
  beforeEach(() => loadSystem(env.db.pool, 'solid-queue'));

  it("are read in the session's zone (America/Los_Angeles here): heartbeats look 8 hours younger and nothing is pruned", async () => {
    const predict = async (config: Record<string, unknown>) =>
      (await runTaskWorkflow(env.temporal, systemTask('solid-queue', 'solid-queue-maintenance', { dry_run_mode: 'read_only', ...config }), { dryRun: true }))
        .sets;
    const utc = await predict({});
    const session = await predict({ timestamps: { zone: null } });
    expect([utc['prune-dead-processes']?.matched, utc['clear-finished-jobs']?.matched]).toEqual([4, 3]);
    // Without the zone, job 101 (finished 1 day + 1 minute ago, UTC) looks finished 16 hours ago.
    expect([session['prune-dead-processes']?.matched, session['clear-finished-jobs']?.matched]).toEqual([0, 2]);
  });
});
