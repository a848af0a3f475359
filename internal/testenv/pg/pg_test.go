package pg

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestStart(t *testing.T) {
	t.Parallel()
	db := Start(t)
	conn := db.Conn(t)
	ctx := t.Context()

	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(db.Port()),
		"unix_socket_directories": db.dir,
		"fsync":                   "off",
	}
	for name, want := range settings {
		var got string
		if err := conn.QueryRow(ctx, "select current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("current_setting(%s): %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(db.dir, ".s.PGSQL."+strconv.Itoa(db.Port()))); err != nil {
		t.Errorf("unix socket not in the cluster's directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(db.dir, "pwfile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the initdb password file is still there (stat: %v)", err)
	}

	// PostgreSQL refuses root: when we are root the files belong to postgres.
	info, err := os.Stat(filepath.Join(db.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid == 0 {
		t.Errorf("data directory owned by root; want the postgres user")
	}

	// A wrong superuser password is refused over TCP (no trust on 127.0.0.1).
	wrong := strings.Replace(db.ConnString(), db.password, "not-the-password", 1)
	if c, err := pgconn.Connect(ctx, wrong); err == nil {
		c.Close(ctx)
		t.Errorf("login with a wrong password succeeded")
	}

	t.Run("ApplyFiles and ConnStringAs", func(t *testing.T) {
		db.ApplyFiles(t, "testdata/one.sql", "testdata/two.sql")

		conn, err := pgx.Connect(t.Context(), db.ConnStringAs(t, "app_login"))
		if err != nil {
			t.Fatalf("connect as app_login: %v", err)
		}
		defer conn.Close(t.Context())
		var user string
		var sum int
		if err := conn.QueryRow(t.Context(), "select current_user, sum(n) from public.numbers group by 1").Scan(&user, &sum); err != nil {
			t.Fatal(err)
		}
		if user != "app_login" || sum != 6 {
			t.Errorf("got user %q sum %d, want app_login 6", user, sum)
		}
	})
}

// TestCleanupStopsServer checks the teardown: once the (sub)test that
// started the cluster ends, the port is closed and the directory is gone.
func TestCleanupStopsServer(t *testing.T) {
	t.Parallel()
	var port int
	var dir string
	t.Run("cluster", func(t *testing.T) {
		db := Start(t)
		port, dir = db.Port(), db.dir
	})
	if port == 0 {
		t.Fatal("the subtest did not start a cluster")
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Errorf("127.0.0.1:%d still accepts connections after cleanup", port)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after cleanup (stat: %v)", dir, err)
	}
}

func TestBinDir(t *testing.T) {
	t.Run("override lacking binaries", func(t *testing.T) {
		t.Setenv(BinDirEnv, t.TempDir())
		_, err := BinDir()
		if err == nil || !strings.Contains(err.Error(), "initdb") {
			t.Fatalf("BinDir() error = %v, want one naming initdb", err)
		}
	})
	t.Run("found", func(t *testing.T) {
		if os.Getenv(SkipEnv) == "1" {
			t.Skip(SkipEnv + "=1")
		}
		dir, err := BinDir()
		if err != nil {
			t.Fatalf("BinDir(): %v", err)
		}
		if missing := missingBinaries(dir); len(missing) > 0 {
			t.Errorf("BinDir() = %s, lacking %v", dir, missing)
		}
	})
}
