package rls

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"supabridge/internal/testenv/pg"
)

// Postgres error codes the tests expect.
const (
	codeInvalidText = "22P02" // invalid_text_representation: auth.uid() on a sub that is no UUID
	codeRLS         = "42501" // insufficient_privilege: a row fails a policy's WITH CHECK
)

// sqlDir holds the SQL the guide shows; the tests apply every file in it.
const sqlDir = "../../docs/sql"

// user is one person as the database sees them through the gateway.
type user struct {
	name string
	auth string // the Authorization header value; "" is anonymous
	sub  string // the sub claim of the Supabase token
	org  string // the org_id claim
}

// env is one PostgreSQL with Supabase's bootstrap and our migration
// applied, reached as the superuser (admin, past RLS) and as PostgREST
// would reach it (gw, logged in as authenticator).
type env struct {
	db     *pg.DB
	admin  *pgx.Conn
	api    *pgx.Conn // the authenticator connection behind gw
	begins *countingBeginner
	gw     *Gateway
}

// newEnv starts PostgreSQL, applies docs/sql/*.sql in name order and
// returns a gateway that checks tokens against secret.
func newEnv(t testing.TB, secret []byte) *env {
	t.Helper()
	return newEnvWith(t, secret, sqlFiles(t)...)
}

// bootstrapFile is what a Supabase database has before any app migration.
const bootstrapFile = sqlDir + "/00_supabase_bootstrap.sql"

// newEnvWith starts PostgreSQL, applies files in order and returns a
// gateway that checks tokens against secret.
func newEnvWith(t testing.TB, secret []byte, files ...string) *env {
	t.Helper()
	db := pg.Start(t)
	db.ApplyFiles(t, files...)
	api, err := pgx.Connect(t.Context(), db.ConnStringAs(t, "authenticator"))
	if err != nil {
		t.Fatalf("connect as authenticator: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Close(ctx)
	})
	begins := &countingBeginner{next: api}
	return &env{
		db:     db,
		admin:  db.Conn(t),
		api:    api,
		begins: begins,
		gw:     &Gateway{Secret: secret, DB: begins},
	}
}

// sqlFiles lists docs/sql/*.sql in the order they apply.
func sqlFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sqlDir, "*.sql"))
	if err != nil || len(files) < 2 {
		t.Fatalf("docs/sql: got %v (%v), want the bootstrap and the migration", files, err)
	}
	slices.Sort(files)
	return files
}

// reset empties the application tables.
func (e *env) reset(t *testing.T) {
	t.Helper()
	if _, err := e.admin.Exec(t.Context(), "truncate public.notes, public.todos, public.org_documents"); err != nil {
		t.Fatalf("truncate: %v", err)
	}
}

// bodies runs a query returning one text column as u and sorts the result.
func (e *env) bodies(t *testing.T, u user, sql string, args ...any) ([]string, error) {
	t.Helper()
	var got []string
	err := e.gw.Do(t.Context(), u.auth, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	slices.Sort(got)
	return got, err
}

// mustBodies is bodies that fails the test on an error.
func (e *env) mustBodies(t *testing.T, u user, sql string, args ...any) []string {
	t.Helper()
	got, err := e.bodies(t, u, sql, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", u.name, sql, err)
	}
	return got
}

// exec runs a statement as u and returns the number of rows it touched.
func (e *env) exec(t *testing.T, u user, sql string, args ...any) (int64, error) {
	t.Helper()
	var n int64
	err := e.gw.Do(t.Context(), u.auth, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// mustExec is exec that fails the test on an error.
func (e *env) mustExec(t *testing.T, u user, sql string, args ...any) int64 {
	t.Helper()
	n, err := e.exec(t, u, sql, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", u.name, sql, err)
	}
	return n
}

// adminBodies reads one text column as the superuser, past every policy.
func (e *env) adminBodies(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := e.admin.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("admin: %s: %v", sql, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("admin: %s: %v", sql, err)
	}
	slices.Sort(got)
	return got
}

// wantCode fails unless err is a PostgreSQL error with the given SQLSTATE.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Errorf("%s: got error %v, want PostgreSQL error %s", what, err, code)
		return
	}
	if pgErr.Code != code {
		t.Errorf("%s: got SQLSTATE %s (%s), want %s", what, pgErr.Code, pgErr.Message, code)
	}
}

func wantRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// countingBeginner counts transactions, so a test can tell that a refused
// token never reached the database.
type countingBeginner struct {
	next Beginner
	n    atomic.Int64
}

func (c *countingBeginner) Begin(ctx context.Context) (pgx.Tx, error) {
	c.n.Add(1)
	if c.next == nil {
		return nil, errors.New("test: no database behind this gateway")
	}
	return c.next.Begin(ctx)
}

// mintHS256 signs claims the way GoTrue and supabridge do: HS256, no kid.
func mintHS256(t testing.TB, method jwt.SigningMethod, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(secret)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return token
}

func randomSecret(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte(hex.EncodeToString(b)) // 64 bytes, as `openssl rand -hex 32` gives
}
