package rls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The data set of BenchmarkRLSMillion: notes holds a million rows over
// 10,000 users (100 each), org_documents a million over 100 organisations
// (10,000 each, written by the organisation's 100 users). A user's or an
// organisation's rows are spread over the whole table, as rows written
// over time are.
const (
	benchRows  = 1_000_000
	benchUsers = 10_000
	benchOrgs  = 100
)

// perRowPolicies are the policies of notes and org_documents as
// docs/sql/10_app_rls.sql wrote them before the initplan form: auth.jwt()
// called in the expression itself.
const perRowPolicies = `
create policy "notes: owner reads" on public.notes for select to authenticated
  using (auth.jwt() ->> 'sub' = user_id);
create policy "notes: owner inserts" on public.notes for insert to authenticated
  with check (auth.jwt() ->> 'sub' = user_id);
create policy "notes: owner updates" on public.notes for update to authenticated
  using (auth.jwt() ->> 'sub' = user_id) with check (auth.jwt() ->> 'sub' = user_id);
create policy "notes: owner deletes" on public.notes for delete to authenticated
  using (auth.jwt() ->> 'sub' = user_id);
create policy "org_documents: members read" on public.org_documents for select to authenticated
  using (auth.jwt() ->> 'org_id' = org_id);
create policy "org_documents: members insert" on public.org_documents for insert to authenticated
  with check (auth.jwt() ->> 'org_id' = org_id);
create policy "org_documents: members update" on public.org_documents for update to authenticated
  using (auth.jwt() ->> 'org_id' = org_id) with check (auth.jwt() ->> 'org_id' = org_id);
create policy "org_documents: members delete" on public.org_documents for delete to authenticated
  using (auth.jwt() ->> 'org_id' = org_id);
`

// benchTables are the tables whose policies the benchmark swaps.
const benchTables = "'public.notes'::regclass, 'public.org_documents'::regclass"

// errRollback ends a gateway transaction without committing it.
var errRollback = errors.New("rollback")

// BenchmarkRLSMillion measures the policies of docs/sql/10_app_rls.sql at a
// million rows, in the initplan form the file has and in the per-row form
// it had, through the PostgREST path (Gateway: SET LOCAL ROLE and
// request.jwt.claims in one transaction per request) with tokens minted by
// the real exchange handler. Each operation is one request: one user's
// select of their 100 notes, an update of one note by its owner (another
// user per form, after a VACUUM, so that no form reads the other's dead
// rows), and an organisation's select of its 10,000 documents. Each is run
// three times before anything is measured.
//
// Besides ns/op it reports, from one EXPLAIN (ANALYZE, BUFFERS) of each
// operation, heap-rows/op (rows the scans read, those a filter removed
// included) and buffers/op (shared blocks hit or read), and auth-calls/op,
// how often the statement called auth.jwt() (pg_stat_get_xact_function_calls
// with track_functions = all). The EXPLAIN (ANALYZE, BUFFERS) text of every
// operation is logged. It fails if the initplan form reads a user's notes
// other than through the index, or calls auth.jwt() per row.
//
// make bench-rls runs it; building the data takes about a minute.
func BenchmarkRLSMillion(b *testing.B) {
	secret := randomSecret(b)
	e := newEnv(b, secret)
	ctx := b.Context()
	start := time.Now()
	for _, sql := range []string{
		fmt.Sprintf(`insert into public.notes (user_id, body)
			select 'user-' || (g %% %d), 'note ' || g from generate_series(1, %d) g`, benchUsers, benchRows),
		fmt.Sprintf(`insert into public.org_documents (org_id, created_by, body)
			select 'org-' || (g %% %d), 'user-' || (g %% %d), 'document ' || g from generate_series(1, %d) g`, benchOrgs, benchUsers, benchRows),
		"vacuum analyze public.notes",
		"vacuum analyze public.org_documents",
	} {
		if _, err := e.admin.Exec(ctx, sql); err != nil {
			b.Fatalf("build: %s: %v", sql, err)
		}
	}
	var version, sharedBuffers string
	if err := e.admin.QueryRow(ctx, "select current_setting('server_version'), current_setting('shared_buffers')").Scan(&version, &sharedBuffers); err != nil {
		b.Fatal(err)
	}
	b.Logf("PostgreSQL %s, shared_buffers %s: %d notes over %d users, %d org_documents over %d organisations, built in %s",
		version, sharedBuffers, benchRows, benchUsers, benchRows, benchOrgs, time.Since(start).Round(time.Second))

	initplan, err := policyDefinitions(ctx, e.admin)
	if err != nil {
		b.Fatal(err)
	}
	p := newProvider(b)
	h := newExchange(b, p, secret, map[string]string{"SUB_MAPPING": "passthrough"})
	// The reader selects their notes and their organisation's documents; an
	// updater of their own per form updates notes (user-1000 and user-1001,
	// in no organisation the reader reads), so that one form's updates leave
	// nothing the other form's selects would read.
	reader := person{"user4242", "user-4242", "org-42"}

	for i, form := range []struct {
		name     string
		policies string
	}{
		{"per-row", perRowPolicies},
		{"initplan", initplan},
	} {
		if err := setPolicies(ctx, e.admin, form.policies); err != nil {
			b.Fatalf("%s: %v", form.name, err)
		}
		if _, err := e.admin.Exec(ctx, "vacuum analyze public.notes"); err != nil {
			b.Fatal(err)
		}
		// Fresh tokens for each form: the provider's token lives 10 minutes.
		readerAuth := "Bearer " + exchangeToken(b, h, p.token(b, reader, nil))
		updater := person{"updater", fmt.Sprintf("user-%d", 1000+i), fmt.Sprintf("org-%d", i)}
		updaterAuth := "Bearer " + exchangeToken(b, h, p.token(b, updater, nil))
		var ids []string
		err := e.gw.Do(ctx, updaterAuth, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "select id::text from public.notes order by id")
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil || len(ids) != benchRows/benchUsers {
			b.Fatalf("%s: %s sees %d notes (%v), want %d", form.name, updater.sub, len(ids), err, benchRows/benchUsers)
		}
		next := 0
		ops := []struct {
			name string
			auth string
			sql  string
			args func() []any
			rows int64
		}{
			{"user-select", readerAuth, "select id, body from public.notes", nil, benchRows / benchUsers},
			{"update-one", updaterAuth, "update public.notes set body = body where id = $1", func() []any {
				next = (next + 1) % len(ids)
				return []any{ids[next]}
			}, 1},
			{"org-select", readerAuth, "select id, body from public.org_documents", nil, benchRows / benchOrgs},
		}
		for _, op := range ops {
			args := func() []any {
				if op.args == nil {
					return nil
				}
				return op.args()
			}
			run := func(ctx context.Context, tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, op.sql, args()...)
				if err == nil && tag.RowsAffected() != op.rows {
					err = fmt.Errorf("%s: %d rows, want %d", op.sql, tag.RowsAffected(), op.rows)
				}
				return err
			}
			for range 3 { // warm the caches before anything is measured
				if err := e.gw.Do(ctx, op.auth, run); err != nil {
					b.Fatalf("%s %s: %v", form.name, op.name, err)
				}
			}
			if err := trackFunctions(ctx, e.admin, e.api, true); err != nil {
				b.Fatal(err)
			}
			m, err := measure(ctx, e.gw, op.auth, op.sql, args())
			if err != nil {
				b.Fatalf("%s %s: %v", form.name, op.name, err)
			}
			if err := trackFunctions(ctx, e.admin, e.api, false); err != nil {
				b.Fatal(err)
			}
			b.Logf("form=%s op=%s: EXPLAIN (ANALYZE, BUFFERS) %s\n%s", form.name, op.name, op.sql, m.text)
			if form.name == "initplan" {
				shape := planShape{"notes", "notes_user_id_idx", "user_id", "auth.jwt()"}
				switch op.name {
				case "update-one":
					shape = planShape{"notes", "notes_pkey", "id", "auth.jwt()"}
				case "org-select":
					shape = planShape{"org_documents", "org_documents_org_id_idx", "org_id", "auth.jwt()"}
				}
				for _, problem := range shape.check(&m.plan) {
					b.Errorf("initplan %s: %s", op.name, problem)
				}
			}
			b.Run("form="+form.name+"/op="+op.name, func(b *testing.B) {
				for b.Loop() {
					if err := e.gw.Do(ctx, op.auth, run); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(m.heapRows, "heap-rows/op")
				b.ReportMetric(m.buffers, "buffers/op")
				b.ReportMetric(m.authCalls, "auth-calls/op")
			})
		}
	}
}

// policyDefinitions returns the CREATE POLICY statements that recreate the
// policies now on the benchmark's tables, as PostgreSQL prints them back.
func policyDefinitions(ctx context.Context, conn *pgx.Conn) (string, error) {
	rows, err := conn.Query(ctx, `
		select format('create policy %I on %s as %s for %s to %s%s%s;',
		              policyname, format('%I.%I', schemaname, tablename), permissive, cmd,
		              array_to_string(roles, ', '),
		              ' using (' || qual || ')', ' with check (' || with_check || ')')
		from pg_policies
		where format('%I.%I', schemaname, tablename)::regclass in (`+benchTables+`)
		order by tablename, policyname`)
	if err != nil {
		return "", err
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	if len(defs) != 8 {
		return "", fmt.Errorf("found %d policies on notes and org_documents, want 8", len(defs))
	}
	return strings.Join(defs, "\n"), nil
}

// setPolicies replaces every policy of the benchmark's tables with defs.
func setPolicies(ctx context.Context, conn *pgx.Conn, defs string) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select format('drop policy %I on %s;', polname, polrelid::regclass) from pg_policy where polrelid in (`+benchTables+`)`)
		if err != nil {
			return err
		}
		drops, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, strings.Join(drops, "\n")+defs)
		return err
	})
}

// measurement is what one EXPLAIN (ANALYZE, BUFFERS) of an operation shows.
type measurement struct {
	text      string  // the text form, for the log
	plan      plan    // the JSON form
	heapRows  float64 // rows read by the scans, those filtered out included
	buffers   float64 // shared blocks hit or read
	authCalls float64 // calls of auth.jwt() by the statement
}

// measure explains sql twice as the token's user through the gateway, in
// text for people and in JSON for the figures, and counts the auth.jwt()
// calls of a third, plain run (auth.jwt() is a SQL function with its own
// search_path, which PostgreSQL never inlines: each call is counted).
// Everything is rolled back; track_functions must be on.
func measure(ctx context.Context, gw *Gateway, auth, sql string, args []any) (measurement, error) {
	var m measurement
	err := gw.Do(ctx, auth, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "explain (analyze, buffers) "+sql, args...)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		m.text = strings.Join(lines, "\n")
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		return m, err
	}
	err = gw.Do(ctx, auth, func(ctx context.Context, tx pgx.Tx) error {
		doc, err := explainJSON(ctx, tx, "analyze, buffers, verbose", sql, args...)
		if err != nil {
			return err
		}
		m.plan = doc.Plan
		m.plan.walk(func(n *plan) {
			switch n.NodeType {
			case "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan":
				m.heapRows += (n.ActualRows + n.RowsRemovedByFilter + n.RowsRemovedByRecheck) * max(n.ActualLoops, 1)
			}
		})
		m.buffers = doc.Plan.SharedHitBlocks + doc.Plan.SharedReadBlocks
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		return m, err
	}
	err = gw.Do(ctx, auth, func(ctx context.Context, tx pgx.Tx) error {
		calls, err := functionCalls(ctx, tx, "auth.jwt()", func() error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		})
		m.authCalls = float64(calls)
		if err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		return m, err
	}
	return m, nil
}

// functionCalls returns how often fn's statements called function (a
// regprocedure, such as auth.jwt()), from the counts of the current
// transaction before and after: no statistics are flushed inside a
// transaction, but since PostgreSQL 15 the count itself may include earlier
// transactions whose counts were not flushed yet, hence the difference.
// track_functions must be on.
func functionCalls(ctx context.Context, tx pgx.Tx, function string, fn func() error) (int64, error) {
	const count = "select coalesce(pg_stat_get_xact_function_calls($1::regprocedure), 0)"
	var before, after int64
	if err := tx.QueryRow(ctx, count, function).Scan(&before); err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(ctx, count, function).Scan(&after); err != nil {
		return 0, err
	}
	return after - before, nil
}

// trackFunctions turns track_functions (function call counting) on or off
// for every session and waits until api's session sees the change: it
// costs a clock reading per call, so it is on only while measuring.
func trackFunctions(ctx context.Context, admin, api *pgx.Conn, on bool) error {
	stmt, want := "alter system reset track_functions", "none"
	if on {
		stmt, want = "alter system set track_functions = 'all'", "all"
	}
	for _, sql := range []string{stmt, "select pg_reload_conf()"} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		if err := api.QueryRow(ctx, "show track_functions").Scan(&got); err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("track_functions is %q 10 s after the reload, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
