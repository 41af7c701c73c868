-- The schema zoo: tables built the way applications build them, for test/schema-zoo.test.ts.
-- Upper-case ENUM statuses, uuid / text / bigint ids, a composite primary key, LIST and RANGE
-- partitioning, `timestamp without time zone` (NULL allowed where apps leave it NULL), foreign
-- keys with ON DELETE CASCADE and RESTRICT, an audit trigger, a same-named table in a second
-- schema, a view and a table without a primary key. Rows are seeded by test/zoo/seed.ts.

drop schema if exists zoo cascade;
drop schema if exists shadow cascade;
create schema zoo;
-- `shadow.job_runs` has the same name, columns and ids as `zoo.job_runs`: no task may touch it.
create schema shadow;

create type zoo.run_status as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');
create type zoo.plan_status as enum ('DRAFT', 'PENDING', 'ACTIVE');

-- Every update or delete of an audited table writes one row here (trigger args: table, key column).
create table zoo.audit_log (
  audit_id   bigint generated always as identity primary key,
  table_name text not null,
  operation  text not null,
  row_key    text not null,
  old_row    jsonb not null,
  logged_at  timestamptz not null default now()
);
create function zoo.write_audit() returns trigger language plpgsql as $$
begin
  insert into zoo.audit_log (table_name, operation, row_key, old_row)
  values (tg_argv[0], tg_op, to_jsonb(old) ->> tg_argv[1], to_jsonb(old));
  return null;
end $$;

-- Runs: uuid ids, ENUM status, naive timestamps; events cascade, artifacts restrict.
create table zoo.job_runs (
  run_id      uuid primary key default gen_random_uuid(),
  job_type    text not null,
  status      zoo.run_status not null default 'PENDING',
  attempts    integer not null default 0,
  error       text,
  updated_at  timestamp,
  finished_at timestamp
);
create trigger job_runs_audit after update or delete on zoo.job_runs
  for each row execute function zoo.write_audit('zoo.job_runs', 'run_id');
create table zoo.run_events (
  event_id  bigint generated always as identity primary key,
  run_id    uuid not null references zoo.job_runs on delete cascade,
  message   text not null,
  logged_at timestamp not null default localtimestamp
);
create table zoo.run_artifacts (
  artifact_id text primary key,
  run_id      uuid not null references zoo.job_runs on delete restrict,
  path        text not null
);
create view zoo.active_runs as select * from zoo.job_runs where status in ('PENDING', 'RUNNING');
create table shadow.job_runs (like zoo.job_runs including all);

-- Documents per tenant: a composite primary key; seq repeats across tenants.
create table zoo.tenant_docs (
  tenant_id  text not null,
  seq        bigint not null,
  title      text not null,
  page_count integer not null default 0,
  expires_at timestamp,
  primary key (tenant_id, seq)
);
create table zoo.doc_pages (
  page_id   bigint generated always as identity primary key,
  tenant_id text not null,
  doc_seq   bigint not null,
  body      text not null,
  foreign key (tenant_id, doc_seq) references zoo.tenant_docs (tenant_id, seq) on delete restrict
);

-- Events partitioned by RANGE on a naive timestamp: one partition per month for the last six
-- months, older rows in the default partition. Deletes are audited (a trigger on the parent).
create table zoo.events_by_month (
  event_id    bigserial,
  occurred_at timestamp not null,
  kind        text not null,
  primary key (event_id, occurred_at)
) partition by range (occurred_at);
do $$
declare m timestamp;
begin
  for i in 0..5 loop
    m := date_trunc('month', localtimestamp) - make_interval(months => i);
    execute format('create table zoo.%I partition of zoo.events_by_month for values from (%L) to (%L)',
                   'events_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
  end loop;
end $$;
create table zoo.events_other partition of zoo.events_by_month default;
create trigger events_audit after delete on zoo.events_by_month
  for each row execute function zoo.write_audit('zoo.events_by_month', 'event_id');

-- Uploads partitioned by LIST on region (the key must include it), soft-deleted by deleted_at.
create table zoo.uploads (
  region     text not null,
  upload_id  uuid not null default gen_random_uuid(),
  created_at timestamp not null,
  deleted_at timestamp,
  primary key (region, upload_id)
) partition by list (region);
create table zoo.uploads_eu partition of zoo.uploads for values in ('eu');
create table zoo.uploads_na partition of zoo.uploads for values in ('us', 'ca');
create table zoo.uploads_other partition of zoo.uploads default;

-- Text ids; sent rows move to the archive after two weeks.
create table zoo.notifications (
  notification_id text primary key,
  recipient       text not null,
  sent_at         timestamp,
  body            text not null
);
create table zoo.notifications_archive (
  notification_id text primary key,
  recipient       text not null,
  sent_at         timestamp,
  body            text not null,
  archived_at     timestamptz not null default now()
);

-- A denormalised counter; assets point at albums without a foreign key (so they can be orphans).
create table zoo.albums (
  album_id   bigint generated always as identity primary key,
  name       text not null,
  file_count integer not null default 0
);
create table zoo.album_files (
  file_id  bigint generated always as identity primary key,
  album_id bigint not null references zoo.albums on delete cascade,
  deleted  boolean not null default false
);
create table zoo.assets (
  asset_id    bigint generated always as identity primary key,
  album_id    bigint,
  status      zoo.run_status not null,
  retry_count integer not null default 0,
  updated_at  timestamp,
  error       text
);
create table zoo.asset_thumbnails (
  thumb_id bigint generated always as identity primary key,
  asset_id bigint not null references zoo.assets on delete restrict,
  size     text not null
);

-- Plans point at the run that works on them (no foreign key: the run may be gone).
create table zoo.analysis_plans (
  plan_id    text primary key,
  status     zoo.plan_status not null,
  job_id     uuid,
  updated_at timestamp not null
);

-- The way an ORM (Prisma) writes a table: quoted mixed-case names, its own ENUM type,
-- timestamp(3) without time zone.
create type zoo."ExtractionStatus" as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');
create table zoo."Extraction" (
  "id"         uuid primary key default gen_random_uuid(),
  "document"   text not null,
  "status"     zoo."ExtractionStatus" not null default 'PENDING',
  "updatedAt"  timestamp(3)
);

-- No primary key and no unique index.
create table zoo.legacy_log (
  logged_at timestamp not null,
  line      text not null
);
