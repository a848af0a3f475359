-- Policies on claims that AUTH_PROVIDERS maps per provider (see the README,
-- "Several providers"): roles mapped into app_metadata with claims_map, and
-- app_metadata.provider, the name of the provider that vouched for the user.
-- Apply after 10_app_rls.sql. The token is read through (select auth.jwt()),
-- once per statement, as there (Supabase's linter rule 0003).

-- 1. Reports only staff may read: roles come from the provider's payload
--    through claims_map (app_metadata.roles: /groups, or Keycloak's
--    /realm_access/roles), where Supabase's own RLS examples read them.
create table public.reports (
  id   bigint generated always as identity primary key,
  body text not null
);
alter table public.reports enable row level security;
grant select on public.reports to authenticated;

create policy "staff read reports" on public.reports
  for select to authenticated
  using (((select auth.jwt()) -> 'app_metadata' -> 'roles') ? 'staff');

-- 2. Preferences of one app's users only: a user of another provider, even
--    with the same subject, is not let in.
create table public.portal_prefs (
  user_id text primary key default (auth.jwt() ->> 'sub'),
  theme   text not null default 'light'
);
alter table public.portal_prefs enable row level security;
grant select, insert, update on public.portal_prefs to authenticated;

create policy "home-portal users own their prefs" on public.portal_prefs
  for all to authenticated
  using ((select auth.jwt()) -> 'app_metadata' ->> 'provider' = 'home-portal'
         and user_id = (select auth.jwt()) ->> 'sub')
  with check ((select auth.jwt()) -> 'app_metadata' ->> 'provider' = 'home-portal'
              and user_id = (select auth.jwt()) ->> 'sub');
