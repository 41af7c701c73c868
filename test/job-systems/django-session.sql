-- Django's session table, as `manage.py migrate` creates it on PostgreSQL from
-- django/django django/contrib/sessions/migrations/0001_initial.py: session_key CharField(max_length=40,
-- primary_key=True), session_data TextField, expire_date DateTimeField(db_index=True). On PostgreSQL a
-- DateTimeField is timestamp with time zone (USE_TZ or not); a CharField primary key also gets a
-- varchar_pattern_ops index for LIKE. Index names are Django's (<table>_<column>_<hash>), as
-- `sqlmigrate sessions 0001` prints them. Nothing needed an extension.

create table django_session (
  session_key character varying(40) not null primary key,
  session_data text not null,
  expire_date timestamp with time zone not null
);
create index django_session_expire_date_a5c62663 on django_session (expire_date);
create index django_session_session_key_c0390e0f_like on django_session (session_key varchar_pattern_ops);

-- Seed: `clearsessions` (SessionStore.clear_expired) deletes sessions whose expire_date < now().
-- Keys say the fate: expired_* are deleted, live_* are kept.
insert into django_session (session_key, session_data, expire_date) values
  ('expired_1_minute_ago_000000000000000000', 'e30:1tLx2a:signed', now() - interval '1 minute'),
  ('live_for_1_more_minute_0000000000000000', 'e30:1tLx2b:signed', now() + interval '1 minute'),
  -- sessions_tests.DatabaseSessionTests.test_clearsessions_command: set_expiry(-3600) and set_expiry(3600)
  ('expired_1_hour_ago_0000000000000000000', 'eyJmb28iOiJiYXIifQ:1tLx2c:signed', now() - interval '1 hour'),
  ('live_for_1_more_hour_000000000000000000', 'eyJmb28iOiJiYXIifQ:1tLx2d:signed', now() + interval '1 hour'),
  -- SESSION_COOKIE_AGE (2 weeks) past and ahead
  ('expired_2_weeks_ago_000000000000000000', 'e30:1tLx2e:signed', now() - interval '14 days'),
  ('live_for_2_more_weeks_00000000000000000', 'e30:1tLx2f:signed', now() + interval '14 days');
