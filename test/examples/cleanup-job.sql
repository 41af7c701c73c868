-- Seed 002, the CLEANUP job's tables: jobs (ENUM status and type, as the JobStatus/JobType enums),
-- handled_downloads and analysis_plans. timestamptz throughout.
create type job_status as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');
create type job_type as enum ('SYNC', 'SYNC_SCENES', 'ANALYSIS', 'APPLY_PLAN', 'GENERATE_DETAILS', 'EXPORT', 'IMPORT', 'CLEANUP');
create type plan_status as enum ('DRAFT', 'PENDING', 'REVIEWING', 'APPLIED', 'CANCELLED');

create table jobs (
  id           text primary key,
  job_type     job_type not null,
  status       job_status not null default 'PENDING',
  progress     integer not null default 0,
  error        text,
  created_at   timestamptz not null default now(),
  started_at   timestamptz,
  completed_at timestamptz
);

create table handled_downloads (
  id          serial primary key,
  download_id text not null,
  destination text not null,
  "timestamp" timestamptz not null
);

create table analysis_plans (
  id         serial primary key,
  name       text not null,
  status     plan_status not null default 'DRAFT',
  job_id     text references jobs (id) on delete set null,
  created_at timestamptz not null default now()
);

insert into jobs (id, job_type, status, created_at, started_at, completed_at) values
  -- stale-jobs: found (SYNC 30m, ANALYSIS 60m, CLEANUP 5m)
  ('j01', 'SYNC',     'RUNNING', now() - interval '50 minutes', now() - interval '45 minutes', null),
  ('j02', 'ANALYSIS', 'RUNNING', now() - interval '95 minutes', now() - interval '90 minutes', null),
  ('j03', 'CLEANUP',  'RUNNING', now() - interval '11 minutes', now() - interval '10 minutes', null),
  -- stale-jobs: a PENDING job has no started_at; its age counts from created_at (age_columns)
  ('j06', 'SYNC',     'PENDING', now() - interval '2 hours', null, null),
  -- stale-jobs: left alone (under their type's limit)
  ('j04', 'ANALYSIS', 'RUNNING', now() - interval '46 minutes', now() - interval '45 minutes', null),
  ('j05', 'EXPORT',   'RUNNING', now() - interval '11 minutes', now() - interval '10 minutes', null),
  ('j11', 'SYNC',     'PENDING', now() - interval '5 minutes', null, null),
  -- history: older than 30 days by completed_at
  ('j07', 'SYNC',     'COMPLETED', now() - interval '41 days', now() - interval '41 days', now() - interval '40 days'),
  ('j08', 'EXPORT',   'FAILED',    now() - interval '32 days', now() - interval '32 days', now() - interval '31 days'),
  -- history: left alone
  ('j09', 'ANALYSIS', 'COMPLETED', now() - interval '5 days',  now() - interval '5 days',  now() - interval '5 days'),
  ('j10', 'SYNC',     'CANCELLED', now() - interval '29 days', now() - interval '29 days', now() - interval '29 days');

insert into handled_downloads (download_id, destination, "timestamp") values
  ('d1', '/downloads/a', now() - interval '20 days'),
  ('d2', '/downloads/b', now() - interval '15 days'),
  ('d3', '/downloads/c', now() - interval '13 days'),
  ('d4', '/downloads/d', now() - interval '1 day'),
  ('d5', '/downloads/e', now() - interval '1 hour');

insert into analysis_plans (name, status, job_id) values
  ('plan waiting on a finished job', 'PENDING', 'j09'),   -- reset
  ('plan without a job',             'PENDING', null),    -- reset
  ('plan whose job runs',            'PENDING', 'j01'),
  ('plan whose job runs too',        'PENDING', 'j02'),
  ('draft plan',                     'DRAFT',   null),
  ('applied plan',                   'APPLIED', 'j09'),
  ('plan of an old job',             'APPLIED', 'j07');   -- history's delete of j07 sets its job_id null
