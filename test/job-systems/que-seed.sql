-- Que's rows in every state of lib/que/migrations/4/up.sql que_determine_job_state (expired,
-- finished, errored, scheduled, ready), one minute either side of each threshold of
-- test/job-systems/que.yaml, relative to the database clock. args[0] names the row; the test
-- lists each row's fate by id. Rows go in as Que's SQL[:insert_job] (lib/que/job.rb) writes them:
-- queue 'default', priority 100, job_schema_version 2 (lib/que/version.rb).
insert into que_jobs (id, job_class, args, run_at, error_count, last_error_message, finished_at, expired_at, job_schema_version) values
  -- delete-finished: finished_at < now() - 7 days (docs/README.md, "Finished jobs")
  (1, 'WorkerJob', '["finished 7 days 1 minute ago"]', now() - interval '8 days', 0, null, now() - interval '7 days 1 minute', null, 2),
  (2, 'WorkerJob', '["finished 7 days less 1 minute ago"]', now() - interval '8 days', 0, null, now() - interval '7 days' + interval '1 minute', null, 2),
  (3, 'WorkerJob', '["finished 30 days ago after 20 errors"]', now() - interval '31 days', 20, 'RuntimeError: boom', now() - interval '30 days', null, 2),
  (4, 'ActiveJob::QueueAdapters::QueAdapter::JobWrapper', '[{"job_class": "MailerJob", "arguments": ["finished 8 days ago"]}]', now() - interval '8 days', 0, null, now() - interval '8 days', null, 2),
  (5, 'WorkerJob', '["finished 1 minute ago"]', now() - interval '2 minutes', 0, null, now() - interval '1 minute', null, 2),
  -- expired rows stay (docs/README.md, "Expired jobs": they hang around), however old
  (6, 'WorkerJob', '["expired 30 days ago"]', now() - interval '31 days', 16, 'RuntimeError: boom', null, now() - interval '30 days', 2),
  (7, 'WorkerJob', '["expired 7 days 1 minute ago"]', now() - interval '8 days', 16, 'RuntimeError: boom', null, now() - interval '7 days 1 minute', 2),
  -- expire-exhausted: error_count > maximum_retry_count (15; CustomRetryJob 3), not finished or expired
  -- (lib/que/worker.rb work_job, lib/que/job_methods.rb handle_error; spec/que/worker_spec.rb)
  (8, 'WorkerJob', '["errored 15 times: one more try"]', now() + interval '1 hour', 15, 'RuntimeError: boom', null, null, 2),
  (9, 'WorkerJob', '["errored 16 times"]', now() + interval '1 hour', 16, 'RuntimeError: boom', null, null, 2),
  (10, 'CustomRetryJob', '["errored 3 times: one more try"]', now() + interval '1 minute', 3, 'RuntimeError: boom', null, null, 2),
  (11, 'CustomRetryJob', '["errored 4 times"]', now() - interval '1 minute', 4, 'RuntimeError: boom', null, null, 2),
  (12, 'CustomRetryJob', '["errored 4 times, finished 1 day ago"]', now() - interval '2 days', 4, 'RuntimeError: boom', now() - interval '1 day', null, 2),
  -- never touched: errored once, scheduled, ready
  (13, 'WorkerJob', '["errored once"]', now() + interval '4 seconds', 1, 'RuntimeError: boom', null, null, 2),
  (14, 'WorkerJob', '["scheduled for tomorrow"]', now() + interval '1 day', 0, null, null, null, 2),
  (15, 'WorkerJob', '["ready"]', now() - interval '8 days', 0, null, null, null, 2);
select setval('que_jobs_id_seq', 15);

update que_jobs set data = '{"tags": ["billing"]}' where id in (1, 15);
update que_jobs set kwargs = '{"user_id": 7}' where id in (2, 11);

insert into que_values (key, value) values ('que_scheduler', '{"last_run": "2026-01-01"}');

-- que_lockers: pid 0 is spec/que/locker_spec.rb's "bogus locker from a nonexistent connection";
-- 4194305 is above Linux's largest pid_max, so no backend has it either. The test adds a locker
-- for a live backend of its own (it must stay).
insert into que_lockers (pid, worker_count, worker_priorities, ruby_pid, ruby_hostname, queues, listening, job_schema_version) values
  (0, 4, '{1,2,3,4}', 0, 'blah2', '{""}', true, 2),
  (4194305, 6, '{10,30,50,NULL,NULL,NULL}', 4242, 'gone-host', '{default}', false, 2);
