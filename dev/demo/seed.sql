-- Realistic cruft, relative to the database clock so the demo means the same thing whenever it runs.
insert into job_runs (job_type, status, retry_count, created_at, updated_at)
select (array['sync', 'analysis', 'export', 'import'])[1 + g % 4], 'running', 0, now() - interval '20 minutes', now() - interval '5 minutes'
from generate_series(1, 6) g;                                            -- healthy, recently active

insert into job_runs (job_type, status, retry_count, created_at, updated_at)
select (array['sync', 'analysis'])[1 + g % 2], 'running', g % 2, now() - interval '5 hours', now() - interval '3 hours'
from generate_series(1, 5) g;                                            -- stuck running, retries left: re-queued

insert into job_runs (job_type, status, retry_count, created_at, updated_at)
select 'analysis', 'running', 3, now() - interval '9 hours', now() - interval '4 hours'
from generate_series(1, 3) g;                                            -- stuck running, retries exhausted: failed

insert into job_runs (job_type, status, retry_count, created_at, updated_at)
select 'export', 'pending', 3, now() - interval '1 day', now() - interval '2 hours'
from generate_series(1, 4) g;                                            -- stuck pending, retries exhausted: cancelled

insert into job_runs (job_type, status, retry_count, created_at, updated_at)
select 'import', 'submitted', 0, now() - interval '50 minutes', now() - interval '45 minutes'
from generate_series(1, 2) g;                                            -- never picked up: re-queued

insert into job_runs (job_type, status, retry_count, created_at, updated_at, completed_at)
select (array['sync', 'analysis', 'export', 'import'])[1 + g % 4],
       (array['completed', 'completed', 'completed', 'failed', 'cancelled'])[1 + g % 5],
       0, now() - (g * interval '40 minutes') - interval '10 minutes', now() - g * interval '40 minutes', now() - g * interval '40 minutes'
from generate_series(1, 1500) g;                                          -- history over ~42 days: a quarter is past 30 days

insert into run_log_events (run_id, level, message, created_at)
select r.id, 'info', 'step ' || s, r.updated_at
from job_runs r cross join generate_series(1, 3) s;

insert into handled_downloads (url, handled_at)
select 'https://example.invalid/file/' || g, now() - g * interval '6 hours' from generate_series(1, 100) g;   -- 25 days: 11 past 14 days

insert into access_tokens (user_id, expires_at)
select g % 20, now() + (g - 15) * interval '1 hour' from generate_series(1, 60) g;                         -- 14 already expired

insert into oauth_sessions (completed, created_at)
select g % 3 = 0, now() - g * interval '2 hours' from generate_series(1, 40) g;                            -- abandoned after a day

insert into artifacts (is_temp, created_at)
select g % 4 = 0, now() - g * interval '1 day' from generate_series(1, 40) g;                              -- temp ones past 7 days get marked

insert into analysis_plans (status, job_id)
select 'PENDING', r.id from job_runs r where r.status = 'running' and r.updated_at > now() - interval '1 hour'; -- job still working
insert into analysis_plans (status, job_id)
select 'PENDING', r.id from job_runs r where r.status in ('completed', 'failed') order by r.id limit 6;         -- job finished: stuck
insert into analysis_plans (status, job_id) select 'DRAFT', null from generate_series(1, 20);

insert into albums (title, file_count) select 'album ' || g, 5 from generate_series(1, 30) g;
insert into album_files (album_id, name) select a.id, 'f' || g from albums a cross join generate_series(1, 5) g;
delete from album_files where album_id in (3, 7) and name in ('f1', 'f2');                                 -- counts drift
update albums set file_count = 9 where id = 11;

insert into sync_configs (name, frequency, is_active) values
  ('finance site', 'hourly', true), ('hr site', 'hourly', true), ('legal site', 'daily', true), ('old site', 'hourly', false);

insert into assets (sync_config_id, status, file_path, extraction_attempts, updated_at)
select 1 + g % 3, 'ready', 'asset-' || g || '.pdf', 0, now() - interval '1 day' from generate_series(1, 30) g;          -- files exist
insert into assets (sync_config_id, status, file_path, updated_at) values
  (1, 'ready', 'gone-1.pdf', now() - interval '1 day'), (2, 'ready', 'gone-2.pdf', now() - interval '1 day'),            -- file missing
  (99, 'ready', 'asset-1.pdf', now() - interval '1 day'),                                                                -- sync config deleted
  (1, 'pending', 'asset-2.pdf', now() - interval '2 hours'), (1, 'pending', 'asset-3.pdf', now() - interval '3 hours'); -- stuck pending
update assets set extraction_attempts = 3 where status = 'pending' and file_path = 'asset-3.pdf';
insert into assets (sync_config_id, status, file_path, updated_at) values
  (2, 'queued', 'asset-4.pdf', now() - interval '1 hour'), (2, 'queued', 'asset-5.pdf', now() - interval '50 minutes');  -- lost in the queue

insert into user_sessions (last_seen) select now() - g * interval '1 day' from generate_series(1, 60) g;
