package rls

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The checks below are shared by the gateway's own test (tokens minted in
// the test) and the end-to-end test (tokens from the exchange handler).
// Each starts from empty tables. They are not t.Helper()s, so a failure
// names the line of the check that failed.

// checkOwnerTable proves that on table (notes: auth.jwt() ->> 'sub';
// todos: auth.uid()) alice and bob reach only their own rows, for select,
// insert, update and delete.
func checkOwnerTable(t *testing.T, e *env, table string, alice, bob user) {
	e.reset(t)

	// insert: user_id comes from the column default, auth.jwt() ->> 'sub'.
	for _, r := range []struct {
		u    user
		body string
	}{{alice, "alice 1"}, {alice, "alice 2"}, {bob, "bob 1"}} {
		got := e.mustBodies(t, r.u, "insert into public."+table+" (body) values ($1) returning user_id", r.body)
		wantRows(t, r.u.name+" inserts: user_id default", got, []string{r.u.sub})
	}
	wantRows(t, "admin sees every row", e.adminBodies(t, "select body from public."+table), []string{"alice 1", "alice 2", "bob 1"})

	// select
	wantRows(t, "alice selects", e.mustBodies(t, alice, "select body from public."+table), []string{"alice 1", "alice 2"})
	wantRows(t, "bob selects", e.mustBodies(t, bob, "select body from public."+table), []string{"bob 1"})
	wantRows(t, "alice selects bob's row by id", e.mustBodies(t, alice, "select body from public."+table+" where user_id = $1", bob.sub), nil)

	// insert a row in someone else's name: refused by WITH CHECK.
	_, err := e.exec(t, alice, "insert into public."+table+" (user_id, body) values ($1, 'forged')", bob.sub)
	wantCode(t, "alice inserts as bob", err, codeRLS)

	// update: only one's own rows, and never handing a row to someone else.
	if n := e.mustExec(t, alice, "update public."+table+" set body = 'hacked' where body = 'bob 1'"); n != 0 {
		t.Errorf("alice updates bob's row: %d rows, want 0", n)
	}
	if n := e.mustExec(t, alice, "update public."+table+" set body = body || ' edited'"); n != 2 {
		t.Errorf("alice updates every row she can: %d rows, want 2", n)
	}
	_, err = e.exec(t, alice, "update public."+table+" set user_id = $1 where body = 'alice 1 edited'", bob.sub)
	wantCode(t, "alice gives her row to bob", err, codeRLS)
	wantRows(t, "after the updates", e.adminBodies(t, "select body from public."+table), []string{"alice 1 edited", "alice 2 edited", "bob 1"})

	// delete
	if n := e.mustExec(t, bob, "delete from public."+table+" where body like 'alice%'"); n != 0 {
		t.Errorf("bob deletes alice's rows: %d rows, want 0", n)
	}
	if n := e.mustExec(t, alice, "delete from public."+table); n != 2 {
		t.Errorf("alice deletes every row she can: %d rows, want 2", n)
	}
	wantRows(t, "after the deletes", e.adminBodies(t, "select body from public."+table), []string{"bob 1"})
	wantRows(t, "bob still selects", e.mustBodies(t, bob, "select body from public."+table), []string{"bob 1"})
}

// checkOrgTable proves that org_documents are shared by alice and carol
// (one organisation) and hidden from bob (another), for every command.
func checkOrgTable(t *testing.T, e *env, alice, carol, bob user) {
	if alice.org != carol.org || alice.org == bob.org {
		t.Fatalf("users: alice %q, carol %q, bob %q: want alice and carol in one org, bob in another", alice.org, carol.org, bob.org)
	}
	e.reset(t)

	// insert: org_id comes from the column default, auth.jwt() ->> 'org_id'.
	wantRows(t, "alice inserts: org_id default",
		e.mustBodies(t, alice, "insert into public.org_documents (body) values ('plan A') returning org_id"), []string{alice.org})
	wantRows(t, "bob inserts: org_id default",
		e.mustBodies(t, bob, "insert into public.org_documents (body) values ('plan B') returning org_id"), []string{bob.org})
	_, err := e.exec(t, alice, "insert into public.org_documents (org_id, body) values ($1, 'forged')", bob.org)
	wantCode(t, "alice inserts into bob's org", err, codeRLS)

	// select: shared within the organisation, not across.
	wantRows(t, "alice selects", e.mustBodies(t, alice, "select body from public.org_documents"), []string{"plan A"})
	wantRows(t, "carol selects alice's document", e.mustBodies(t, carol, "select body from public.org_documents"), []string{"plan A"})
	wantRows(t, "bob selects", e.mustBodies(t, bob, "select body from public.org_documents"), []string{"plan B"})

	// update: carol may edit her organisation's document, bob may not.
	if n := e.mustExec(t, carol, "update public.org_documents set body = body || ' (carol)'"); n != 1 {
		t.Errorf("carol updates her org's documents: %d rows, want 1", n)
	}
	if n := e.mustExec(t, bob, "update public.org_documents set body = 'hacked' where body like 'plan A%'"); n != 0 {
		t.Errorf("bob updates org A's document: %d rows, want 0", n)
	}
	_, err = e.exec(t, alice, "update public.org_documents set org_id = $1", bob.org)
	wantCode(t, "alice moves a document to bob's org", err, codeRLS)

	// delete: bob cannot; carol can delete what alice wrote.
	if n := e.mustExec(t, bob, "delete from public.org_documents where org_id = $1", alice.org); n != 0 {
		t.Errorf("bob deletes org A's documents: %d rows, want 0", n)
	}
	wantRows(t, "before carol deletes", e.adminBodies(t, "select body from public.org_documents"), []string{"plan A (carol)", "plan B"})
	if n := e.mustExec(t, carol, "delete from public.org_documents"); n != 1 {
		t.Errorf("carol deletes her org's documents: %d rows, want 1", n)
	}
	wantRows(t, "after carol deletes", e.adminBodies(t, "select body from public.org_documents"), []string{"plan B"})
}

// checkAnon proves that a request without a token sees and writes nothing,
// although Supabase's default privileges grant anon every table.
func checkAnon(t *testing.T, e *env) {
	e.reset(t)
	if _, err := e.admin.Exec(t.Context(), `
		insert into public.notes (user_id, body) values ('someone', 'private note');
		insert into public.todos (user_id, body) values ('0b6c3d9e-2f4a-4f7e-9a51-6f0c2f1d8e11', 'private todo');
		insert into public.org_documents (org_id, created_by, body) values ('org-a', 'someone', 'private document')`); err != nil {
		t.Fatalf("seed: %v", err)
	}
	anon := user{name: "anon"}
	var role string
	if err := anon.run(t, e, "select current_user", &role); err != nil || role != "anon" {
		t.Errorf("anonymous request runs as %q (%v), want anon", role, err)
	}
	for _, table := range []string{"notes", "todos", "org_documents"} {
		wantRows(t, "anon selects "+table, e.mustBodies(t, anon, "select body from public."+table), nil)
		if n := e.mustExec(t, anon, "update public."+table+" set body = 'hacked'"); n != 0 {
			t.Errorf("anon updates %s: %d rows, want 0", table, n)
		}
		if n := e.mustExec(t, anon, "delete from public."+table); n != 0 {
			t.Errorf("anon deletes from %s: %d rows, want 0", table, n)
		}
	}
	_, err := e.exec(t, anon, "insert into public.notes (user_id, body) values ('someone', 'spam')")
	wantCode(t, "anon inserts", err, codeRLS)
	wantRows(t, "rows after anon", e.adminBodies(t, "select body from public.notes union all select body from public.todos union all select body from public.org_documents"),
		[]string{"private document", "private note", "private todo"})
}

// run scans one row of a query run as u.
func (u user) run(t *testing.T, e *env, sql string, dest ...any) error {
	t.Helper()
	return e.gw.Do(t.Context(), u.auth, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, sql).Scan(dest...)
	})
}
