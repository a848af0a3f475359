// Package pg starts a throwaway PostgreSQL server for tests.
//
// Start runs initdb into a fresh temporary directory and starts the
// postgres server from the locally installed binaries (Debian's
// /usr/lib/postgresql/<version>/bin, or any directory holding initdb,
// pg_ctl and postgres on PATH, or SUPABRIDGE_PG_BINDIR). The server listens
// on 127.0.0.1 only, on a free port, with its unix socket inside the
// temporary directory, so several test binaries can run side by side and
// nothing is left on the machine's usual PostgreSQL paths. It is stopped
// with "pg_ctl stop -m immediate" in t.Cleanup; on Linux the server also
// gets SIGQUIT (an immediate shutdown) if the test process dies first, so
// a test that times out does not leave a server behind.
//
// PostgreSQL refuses to run as root. When the tests run as root, initdb and
// the server run as the "postgres" operating-system user (created by the
// Debian package), in a temporary directory that user owns.
//
// What the package refuses:
//   - to skip silently. When the binaries are missing the test fails with
//     a message naming scripts/ci-postgres.sh, which installs them. Only
//     SUPABRIDGE_SKIP_PG=1 turns that failure into a skip.
//   - to listen beyond the loopback interface. TCP logins need the
//     superuser's random password (SCRAM); only the unix socket, in a
//     directory only the server's user can enter, trusts local users.
//
// The cluster is fast rather than durable (fsync, synchronous_commit and
// full_page_writes are off): it lives for one test.
package pg
