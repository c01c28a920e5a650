# pk.sh: test kernel modules from shell scripts, with TAP output. Source it:
#
#   . scripts/pk.sh
#   pk_plan 4
#   pk_up
#   pk_ok "hello loads"            pk_load tests/modules/prebuilt/hello.ko count=2
#   pk_ok "it greets twice"        pk_dmesg_has "hello: hello world (2 of 2)"
#   pk_ok "count reads back"       pk_param_is hello count 2
#   pk_ok "unloads without leaks"  pk_unload_clean hello
#   pk_down
#
# PK: the pseudokernel command (default: .venv/bin/pseudokernel of this checkout, else
# `pseudokernel`); PK_MOUNT: the mount point (default: a fresh temporary directory).

# where this checkout is: bash knows the sourced file; POSIX sh only the sourcing script ($0),
# from which we walk up to the directory that holds scripts/pk.sh
if [ -z "${PK_ROOT:-}" ]; then
	if [ -n "${BASH_SOURCE:-}" ]; then
		PK_ROOT=$(cd "$(dirname "$BASH_SOURCE")/.." && pwd)
	else
		PK_ROOT=$(cd "$(dirname "$0")" && pwd)
		while [ "$PK_ROOT" != / ] && [ ! -f "$PK_ROOT/scripts/pk.sh" ]; do PK_ROOT=$(dirname "$PK_ROOT"); done
	fi
fi
if [ -z "${PK:-}" ]; then
	if [ -x "$PK_ROOT/.venv/bin/pseudokernel" ]; then PK="$PK_ROOT/.venv/bin/pseudokernel"; else PK=pseudokernel; fi
fi
PK_TESTNUM=0
PK_FAILED=0

pk_plan() { echo "1..$1"; }

# pk_ok DESCRIPTION COMMAND [ARGS...]: one TAP test line from a command's status
pk_ok() {
	desc=$1
	shift
	PK_TESTNUM=$((PK_TESTNUM + 1))
	if out=$("$@" 2>&1); then
		echo "ok $PK_TESTNUM - $desc"
	else
		echo "not ok $PK_TESTNUM - $desc"
		printf '%s\n' "$out" | sed 's/^/# /'
		PK_FAILED=$((PK_FAILED + 1))
	fi
}

# pk_up [DROP]: a daemon on $PK_MOUNT (a new temporary one unless set)
pk_up() {
	if [ -z "${PK_MOUNT:-}" ]; then
		PK_TMP=$(mktemp -d)
		PK_MOUNT=$PK_TMP/mnt
	fi
	PK_DROP=${1:-${PK_TMP:-$(mktemp -d)}/drop}
	export PSEUDOKERNEL_MOUNT=$PK_MOUNT
	"$PK" up --mount "$PK_MOUNT" --drop "$PK_DROP" >/dev/null
}

pk_down() {
	"$PK" down --mount "$PK_MOUNT" >/dev/null 2>&1
	[ -n "${PK_TMP:-}" ] && rm -rf "$PK_TMP"
	return 0
}

pk_load() { "$PK" --mount "$PK_MOUNT" insmod "$@"; }
pk_unload() { "$PK" --mount "$PK_MOUNT" rmmod "$@"; }
pk_loaded() { grep -q "^$1 " "$PK_MOUNT/proc/modules"; }
pk_not_loaded() { ! pk_loaded "$1"; }
pk_dmesg_has() { grep -qF -- "$1" "$PK_MOUNT/dmesg"; }
pk_param_is() { [ "$(cat "$PK_MOUNT/sys/module/$1/parameters/$2")" = "$3" ]; }
pk_tainted_is() { [ "$(cat "$PK_MOUNT/proc/sys/kernel/tainted")" = "$1" ]; }

# pk_unload_clean NAME: rmmod succeeds and the kernel reports no leak for the module
pk_unload_clean() {
	pk_unload "$1" || return 1
	! grep -q "pseudokernel: $1: .* leak" "$PK_MOUNT/dmesg"
}

# pk_done: exit status for the script (0 when every test passed)
pk_done() { [ "$PK_FAILED" -eq 0 ]; }
