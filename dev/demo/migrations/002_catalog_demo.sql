-- Tables for the rest of the catalog, so `npm start` shows every task type at work.

-- retention.enforce: seed 002 download history, seed 004 tokens and OAuth sessions, seed 000 temp artifacts
create table handled_downloads (id bigserial primary key, url text not null, handled_at timestamptz not null);
create table access_tokens (id bigserial primary key, user_id int not null, expires_at timestamptz not null);
create table oauth_sessions (id bigserial primary key, completed boolean not null, created_at timestamptz not null);
create table artifacts (id bigserial primary key, is_temp boolean not null, created_at timestamptz not null, deleted_at timestamptz);

-- status.reset: seed 002 analysis plans stuck in PENDING while their job is not running
create table analysis_plans (id bigserial primary key, status text not null, job_id bigint, updated_at timestamptz not null default now());

-- counts.rebuild: seed 003 albums with a denormalised file count
create table albums (id bigserial primary key, title text not null, file_count int not null default 0);
create table album_files (id bigserial primary key, album_id bigint not null references albums (id), name text not null);

-- assets.detect_orphans / extraction.queue_orphans: seed 000 assets with files on disk
create table sync_configs (id bigserial primary key, name text not null, frequency text not null, is_active boolean not null);
create table assets (
  id bigserial primary key,
  sync_config_id bigint,
  status text not null,
  file_path text,
  extraction_attempts int not null default 0,
  error_message text,
  updated_at timestamptz not null default now()
);

-- procedure.execute
create table user_sessions (id bigserial primary key, last_seen timestamptz not null);
create function purge_idle_sessions(idle_days int) returns int language sql as $$
  with gone as (delete from user_sessions where last_seen < now() - make_interval(days => idle_days) returning 1)
  select count(*)::int from gone
$$;
