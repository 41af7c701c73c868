import { beforeEach, describe, expect, it } from 'vitest';
import { useTaskEnvironment } from './support';
import { changesOf, dryRunThenRun, loadConfigFile, loadSystem, systemTask } from './job-systems/harness';
import type { Changes } from './zoo/snapshot';

/**
 * Django's session table (test/job-systems/django-session.sql, from
 * django/contrib/sessions/migrations/0001_initial.py) and `manage.py clearsessions` as a rows.rules
 * config (django-session.yaml). django/contrib/sessions/backends/db.py SessionStore.clear_expired:
 * Session.objects.filter(expire_date__lt=timezone.now()).delete() (read at django/django
 * 03c23fcbea8f16e91031da5de2bf1baa9d490dc8; the filter is the same in every release since 1.5).
 */
const env = useTaskEnvironment('job_systems_django');

/**
 * tests/sessions_tests/tests.py DatabaseSessionTests.test_clearsessions_command: of a session expiring in an
 * hour and one that expired an hour ago, clearsessions deletes the expired one. The seed adds a minute and
 * two weeks (SESSION_COOKIE_AGE) either side of now.
 */
const CLEARED: Changes = {
  'public.django_session': {
    deleted: ['expired_1_hour_ago_0000000000000000000', 'expired_1_minute_ago_000000000000000000', 'expired_2_weeks_ago_000000000000000000'],
  },
};

describe('Django sessions', () => {
  beforeEach(() => loadSystem(env.db.pool, 'django-session'));

  it("clear_expired by hand in SQL deletes exactly the expired sessions (the expectation is Django's)", async () => {
    expect(await changesOf(env.db.pool, 'delete from django_session where expire_date < now()')).toEqual(CLEARED);
  });

  describe('as a rows.rules config', () => {
    it('the config file validates', () => {
      expect(loadConfigFile('django-session').tasks.map((task) => task.id)).toEqual(['django-clearsessions']);
    });

    it('django-clearsessions: expired sessions deleted, live ones unchanged; the dry run shows the same rows', async () => {
      await dryRunThenRun(env, systemTask('django-session', 'django-clearsessions', { batch_size: 2 }), {
        changes: CLEARED,
        sets: { 'clear-expired-sessions': { matched: 3, deleted: 3 } },
      });
    });
  });
});
