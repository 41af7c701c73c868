-- Seed 003, UCore FS ported from MongoDB to PostgreSQL: files, directories, albums, tags and the
-- two link tables; absolute file paths (Path(file_record.path).exists()), denormalised counters.
create extension if not exists pgstattuple;  -- the reindex of database-optimisation measures bloat with it

create table directories (
  id         serial primary key,
  path       text not null unique,
  file_count integer not null default 0
);

create table files (
  id           serial primary key,
  directory_id integer not null references directories (id),
  path         text not null unique,
  filename     text not null,
  size         bigint not null,
  mime_type    text,
  created_at   timestamptz not null default now(),
  modified_at  timestamptz not null default now()
);

create table albums (
  id         serial primary key,
  name       text not null,
  file_count integer not null default 0
);

create table tags (
  id          serial primary key,
  name        text not null unique,
  usage_count integer not null default 0
);

create table album_files (
  album_id integer not null references albums (id),
  file_id  integer not null references files (id),
  primary key (album_id, file_id)
);

create table file_tags (
  file_id integer not null references files (id),
  tag_id  integer not null references tags (id),
  primary key (file_id, tag_id)
);

-- :root is replaced by the test's temp dir; UCORE_LIBRARY_ROOT is its library/ (files 1-4 exist there, 5 does not).
insert into directories (path, file_count) values
  (':root/library/photos', 3),   -- right
  (':root/library/docs',   0);   -- drifted: 2 files

insert into files (directory_id, path, filename, size, mime_type) values
  (1, ':root/library/photos/a.jpg',  'a.jpg',  1000, 'image/jpeg'),
  (1, ':root/library/photos/b.jpg',  'b.jpg',  2000, 'image/jpeg'),
  (1, ':root/library/photos/c.png',  'c.png',  3000, 'image/png'),
  (2, ':root/library/docs/report.pdf', 'report.pdf', 4000, 'application/pdf'),
  (2, ':root/library/docs/gone.pdf',   'gone.pdf',   5000, 'application/pdf');  -- its file is gone

insert into albums (name, file_count) values
  ('holiday', 2),  -- right
  ('work',    5),  -- drifted: 1 file
  ('empty',   0);  -- right

insert into tags (name, usage_count) values
  ('sea',    2),   -- right
  ('travel', 0),   -- drifted: 1 file
  ('unused', 0);   -- right

insert into album_files (album_id, file_id) values (1, 1), (1, 2), (2, 5);
insert into file_tags (file_id, tag_id) values (1, 1), (3, 1), (5, 2);
