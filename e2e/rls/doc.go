// Package rls proves, against a real PostgreSQL, that the tokens the
// exchange function mints make Supabase's Row Level Security keep each
// user's rows apart.
//
// PostgREST cannot be installed here, so Gateway plays its part: it checks
// a bearer token the way PostgREST 13 does (its jwt-secret, the legacy
// HS256 passphrase or a JWK Set, with PostgREST's kid rules and key types,
// through internal/postgrest; the audience; an expiry) and runs a query in
// one transaction after
// SET LOCAL ROLE <role claim> and set_config('request.jwt.claims', <claims>,
// true). Gateway is a test double, small on purpose; it is not a server and
// ships in no binary.
//
// The SQL the tests run is docs/sql/*.sql, the same files the guide
// docs/rls.md shows (a test checks the guide's copies byte for byte), and
// the SQL blocks of docs/migrate.md, read from the guide itself; the
// tokens come from the real exchange handler (shared/exchange through
// shared/platform) fed with provider tokens signed by keys generated in the
// test. PostgreSQL itself comes from internal/testenv/pg.
//
// Beside the isolation tests: the plans of the policies (EXPLAIN (FORMAT
// JSON) walked as a tree, TestPlanShape), Supabase's linter rules restated
// as catalog queries (TestLint), and BenchmarkRLSMillion, the per-row and
// initplan forms of the policies at a million rows (make bench-rls).
//
// The suite runs once per signing mode: the legacy secret (HS256, no kid,
// PostgREST holding the passphrase), and a key of the bridge's own (ES256
// with its kid, PostgREST holding a JWK Set without the legacy oct key).
// Tokens of a key not in the set, or whose kid names another key, are
// refused before any SQL.
package rls
