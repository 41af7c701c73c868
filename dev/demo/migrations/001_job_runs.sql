-- The demo application's run table: what a job system's runs look like in the wild.
create table job_runs (
  id            bigserial primary key,
  job_type      text        not null,
  status        text        not null check (status in ('submitted', 'pending', 'running', 'completed', 'failed', 'cancelled', 'timed_out')),
  retry_count   integer     not null default 0,
  error_message text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  completed_at  timestamptz
);
create index job_runs_status_updated_at on job_runs (status, updated_at);

create table run_log_events (
  id         bigserial primary key,
  run_id     bigint      not null references job_runs (id),
  level      text        not null,
  message    text        not null,
  created_at timestamptz not null default now()
);
create index run_log_events_run_id on run_log_events (run_id);
