package rls

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// querier is a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// lintRules restate, as queries over the catalog of the schema PostgREST
// exposes (public), the rules of Supabase's database linter (splinter)
// that the guides promise a schema passes, plus two of ours. Each query
// returns one line per finding.
var lintRules = []struct{ name, sql string }{
	// 0013: a table in public without RLS is readable and writable by
	// anyone holding the anon key.
	{"0013 rls_disabled_in_public", `
		select format('%s has RLS disabled', c.oid::regclass)
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity`},
	// 0008: RLS on and no policy: nobody but the service role sees a row.
	{"0008 rls_enabled_no_policy", `
		select format('%s has RLS enabled and no policy', c.oid::regclass)
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'public' and c.relrowsecurity
		  and not exists (select 1 from pg_policy p where p.polrelid = c.oid)`},
	// 0003: a policy that calls auth.uid(), auth.jwt(), auth.role() or
	// auth.email() other than right after "select", as PostgreSQL prints
	// the policy back (pg_get_expr), calls it for every row.
	{"0003 auth_rls_initplan", `
		select format('%s policy %I calls an auth function per row', c.oid::regclass, p.polname)
		from pg_policy p join pg_class c on c.oid = p.polrelid
		cross join lateral (values (pg_get_expr(p.polqual, p.polrelid)), (pg_get_expr(p.polwithcheck, p.polrelid))) e(expr)
		where c.relrowsecurity
		  and e.expr ~ 'auth\.(uid|jwt|role|email)\(\)'
		  and lower(e.expr) !~ 'select\s+auth\.(uid|jwt|role|email)\(\)'
		group by c.oid, p.polname`},
	// 0006: several permissive policies for one role and command are all
	// evaluated, for every row.
	{"0006 multiple_permissive_policies", `
		select format('%s has %s permissive %s policies for role %s', c.oid::regclass, count(*), a.cmd, r.rolname)
		from pg_policy p join pg_class c on c.oid = p.polrelid
		join pg_roles r on r.oid = any(p.polroles) or p.polroles = '{0}'
		cross join lateral unnest(case p.polcmd
			when 'r' then array['select'] when 'a' then array['insert']
			when 'w' then array['update'] when 'd' then array['delete']
			else array['select', 'insert', 'update', 'delete'] end) a(cmd)
		where p.polpermissive and not r.rolbypassrls and r.rolname !~ '^pg_'
		group by c.oid, r.rolname, a.cmd
		having count(*) > 1`},
	// 0011: a function without its own search_path resolves names through
	// the caller's.
	{"0011 function_search_path_mutable", `
		select format('function %s has no search_path', p.oid::regprocedure)
		from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
		  and not exists (select 1 from pg_depend d
		                  where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
		  and not exists (select 1 from unnest(p.proconfig) cfg where cfg like 'search_path=%')`},
	// Ours: supabridge mints only authenticated; a policy for another role
	// (or for PUBLIC, which includes anon) is a policy nobody meant.
	{"to authenticated", `
		select format('%s policy %I is for %s, not to authenticated', p.polrelid::regclass, p.polname,
		              (select string_agg(case r when 0 then 'public' else r::regrole::text end, ', ') from unnest(p.polroles) r))
		from pg_policy p
		where p.polroles <> array['authenticated'::regrole::oid]`},
}

// sqlLiteral matches a quoted literal in a printed expression.
var sqlLiteral = regexp.MustCompile(`'(?:[^']|'')*'`)

// lint returns every finding of lintRules, and one for each column that a
// policy's USING expression compares and no index covers (ours: the
// policy's comparison then reads the whole table).
func lint(ctx context.Context, q querier) ([]string, error) {
	var findings []string
	for _, r := range lintRules {
		rows, err := q.Query(ctx, r.sql)
		if err != nil {
			return nil, fmt.Errorf("lint %s: %w", r.name, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("lint %s: %w", r.name, err)
		}
		for _, f := range got {
			findings = append(findings, r.name+": "+f)
		}
	}
	rows, err := q.Query(ctx, `
		select c.oid::regclass::text, p.polname, pg_get_expr(p.polqual, p.polrelid),
		       array(select a.attname::text from pg_attribute a
		             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
		       array(select distinct a.attname::text from pg_index i
		             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
		             where i.indrelid = c.oid and i.indisvalid)
		from pg_policy p join pg_class c on c.oid = p.polrelid
		where c.relrowsecurity and p.polqual is not null`)
	if err != nil {
		return nil, fmt.Errorf("lint indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, policy, expr string
		var columns, indexed []string
		if err := rows.Scan(&table, &policy, &expr, &columns, &indexed); err != nil {
			return nil, fmt.Errorf("lint indexes: %w", err)
		}
		expr = sqlLiteral.ReplaceAllString(expr, "''")
		for _, col := range columns {
			if regexp.MustCompile(`\b`+regexp.QuoteMeta(col)+`\b`).MatchString(expr) && !slices.Contains(indexed, col) {
				findings = append(findings, fmt.Sprintf("indexed policy columns: %s policy %q compares %s, which no index covers", table, policy, col))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lint indexes: %w", err)
	}
	slices.Sort(findings)
	return findings, nil
}

// TestLint runs the lint rules over docs/sql/*.sql: no finding. Then, in a
// transaction it rolls back, it adds one table breaking each rule, so that
// every rule is seen to fire; among them the per-row form and
// (select auth.jwt() ->> 'sub'), which runs once per statement too but
// which PostgreSQL prints as "SELECT (auth.jwt() ->> ...", a spelling the
// linter does not recognise (docs/rls.md says so).
func TestLint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, randomSecret(t))
	findings, err := lint(t.Context(), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("docs/sql: %s", f)
	}

	tx, err := e.admin.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(t.Context(), `
		create table public.probe_off (id int primary key);
		create table public.probe_nopolicy (id int primary key);
		alter table public.probe_nopolicy enable row level security;
		create table public.probe (id int primary key, owner text, org text, tag text);
		create index on public.probe (owner);
		alter table public.probe enable row level security;
		create policy "per row" on public.probe for select to authenticated using (auth.jwt() ->> 'sub' = owner);
		create policy "select inside" on public.probe for update to authenticated using (owner = (select auth.jwt() ->> 'sub'));
		create policy "unindexed" on public.probe for delete to authenticated using (org = (select auth.jwt()) ->> 'org_id');
		create policy "to public" on public.probe for insert with check (tag = 'x');
		create policy "second select" on public.probe for select to authenticated using (owner = (select auth.uid())::text);
		create function public.probe_fn() returns int language sql as 'select 1';`); err != nil {
		t.Fatal(err)
	}
	got, err := lint(t.Context(), tx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0003 auth_rls_initplan: probe policy \"per row\" calls an auth function per row",
		"0003 auth_rls_initplan: probe policy \"select inside\" calls an auth function per row",
		"0006 multiple_permissive_policies: probe has 2 permissive select policies for role authenticated",
		"0008 rls_enabled_no_policy: probe_nopolicy has RLS enabled and no policy",
		"0011 function_search_path_mutable: function probe_fn() has no search_path",
		"0013 rls_disabled_in_public: probe_off has RLS disabled",
		"indexed policy columns: probe policy \"unindexed\" compares org, which no index covers",
		"to authenticated: probe policy \"to public\" is for public, not to authenticated",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got %s\nwant %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
}
