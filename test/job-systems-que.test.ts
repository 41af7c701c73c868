import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseTask, runTaskWorkflow } from './fixtures';
import { caretaker } from './cli';
import { useTaskEnvironment } from './support';
import { keys, loadSystem, onlyRules, systemConfig } from './job-systems/seeded';
import { dryRunThenRun, refusal } from './zoo/run';
import { comparable, diff, RECENT, snapshotAll, type Changes } from './zoo/snapshot';

/**
 * Que (que-rb/que @ 17fb2c3b75b37599bf17043dbb692555f582f249): its tables built by its own
 * migrations (test/job-systems/que.sql), a seed in every job state one minute either side of each
 * threshold (que-seed.sql), and its own cleanup rules as one rows.rules task (que.yaml). Each
 * expected fate names the Que file it mirrors; the first test runs Que's own SQL on the seed, so
 * the expectations are Que's, not ours.
 */
const env = useTaskEnvironment('jobs_que');

/** A live backend registered as a locker: Que's clean_lockers keeps it, and so must the rule. */
let liveLocker: Client;
let livePid = '';
beforeAll(async () => {
  liveLocker = new Client({ connectionString: env.db.url });
  await liveLocker.connect();
  livePid = (await liveLocker.query<{ pid: string }>('select pg_backend_pid()::text as pid')).rows[0]!.pid;
});
afterAll(() => liveLocker?.end());

beforeEach(async () => {
  await loadSystem(env.db.pool, 'que');
  await liveLocker.query(
    `insert into que_lockers (pid, worker_count, worker_priorities, ruby_pid, ruby_hostname, queues, listening, job_schema_version)
     values (pg_backend_pid(), 6, '{10,30,50,NULL,NULL,NULL}', 4711, 'live-host', '{default}', true, 2)`,
  );
});

/** delete-finished: docs/README.md "Finished jobs", `finished_at < now() - 7 days`. */
const FINISHED: Changes = {
  // 1: finished 7 days 1 minute ago; 3: 30 days ago (after 20 errors: finished wins, lib/que/migrations/4/up.sql
  // que_determine_job_state); 4: an ActiveJob wrapper finished 8 days ago. Untouched: 2 (7 days less 1 minute),
  // 5 (1 minute), 12 (1 day), 6 and 7 (expired, however old: docs/README.md "Expired jobs" hang around).
  'public.que_jobs': { deleted: keys(1, 3, 4) },
};
/**
 * expire-exhausted: lib/que/worker.rb work_job / lib/que/job_methods.rb handle_error expire a job
 * whose error_count exceeds maximum_retry_count (15, lib/que/job.rb; 3 for a class that sets it),
 * SQL[:expire_job] setting expired_at = now().
 */
const EXPIRED: Changes = {
  // 9: WorkerJob at 16 errors; 11: CustomRetryJob at 4. Untouched: 8 at 15 and 10 at 3 (spec/que/worker_spec.rb: a job
  // that "has failed 14 times" fails once more to 15 and is not expired; "when that value is custom" (3) the 4th failure
  // expires it), 12 (finished), 13 (errored once), 14 (scheduled), 15 (ready).
  'public.que_jobs': { updated: { '9': { expired_at: RECENT }, '11': { expired_at: RECENT } } },
};
/**
 * clean-lockers: lib/que/locker.rb SQL[:clean_lockers] deletes lockers whose pid is no backend in
 * pg_stat_activity: pid 0 (spec/que/locker_spec.rb "should clear invalid lockers from the table")
 * and 4194305; the live backend's locker stays.
 */
const LOCKERS: Changes = { 'public.que_lockers': { deleted: keys(0, 4194305) } };

const merge = (...parts: Changes[]): Changes => {
  const out: Changes = {};
  for (const part of parts) for (const [table, c] of Object.entries(part)) out[table] = { ...out[table], ...c };
  return out;
};

describe('Que', () => {
  it("Que's own statements, run on the seed, change exactly the expected rows (the expectations are Que's)", async () => {
    const before = await snapshotAll(env.db.pool);
    // docs/README.md "Finished jobs" (without its SET LOCAL que.skip_notify, which only silences the notify trigger)
    await env.db.pool.query("DELETE FROM que_jobs WHERE finished_at < (select now() - interval '7 days')");
    // lib/que/locker.rb SQL[:clean_lockers], verbatim; this session is no locker, so its pid = pg_backend_pid() half matches nothing
    await env.db.pool.query(
      'DELETE FROM public.que_lockers WHERE pid = pg_backend_pid() OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = public.que_lockers.pid)',
    );
    const after = await snapshotAll(env.db.pool);
    const rows = comparable(diff(before, after), merge(FINISHED, LOCKERS), after.now);
    expect(rows.actual).toEqual(rows.expected);
    expect(Object.keys(after.tables['public.que_lockers']!)).toEqual([livePid]);
  });

  it('the config validates; validate names the rule that reads what an earlier one changes', async () => {
    const { task, warnings } = await systemConfig('que');
    expect(task.type).toBe('rows.rules');
    // True but harmless here: expire-exhausted only picks rows with finished_at null, which delete-finished never deletes.
    expect(warnings).toEqual([
      expect.stringMatching(
        /^tasks\[0\] \(que-jobs\)\.config\.rules\[1\] \(expire-exhausted\) reads que_jobs, which rules\[0\] \(delete-finished\) changes first/,
      ),
    ]);
  });

  it('que-jobs (delete-finished, expire-exhausted): dry run, then the real run; every row of every table accounted for', async () => {
    const { task } = await systemConfig('que', 'que-jobs');
    const { dry, real } = await dryRunThenRun(env, task, merge(FINISHED, EXPIRED));
    expect(real.sets).toEqual({ 'delete-finished': { matched: 3, deleted: 3 }, 'expire-exhausted': { matched: 2, updated: 2 } });
    expect(dry.sets).toEqual({ 'delete-finished': { matched: 3, would_delete: 3 }, 'expire-exhausted': { matched: 2, would_update: 2 } });
  });

  // Que's own recipe (docs/README.md "Finished jobs") deletes under SET LOCAL que.skip_notify TO true,
  // so lib/que/migrations/7/up.sql's triggers skip their pg_notify. A rows.rules task has no session
  // settings, so every row it deletes or expires sends que_state a job_change message (what
  // Que's own web UI and state listeners receive), one per row, at commit.
  it("the real run's changes reach Que's que_state listeners, one job_change per row (Caretaker cannot set que.skip_notify)", async () => {
    const listener = new Client({ connectionString: env.db.url });
    await listener.connect();
    try {
      const messages: { id: number; previous_state: string; current_state: string }[] = [];
      listener.on('notification', (n) => messages.push(JSON.parse(n.payload!) as (typeof messages)[number]));
      await listener.query('listen que_state');
      const { task } = await systemConfig('que', 'que-jobs');
      await runTaskWorkflow(env.temporal, parseTask({ ...task, retry: { maximum_attempts: 1 } }), { dryRun: true });
      await runTaskWorkflow(env.temporal, parseTask({ ...task, retry: { maximum_attempts: 1 } }));
      // A round trip on the listening session: PostgreSQL delivers the notifications committed before it first.
      await listener.query('select 1');
      const states = messages.map((m) => `${m.id}: ${m.previous_state} -> ${m.current_state}`).sort();
      // The dry run's (rolled back) send nothing; the real run's five rows one each.
      expect(states).toEqual([
        '11: errored -> expired',
        '1: finished -> nonexistent',
        '3: finished -> nonexistent',
        '4: finished -> nonexistent',
        '9: errored -> expired',
      ]);
    } finally {
      await listener.end();
    }
  });

  it('expire-exhausted alone changes only its own rows', async () => {
    const { task } = await systemConfig('que', 'que-jobs');
    await dryRunThenRun(env, onlyRules(task, ['expire-exhausted']), EXPIRED);
  });

  // lib/que/locker.rb SQL[:clean_lockers] anti-joins pg_stat_activity, a view over a function (no table behind it):
  // missing_parent (like unreferenced_by) only reads its relation, so a view, materialized view or
  // foreign table may stand there; it needs no key (the rule's own table has one).
  it('clean-lockers deletes the lockers of backends that are gone, as Que does; the live one stays', async () => {
    const { task } = await systemConfig('que', 'que-lockers');
    await dryRunThenRun(env, task, LOCKERS);
    const left = await env.db.pool.query<{ pid: string }>('select pid::text from que_lockers');
    expect(left.rows.map((r) => r.pid)).toEqual([livePid]);
  });

  // What a rule changes is still a table: a view there is refused before anything changes.
  it('a rule whose own table is a view is refused before it changes anything', async () => {
    await env.db.pool.query('create view que_lockers_view as select * from que_lockers');
    const { task } = await systemConfig('que', 'que-lockers');
    const rules = (task.config.rules as Record<string, unknown>[]).map((r) => ({ ...r, table: 'que_lockers_view' }));
    const before = await snapshotAll(env.db.pool);
    const failure = await refusal(env, { ...task, config: { ...task.config, rules } });
    expect(failure.message).toMatch(/clean-lockers.*que_lockers_view.* is a view .*not a table/);
    expect(diff(before, await snapshotAll(env.db.pool))).toEqual({});
  });

  it('caretaker check on que.yaml against the live tables: both tasks ok', async () => {
    process.env.DATABASE_URL = env.db.url;
    const run = await caretaker('check', '--json', '-f', join(__dirname, 'job-systems', 'que.yaml'));
    const report = JSON.parse(run.out) as { databases: { tasks: { task: string; findings: { severity: string; message: string }[] }[] }[] };
    const findings = Object.fromEntries(report.databases.flatMap((d) => d.tasks.map((t) => [t.task, t.findings.map((f) => `${f.severity}: ${f.message}`)])));
    expect(findings['que-jobs']).toEqual([]);
    expect(findings['que-lockers']).toEqual([]);
    expect(run.code).toBe(0);
  });
});
