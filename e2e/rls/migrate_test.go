package rls

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"supabridge/internal/testprovider"
	sbclaims "supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// migrateGuide is the migration guide whose SQL the tests below run.
const migrateGuide = "../../docs/migrate.md"

// Every ```sql block of the migration guide sits right under a line
// <!-- sql: <step> -->, and each step is run by a test below.
var stepMarker = regexp.MustCompile(`^<!-- sql: (\S+) -->$`)

// migrateSteps are the guide's SQL blocks, in the guide's order.
var migrateSteps = []string{
	"before",
	"passthrough/index", "passthrough/policies", "passthrough/enable", "passthrough/verify", "passthrough/rollback",
	"uuid5/prepare", "uuid5/column", "uuid5/trigger", "uuid5/backfill", "uuid5/check", "uuid5/index",
	"uuid5/policies", "uuid5/verify", "uuid5/finish", "uuid5/rollback",
}

// migrateBlocks returns the guide's SQL blocks by step.
func migrateBlocks(t *testing.T) (map[string]string, []string) {
	t.Helper()
	text, err := os.ReadFile(migrateGuide)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	var order []string
	for _, b := range guideBlocks(t, migrateGuide, text) {
		m := stepMarker.FindStringSubmatch(b.marker)
		if m == nil {
			t.Fatalf("%s:%d: a sql block without a <!-- sql: <step> --> line above it", migrateGuide, b.line)
		}
		if _, dup := blocks[m[1]]; dup {
			t.Fatalf("%s:%d: step %s appears twice", migrateGuide, b.line, m[1])
		}
		blocks[m[1]] = string(b.body)
		order = append(order, m[1])
	}
	return blocks, order
}

// TestMigrateGuideBlocks keeps docs/migrate.md and the tests one source:
// the tests run each SQL block by its step name, so a block that no test
// runs, or a step the tests run that the guide lacks, fails here. The
// supabridge sub session the guide shows must match that command's golden
// output.
func TestMigrateGuideBlocks(t *testing.T) {
	_, order := migrateBlocks(t)
	if !slices.Equal(order, migrateSteps) {
		t.Errorf("%s: sql blocks %q, want the steps the tests run, %q", migrateGuide, order, migrateSteps)
	}

	text, err := os.ReadFile(migrateGuide)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../cmd/supabridge/testdata/sub.uuid5.golden")
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	in := false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```console":
			in = true
		case line == "```":
			in = false
		case in && !strings.HasPrefix(line, "$ "):
			shown++
			if !bytes.Contains(golden, []byte(line+"\n")) {
				t.Errorf("%s: output line %q is not in cmd/supabridge/testdata/sub.uuid5.golden", migrateGuide, line)
			}
		}
	}
	if shown < 4 {
		t.Errorf("%s: %d lines of supabridge sub output, want its header and a subject", migrateGuide, shown)
	}
}

// Issuers as the guide's step uuid5/prepare writes them: Authentik's with
// its trailing slash, Outseta's without.
const (
	authentikIssuer = "https://auth.example.com/application/o/notes/"
	outsetaIssuer   = "https://acme.outseta.com"
)

// migrateRowsPerUser is how many rows the old app wrote for each user.
const migrateRowsPerUser = 10

// owner identifies a user the way the old app did: provider and subject.
type owner struct{ provider, sub string }

// migrateWorld is an app before the move: a PostgreSQL with Supabase's
// bootstrap and nothing else, the old app (the service-role key), an
// exchange trusting two providers, and their users.
type migrateWorld struct {
	e       *env
	blocks  map[string]string
	oldApp  string // the Authorization of the old app: the service-role key
	exch    http.Handler
	signers map[string]func(sub string) string // provider token for sub
	users   []owner
	rows    map[owner][]int64 // the ids each user owns, as the test expects
	mu      sync.Mutex
	notices []string
}

// migrateSubjects are the provider subjects: 300 regular ones per provider
// (Authentik's 64-hex hashed ids, Outseta-like uids), and subjects with
// "|", ":", quotes and non-ASCII letters; "shared-7" and "Zoë Ñúñez" exist
// at both providers, as different people.
func migrateSubjects() map[string][]string {
	subs := map[string][]string{
		"authentik": {"auth0|65f1c0de2a", "urn:acme:user:42", "o'brien", "Zoë Ñúñez", "用户🙂", "shared-7"},
		"outseta":   {"shared-7", "Zoë Ñúñez", "L9nA:2b|x"},
	}
	for i := range 300 {
		subs["authentik"] = append(subs["authentik"], authentikID(fmt.Sprintf("user %d", i)))
		subs["outseta"] = append(subs["outseta"], fmt.Sprintf("L%04dQm9x", i))
	}
	return subs
}

func newMigrateWorld(t *testing.T, mapping string) *migrateWorld {
	t.Helper()
	secret := randomSecret(t)
	w := &migrateWorld{e: newEnvWith(t, secret, bootstrapFile), rows: map[owner][]int64{}, signers: map[string]func(string) string{}}
	w.blocks, _ = migrateBlocks(t)

	// Run the guide's blocks on a connection of their own, keeping the
	// notices they raise.
	cfg, err := pgx.ParseConfig(w.e.db.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		w.mu.Lock()
		w.notices = append(w.notices, n.Message)
		w.mu.Unlock()
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	w.e.admin = conn

	// The old app's service-role key. (Real keys carry no aud and PostgREST
	// checks none unless configured; this gateway always checks it.)
	now := time.Now()
	w.oldApp = "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{
		"iss": "supabase", "role": "service_role", "aud": "authenticated", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})

	providers := ""
	for _, p := range []struct{ name, issuer, alg string }{{"authentik", authentikIssuer, "RS256"}, {"outseta", outsetaIssuer, "ES256"}} {
		key := testprovider.NewKey(t, p.name+"-1", p.alg)
		prov := testprovider.New(t, "", key)
		prov.Issuer = p.issuer // keys come from jwks_url: the issuer is only a name
		w.signers[p.name] = func(sub string) string { return key.Sign(t, prov.Claims(sub), nil) }
		if providers != "" {
			providers += ","
		}
		// With several providers each entry states its sub_mapping.
		providers += fmt.Sprintf(`{"name":%q,"issuer":%q,"jwks_url":%q,"sub_mapping":%q}`, p.name, p.issuer, prov.JWKSURL(), mapping)
	}
	w.exch, err = platform.NewHandler(t.Context(), "exchange", exchange.New, config.MapEnv(map[string]string{
		"SUPABASE_JWT_SECRET": string(secret), "AUTH_PROVIDERS": "[" + providers + "]",
	}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	subs := migrateSubjects()
	for _, name := range []string{"authentik", "outseta"} {
		for _, s := range subs[name] {
			w.users = append(w.users, owner{name, s})
		}
	}
	return w
}

// run executes the guide's block for step as the superuser, as psql would.
func (w *migrateWorld) run(t *testing.T, step string) {
	t.Helper()
	sql, ok := w.blocks[step]
	if !ok {
		t.Fatalf("%s has no step %s", migrateGuide, step)
	}
	if _, err := w.e.admin.Exec(t.Context(), sql); err != nil {
		t.Fatalf("step %s: %v", step, err)
	}
}

// count runs a one-number query of the guide (a verify step) or of the test.
func (w *migrateWorld) count(t *testing.T, q querier, sql string, args ...any) int64 {
	t.Helper()
	rows, err := q.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// seed writes every user's rows the old way: the service role, user_id =
// the provider's sub, in one request.
func (w *migrateWorld) seed(t *testing.T) {
	t.Helper()
	var providers, subs, bodies []string
	for _, u := range w.users {
		for i := range migrateRowsPerUser {
			providers, subs, bodies = append(providers, u.provider), append(subs, u.sub), append(bodies, fmt.Sprintf("%s/%s #%d", u.provider, u.sub, i))
		}
	}
	err := w.e.gw.Do(t.Context(), w.oldApp, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `insert into public.documents (provider, user_id, body)
			select * from unnest($1::text[], $2::text[], $3::text[]) returning id, provider, user_id`, providers, subs, bodies)
		if err != nil {
			return err
		}
		var id int64
		var o owner
		_, err = pgx.ForEachRow(rows, []any{&id, &o.provider, &o.sub}, func() error {
			w.rows[o] = append(w.rows[o], id)
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatalf("old app seeds: %v", err)
	}
}

// oldAppWrites runs sql as the old app and returns the ids it returns.
func (w *migrateWorld) oldAppWrites(t *testing.T, sql string, args ...any) []int64 {
	t.Helper()
	var ids []int64
	err := w.e.gw.Do(t.Context(), w.oldApp, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		t.Fatalf("old app: %s: %v", sql, err)
	}
	return ids
}

// logins exchanges a provider token of every user for a Supabase token.
func (w *migrateWorld) logins(t *testing.T) map[owner]string {
	t.Helper()
	auth := map[owner]string{}
	for _, u := range w.users {
		auth[u] = "Bearer " + exchangeToken(t, w.exch, w.signers[u.provider](u.sub))
	}
	return auth
}

// ids runs a query returning ids as auth and sorts them.
func (w *migrateWorld) ids(t *testing.T, auth, sql string, args ...any) []int64 {
	t.Helper()
	var got []int64
	err := w.e.gw.Do(t.Context(), auth, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	slices.Sort(got)
	return got
}

// everyoneSeesTheirOwn checks, through the gateway with each user's bridge
// token, that each user sees exactly the rows the test expects them to own,
// and returns how many rows were seen in all.
func (w *migrateWorld) everyoneSeesTheirOwn(t *testing.T, auth map[owner]string) int {
	t.Helper()
	seen := 0
	for _, u := range w.users {
		got := w.ids(t, auth[u], "select id from public.documents")
		want := slices.Sorted(slices.Values(w.rows[u]))
		if !slices.Equal(got, want) {
			t.Errorf("%s %q sees %d rows %v, want their %d rows %v", u.provider, u.sub, len(got), clip(got), len(want), clip(want))
		}
		seen += len(got)
	}
	return seen
}

// oldAppFindsEveryone checks that the old app's hand filter finds each
// user's rows, as after a rollback.
func (w *migrateWorld) oldAppFindsEveryone(t *testing.T) {
	t.Helper()
	for _, u := range w.users {
		got := w.ids(t, w.oldApp, "select id from public.documents where provider = $1 and user_id = $2", u.provider, u.sub)
		want := slices.Sorted(slices.Values(w.rows[u]))
		if !slices.Equal(got, want) {
			t.Errorf("old app, %s %q: %v, want %v", u.provider, u.sub, clip(got), clip(want))
		}
	}
}

// total counts the table's rows past RLS.
func (w *migrateWorld) total(t *testing.T) int64 {
	return w.count(t, w.e.admin, "select count(*) from public.documents")
}

// anonSees counts the rows a request with only the anon key reads.
func (w *migrateWorld) anonSees(t *testing.T) int {
	return len(w.ids(t, "", "select id from public.documents"))
}

func (w *migrateWorld) lintFindings(t *testing.T) []string {
	t.Helper()
	f, err := lint(t.Context(), w.e.admin)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readsOnce checks that one user's select of the migrated table has the
// initplan shape (TestPlanShape): the token read once, the rows found
// through shape's index, nothing scanned sequentially.
func (w *migrateWorld) readsOnce(t *testing.T, auth string, shape planShape) {
	t.Helper()
	if _, err := w.e.admin.Exec(t.Context(), "analyze public.documents"); err != nil {
		t.Fatal(err)
	}
	err := w.e.gw.Do(t.Context(), auth, func(ctx context.Context, tx pgx.Tx) error {
		doc, err := explainJSON(ctx, tx, "verbose", "select id, body from public.documents")
		if err != nil {
			return err
		}
		for _, problem := range shape.check(&doc.Plan) {
			t.Errorf("plan of a user's select: %s", problem)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// columns lists the table's columns in order.
func (w *migrateWorld) columns(t *testing.T) []string {
	t.Helper()
	rows, err := w.e.admin.Query(t.Context(), `select attname::text from pg_attribute
		where attrelid = 'public.documents'::regclass and attnum > 0 and not attisdropped order by attnum`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func clip(ids []int64) []int64 {
	if len(ids) > 12 {
		return ids[:12]
	}
	return ids
}

var legacyColumns = []string{"id", "provider", "user_id", "body", "created_at"}

// TestMigratePassthrough runs path 1 of docs/migrate.md: the provider's
// sub kept, policies on user_id and provider.
func TestMigratePassthrough(t *testing.T) {
	t.Parallel()
	w := newMigrateWorld(t, "passthrough")
	w.run(t, "before")
	if got := w.lintFindings(t); !slices.Equal(got, []string{"0013 rls_disabled_in_public: documents has RLS disabled"}) {
		t.Errorf("lint before the move: %q, want only rls_disabled_in_public", got)
	}
	w.seed(t)
	before := w.total(t)
	if n := w.anonSees(t); int64(n) != before {
		t.Errorf("before the move anon reads %d rows, want all %d (the leak the move closes)", n, before)
	}

	for _, step := range []string{"passthrough/index", "passthrough/policies", "passthrough/enable"} {
		w.run(t, step)
	}
	if got := w.lintFindings(t); len(got) > 0 {
		t.Errorf("lint after path 1: %q", got)
	}
	auth := w.logins(t)
	seen := w.everyoneSeesTheirOwn(t, auth)
	t.Logf("path 1 (passthrough): %d rows of %d users (2 providers) written the old way; after the move each user sees exactly their own: %d rows seen in all",
		before, len(w.users), seen)
	if int64(seen) != before {
		t.Errorf("%d rows seen by their owners, want all %d", seen, before)
	}
	if n := w.anonSees(t); n != 0 {
		t.Errorf("anon reads %d rows after the move, want 0", n)
	}
	_, err := w.e.exec(t, user{name: "anon"}, "insert into public.documents (provider, user_id, body) values ('outseta', 'shared-7', 'anon')")
	wantCode(t, "anon inserts after the move", err, codeRLS)
	w.readsOnce(t, auth[w.users[0]], planShape{"documents", "documents_owner_idx", "user_id", "auth.jwt()"})

	// The new app inserts without an owner: the defaults take the token's.
	alice := owner{"outseta", "shared-7"}
	// A hand filter left in the new app changes nothing.
	if got, want := w.ids(t, auth[alice], "select id from public.documents where user_id = $1", alice.sub), slices.Sorted(slices.Values(w.rows[alice])); !slices.Equal(got, want) {
		t.Errorf("with a leftover .eq('user_id') filter: %v, want %v", got, want)
	}
	var id int64
	var got owner
	err = w.e.gw.Do(t.Context(), auth[alice], func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "insert into public.documents (body) values ('through the bridge') returning id, provider, user_id").Scan(&id, &got.provider, &got.sub)
	})
	if err != nil || got != alice {
		t.Fatalf("bridge insert: owner %+v (%v), want %+v", got, err, alice)
	}
	w.rows[alice] = append(w.rows[alice], id)
	err = w.e.gw.Do(t.Context(), auth[alice], func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.documents (provider, user_id, body) values ('authentik', 'shared-7', 'forged')")
		return err
	})
	wantCode(t, "insert as the same sub at the other provider", err, codeRLS)
	w.everyoneSeesTheirOwn(t, auth)

	if n := w.count(t, w.e.admin, w.blocks["passthrough/verify"]); n != 0 {
		t.Errorf("verify: %d unseen rows, want 0", n)
	}
	stray := w.oldAppWrites(t, "insert into public.documents (provider, user_id, body) values ('github', 'octocat', 'stray') returning id")
	if n := w.count(t, w.e.admin, w.blocks["passthrough/verify"]); n != 1 {
		t.Errorf("verify with a row of an unconfigured provider: %d unseen rows, want 1", n)
	}
	w.oldAppWrites(t, "delete from public.documents where id = $1 returning id", stray[0])

	w.run(t, "passthrough/rollback")
	var rls bool
	if err := w.e.admin.QueryRow(t.Context(), "select relrowsecurity from pg_class where oid = 'public.documents'::regclass").Scan(&rls); err != nil || rls {
		t.Errorf("after the rollback RLS is %v (%v), want off", rls, err)
	}
	if n := w.count(t, w.e.admin, "select count(*) from pg_policy where polrelid = 'public.documents'::regclass"); n != 0 {
		t.Errorf("%d policies after the rollback, want 0", n)
	}
	if cols := w.columns(t); !slices.Equal(cols, legacyColumns) {
		t.Errorf("columns after the rollback %q, want %q", cols, legacyColumns)
	}
	w.oldAppFindsEveryone(t)
}

// TestMigrateUUID5 runs path 2 of docs/migrate.md with two providers: the
// backfill, rows written by both apps during the switch, the check, the
// policies, the verification, a rollback, the move again and its last step.
func TestMigrateUUID5(t *testing.T) {
	t.Parallel()
	w := newMigrateWorld(t, "uuid5")
	w.run(t, "before")
	w.seed(t)
	before := w.total(t)
	auth := w.logins(t)

	// The ids the bridge mints, from the exchange itself, agree with Go's
	// UUIDv5 written out in this package and with uuid_generate_v5.
	uids := map[owner]string{}
	for _, u := range w.users {
		uids[u], _ = claimsOf(t, w.e.gw, strings.TrimPrefix(auth[u], "Bearer "))["sub"].(string)
	}

	w.run(t, "uuid5/prepare")
	for _, u := range w.users {
		iss := map[string]string{"authentik": authentikIssuer, "outseta": outsetaIssuer}[u.provider]
		var sqlID string
		if err := w.e.admin.QueryRow(t.Context(), "select extensions.uuid_generate_v5(extensions.uuid_ns_url(), $1 || '#' || $2)::text", iss, u.sub).Scan(&sqlID); err != nil {
			t.Fatal(err)
		}
		if goID := uuid5(urlNamespace, iss+"#"+u.sub); uids[u] != goID || sqlID != goID || sbclaims.NewSHA1(sbclaims.NamespaceURL, iss+"#"+u.sub).String() != goID {
			t.Errorf("%s %q: minted %s, uuid_generate_v5 %s, Go %s: want one id", u.provider, u.sub, uids[u], sqlID, goID)
		}
	}

	w.run(t, "uuid5/column")
	w.run(t, "uuid5/trigger")

	// During the switch the old app keeps writing: the trigger fills the
	// new column for rows the backfill will not touch.
	for i, u := range w.users {
		if i%10 == 0 {
			ids := w.oldAppWrites(t, "insert into public.documents (provider, user_id, body) values ($1, $2, 'written during the switch') returning id", u.provider, u.sub)
			w.rows[u] = append(w.rows[u], ids...)
		}
	}
	if n := w.count(t, w.e.admin, "select count(*) from public.documents where user_uuid is not null"); n != int64(len(w.users)+9)/10 {
		t.Errorf("%d rows with a user_uuid before the backfill, want the %d written since the trigger", n, (len(w.users)+9)/10)
	}

	// The backfill refuses to run inside a transaction block, as the guide says.
	err := pgx.BeginFunc(t.Context(), w.e.admin, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), w.blocks["uuid5/backfill"])
		return err
	})
	wantCode(t, "backfill inside a transaction block", err, "2D000")

	toFill := w.count(t, w.e.admin, "select count(*) from public.documents where user_uuid is null")
	w.notices = nil
	start := time.Now()
	w.run(t, "uuid5/backfill")
	took := time.Since(start)
	batches := slices.Clone(w.notices)
	t.Logf("backfill: %d rows filled in %s, %d batches: %q", toFill, took.Round(time.Millisecond), len(batches), batches)
	if len(batches) < 2 || !strings.HasPrefix(batches[len(batches)-1], fmt.Sprintf("backfill: %d rows filled", toFill)) {
		t.Errorf("backfill notices %q, want batches ending with %d rows filled", batches, toFill)
	}
	w.notices = nil
	w.run(t, "uuid5/backfill") // again, as after an interruption: nothing left to fill
	if last := w.notices[len(w.notices)-1]; !strings.HasPrefix(last, "backfill: 0 rows filled") {
		t.Errorf("second backfill: %q, want 0 rows filled", last)
	}

	// The check refuses a row whose provider has no issuer.
	stray := w.oldAppWrites(t, "insert into public.documents (provider, user_id, body) values ('github', 'octocat', 'stray') returning id")
	_, err = w.e.admin.Exec(t.Context(), w.blocks["uuid5/check"])
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "P0001" || !strings.HasPrefix(pgErr.Message, "1 rows have no user_uuid") {
		t.Errorf("check with a row of an unknown provider: %v, want P0001 naming 1 row", err)
	}
	w.oldAppWrites(t, "delete from public.documents where id = $1 returning id", stray[0])
	w.run(t, "uuid5/check")
	w.run(t, "uuid5/index")
	w.run(t, "uuid5/policies")
	if got := w.lintFindings(t); len(got) > 0 {
		t.Errorf("lint after path 2: %q", got)
	}

	after := w.total(t)
	seen := w.everyoneSeesTheirOwn(t, auth)
	t.Logf("path 2 (uuid5): %d rows of %d users (2 providers) written the old way, %d more by the old app during the switch; after the move: %d rows, %d seen by their owners through tokens from the exchange",
		before, len(w.users), after-before, after, seen)
	if int64(seen) != after {
		t.Errorf("%d rows seen by their owners, want all %d", seen, after)
	}
	if n := w.anonSees(t); n != 0 {
		t.Errorf("anon reads %d rows after the move, want 0", n)
	}
	w.readsOnce(t, auth[w.users[0]], planShape{"documents", "documents_user_uuid_idx", "user_uuid", "auth.uid()"})

	// Both apps write side by side.
	alice, bob := owner{"authentik", "Zoë Ñúñez"}, owner{"outseta", "Zoë Ñúñez"}
	var id int64
	var got owner
	err = w.e.gw.Do(t.Context(), auth[alice], func(ctx context.Context, tx pgx.Tx) error {
		// Whatever old owner the client sends, the token's is written.
		return tx.QueryRow(ctx, `insert into public.documents (provider, user_id, body)
			values ('outseta', 'Zoë Ñúñez', 'through the bridge') returning id, provider, user_id`).Scan(&id, &got.provider, &got.sub)
	})
	if err != nil || got != alice {
		t.Fatalf("bridge insert: old owner columns %+v (%v), want %+v", got, err, alice)
	}
	w.rows[alice] = append(w.rows[alice], id)
	err = w.e.gw.Do(t.Context(), auth[alice], func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.documents (user_uuid, body) values ($1, 'forged')", uids[bob])
		return err
	})
	wantCode(t, "insert in another user's name", err, codeRLS)
	ids := w.oldAppWrites(t, "insert into public.documents (provider, user_id, body) values ($1, $2, 'old app, after the switch') returning id", bob.provider, bob.sub)
	w.rows[bob] = append(w.rows[bob], ids...)
	// The old app gives one of alice's rows to bob.
	moved := w.rows[alice][0]
	w.oldAppWrites(t, "update public.documents set provider = $1, user_id = $2 where id = $3 returning id", bob.provider, bob.sub, moved)
	w.rows[alice] = w.rows[alice][1:]
	w.rows[bob] = append(w.rows[bob], moved)
	w.everyoneSeesTheirOwn(t, auth)

	if n := w.count(t, w.e.admin, w.blocks["uuid5/verify"]); n != 0 {
		t.Errorf("verify: %d unseen rows, want 0", n)
	}
	err = pgx.BeginFunc(t.Context(), w.e.admin, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "update public.documents set user_uuid = gen_random_uuid() where id = $1", moved); err != nil {
			return err
		}
		if n := w.count(t, tx, w.blocks["uuid5/verify"]); n != 1 {
			t.Errorf("verify with one row detached: %d, want 1", n)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}

	// Rollback from the last reversible step: the old app finds every
	// row, those written through the bridge and moved meanwhile included.
	w.run(t, "uuid5/rollback")
	if cols := w.columns(t); !slices.Equal(cols, legacyColumns) {
		t.Errorf("columns after the rollback %q, want %q", cols, legacyColumns)
	}
	if n := w.count(t, w.e.admin, "select count(*) from pg_namespace where nspname = 'supabridge_migration'"); n != 0 {
		t.Error("the schema supabridge_migration survived the rollback")
	}
	if n := w.anonSees(t); int64(n) != w.total(t) {
		t.Errorf("after the rollback anon reads %d rows, want all %d, as before the move", n, w.total(t))
	}
	w.oldAppFindsEveryone(t)

	// The move again, to the end.
	for _, step := range []string{"uuid5/prepare", "uuid5/column", "uuid5/trigger", "uuid5/backfill", "uuid5/check", "uuid5/index", "uuid5/policies"} {
		w.run(t, step)
	}
	if n := w.count(t, w.e.admin, w.blocks["uuid5/verify"]); n != 0 {
		t.Errorf("verify after the second move: %d unseen rows, want 0", n)
	}
	w.run(t, "uuid5/finish")
	if cols, want := w.columns(t), []string{"id", "body", "created_at", "user_uuid"}; !slices.Equal(cols, want) {
		t.Errorf("columns after the last step %q, want %q", cols, want)
	}
	err = w.e.gw.Do(t.Context(), auth[bob], func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "insert into public.documents (body) values ('after the move') returning id").Scan(&id)
	})
	if err != nil {
		t.Fatalf("bridge insert after the last step: %v", err)
	}
	w.rows[bob] = append(w.rows[bob], id)
	final := w.total(t)
	seen = w.everyoneSeesTheirOwn(t, auth)
	t.Logf("after a rollback, the move again and its last step: %d rows, %d seen by their owners", final, seen)
	if int64(seen) != final {
		t.Errorf("after the last step %d rows seen by their owners, want all %d", seen, final)
	}
	if got := w.lintFindings(t); len(got) > 0 {
		t.Errorf("lint after the last step: %q", got)
	}
}
