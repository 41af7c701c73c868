-- Seed 001, ThesisApp (Flask-SQLAlchemy): generated_applications and analysis_tasks. Naive
-- timestamps holding UTC wall time (datetime.utcnow()), as SQLAlchemy's DateTime writes them;
-- the test database's TimeZone is UTC. Tasks name their app by (model, number), without a
-- foreign key: that is how orphan tasks can exist.
create type analysis_status as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');

create table generated_applications (
  id         serial primary key,
  model_slug text not null,
  app_number integer not null,
  app_type   text not null default 'web_app',
  created_at timestamp not null default timezone('utc', now()),
  updated_at timestamp not null default timezone('utc', now()),
  unique (model_slug, app_number)
);

create table analysis_tasks (
  id                serial primary key,
  task_id           text not null unique,
  target_model      text not null,
  target_app_number integer not null,
  status            analysis_status not null default 'PENDING',
  error_message     text,
  created_at        timestamp not null default timezone('utc', now()),
  updated_at        timestamp not null,
  completed_at      timestamp
);

-- On disk (the test creates them): generated/apps/openai_gpt-4/app1, app2 and anthropic_claude/app1.
insert into generated_applications (model_slug, app_number) values
  ('openai_gpt-4', 1),
  ('openai_gpt-4', 2),
  ('anthropic_claude', 1),
  ('anthropic_claude', 2);  -- its directory is gone: an orphan app

insert into analysis_tasks (task_id, target_model, target_app_number, status, updated_at, completed_at) values
  -- orphan tasks: PENDING/RUNNING, their app has no row
  ('k01', 'ghost_model',      1, 'PENDING',   timezone('utc', now()) - interval '5 minutes',  null),
  ('k02', 'ghost_model',      2, 'RUNNING',   timezone('utc', now()) - interval '10 minutes', null),
  -- not an orphan task: finished (and old: old-tasks deletes it)
  ('k03', 'ghost_model',      1, 'COMPLETED', timezone('utc', now()) - interval '40 days', timezone('utc', now()) - interval '40 days'),
  ('k04', 'openai_gpt-4',     1, 'PENDING',   timezone('utc', now()) - interval '5 minutes',  null),
  -- its app row exists (until the orphan-apps rule deletes it)
  ('k05', 'anthropic_claude', 2, 'RUNNING',   timezone('utc', now()) - interval '10 minutes', null),
  -- stuck: RUNNING -> FAILED, PENDING -> CANCELLED after 60 minutes
  ('k06', 'openai_gpt-4',     1, 'RUNNING',   timezone('utc', now()) - interval '2 hours', null),
  ('k07', 'openai_gpt-4',     2, 'PENDING',   timezone('utc', now()) - interval '3 hours', null),
  ('k08', 'openai_gpt-4',     2, 'RUNNING',   timezone('utc', now()) - interval '30 minutes', null),
  -- old-tasks: terminal and completed more than 30 days ago (k03 too)
  ('k09', 'openai_gpt-4',     1, 'FAILED',    timezone('utc', now()) - interval '31 days', timezone('utc', now()) - interval '31 days'),
  ('k10', 'openai_gpt-4',     1, 'CANCELLED', timezone('utc', now()) - interval '10 days', timezone('utc', now()) - interval '10 days'),
  ('k11', 'openai_gpt-4',     2, 'COMPLETED', timezone('utc', now()) - interval '1 day',   timezone('utc', now()) - interval '1 day');
