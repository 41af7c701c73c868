-- Seed 000, Curatore (SQLAlchemy): runs with their log events, artifacts, assets, the sync
-- configuration tables and the search index with its rebuild procedure. UUID keys; naive
-- timestamps holding UTC wall time (datetime.utcnow()); the test database's TimeZone is UTC.
create table runs (
  id            uuid primary key default gen_random_uuid(),
  run_type      text not null,
  origin        text not null default 'user',
  status        text not null,   -- submitted, pending, running, completed, failed, cancelled, timed_out
  config        jsonb not null default '{}',
  retry_count   integer not null default 0,
  error_message text,
  created_at    timestamp not null default timezone('utc', now()),
  started_at    timestamp,
  completed_at  timestamp,
  updated_at    timestamp not null default timezone('utc', now())
);

create table run_log_events (
  id         uuid primary key default gen_random_uuid(),
  run_id     uuid not null references runs (id),   -- no cascade: expired-runs deletes them itself
  level      text not null default 'INFO',
  message    text not null,
  created_at timestamp not null default timezone('utc', now())
);

create table artifacts (
  id            uuid primary key default gen_random_uuid(),
  artifact_type text not null,
  bucket        text not null default 'curatore-temp',
  object_key    text not null,
  is_temp       boolean not null default false,
  created_at    timestamp not null,
  deleted_at    timestamp
);

create table sharepoint_sync_configs (
  id         uuid primary key default gen_random_uuid(),
  name       text not null,
  site_url   text not null,
  frequency  text not null default 'manual',   -- manual, hourly, daily
  is_active  boolean not null default true
);

create table assets (
  id                   uuid primary key default gen_random_uuid(),
  source_type          text not null default 'upload',
  status               text not null,          -- pending, ready, failed, missing_file, orphaned
  raw_object_key       text,
  extraction_attempts  integer not null default 0,
  error_message        text,
  -- No foreign key: a deleted sync config leaves its assets behind, which the orphans task finds.
  sharepoint_config_id uuid,
  created_at           timestamp not null default timezone('utc', now()),
  updated_at           timestamp not null
);

create table sam_searches (
  id        uuid primary key default gen_random_uuid(),
  name      text not null,
  frequency text not null default 'manual',
  is_active boolean not null default true
);

create table forecast_syncs (
  id          uuid primary key default gen_random_uuid(),
  name        text not null,
  source_type text not null,
  frequency   text not null default 'manual',
  is_active   boolean not null default true
);

create schema search;
create table search.documents (
  id         uuid primary key default gen_random_uuid(),
  asset_id   uuid not null,
  body       tsvector,
  indexed_at timestamp not null default timezone('utc', now())
);
-- search.reindex's work as a stored procedure: a real call would rewrite search.documents.
create procedure search.rebuild_index(batch_size integer)
language plpgsql as $$
begin
  delete from search.documents;
  insert into search.documents (asset_id, body)
    select a.id, to_tsvector('english', coalesce(a.raw_object_key, '')) from assets a where a.status = 'ready' limit batch_size;
end $$;

insert into runs (id, run_type, status, retry_count, updated_at, completed_at) values
  -- stale-runs: re-queued (retries left) or failed (3 of 3 used)
  ('00000000-0000-4000-8000-000000000001', 'extraction', 'running',   0, timezone('utc', now()) - interval '3 hours', null),
  ('00000000-0000-4000-8000-000000000002', 'extraction', 'running',   3, timezone('utc', now()) - interval '3 hours', null),
  ('00000000-0000-4000-8000-000000000003', 'sam_pull',   'pending',   1, timezone('utc', now()) - interval '2 hours', null),
  -- stale-runs: within their limits
  ('00000000-0000-4000-8000-000000000004', 'extraction', 'submitted', 0, timezone('utc', now()) - interval '10 minutes', null),
  ('00000000-0000-4000-8000-000000000005', 'extraction', 'running',   0, timezone('utc', now()) - interval '1 hour', null),
  -- expired-runs: terminal, completed more than 30 days ago
  ('00000000-0000-4000-8000-000000000006', 'extraction', 'completed', 0, timezone('utc', now()) - interval '40 days', timezone('utc', now()) - interval '40 days'),
  ('00000000-0000-4000-8000-000000000007', 'sam_pull',   'failed',    0, timezone('utc', now()) - interval '35 days', timezone('utc', now()) - interval '35 days'),
  -- expired-runs: left alone
  ('00000000-0000-4000-8000-000000000008', 'extraction', 'completed', 0, timezone('utc', now()) - interval '10 days', timezone('utc', now()) - interval '10 days'),
  ('00000000-0000-4000-8000-000000000009', 'extraction', 'cancelled', 0, timezone('utc', now()) - interval '2 days',  timezone('utc', now()) - interval '2 days'),
  -- health: one failure within the last hour
  ('00000000-0000-4000-8000-000000000010', 'extraction', 'failed',    0, timezone('utc', now()) - interval '10 minutes', timezone('utc', now()) - interval '10 minutes');

insert into run_log_events (run_id, message) values
  ('00000000-0000-4000-8000-000000000006', 'started'),
  ('00000000-0000-4000-8000-000000000006', 'done'),
  ('00000000-0000-4000-8000-000000000007', 'failed'),
  ('00000000-0000-4000-8000-000000000008', 'done'),
  ('00000000-0000-4000-8000-000000000001', 'started'),
  ('00000000-0000-4000-8000-000000000005', 'started'),
  ('00000000-0000-4000-8000-000000000005', 'extracting page 1'),
  ('00000000-0000-4000-8000-000000000009', 'cancelled by user');

insert into artifacts (artifact_type, object_key, is_temp, created_at, deleted_at) values
  ('extracted', 'tmp/a1.md', true,  timezone('utc', now()) - interval '10 days', null),                                           -- marked
  ('extracted', 'tmp/a2.md', true,  timezone('utc', now()) - interval '12 days', timezone('utc', now()) - interval '3 days'),      -- already marked
  ('extracted', 'tmp/a3.md', true,  timezone('utc', now()) - interval '2 days',  null),
  ('uploaded',  'raw/a4.pdf', false, timezone('utc', now()) - interval '30 days', null),
  ('uploaded',  'raw/a5.pdf', false, timezone('utc', now()) - interval '1 day',   null);

insert into sharepoint_sync_configs (id, name, site_url, frequency, is_active) values
  ('00000000-0000-4000-9000-000000000001', 'policies', 'https://example.sharepoint.com/sites/policies', 'hourly', true),
  ('00000000-0000-4000-9000-000000000002', 'contracts', 'https://example.sharepoint.com/sites/contracts', 'hourly', true),
  ('00000000-0000-4000-9000-000000000003', 'archive', 'https://example.sharepoint.com/sites/archive', 'hourly', false),
  ('00000000-0000-4000-9000-000000000004', 'hr', 'https://example.sharepoint.com/sites/hr', 'daily', true),
  ('00000000-0000-4000-9000-000000000005', 'adhoc', 'https://example.sharepoint.com/sites/adhoc', 'manual', true);

-- On disk (the test creates them): raw/s1.pdf ... raw/s4.pdf, raw/s6.pdf ... raw/s8.pdf.
insert into assets (status, raw_object_key, extraction_attempts, sharepoint_config_id, updated_at) values
  ('pending', 'raw/s1.pdf', 0, null, timezone('utc', now()) - interval '2 hours'),     -- stuck: re-queued; safety net
  ('pending', 'raw/s2.pdf', 3, null, timezone('utc', now()) - interval '2 hours'),     -- stuck: failed; safety net
  ('pending', 'raw/s3.pdf', 0, null, timezone('utc', now()) - interval '45 minutes'),  -- safety net only
  ('pending', 'raw/s4.pdf', 0, null, timezone('utc', now()) - interval '5 minutes'),
  ('ready',   'raw/s5.pdf', 1, null, timezone('utc', now()) - interval '3 days'),      -- its file is missing
  ('ready',   'raw/s6.pdf', 1, '00000000-0000-4000-9000-0000000000ff', timezone('utc', now()) - interval '3 days'), -- its config is gone
  ('ready',   'raw/s7.pdf', 1, '00000000-0000-4000-9000-000000000001', timezone('utc', now()) - interval '3 days'),
  ('ready',   'raw/s8.pdf', 1, null, timezone('utc', now()) - interval '3 days'),
  ('failed',  null,         3, null, timezone('utc', now()) - interval '3 days'),
  ('ready',   'raw/s7.pdf', 1, '00000000-0000-4000-9000-000000000002', timezone('utc', now()) - interval '1 day');

insert into sam_searches (name, frequency, is_active) values
  ('daily IT services', 'daily', true),
  ('daily paused', 'daily', false),
  ('hourly', 'hourly', true);

insert into forecast_syncs (name, source_type, frequency, is_active) values
  ('agency forecasts', 'ag', 'daily', true),
  ('paused forecasts', 'apfs', 'daily', false),
  ('manual', 'state', 'manual', true);

insert into search.documents (asset_id, body)
  select id, to_tsvector('english', raw_object_key) from assets where status = 'ready';
