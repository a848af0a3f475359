package pg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SkipEnv names the environment variable that, set to "1", skips every
// test that calls Start instead of running PostgreSQL.
const SkipEnv = "SUPABRIDGE_SKIP_PG"

// BinDirEnv names the environment variable that points at a directory
// holding initdb, pg_ctl and postgres, overriding the search in BinDir.
const BinDirEnv = "SUPABRIDGE_PG_BINDIR"

// installHint is appended to every "PostgreSQL is missing" failure.
const installHint = "run scripts/ci-postgres.sh (it installs the Debian postgresql server package)"

// Superuser is the name of the cluster's superuser role.
const Superuser = "postgres"

// serverBinaries are the programs Start needs, all from one directory.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// Timeouts. Generous, because CI machines are slow and a cold initdb takes
// a couple of seconds; a healthy start takes well under one.
const (
	initdbTimeout = 2 * time.Minute
	readyTimeout  = time.Minute
	stopTimeout   = 30 * time.Second
	startAttempts = 5 // a port picked free can be taken before the server binds it
)

// DB is one running throwaway PostgreSQL cluster. Its methods are safe to
// call from the test that started it and from its subtests.
type DB struct {
	bin      string   // directory of initdb, pg_ctl, postgres
	dir      string   // temporary directory: data/, socket, server.log
	owner    *account // OS user the server runs as; nil means the current user
	port     int
	password string // the superuser's password for TCP logins
	version  string
}

// account is an operating-system user to run PostgreSQL as.
type account struct {
	name     string
	uid, gid uint32
}

// Start initialises and starts a new PostgreSQL cluster on 127.0.0.1 and
// registers its teardown with t.Cleanup. It fails the test, naming
// scripts/ci-postgres.sh, when the server binaries are missing, unless
// SUPABRIDGE_SKIP_PG=1, in which case it skips the test.
func Start(t testing.TB) *DB {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("pg: %s=1: skipping a test that needs PostgreSQL", SkipEnv)
	}
	begin := time.Now()

	bin, err := BinDir()
	if err != nil {
		t.Fatalf("pg: %v; %s, or set %s=1 to skip these tests", err, installHint, SkipEnv)
	}
	owner, err := serverAccount()
	if err != nil {
		t.Fatalf("pg: %v", err)
	}

	dir, err := os.MkdirTemp("", "supabridge-pg-")
	if err != nil {
		t.Fatalf("pg: temporary directory: %v", err)
	}
	// Registered first, so it runs last: after the server has stopped.
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("pg: remove %s: %v", dir, err)
		}
	})
	db := &DB{bin: bin, dir: dir, owner: owner, password: randomHex(t, 24)}
	if owner != nil {
		if err := os.Chown(dir, int(owner.uid), int(owner.gid)); err != nil {
			t.Fatalf("pg: give %s to user %s: %v", dir, owner.name, err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), initdbTimeout)
	defer cancel()
	if err := db.initdb(ctx); err != nil {
		t.Fatalf("pg: %v", err)
	}

	for attempt := 1; ; attempt++ {
		err := db.start(t)
		if err == nil {
			break
		}
		if errors.Is(err, errPortTaken) && attempt < startAttempts {
			continue
		}
		t.Fatalf("pg: %v", err)
	}
	t.Logf("pg: PostgreSQL %s ready on 127.0.0.1:%d in %s (initdb included)",
		db.version, db.port, time.Since(begin).Round(time.Millisecond))
	return db
}

// ConnString is a connection URL for the superuser over TCP to 127.0.0.1.
func (db *DB) ConnString() string {
	return db.url(Superuser, db.password)
}

// Port is the TCP port the server listens on, on 127.0.0.1.
func (db *DB) Port() int { return db.port }

// ConnStringAs gives the existing role a new random password and returns a
// connection URL that logs in as that role over TCP. The role must have
// LOGIN (as Supabase's authenticator does); nologin roles such as
// authenticated are reached with SET ROLE from one that may log in.
func (db *DB) ConnStringAs(t testing.TB, role string) string {
	t.Helper()
	password := randomHex(t, 24)
	conn := db.dial(t)
	defer closeConn(t, conn)
	// ALTER ROLE takes no bind parameters; the password is hex, so it needs no quoting.
	stmt := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " WITH PASSWORD '" + password + "'"
	if _, err := conn.Exec(t.Context(), stmt); err != nil {
		t.Fatalf("pg: set the password of role %q: %v", role, err)
	}
	return db.url(role, password)
}

// Conn opens a superuser connection that is closed when the test ends.
func (db *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn := db.dial(t)
	t.Cleanup(func() { closeConn(t, conn) })
	return conn
}

// dial opens a superuser connection the caller closes.
func (db *DB) dial(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db.ConnString())
	if err != nil {
		t.Fatalf("pg: connect: %v", err)
	}
	return conn
}

// ApplyFiles runs each SQL file as the superuser, in order. A file runs as
// one simple-protocol query string, so it may hold many statements and is
// applied atomically (one implicit transaction) unless it manages its own.
func (db *DB) ApplyFiles(t testing.TB, paths ...string) {
	t.Helper()
	conn := db.dial(t)
	defer closeConn(t, conn)
	for _, path := range paths {
		sql, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("pg: %v", err)
		}
		// Exec without arguments uses the simple protocol, which accepts
		// several statements in one string.
		if _, err := conn.Exec(t.Context(), string(sql)); err != nil {
			t.Fatalf("pg: apply %s: %v", path, err)
		}
	}
}

// BinDir finds the directory holding initdb, pg_ctl and postgres:
// SUPABRIDGE_PG_BINDIR when set, else the directory pg_ctl on PATH resolves
// to, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout).
func BinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if missing := missingBinaries(dir); len(missing) > 0 {
			return "", fmt.Errorf("%s=%s lacks %s", BinDirEnv, dir, strings.Join(missing, ", "))
		}
		return dir, nil
	}
	var candidates []string
	if path, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	candidates = append(candidates, debianBinDirs()...)
	for _, dir := range candidates {
		if len(missingBinaries(dir)) == 0 {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin")
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, newest first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return dirs
}

func missingBinaries(dir string) []string {
	var missing []string
	for _, name := range serverBinaries {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}

// serverAccount says which OS user runs PostgreSQL: nil (the current user)
// unless we are root, which PostgreSQL refuses; then the "postgres" user.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if !canSwitchUser {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and on %s this package cannot switch users: run the tests as an ordinary user", runtime.GOOS)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no %q user to run it as (%w); %s", "postgres", err, installHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// command prepares one of the server binaries to run as the server's user,
// in the cluster's directory, without the caller's PG* variables (a stray
// PGDATA or PGPORT must not redirect it).
func (db *DB) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(db.bin, name), args...)
	cmd.Dir = db.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	cmd.SysProcAttr = sysProcAttr(db.owner, false)
	return cmd
}

func (db *DB) dataDir() string { return filepath.Join(db.dir, "data") }

// initdb creates the cluster. The superuser's password is passed in a file
// (never on a command line, where ps would show it) that is removed after.
func (db *DB) initdb(ctx context.Context) error {
	pwfile := filepath.Join(db.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(db.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if db.owner != nil {
		if err := os.Chown(pwfile, int(db.owner.uid), int(db.owner.gid)); err != nil {
			return fmt.Errorf("give the password file to %s: %w", db.owner.name, err)
		}
	}
	cmd := db.command(ctx, "initdb",
		"--pgdata", db.dataDir(),
		"--username", Superuser,
		"--pwfile", pwfile,
		"--auth-local", "trust", // the socket directory is reachable only by the server's user (and root)
		"--auth-host", "scram-sha-256",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if db.owner != nil {
			hint = fmt.Sprintf(" (user %s must be able to reach %s: if TMPDIR is private, point it at a directory such as /tmp)", db.owner.name, db.dir)
		}
		return fmt.Errorf("initdb in %s%s: %w\n%s", db.dir, hint, err, tail(out))
	}
	version, err := os.ReadFile(filepath.Join(db.dataDir(), "PG_VERSION"))
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	db.version = strings.TrimSpace(string(version))
	return nil
}

var errPortTaken = errors.New("port taken")

// start runs the postgres server on a free port and waits until it accepts
// connections. The server is the test process's child so that, on Linux,
// it gets SIGQUIT (an immediate shutdown) should the test process die
// without running its cleanups (a go test -timeout panic, a kill).
func (db *DB) start(t testing.TB) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(db.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	cmd := exec.Command(filepath.Join(db.bin, "postgres"),
		"-D", db.dataDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+db.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=50",
	)
	cmd.Dir = db.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	cmd.SysProcAttr = sysProcAttr(db.owner, true)
	cmd.Stdout = logFile
	cmd.Stderr = logFile

	// The parent-death signal fires when the OS thread that forked the
	// child exits, not the process; a goroutine locked to its thread for
	// the server's whole life keeps that thread alive.
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return // exiting while locked ends the thread: nothing depends on it
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	db.port = port

	if err := db.waitReady(t.Context(), exited); err != nil {
		stopped := false
		select {
		case <-exited:
			stopped = true
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		log, _ := os.ReadFile(logPath)
		if stopped && bytes.Contains(log, []byte("could not bind")) {
			return fmt.Errorf("%w: %d", errPortTaken, port)
		}
		return fmt.Errorf("postgres on 127.0.0.1:%d: %w\n%s", port, err, tail(log))
	}

	t.Cleanup(func() { db.stop(t, exited, cmd) })
	return nil
}

// waitReady polls a superuser login until it succeeds, the server exits or
// the time is up.
func (db *DB) waitReady(ctx context.Context, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgconn.Connect(attempt, db.ConnString())
		cancelAttempt()
		if err == nil {
			return conn.Close(ctx)
		}
		last = err
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before accepting connections: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", readyTimeout, last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop shuts the server down as pg_ctl stop -m immediate does (SIGQUIT to
// the postmaster: no checkpoint, nothing to keep) and waits for it to go.
func (db *DB) stop(t testing.TB, exited <-chan error, cmd *exec.Cmd) {
	// t.Context is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	out, err := db.command(ctx, "pg_ctl", "stop", "-D", db.dataDir(), "-m", "immediate", "-w").CombinedOutput()
	if err != nil {
		t.Errorf("pg: pg_ctl stop: %v\n%s", err, tail(out))
		_ = cmd.Process.Kill()
	}
	select {
	case <-exited:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Errorf("pg: the server did not exit within %s of pg_ctl stop", stopTimeout)
		<-exited
	}
}

func (db *DB) url(user, password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(db.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; start retries on that.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pg: random: %v", err)
	}
	return hex.EncodeToString(b)
}

func closeConn(t testing.TB, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Close(ctx); err != nil {
		t.Logf("pg: close connection: %v", err)
	}
}

// tail keeps the end of a tool's output or the server log for a failure message.
func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(bytes.TrimSpace(b))
}
