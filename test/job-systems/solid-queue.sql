-- Solid Queue's tables, as Rails creates them on PostgreSQL from
-- rails/solid_queue lib/generators/solid_queue/install/templates/db/queue_schema.rb
-- (commit 29e818d9c1181195736ffc5d7c1d1c03757b7752): `t.string` is character varying, `t.datetime`
-- is timestamp(6) without time zone (Rails writes UTC wall times), ids are bigserial, foreign keys
-- carry Rails' own names (fk_rails_ + the first 10 hex digits of sha256("<table>_<column>_fk")).
-- Nothing needed an extension.

create table solid_queue_jobs (
  id bigserial primary key,
  queue_name character varying not null,
  class_name character varying not null,
  arguments text,
  priority integer not null default 0,
  active_job_id character varying,
  scheduled_at timestamp(6) without time zone,
  finished_at timestamp(6) without time zone,
  concurrency_key character varying,
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null
);
create index index_solid_queue_jobs_on_active_job_id on solid_queue_jobs (active_job_id);
create index index_solid_queue_jobs_on_class_name on solid_queue_jobs (class_name);
create index index_solid_queue_jobs_on_finished_at on solid_queue_jobs (finished_at);
create index index_solid_queue_jobs_for_filtering on solid_queue_jobs (queue_name, finished_at);
create index index_solid_queue_jobs_for_alerting on solid_queue_jobs (scheduled_at, finished_at);

create table solid_queue_blocked_executions (
  id bigserial primary key,
  job_id bigint not null,
  queue_name character varying not null,
  priority integer not null default 0,
  concurrency_key character varying not null,
  expires_at timestamp(6) without time zone not null,
  created_at timestamp(6) without time zone not null
);
create index index_solid_queue_blocked_executions_for_release on solid_queue_blocked_executions (concurrency_key, priority, job_id);
create index index_solid_queue_blocked_executions_for_maintenance on solid_queue_blocked_executions (expires_at, concurrency_key);
create unique index index_solid_queue_blocked_executions_on_job_id on solid_queue_blocked_executions (job_id);

create table solid_queue_claimed_executions (
  id bigserial primary key,
  job_id bigint not null,
  process_id bigint,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_claimed_executions_on_job_id on solid_queue_claimed_executions (job_id);
create index index_solid_queue_claimed_executions_on_process_id_and_job_id on solid_queue_claimed_executions (process_id, job_id);

create table solid_queue_failed_executions (
  id bigserial primary key,
  job_id bigint not null,
  error text,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_failed_executions_on_job_id on solid_queue_failed_executions (job_id);

create table solid_queue_pauses (
  id bigserial primary key,
  queue_name character varying not null,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_pauses_on_queue_name on solid_queue_pauses (queue_name);

create table solid_queue_processes (
  id bigserial primary key,
  kind character varying not null,
  last_heartbeat_at timestamp(6) without time zone not null,
  supervisor_id bigint,
  pid integer not null,
  hostname character varying,
  metadata text,
  created_at timestamp(6) without time zone not null,
  name character varying not null
);
create index index_solid_queue_processes_on_last_heartbeat_at on solid_queue_processes (last_heartbeat_at);
create unique index index_solid_queue_processes_on_name_and_supervisor_id on solid_queue_processes (name, supervisor_id);
create index index_solid_queue_processes_on_supervisor_id on solid_queue_processes (supervisor_id);

create table solid_queue_ready_executions (
  id bigserial primary key,
  job_id bigint not null,
  queue_name character varying not null,
  priority integer not null default 0,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_ready_executions_on_job_id on solid_queue_ready_executions (job_id);
create index index_solid_queue_poll_all on solid_queue_ready_executions (priority, job_id);
create index index_solid_queue_poll_by_queue on solid_queue_ready_executions (queue_name, priority, job_id);

create table solid_queue_recurring_executions (
  id bigserial primary key,
  job_id bigint not null,
  task_key character varying not null,
  run_at timestamp(6) without time zone not null,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_recurring_executions_on_job_id on solid_queue_recurring_executions (job_id);
create unique index index_solid_queue_recurring_executions_on_task_key_and_run_at on solid_queue_recurring_executions (task_key, run_at);

create table solid_queue_recurring_tasks (
  id bigserial primary key,
  key character varying not null,
  schedule character varying not null,
  command character varying(2048),
  class_name character varying,
  arguments text,
  queue_name character varying,
  priority integer default 0,
  static boolean not null default true,
  description text,
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_recurring_tasks_on_key on solid_queue_recurring_tasks (key);
create index index_solid_queue_recurring_tasks_on_static on solid_queue_recurring_tasks (static);

create table solid_queue_scheduled_executions (
  id bigserial primary key,
  job_id bigint not null,
  queue_name character varying not null,
  priority integer not null default 0,
  scheduled_at timestamp(6) without time zone not null,
  created_at timestamp(6) without time zone not null
);
create unique index index_solid_queue_scheduled_executions_on_job_id on solid_queue_scheduled_executions (job_id);
create index index_solid_queue_dispatch_all on solid_queue_scheduled_executions (scheduled_at, priority, job_id);

create table solid_queue_semaphores (
  id bigserial primary key,
  key character varying not null,
  value integer not null default 1,
  expires_at timestamp(6) without time zone not null,
  created_at timestamp(6) without time zone not null,
  updated_at timestamp(6) without time zone not null
);
create index index_solid_queue_semaphores_on_expires_at on solid_queue_semaphores (expires_at);
create index index_solid_queue_semaphores_on_key_and_value on solid_queue_semaphores (key, value);
create unique index index_solid_queue_semaphores_on_key on solid_queue_semaphores (key);

alter table solid_queue_blocked_executions add constraint fk_rails_4cd34e2228 foreign key (job_id) references solid_queue_jobs (id) on delete cascade;
alter table solid_queue_claimed_executions add constraint fk_rails_9cfe4d4944 foreign key (job_id) references solid_queue_jobs (id) on delete cascade;
alter table solid_queue_failed_executions add constraint fk_rails_39bbc7a631 foreign key (job_id) references solid_queue_jobs (id) on delete cascade;
alter table solid_queue_ready_executions add constraint fk_rails_81fcbd66af foreign key (job_id) references solid_queue_jobs (id) on delete cascade;
alter table solid_queue_recurring_executions add constraint fk_rails_318a5533ed foreign key (job_id) references solid_queue_jobs (id) on delete cascade;
alter table solid_queue_scheduled_executions add constraint fk_rails_c4316f352d foreign key (job_id) references solid_queue_jobs (id) on delete cascade;

-- ---------------------------------------------------------------------------------------------
-- Seed. Every timestamp is a UTC wall time relative to the database clock, as Rails writes it
-- (`now() at time zone 'UTC'`), whatever the session's TimeZone. Thresholds (lib/solid_queue.rb
-- defaults): clear_finished_jobs_after 1 day, process_alive_threshold 5 minutes, semaphores expire
-- at expires_at. Every threshold has a row one minute past it and one a minute short of it.
-- ---------------------------------------------------------------------------------------------

-- Processes (the supervisor's maintenance task prunes those whose heartbeat is 5 minutes old).
insert into solid_queue_processes (id, kind, last_heartbeat_at, supervisor_id, pid, hostname, metadata, created_at, name) values
  (1, 'Supervisor(fork)', (now() at time zone 'UTC') - interval '6 minutes', null, 4201, 'web-1', '{}', (now() at time zone 'UTC') - interval '3 hours', 'supervisor-dead'),
  (2, 'Worker', (now() at time zone 'UTC') - interval '6 minutes', 1, 4202, 'web-1', '{"queues":"*","thread_pool_size":3}', (now() at time zone 'UTC') - interval '3 hours', 'worker-dead'),
  (3, 'Worker', (now() at time zone 'UTC') - interval '4 minutes', 5, 4203, 'web-2', '{"queues":"*","thread_pool_size":3}', (now() at time zone 'UTC') - interval '3 hours', 'worker-alive'),
  (4, 'Dispatcher', (now() at time zone 'UTC') - interval '6 minutes', 1, 4204, 'web-1', '{"polling_interval":1,"batch_size":500}', (now() at time zone 'UTC') - interval '3 hours', 'dispatcher-dead'),
  (5, 'Supervisor(fork)', (now() at time zone 'UTC') - interval '4 minutes', null, 4205, 'web-2', '{}', (now() at time zone 'UTC') - interval '3 hours', 'supervisor-alive'),
  (6, 'Worker', (now() at time zone 'UTC') - interval '6 minutes', 5, 4206, 'web-2', '{"queues":"*","thread_pool_size":3}', (now() at time zone 'UTC') - interval '3 hours', 'worker-dead-under-live-supervisor'),
  (7, 'Scheduler', (now() at time zone 'UTC') - interval '30 seconds', 5, 4207, 'web-2', '{}', (now() at time zone 'UTC') - interval '3 hours', 'scheduler-alive');
select setval('solid_queue_processes_id_seq', 100);

-- Jobs. finished_at is set only for finished jobs; a failed job has a failed execution and no finished_at.
insert into solid_queue_jobs (id, queue_name, class_name, arguments, priority, active_job_id, scheduled_at, finished_at, concurrency_key, created_at, updated_at) values
  -- finished 1 day + 1 minute ago: cleared
  (101, 'default', 'AddToBufferJob', '{"arguments":[1]}', 0, 'aj-101', (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '1 day 1 minute', null, (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '1 day 1 minute'),
  -- finished 1 day - 1 minute ago: kept
  (102, 'default', 'AddToBufferJob', '{"arguments":[2]}', 0, 'aj-102', (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '23 hours 59 minutes', null, (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '23 hours 59 minutes'),
  -- finished 3 days ago, another class: cleared (kept when clearing only AddToBufferJob)
  (103, 'default', 'RaisingJob', '{"arguments":["RuntimeError","A"]}', 0, 'aj-103', (now() at time zone 'UTC') - interval '4 days', (now() at time zone 'UTC') - interval '3 days', null, (now() at time zone 'UTC') - interval '4 days', (now() at time zone 'UTC') - interval '3 days'),
  -- scheduled for later, enqueued 30 days ago, not finished: never touched
  (104, 'background', 'AddToBufferJob', '{"arguments":[4]}', 0, 'aj-104', (now() at time zone 'UTC') + interval '1 day', null, null, (now() at time zone 'UTC') - interval '30 days', (now() at time zone 'UTC') - interval '30 days'),
  -- ready, enqueued 2 days ago: never touched
  (105, 'default', 'AddToBufferJob', '{"arguments":[5]}', 0, 'aj-105', (now() at time zone 'UTC') - interval '2 days', null, null, (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '2 days'),
  -- failed 10 days ago (failed execution, no finished_at): never touched
  (106, 'default', 'RaisingJob', '{"arguments":["RuntimeError","B"]}', 0, 'aj-106', (now() at time zone 'UTC') - interval '10 days', null, null, (now() at time zone 'UTC') - interval '10 days', (now() at time zone 'UTC') - interval '10 days'),
  -- claimed by worker-dead (process 2): its claim fails
  (107, 'default', 'StoreResultJob', '{"arguments":[7]}', 0, 'aj-107', (now() at time zone 'UTC') - interval '20 minutes', null, null, (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes'),
  -- claimed by worker-alive (process 3): never touched
  (108, 'default', 'StoreResultJob', '{"arguments":[8]}', 0, 'aj-108', (now() at time zone 'UTC') - interval '20 minutes', null, null, (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes'),
  -- claimed by process 99, which has no row (an orphaned execution): its claim fails
  (109, 'default', 'StoreResultJob', '{"arguments":[9]}', 0, 'aj-109', (now() at time zone 'UTC') - interval '2 hours', null, null, (now() at time zone 'UTC') - interval '2 hours', (now() at time zone 'UTC') - interval '2 hours'),
  -- claimed with no process at all (process_id NULL, also `orphaned`): its claim fails
  (110, 'default', 'StoreResultJob', '{"arguments":[10]}', 0, 'aj-110', (now() at time zone 'UTC') - interval '2 hours', null, null, (now() at time zone 'UTC') - interval '2 hours', (now() at time zone 'UTC') - interval '2 hours'),
  -- a recurring job that finished 2 days ago: cleared, and its recurring execution goes with it (FK on delete cascade)
  (111, 'default', 'PeriodicReportJob', '{"arguments":[]}', 0, 'aj-111', (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '2 days', null, (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '2 days'),
  -- blocked by a concurrency limit for 3 days (expired block): never touched (releasing it is not a cleanup rule here)
  (112, 'default', 'NonOverlappingJob', '{"arguments":[12]}', 0, 'aj-112', (now() at time zone 'UTC') - interval '3 days', null, 'NonOverlappingJob/A', (now() at time zone 'UTC') - interval '3 days', (now() at time zone 'UTC') - interval '3 days'),
  -- claimed by worker-dead-under-live-supervisor (process 6): its claim fails
  (113, 'default', 'StoreResultJob', '{"arguments":[13]}', 0, 'aj-113', (now() at time zone 'UTC') - interval '20 minutes', null, null, (now() at time zone 'UTC') - interval '20 minutes', (now() at time zone 'UTC') - interval '20 minutes');
select setval('solid_queue_jobs_id_seq', 1000);

insert into solid_queue_scheduled_executions (id, job_id, queue_name, priority, scheduled_at, created_at) values
  (1, 104, 'background', 0, (now() at time zone 'UTC') + interval '1 day', (now() at time zone 'UTC') - interval '30 days');
insert into solid_queue_ready_executions (id, job_id, queue_name, priority, created_at) values
  (1, 105, 'default', 0, (now() at time zone 'UTC') - interval '2 days');
insert into solid_queue_failed_executions (id, job_id, error, created_at) values
  (1, 106, '{"exception_class":"RuntimeError","message":"B","backtrace":["app/jobs/raising_job.rb:5"]}', (now() at time zone 'UTC') - interval '10 days');
insert into solid_queue_claimed_executions (id, job_id, process_id, created_at) values
  (1, 107, 2, (now() at time zone 'UTC') - interval '10 minutes'),
  (2, 108, 3, (now() at time zone 'UTC') - interval '10 minutes'),
  (3, 109, 99, (now() at time zone 'UTC') - interval '2 hours'),
  (4, 110, null, (now() at time zone 'UTC') - interval '2 hours'),
  (5, 113, 6, (now() at time zone 'UTC') - interval '10 minutes');
insert into solid_queue_recurring_executions (id, job_id, task_key, run_at, created_at) values
  (1, 111, 'periodic_report', (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '2 days');
insert into solid_queue_blocked_executions (id, job_id, queue_name, priority, concurrency_key, expires_at, created_at) values
  (1, 112, 'default', 0, 'NonOverlappingJob/A', (now() at time zone 'UTC') - interval '2 days', (now() at time zone 'UTC') - interval '3 days');
select setval('solid_queue_scheduled_executions_id_seq', 100), setval('solid_queue_ready_executions_id_seq', 100),
       setval('solid_queue_failed_executions_id_seq', 100), setval('solid_queue_claimed_executions_id_seq', 100),
       setval('solid_queue_recurring_executions_id_seq', 100), setval('solid_queue_blocked_executions_id_seq', 100);

-- Semaphores (the dispatcher's concurrency maintenance deletes those past expires_at).
insert into solid_queue_semaphores (id, key, value, expires_at, created_at, updated_at) values
  (1, 'NonOverlappingJob/A', 0, (now() at time zone 'UTC') - interval '1 minute', (now() at time zone 'UTC') - interval '3 days', (now() at time zone 'UTC') - interval '3 minutes'),
  (2, 'ThrottledJob/B', 1, (now() at time zone 'UTC') + interval '1 minute', (now() at time zone 'UTC') - interval '2 minutes', (now() at time zone 'UTC') - interval '2 minutes');
select setval('solid_queue_semaphores_id_seq', 100);

-- Rows no rule reads: never touched.
insert into solid_queue_pauses (id, queue_name, created_at) values (1, 'paused_queue', (now() at time zone 'UTC') - interval '40 days');
insert into solid_queue_recurring_tasks (id, key, schedule, command, class_name, arguments, queue_name, priority, static, description, created_at, updated_at) values
  (1, 'periodic_report', 'every day at 9am', null, 'PeriodicReportJob', '[]', 'default', 0, true, 'daily report', (now() at time zone 'UTC') - interval '40 days', (now() at time zone 'UTC') - interval '40 days');
