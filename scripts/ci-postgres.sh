#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries that the RLS tests start
# (internal/testenv/pg: initdb, pg_ctl, postgres) are installed.
#
# Idempotent: when they are already there it only says so. Otherwise it
# installs Debian's (or Ubuntu's) "postgresql" package with apt-get, first
# telling postgresql-common not to create and start the default cluster on
# port 5432: the tests create their own, in temporary directories.
#
# Needs root, or sudo, for the installation. Contacts only the configured
# apt mirrors, and only when something is missing.
set -euo pipefail

say() { printf 'ci-postgres: %s\n' "$*"; }

# server_dir prints the first directory holding all three binaries, looking
# where internal/testenv/pg looks: $SUPABRIDGE_PG_BINDIR, pg_ctl on PATH,
# /usr/lib/postgresql/<version>/bin.
server_dir() {
	local candidates=() d
	if [ -n "${SUPABRIDGE_PG_BINDIR:-}" ]; then
		candidates=("$SUPABRIDGE_PG_BINDIR") # an override is the only place the tests look
	else
		server_candidates
	fi
	for d in "${candidates[@]}"; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	return 1
}

server_candidates() {
	local d
	if command -v pg_ctl >/dev/null 2>&1; then
		candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -rn); do
		candidates+=("$d")
	done
}

# PostgreSQL refuses to run as root; tests running as root start it as the
# "postgres" user, which the Debian package creates.
user_ok() {
	[ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1
}

if [ -n "${SUPABRIDGE_PG_BINDIR:-}" ] && ! server_dir >/dev/null; then
	say "SUPABRIDGE_PG_BINDIR=$SUPABRIDGE_PG_BINDIR lacks initdb, pg_ctl or postgres; unset it to use the system's PostgreSQL" >&2
	exit 1
fi

if dir=$(server_dir) && user_ok; then
	say "PostgreSQL server present in $dir ($("$dir/postgres" --version))"
	exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		say "not root and no sudo: install the PostgreSQL server package yourself, or set SUPABRIDGE_PG_BINDIR" >&2
		exit 1
	fi
	SUDO=(sudo)
fi

if dir=$(server_dir); then
	# Binaries without the user (a hand-made install): create the user only.
	say "creating the postgres system user"
	"${SUDO[@]}" useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
		--shell /usr/sbin/nologin --comment "PostgreSQL administrator" postgres
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	say "no apt-get: install the PostgreSQL server (initdb, pg_ctl, postgres) with this system's package manager, or set SUPABRIDGE_PG_BINDIR" >&2
	exit 1
fi

apt_get() {
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

say "installing the postgresql package"
apt_get update
apt_get install --no-install-recommends postgresql-common

# No default cluster: nothing should listen on 5432 because of the tests.
conf=/etc/postgresql-common/createcluster.conf
if grep -Eq '^[#[:space:]]*create_main_cluster' "$conf" 2>/dev/null; then
	"${SUDO[@]}" sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$conf"
else
	printf 'create_main_cluster = false\n' | "${SUDO[@]}" tee -a "$conf" >/dev/null
fi

apt_get install --no-install-recommends postgresql

if ! dir=$(server_dir) || ! user_ok; then
	say "installed the postgresql package, but initdb, pg_ctl and postgres (or the postgres user) are still missing" >&2
	exit 1
fi
say "PostgreSQL server installed in $dir ($("$dir/postgres" --version))"
