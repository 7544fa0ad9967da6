#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, on loopback only.
#
#   scripts/postgres.sh start   installs PostgreSQL from Debian's packages when
#                               no initdb/pg_ctl is found (needs root and apt-get),
#                               makes a cluster in a new temporary directory,
#                               starts it on 127.0.0.1 on a free port (unix
#                               socket in that directory, trust authentication,
#                               fsync off), creates the database mcp_keys_test
#                               and prints two lines for eval:
#                                 MCP_KEYS_TEST_DATABASE_URL=postgres://...
#                                 MCP_KEYS_PG_DIR=/tmp/...
#   scripts/postgres.sh stop [DIR]
#                               stops the server started in DIR (default
#                               $MCP_KEYS_PG_DIR) and removes DIR.
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# postgres user (made by the Debian package) and its commands run through
# runuser; otherwise they run as the current user. Everything but the two
# lines goes to stderr. Typical use:
#
#   eval "$(bash scripts/postgres.sh start)"
#   trap 'bash scripts/postgres.sh stop "$MCP_KEYS_PG_DIR"' EXIT
#   export MCP_KEYS_TEST_DATABASE_URL
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# pgbin prints the directory holding initdb and pg_ctl, or nothing.
pgbin() {
	local d
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	# Debian keeps them off PATH, one directory per major version: the newest.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
			echo "$d"
			return
		fi
	done
}

install_pg() {
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and this is not root: install the postgresql package"
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is missing: install PostgreSQL"
	log "installing postgresql from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# policy-rc.d 101 keeps the package from starting its own cluster service.
	local rc=/usr/sbin/policy-rc.d made=
	if [ ! -e "$rc" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$rc" && chmod 755 "$rc" && made=1
	fi
	apt-get install -y -qq --no-install-recommends postgresql >&2 || {
		[ -z "$made" ] || rm -f "$rc"
		die "apt-get install postgresql failed"
	}
	[ -z "$made" ] || rm -f "$rc"
}

# as_owner runs a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# port_free reports whether nothing accepts connections on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	local bin
	bin="$(pgbin)"
	if [ -z "$bin" ]; then
		install_pg
		bin="$(pgbin)"
		[ -n "$bin" ] || die "installed postgresql but found no initdb/pg_ctl"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "no postgres user (the Debian package makes it)"
	fi

	# As root, /tmp: the postgres user must reach the directory.
	local dir base="${TMPDIR:-/tmp}"
	[ "$(id -u)" -ne 0 ] || base=/tmp
	dir="$(mktemp -d "$base/mcp-keys-pg.XXXXXX")"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		rm -rf "$dir"
		die "initdb failed"
	}

	local port tries=0
	while :; do
		tries=$((tries + 1))
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2; then
			break
		fi
		if [ "$tries" -ge 5 ]; then
			tail -n 20 "$dir/server.log" >&2 || true
			rm -rf "$dir"
			die "pg_ctl start failed"
		fi
		log "start on port $port failed; trying another port"
	done
	echo "$port" >"$dir/port"

	as_owner "$bin/createdb" -h "$dir" -p "$port" -U postgres mcp_keys_test >&2 || {
		stop "$dir"
		die "createdb failed"
	}
	log "$("$bin/pg_ctl" --version | sed "s/^pg_ctl (PostgreSQL)/PostgreSQL/") on 127.0.0.1:$port, data in $dir"
	echo "MCP_KEYS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/mcp_keys_test?sslmode=disable"
	echo "MCP_KEYS_PG_DIR=$dir"
}

stop() {
	local dir="${1:-${MCP_KEYS_PG_DIR:-}}"
	[ -n "$dir" ] || die "stop: no directory (give it, or set MCP_KEYS_PG_DIR)"
	[ -d "$dir" ] || {
		log "stop: $dir does not exist; nothing to stop"
		return 0
	}
	[ -f "$dir/data/PG_VERSION" ] || die "stop: $dir is not a directory made by postgres.sh start"
	local bin
	bin="$(pgbin)"
	[ -n "$bin" ] || die "stop: no pg_ctl found"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || log "stop: pg_ctl stop failed"
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
	echo "usage: $0 start | stop [DIR]" >&2
	exit 2
	;;
esac
