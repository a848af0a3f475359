-- For tests; Supabase already has this.
--
-- The part of a self-hosted Supabase database that Row Level Security
-- policies rely on, so that the supabridge tests can run against a plain
-- PostgreSQL. Do NOT run this file against a Supabase database: the roles,
-- the auth schema and its functions are already there (created by the
-- supabase/postgres image and by GoTrue's migrations).
--
-- The functions follow GoTrue's migration 20240624145325_recreate_auth_functions:
-- each reads the JSON that PostgREST stores in request.jwt.claims for the
-- length of one transaction (and the older per-claim settings
-- request.jwt.claim.<name>, for compatibility). auth.uid() casts the sub
-- claim to uuid, so a sub that is not a UUID makes the query fail with
-- 22P02 (invalid_text_representation); it does not return NULL.

-- The API roles PostgREST switches to with SET ROLE, from the role claim of
-- the request's JWT (anon when there is no JWT). None of them can log in.
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;

-- PostgREST logs in as authenticator and may only become the roles above.
-- Its password is set by whoever deploys it (the tests set a random one).
create role authenticator noinherit login;
grant anon, authenticated, service_role to authenticator;

-- Supabase lets the API roles use the public schema and grants them every
-- table, sequence and function created there by default. Row Level
-- Security, not these grants, is what keeps rows apart.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

-- Supabase installs extensions (uuid-ossp among them) in a schema of their
-- own, which the API roles may use.
create schema extensions;
grant usage on schema extensions to anon, authenticated, service_role;

create schema auth;
grant usage on schema auth to anon, authenticated, service_role;

create function auth.uid()
    returns uuid
    language sql stable
    set search_path to ''
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create function auth.role()
    returns text
    language sql stable
    set search_path to ''
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.role', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create function auth.email()
    returns text
    language sql stable
    set search_path to ''
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim.email', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create function auth.jwt()
    returns jsonb
    language sql stable
    set search_path to ''
as $$
  select
    coalesce(
      nullif(current_setting('request.jwt.claim', true), ''),
      nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
    to anon, authenticated, service_role;
