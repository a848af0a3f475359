-- supabridge: Row Level Security for the tokens the exchange function mints.
--
-- A migration for your Supabase database (SQL editor, `supabase migration`,
-- or psql as the postgres role). Rename the tables and columns to yours.
-- It relies on what every Supabase database already has: the roles anon
-- and authenticated, and auth.uid() and auth.jwt().
--
-- Every table below is reached through PostgREST with the token's role,
-- which supabridge always sets to authenticated. A request without a token
-- runs as anon: no policy below names anon, so anon sees no row, even
-- though Supabase grants anon the tables by default.
--
-- Every policy reads the token through a sub-select, (select auth.jwt())
-- or (select auth.uid()): PostgreSQL then calls the function once per
-- statement (an InitPlan) and compares each row with the result, instead
-- of calling it again for every row it checks. Supabase's linter asks for
-- this form (rule 0003, auth_rls_initplan). Each column a policy compares
-- is indexed, so a user's rows are found through the index.

-- 1. Rows owned by one user, matched on the sub claim as text.
--    Works with every SUB_MAPPING: passthrough (the provider's subject as
--    is, UUID or not) and uuid5.
create table public.notes (
  id      uuid primary key default gen_random_uuid(),
  user_id text not null default (auth.jwt() ->> 'sub'),
  body    text not null
);
create index notes_user_id_idx on public.notes (user_id);
alter table public.notes enable row level security;

create policy "notes: owner reads" on public.notes
  for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');
create policy "notes: owner inserts" on public.notes
  for insert to authenticated
  with check (user_id = (select auth.jwt()) ->> 'sub');
create policy "notes: owner updates" on public.notes
  for update to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub')
  with check (user_id = (select auth.jwt()) ->> 'sub');
create policy "notes: owner deletes" on public.notes
  for delete to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

-- 2. The same, written with auth.uid(), as most Supabase examples are.
--    auth.uid() casts sub to uuid, so these policies need SUB_MAPPING=uuid5
--    (or a provider whose subjects are UUIDs). With a subject such as
--    Authentik's default hashed id every query on this table fails with
--    22P02 "invalid input syntax for type uuid".
create table public.todos (
  id      uuid primary key default gen_random_uuid(),
  user_id text not null default (auth.jwt() ->> 'sub'),
  body    text not null
);
create index todos_user_id_idx on public.todos (user_id);
alter table public.todos enable row level security;

create policy "todos: owner reads" on public.todos
  for select to authenticated
  using (user_id = (select auth.uid())::text);
create policy "todos: owner inserts" on public.todos
  for insert to authenticated
  with check (user_id = (select auth.uid())::text);
create policy "todos: owner updates" on public.todos
  for update to authenticated
  using (user_id = (select auth.uid())::text)
  with check (user_id = (select auth.uid())::text);
create policy "todos: owner deletes" on public.todos
  for delete to authenticated
  using (user_id = (select auth.uid())::text);

-- 3. Rows shared by everyone in one organisation, matched on the org_id
--    claim, which the exchange copies from the provider's token (org_id is
--    in the default CLAIMS_PASSTHROUGH). A token without org_id sees none.
create table public.org_documents (
  id         uuid primary key default gen_random_uuid(),
  org_id     text not null default (auth.jwt() ->> 'org_id'),
  created_by text not null default (auth.jwt() ->> 'sub'),
  body       text not null
);
create index org_documents_org_id_idx on public.org_documents (org_id);
alter table public.org_documents enable row level security;

create policy "org_documents: members read" on public.org_documents
  for select to authenticated
  using (org_id = (select auth.jwt()) ->> 'org_id');
create policy "org_documents: members insert" on public.org_documents
  for insert to authenticated
  with check (org_id = (select auth.jwt()) ->> 'org_id');
create policy "org_documents: members update" on public.org_documents
  for update to authenticated
  using (org_id = (select auth.jwt()) ->> 'org_id')
  with check (org_id = (select auth.jwt()) ->> 'org_id');
create policy "org_documents: members delete" on public.org_documents
  for delete to authenticated
  using (org_id = (select auth.jwt()) ->> 'org_id');

-- Supabase's default privileges already grant these; the explicit grant
-- keeps the migration working where they were revoked.
grant select, insert, update, delete
  on public.notes, public.todos, public.org_documents
  to authenticated;
