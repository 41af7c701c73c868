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
       0, now() - (g * interval '1 hour') - interval '10 minutes', now() - g * interval '1 hour', now() - g * interval '1 hour'
from generate_series(1, 1500) g;                                          -- history over ~62 days: expired rows past 30 days

insert into run_log_events (run_id, level, message, created_at)
select r.id, 'info', 'step ' || s, r.updated_at
from job_runs r cross join generate_series(1, 3) s;
