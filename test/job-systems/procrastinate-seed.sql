-- Procrastinate's rows in every job status (procrastinate_job_status in schema.sql), one minute
-- either side of each threshold, relative to the database clock: worker heartbeats 5 minutes
-- (stalled_worker_timeout / seconds_since_heartbeat set to 300) and a job's latest event 72 hours
-- (docs/howto/production/delete_finished_jobs.md: remove_old_jobs max_hours=72). args.seed
-- names the row; the test lists each row's fate by id. Jobs are inserted in their status with the
-- events a worker would have written (the insert trigger adds 'deferred' events for todo jobs).

insert into procrastinate_workers (id, last_heartbeat) overriding system value values
  (1, now() - interval '6 minutes'),  -- stalled, has doing jobs
  (2, now() - interval '4 minutes'),  -- alive, has a doing job
  (3, now() - interval '1 hour'),     -- stalled, no jobs
  (4, now());                         -- alive, has a doing job
select setval(pg_get_serial_sequence('procrastinate_workers', 'id'), 4);

insert into procrastinate_jobs (id, queue_name, task_name, priority, lock, queueing_lock, args, status, scheduled_at, attempts, abort_requested, worker_id) values
  -- final states (delete_old_jobs: status in the chosen finals, latest event older than 72 h)
  (1, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "succeeded, latest event 72 h 1 min ago"}', 'succeeded', null, 1, false, null),
  (2, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "succeeded, latest event 72 h less 1 min ago"}', 'succeeded', null, 1, false, null),
  (3, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "failed, latest event 72 h 1 min ago"}', 'failed', null, 1, false, null),
  (4, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "cancelled, latest event 72 h 1 min ago"}', 'cancelled', null, 0, true, null),
  (5, 'reports', 'tasks.build_report', 0, null, null, '{"seed": "aborted, latest event 72 h 1 min ago"}', 'aborted', null, 1, false, null),
  (6, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "succeeded, no event at all"}', 'succeeded', null, 1, false, null),
  (7, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "succeeded, latest event without a time"}', 'succeeded', null, 1, false, null),
  (8, 'default', 'tasks.cleanup', 0, null, null, '{"seed": "succeeded 100 h ago, periodic"}', 'succeeded', null, 1, false, null),
  (9, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "failed, latest event 72 h less 1 min ago"}', 'failed', null, 3, false, null),
  -- doing (get_stalled_jobs: doing, and no worker or a worker without a heartbeat for 300 s)
  (10, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "doing on stalled worker 1"}', 'doing', null, 0, false, 1),
  (11, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "doing on stalled worker 1, abort requested"}', 'doing', null, 0, true, 1),
  (12, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "doing on live worker 2 (4 min)"}', 'doing', null, 0, false, 2),
  (13, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "doing, worker already pruned"}', 'doing', null, 2, false, null),
  (14, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "doing on live worker 4"}', 'doing', null, 0, false, 4),
  (15, 'reports', 'tasks.build_report', 5, 'report-42', null, '{"seed": "doing on stalled worker 1, lock and priority"}', 'doing', null, 1, false, 1),
  -- todo: never touched by these rules
  (16, 'default', 'tasks.send_mail', 0, null, 'mail-7', '{"seed": "todo"}', 'todo', null, 0, false, null),
  (17, 'default', 'tasks.send_mail', 0, null, null, '{"seed": "todo, scheduled in 1 h"}', 'todo', now() + interval '1 hour', 0, false, null);
select setval(pg_get_serial_sequence('procrastinate_jobs', 'id'), 17);

-- The events of the jobs not inserted as todo (todo jobs got theirs from the insert triggers).
insert into procrastinate_events (job_id, type, at) values
  (1, 'deferred', now() - interval '80 hours'), (1, 'started', now() - interval '73 hours'), (1, 'succeeded', now() - interval '72 hours 1 minute'),
  (2, 'deferred', now() - interval '80 hours'), (2, 'started', now() - interval '73 hours'), (2, 'succeeded', now() - interval '72 hours' + interval '1 minute'),
  (3, 'deferred', now() - interval '80 hours'), (3, 'started', now() - interval '73 hours'), (3, 'failed', now() - interval '72 hours 1 minute'),
  (4, 'deferred', now() - interval '80 hours'), (4, 'abort_requested', now() - interval '73 hours'), (4, 'cancelled', now() - interval '72 hours 1 minute'),
  (5, 'deferred', now() - interval '80 hours'), (5, 'started', now() - interval '73 hours'), (5, 'abort_requested', now() - interval '72 hours 2 minutes'),
  (5, 'aborted', now() - interval '72 hours 1 minute'),
  (7, 'deferred', now() - interval '100 hours'), (7, 'started', now() - interval '99 hours'), (7, 'succeeded', null),
  (8, 'deferred', now() - interval '101 hours'), (8, 'started', now() - interval '100 hours 30 minutes'), (8, 'succeeded', now() - interval '100 hours'),
  (9, 'deferred', now() - interval '80 hours'), (9, 'started', now() - interval '79 hours'), (9, 'deferred_for_retry', now() - interval '78 hours'),
  (9, 'started', now() - interval '73 hours'), (9, 'failed', now() - interval '72 hours' + interval '1 minute'),
  (10, 'deferred', now() - interval '20 minutes'), (10, 'started', now() - interval '10 minutes'),
  (11, 'deferred', now() - interval '20 minutes'), (11, 'started', now() - interval '10 minutes'), (11, 'abort_requested', now() - interval '7 minutes'),
  (12, 'deferred', now() - interval '20 minutes'), (12, 'started', now() - interval '10 minutes'),
  (13, 'deferred', now() - interval '2 hours'), (13, 'started', now() - interval '1 hour'),
  (14, 'deferred', now() - interval '20 minutes'), (14, 'started', now() - interval '10 minutes'),
  (15, 'deferred', now() - interval '20 minutes'), (15, 'started', now() - interval '10 minutes');

-- periodic defers (procrastinate_defer_periodic_job_v2): one links the old periodic job 8, one the live job 14.
insert into procrastinate_periodic_defers (task_name, defer_timestamp, job_id, periodic_id) values
  ('tasks.cleanup', extract(epoch from now() - interval '100 hours')::bigint, 8, ''),
  ('tasks.send_mail', extract(epoch from now() - interval '20 minutes')::bigint, 14, 'mail');
