-- good_job's tables, as Rails creates them on PostgreSQL from
-- bensheldon/good_job lib/generators/good_job/templates/install/migrations/create_good_jobs.rb.erb
-- (commit 81db22b7cfde2579b2d735e076fa6eaacc65affa, v4.19.2): `id: :uuid` is uuid default
-- gen_random_uuid() (core since PostgreSQL 13, so the template's optional pgcrypto is not needed),
-- `t.datetime` is timestamp(6) without time zone (Rails writes UTC wall times), `t.timestamps` is
-- created_at / updated_at NOT NULL, `limit: 2` is smallint, `array: true` is text[]. good_job
-- declares no foreign keys: executions find their job by active_job_id, jobs their process by
-- locked_by_id. Every index of the template, partial and GIN included, is here.

create table good_jobs (
  id uuid primary key default gen_random_uuid(),
  queue_name text,
  priority integer,
  serialized_params jsonb,
  scheduled_at timestamp(6) without time zone,
  performed_at timestamp(6) without time zone,
  finished_at timestamp(6) without time zone,
  error text,
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null,
  active_job_id uuid,
  concurrency_key text,
  cron_key text,
  retried_good_job_id uuid,
  cron_at timestamp(6) without time zone,
  batch_id uuid,
  batch_callback_id uuid,
  is_discrete boolean,
  executions_count integer,
  job_class text,
  error_event smallint,
  labels text[],
  locked_by_id uuid,
  locked_at timestamp(6) without time zone,
  lock_type smallint
);

create table good_job_batches (
  id uuid primary key default gen_random_uuid(),
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null,
  description text,
  serialized_properties jsonb,
  on_finish text,
  on_success text,
  on_discard text,
  callback_queue_name text,
  callback_priority integer,
  enqueued_at timestamp(6) without time zone,
  discarded_at timestamp(6) without time zone,
  finished_at timestamp(6) without time zone,
  jobs_finished_at timestamp(6) without time zone
);

create table good_job_executions (
  id uuid primary key default gen_random_uuid(),
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null,
  active_job_id uuid not null,
  job_class text,
  queue_name text,
  serialized_params jsonb,
  scheduled_at timestamp(6) without time zone,
  finished_at timestamp(6) without time zone,
  error text,
  error_event smallint,
  error_backtrace text[],
  process_id uuid,
  duration interval
);

create table good_job_processes (
  id uuid primary key default gen_random_uuid(),
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null,
  state jsonb,
  lock_type smallint
);

create table good_job_settings (
  id uuid primary key default gen_random_uuid(),
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null,
  key text,
  value jsonb
);
create unique index index_good_job_settings_on_key on good_job_settings (key);

create index index_good_jobs_on_scheduled_at on good_jobs (scheduled_at) where (finished_at is null);
create index index_good_jobs_on_queue_name_and_scheduled_at on good_jobs (queue_name, scheduled_at) where (finished_at is null);
create index index_good_jobs_on_active_job_id_and_created_at on good_jobs (active_job_id, created_at);
create index index_good_jobs_on_concurrency_key_when_unfinished on good_jobs (concurrency_key) where (finished_at is null);
create index index_good_jobs_on_concurrency_key_and_created_at on good_jobs (concurrency_key, created_at);
create index index_good_jobs_on_cron_key_and_created_at_cond on good_jobs (cron_key, created_at) where (cron_key is not null);
create unique index index_good_jobs_on_cron_key_and_cron_at_cond on good_jobs (cron_key, cron_at) where (cron_key is not null);
create index index_good_jobs_jobs_on_finished_at_only on good_jobs (finished_at) where finished_at is not null;
create index index_good_jobs_jobs_on_priority_created_at_when_unfinished on good_jobs (priority desc nulls last, created_at) where finished_at is null;
create index index_good_job_jobs_for_candidate_lookup on good_jobs (priority asc nulls last, created_at) where finished_at is null;
create index index_good_jobs_on_batch_id on good_jobs (batch_id) where batch_id is not null;
create index index_good_jobs_on_batch_callback_id on good_jobs (batch_callback_id) where batch_callback_id is not null;
create index index_good_jobs_on_job_class on good_jobs (job_class);
create index index_good_jobs_on_labels on good_jobs using gin (labels) where (labels is not null);
create index index_good_job_executions_on_active_job_id_and_created_at on good_job_executions (active_job_id, created_at);
create index index_good_jobs_on_priority_scheduled_at_unfinished_unlocked on good_jobs (priority asc nulls last, scheduled_at)
  where finished_at is null and locked_by_id is null;
create index index_good_jobs_on_priority_scheduled_at_unfinished on good_jobs (priority, scheduled_at, id) where finished_at is null;
create index index_good_jobs_on_queue_name_priority_scheduled_at_unfinished on good_jobs (queue_name, scheduled_at, id) where finished_at is null;
create index index_good_jobs_on_locked_by_id on good_jobs (locked_by_id) where locked_by_id is not null;
create index index_good_job_executions_on_process_id_and_created_at on good_job_executions (process_id, created_at);
create index index_good_jobs_for_candidate_dequeue_unlocked on good_jobs (priority asc nulls last, scheduled_at asc, id asc)
  where finished_at is null and locked_by_id is null;
create index index_good_jobs_on_queue_name on good_jobs (queue_name);
create index index_good_jobs_on_created_at on good_jobs (created_at);
create index index_good_jobs_on_discarded on good_jobs (finished_at desc) where finished_at is not null and error is not null;
create index index_good_jobs_on_scheduled_at_and_queue_name on good_jobs (scheduled_at, queue_name);
create index index_good_jobs_on_unfinished_or_errored on good_jobs (id) where finished_at is null or error is not null;

-- ---------------------------------------------------------------------------------------------
-- Seed. UTC wall times relative to the database clock, as Rails writes them. Thresholds
-- (lib/good_job/configuration.rb, app/models/good_job/process.rb): cleanup_preserved_jobs_before_seconds_ago
-- 14 days (`finished_at <= now - 14 days`), Process::EXPIRED_INTERVAL 5 minutes
-- (`updated_at < now - 5 minutes`). Ids are readable uuids: jobs 0…01xx (id = active_job_id, as
-- GoodJob::Job.enqueue_args writes them), executions 0…02xx, processes 0…03xx, batches 0…04xx.
-- ---------------------------------------------------------------------------------------------

insert into good_job_processes (id, created_at, updated_at, state, lock_type) values
  -- no lock type, last refreshed 5 minutes + 1 minute ago: expired, cleaned up, its locked jobs unlocked
  ('00000000-0000-0000-0000-000000000301', (now() at time zone 'UTC') - interval '2 hours', (now() at time zone 'UTC') - interval '6 minutes', '{"hostname":"web-1","pid":101}', null),
  -- no lock type, refreshed 5 minutes - 1 minute ago: active, kept with its locked job
  ('00000000-0000-0000-0000-000000000302', (now() at time zone 'UTC') - interval '2 hours', (now() at time zone 'UTC') - interval '4 minutes', '{"hostname":"web-2","pid":102}', null);
-- (A process with lock_type 0 (advisory) is alive exactly while a session holds its advisory lock;
-- the test that needs one seeds it with a live session holding that lock.)

insert into good_jobs (id, active_job_id, queue_name, priority, serialized_params, job_class, scheduled_at, performed_at, finished_at, error, error_event,
                       created_at, updated_at, executions_count, is_discrete, batch_id, locked_by_id, locked_at, lock_type) values
  -- succeeded 14 days + 1 minute ago: deleted with its execution
  ('00000000-0000-0000-0000-000000000101', '00000000-0000-0000-0000-000000000101', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 2 minutes', (now() at time zone 'UTC') - interval '14 days 1 minute', null, null,
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 1 minute', 1, true, null, null, null, null),
  -- succeeded 14 days - 1 minute ago: kept
  ('00000000-0000-0000-0000-000000000102', '00000000-0000-0000-0000-000000000102', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 58 minutes', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', null, null,
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', 1, true, null, null, null, null),
  -- discarded (finished with an error) 14 days + 1 minute ago: deleted with its two executions, unless cleanup_discarded_jobs is false
  ('00000000-0000-0000-0000-000000000103', '00000000-0000-0000-0000-000000000103', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 2 minutes', (now() at time zone 'UTC') - interval '14 days 1 minute', 'ExampleJob::Error: failed', 3,
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 1 minute', 2, true, null, null, null, null),
  -- discarded 14 days - 1 minute ago: kept
  ('00000000-0000-0000-0000-000000000104', '00000000-0000-0000-0000-000000000104', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 58 minutes', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', 'ExampleJob::Error: failed', 3,
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', 1, true, null, null, null, null),
  -- scheduled 15 days ago, never finished (the spec's old_unfinished_job): kept
  ('00000000-0000-0000-0000-000000000105', '00000000-0000-0000-0000-000000000105', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '15 days', null, null, null, null,
   (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '15 days', 0, true, null, null, null, null),
  -- running 20 minutes, locked by the expired process 301 (skip-locked claim): unlocked
  ('00000000-0000-0000-0000-000000000106', '00000000-0000-0000-0000-000000000106', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes', null, null, null,
   (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes', 1, true, null,
   '00000000-0000-0000-0000-000000000301', (now() at time zone 'UTC') - interval '20 minutes', 1),
  -- running, locked by the active process 302: kept
  ('00000000-0000-0000-0000-000000000107', '00000000-0000-0000-0000-000000000107', 'default', 0, '{"job_class":"ExampleJob"}', 'ExampleJob',
   (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes', null, null, null,
   (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes', 1, true, null,
   '00000000-0000-0000-0000-000000000302', (now() at time zone 'UTC') - interval '20 minutes', 1),
  -- succeeded 30 days ago in batch 401: deleted with its execution (the batch has its own rule)
  ('00000000-0000-0000-0000-000000000108', '00000000-0000-0000-0000-000000000108', 'default', 0, '{"job_class":"BatchedJob"}', 'BatchedJob',
   (now() at time zone 'UTC') - interval '31 days', (now() at time zone 'UTC') - interval '30 days', (now() at time zone 'UTC') - interval '30 days', null, null,
   (now() at time zone 'UTC') - interval '31 days', (now() at time zone 'UTC') - interval '30 days', 1, true, '00000000-0000-0000-0000-000000000401', null, null, null);

insert into good_job_executions (id, active_job_id, job_class, queue_name, scheduled_at, finished_at, error, error_event, error_backtrace, process_id, duration, created_at, updated_at) values
  ('00000000-0000-0000-0000-000000000201', '00000000-0000-0000-0000-000000000101', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 1 minute', null, null, null, '00000000-0000-0000-0000-000000000399', interval '1 minute', (now() at time zone 'UTC') - interval '14 days 2 minutes', (now() at time zone 'UTC') - interval '14 days 1 minute'),
  ('00000000-0000-0000-0000-000000000202', '00000000-0000-0000-0000-000000000102', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', null, null, null, '00000000-0000-0000-0000-000000000399', interval '1 minute', (now() at time zone 'UTC') - interval '13 days 23 hours 58 minutes', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes'),
  ('00000000-0000-0000-0000-000000000203', '00000000-0000-0000-0000-000000000103', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 30 minutes', 'ExampleJob::Error: failed', 0, '{"app/jobs/example_job.rb:3"}', '00000000-0000-0000-0000-000000000399', interval '1 second', (now() at time zone 'UTC') - interval '14 days 31 minutes', (now() at time zone 'UTC') - interval '14 days 30 minutes'),
  ('00000000-0000-0000-0000-000000000204', '00000000-0000-0000-0000-000000000103', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '14 days 10 minutes', (now() at time zone 'UTC') - interval '14 days 1 minute', 'ExampleJob::Error: failed', 3, '{"app/jobs/example_job.rb:3"}', '00000000-0000-0000-0000-000000000399', interval '1 second', (now() at time zone 'UTC') - interval '14 days 2 minutes', (now() at time zone 'UTC') - interval '14 days 1 minute'),
  ('00000000-0000-0000-0000-000000000205', '00000000-0000-0000-0000-000000000104', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', 'ExampleJob::Error: failed', 3, '{"app/jobs/example_job.rb:3"}', '00000000-0000-0000-0000-000000000399', interval '1 second', (now() at time zone 'UTC') - interval '13 days 23 hours 58 minutes', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes'),
  ('00000000-0000-0000-0000-000000000206', '00000000-0000-0000-0000-000000000106', 'ExampleJob', 'default', (now() at time zone 'UTC') - interval '20 minutes', null, null, null, null, '00000000-0000-0000-0000-000000000301', null, (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes'),
  ('00000000-0000-0000-0000-000000000207', '00000000-0000-0000-0000-000000000108', 'BatchedJob', 'default', (now() at time zone 'UTC') - interval '31 days', (now() at time zone 'UTC') - interval '30 days', null, null, null, '00000000-0000-0000-0000-000000000399', interval '2 seconds', (now() at time zone 'UTC') - interval '30 days', (now() at time zone 'UTC') - interval '30 days');

insert into good_job_batches (id, created_at, updated_at, description, on_finish, enqueued_at, discarded_at, finished_at, jobs_finished_at) values
  -- succeeded, finished 14 days + 1 minute ago: deleted
  ('00000000-0000-0000-0000-000000000401', (now() at time zone 'UTC') - interval '31 days', (now() at time zone 'UTC') - interval '14 days 1 minute', 'nightly', 'BatchCallbackJob', (now() at time zone 'UTC') - interval '31 days', null, (now() at time zone 'UTC') - interval '14 days 1 minute', (now() at time zone 'UTC') - interval '14 days 2 minutes'),
  -- succeeded, finished 14 days - 1 minute ago: kept
  ('00000000-0000-0000-0000-000000000402', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', 'weekly', 'BatchCallbackJob', (now() at time zone 'UTC') - interval '15 days', null, (now() at time zone 'UTC') - interval '13 days 23 hours 59 minutes', (now() at time zone 'UTC') - interval '14 days'),
  -- discarded, finished 14 days + 1 minute ago: deleted, unless cleanup_discarded_jobs is false
  ('00000000-0000-0000-0000-000000000403', (now() at time zone 'UTC') - interval '20 days', (now() at time zone 'UTC') - interval '14 days 1 minute', 'import', 'BatchCallbackJob', (now() at time zone 'UTC') - interval '20 days', (now() at time zone 'UTC') - interval '15 days', (now() at time zone 'UTC') - interval '14 days 1 minute', (now() at time zone 'UTC') - interval '15 days'),
  -- jobs finished 15 days ago but callbacks not finished (finished_at NULL): kept ("does not delete batches until their callbacks have finished")
  ('00000000-0000-0000-0000-000000000404', (now() at time zone 'UTC') - interval '20 days', (now() at time zone 'UTC') - interval '15 days', 'export', 'BatchCallbackJob', (now() at time zone 'UTC') - interval '20 days', null, null, (now() at time zone 'UTC') - interval '15 days');

-- A row no rule reads: never touched.
insert into good_job_settings (id, created_at, updated_at, key, value) values
  ('00000000-0000-0000-0000-000000000501', (now() at time zone 'UTC') - interval '90 days', (now() at time zone 'UTC') - interval '90 days', 'paused', '{"queues":["low"],"job_classes":[],"labels":[]}');
