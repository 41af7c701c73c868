import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { caretaker } from './cli';
import { useTaskEnvironment } from './support';
import { keys, loadSystem, systemConfig } from './job-systems/seeded';
import { dryRunThenRun, refusal } from './zoo/run';
import { comparable, diff, snapshotAll, type Changes } from './zoo/snapshot';

/**
 * django-celery-results (celery/django-celery-results @ 067dfc9a857344c833e269f679047d48b938e60d):
 * its tables as its migrations create them (test/job-systems/django-celery-results.sql), results
 * one minute either side of result_expires (django-celery-results-seed.sql), and its own cleanup
 * as one rows.rules task (django-celery-results.yaml). Each expected fate names the file it
 * mirrors; the first test runs the cleanup's own SQL on the seed.
 */
const env = useTaskEnvironment('jobs_celery_results');
beforeEach(() => loadSystem(env.db.pool, 'django-celery-results'));

/**
 * backends/database.py DatabaseBackend.cleanup() -> managers.py ResultManager.delete_expired(expires)
 * on TaskResult and on GroupResult: `filter(date_done__lt=now() - expires)`, whatever the status
 * (t/unit/test_models.py test_taskresult_delete_expired: the result done 10 days ago goes, fresh
 * ones stay). Task results: 1 (done 1 day 1 minute ago), 3 (FAILURE, 10 days), 4 (STARTED 2 days
 * ago and never saved since: the status does not matter) go; 2 (1 day less 1 minute), 5 (created 5
 * days ago but done 1 hour ago: date_done decides) and 6 (PENDING, now) stay. Group results: 1 goes,
 * 2 stays. Chord counters are not part of cleanup(): both stay, even the one whose group is gone.
 */
const EXPIRED: Changes = {
  'public.django_celery_results_taskresult': { deleted: keys(1, 3, 4) },
  'public.django_celery_results_groupresult': { deleted: keys(1) },
};

describe('django-celery-results', () => {
  it("the cleanup's own SQL (the ORM's delete of date_done < now() - 1 day, both models) changes exactly the expected rows", async () => {
    const before = await snapshotAll(env.db.pool);
    for (const table of ['django_celery_results_taskresult', 'django_celery_results_groupresult']) {
      // managers.py delete_expired: ids of get_all_expired(expires) by id, then filter(id__in=ids).delete()
      await env.db.pool.query(
        `DELETE FROM "${table}" WHERE "id" IN (SELECT "id" FROM "${table}" WHERE "date_done" < now() - interval '1 day' ORDER BY "id" LIMIT 100000)`,
      );
    }
    const after = await snapshotAll(env.db.pool);
    const rows = comparable(diff(before, after), EXPIRED, after.now);
    expect(rows.actual).toEqual(rows.expected);
  });

  it('the config validates, without warnings', async () => {
    const { task, warnings } = await systemConfig('django-celery-results');
    expect(task.type).toBe('rows.rules');
    expect(warnings).toEqual([]);
  });

  it('both models expired: dry run, then the real run; every row accounted for', async () => {
    const { task } = await systemConfig('django-celery-results');
    const { real } = await dryRunThenRun(env, task, EXPIRED);
    expect(real.sets).toEqual({ 'expired-task-results': { matched: 3, deleted: 3 }, 'expired-group-results': { matched: 1, deleted: 1 } });
  });

  it('max_fraction counts each table over its rules: half the task results (3 of 6) over 0.4 is refused, and no row of any table changes', async () => {
    const { task } = await systemConfig('django-celery-results');
    const failure = await refusal(env, { ...task, config: { ...task.config, max_fraction: 0.4 } });
    expect(failure.message).toMatch(/django_celery_results_taskresult/);
  });

  /**
   * Django with USE_TZ = False and TIME_ZONE = 'Asia/Tokyo' creates the DateTimeFields as naive
   * `timestamp` columns holding Tokyo wall time (django/db/backends/postgresql/base.py data_types
   * 'DateTimeField': 'timestamp with time zone' only under USE_TZ). The same rows, stored that way:
   * with `timestamps: { zone: Asia/Tokyo }` the rules' `date_done < now() - interval '1 day'` reads
   * them in Tokyo time, and the fates are the same.
   */
  async function naiveTokyo(): Promise<void> {
    for (const [table, columns] of [
      ['django_celery_results_taskresult', ['date_done', 'date_created', 'date_started']],
      ['django_celery_results_groupresult', ['date_done', 'date_created']],
    ] as const) {
      const alter = columns.map((c) => `alter column ${c} type timestamp without time zone using ${c} at time zone 'Asia/Tokyo'`).join(', ');
      await env.db.pool.query(`alter table ${table} ${alter}`);
    }
  }

  it('USE_TZ = False (naive columns in Asia/Tokyo wall time) with timestamps.zone: the same rows expire', async () => {
    await naiveTokyo();
    const { task } = await systemConfig('django-celery-results');
    await dryRunThenRun(env, { ...task, config: { ...task.config, timestamps: { zone: 'Asia/Tokyo' } } }, EXPIRED);
  });

  it('the control: without the zone the session (UTC) reads Tokyo wall times 9 hours late, and the results done 1 day 1 minute ago stay', async () => {
    await naiveTokyo();
    const { task } = await systemConfig('django-celery-results');
    await dryRunThenRun(env, task, {
      'public.django_celery_results_taskresult': { deleted: keys(3, 4) },
    });
  });

  // A per-column zone cannot apply to SQL text (the session's TimeZone is one per run): the run
  // refuses it before any change, naming the column and the fix.
  it('a per-column zone (timestamps.columns) is refused before anything changes, with the fix: timestamps.zone', async () => {
    await naiveTokyo();
    const { task } = await systemConfig('django-celery-results');
    const failure = await refusal(env, { ...task, config: { ...task.config, timestamps: { columns: { date_done: 'Asia/Tokyo' } } } });
    expect(failure.message).toMatch(/expired-task-results.*timestamps\.columns gives date_done the zone Asia\/Tokyo.*set timestamps\.zone: Asia\/Tokyo/);
  });

  it('caretaker check on django-celery-results.yaml against the live tables: ok', async () => {
    process.env.DATABASE_URL = env.db.url;
    const run = await caretaker('check', '-f', join(__dirname, 'job-systems', 'django-celery-results.yaml'));
    expect(run.out).toContain('celery-results-cleanup (rows.rules): ok');
    expect(run.code).toBe(0);
  });
});
