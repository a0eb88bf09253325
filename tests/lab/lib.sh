# shellcheck shell=bash
# Shared helpers for the lab scripts in tests/lab/. Source it; it defines
# functions only and changes no shell options.
#
#   lab_require_root            exit 77 (CTest "skipped") unless run as root
#   lab_require_cmds CMD...     exit 77 when a needed program is missing
#   lab_log NS CMD...           print "[NS] CMD..." on stderr
#   lab_run NS CMD...           log, then run CMD in namespace NS ("root": here)
#   lab_bg NS LOG CMD...        same, in the background, output to LOG (emptied
#                               first); the PID is left in LAB_BG_PID
#   lab_wait_for SECS CMD...    retry CMD every 0.1 s until it succeeds; 1 on
#                               timeout
#   lab_kill_pid PID...         SIGTERM, then SIGKILL after 2 s (our own PIDs only)
#   lab_on_exit 'SHELL CODE'    register cleanup code; lab_cleanup runs it in
#                               reverse order (set by lab_trap_cleanup on EXIT)
#
# Set LAB_QUIET=1 to silence the command echo.

lab_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: ${0##*/} needs root (network namespaces, nftables)" >&2
		exit 77
	fi
}

lab_require_cmds() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "SKIP: ${0##*/} needs: ${missing[*]}" >&2
		exit 77
	fi
}

lab_log() {
	local ns=$1
	shift
	[ "${LAB_QUIET:-0}" = 1 ] || printf '[%s] %s\n' "$ns" "$*" >&2
}

lab_run() {
	local ns=$1
	shift
	lab_log "$ns" "$@"
	if [ "$ns" = root ]; then
		"$@"
	else
		ip netns exec "$ns" "$@"
	fi
}

# `ip netns exec` execs the command, so $! is the command's own PID. The log
# is emptied here, before the fork, so that a caller polling it never reads
# what an earlier process left in it.
lab_bg() {
	local ns=$1 log=$2
	shift 2
	: >"$log"
	lab_log "$ns" "$@" "&"
	if [ "$ns" = root ]; then
		"$@" >"$log" 2>&1 </dev/null &
	else
		ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	fi
	# shellcheck disable=SC2034 # read by the caller
	LAB_BG_PID=$!
}

lab_wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

lab_kill_pid() {
	local pid i
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	return 0
}

LAB_CLEANUPS=()

lab_on_exit() {
	LAB_CLEANUPS+=("$1")
}

lab_cleanup() {
	local i
	for ((i = ${#LAB_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${LAB_CLEANUPS[$i]}" || true
	done
	LAB_CLEANUPS=()
}

# Cleanup runs once on any exit; INT and TERM turn into an exit so it runs.
lab_trap_cleanup() {
	trap 'lab_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
