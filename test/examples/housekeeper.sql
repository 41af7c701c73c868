-- Seed 004, Housekeeper (Node, Sequelize with underscored names): users, access_tokens, oauth_sessions.
create table users (
  id         serial primary key,
  email      text not null unique,
  created_at timestamptz not null default now()
);

create table access_tokens (
  id         serial primary key,
  user_id    integer not null references users (id) on delete cascade,
  token      text not null unique,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);

create table oauth_sessions (
  id         serial primary key,
  provider   text not null,
  state      text not null unique,
  completed  boolean not null default false,
  created_at timestamptz not null
);

insert into users (email) values ('ada@example.com'), ('bob@example.com');

insert into access_tokens (user_id, token, expires_at) values
  (1, 'tok-expired-yesterday', now() - interval '1 day'),  -- expired
  (2, 'tok-expired-just-now',  now() - interval '1 minute'), -- expired
  (1, 'tok-valid-1h',          now() + interval '1 hour'),
  (2, 'tok-valid-7d',          now() + interval '7 days'),
  (1, 'tok-valid-30d',         now() + interval '30 days');

insert into oauth_sessions (provider, state, completed, created_at) values
  ('github', 's1', false, now() - interval '2 days'),  -- abandoned
  ('google', 's2', false, now() - interval '3 days'),  -- abandoned
  ('github', 's3', false, now() - interval '2 hours'), -- still in progress
  ('google', 's4', true,  now() - interval '5 days'),  -- completed: kept
  ('github', 's5', true,  now() - interval '1 hour');
