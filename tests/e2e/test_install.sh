#!/bin/bash
# make install and make uninstall, into a DESTDIR under mktemp (never the
# machine's /): the files land where the variables say, the installed
# binary runs (--version, --help) and attaches and detaches in our
# namespaces with only the unit's capabilities (and agents of its own
# binary), the example daemon config is one the daemon accepts, the unit
# passes `systemd-analyze verify` with the DESTDIR's paths, each man page
# renders without a troff warning and documents every command and option
# --help does, the bash completion completes a command, an option and a
# value, an operator's config survives install and uninstall, and
# uninstall leaves no file behind.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Never the machine's own /: no DESTDIR, no install.
DEST=$(mktemp -d /tmp/xe-install.XXXXXX) && [ -d "$DEST" ] ||
	{ echo "FAIL install_setup: mktemp -d failed"; exit 1; }
# The installed binary is the one under test (topo.sh's xe runs XE_BIN).
XE_BIN=$DEST/usr/local/sbin/xdp-egress
source "$ROOT/tests/lib/topo.sh"
trap 'topo_destroy; rm -rf "$DEST"' EXIT
trap 'exit 1' INT TERM HUP

# mk ARGS...: make in the tree, quietly; its output in $TOPO_TMP/make.log.
mk() { make -s -C "$ROOT" "$@" >"$TOPO_TMP/make.log" 2>&1; }
# files DIR: the files and symbolic links under DIR, relative, sorted.
files() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort); }

WANT="/etc/xdp-egress/daemon.json
/etc/xdp-egress/daemon.json.example
/opt/cni/bin/xdp-egress-cni
/usr/local/lib/systemd/system/xdp-egress.service
/usr/local/sbin/xdp-egress
/usr/local/share/bash-completion/completions/xdp-egress
/usr/local/share/man/man8/xdp-egress-cni.8
/usr/local/share/man/man8/xdp-egress.8"
if ! mk install DESTDIR="$DEST"; then
	fail install_runs "make install DESTDIR=$DEST failed: $(tail -5 "$TOPO_TMP/make.log")"
	exit 1
fi
got=$(files "$DEST")
check install_files "installed: $(echo $got); want: $(echo $WANT)" [ "$got" = "$WANT" ]
need_xe install
for t in systemd-analyze man setpriv; do
	command -v "$t" >/dev/null || { fail install_tools "$t is missing (run make deps)"; exit 1; }
done

# ---- the installed binaries run ----
ver=$("$XE_BIN" --version 2>&1)
want_ver="xdp-egress $(sed -n 's/^VERSION *?= *//p' "$ROOT/Makefile")"
check install_version "--version printed '$ver', want '$want_ver' (the Makefile's VERSION)" \
	[ "$ver" = "$want_ver" ]
help=$("$XE_BIN" --help)
check install_help "--help exited $? or does not list the commands: $help" \
	eval 'grep -q "^  attach " <<<"$help" && grep -q "^  daemon " <<<"$help"'
cni_help=$("$DEST/opt/cni/bin/xdp-egress-cni" --help)
check install_cni_help "xdp-egress-cni --help exited $? or printed: $cni_help" \
	eval 'grep -q -- "--validate" <<<"$cni_help"'

# ---- a real attach and detach through the installed binary, with the
# capabilities of the unit's CapabilityBoundingSet only (setpriv) ----
UNIT=$DEST/usr/local/lib/systemd/system/xdp-egress.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd,)
log "the unit's capabilities: $caps"
# xe_unit ARGS...: the installed xdp-egress in the host ns, with the
# unit's bounding set and no new privileges.
xe_unit() {
	timeout -k 5 "$XE_TIMEOUT" nsenter --net="/run/netns/$TOPO_HOST" \
		env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		setpriv --no-new-privs --bounding-set="-all,$caps" "$XE_BIN" "$@"
}
topo_create 1 || { fail install_setup "could not build the namespaces"; exit 1; }
# The target by --pid, as the daemon finds a Docker container: a process
# in the container that holds capabilities the unit does not (opening its
# /proc/PID/ns/net takes CAP_SYS_PTRACE then).
bg "${TOPO_C[1]}" sleep 300
CPID=$BG_PID
if out=$(xe_unit attach --pid "$CPID" --uplink up0 --mode native 2>&1); then
	ok install_attach
	prog=$(attached_prog_id vc1)
	apid=$(agent_pid)
	# Everything attached, the redirect-error tracepoints included
	# (tp_btf programs need CAP_PERFMON; attach only warns without it).
	rerr=$(xe status --json | jq -r '[.attachments[] | .redirect_errors][0] // "none"')
	check install_attach_status "status: program on vc1 $prog, agent $apid, redirect errors '$rerr' (attach said: $out)" \
		eval '[ "$prog" != 0 ] && [ "$apid" != 0 ] && [[ "$rerr" != unavailable* && "$rerr" != none ]] &&
			! grep -q "will not be counted" <<<"$out"'
	# The agent is the installed binary, with the unit's capabilities.
	exe=$(readlink "/proc/$apid/exe")
	bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$apid/status")
	want_bnd=$(setpriv --bounding-set="-all,$caps" awk '/^CapBnd/ { print $2 }' /proc/self/status)
	check install_agent_binary "the agent runs $exe with CapBnd $bnd (want $XE_BIN, $want_bnd)" \
		[ "$exe" = "$XE_BIN" -a "$bnd" = "$want_bnd" ]
	# A TCP flow the agent (ctnetlink) promotes: the fast path carries it.
	if start_iperf_server && in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 1 >"$TOPO_TMP/iperf3.log" 2>&1; then
		st=$(stats_json)
		check install_fast_path "the installed binary's fast path redirected nothing of a 1 s TCP flow: $(counters_brief "$st")" \
			[ "$(counter "$st" redirected)" -gt 0 ]
	else
		fail install_fast_path "iperf3 from the container failed: $(tail -3 "$TOPO_TMP/iperf3.log" | tr '\n' ' ')"
	fi
	if out=$(xe_unit detach --pid "$CPID" 2>&1); then
		ok install_detach
	else
		fail install_detach "detach through the installed binary failed: $out"
	fi
	check install_detach_clean "detach left: pins $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '); $(ns_state_brief)" \
		eval 'wait_until 5 ns_state_gone && pins_gone && no_xdp_anywhere'
else
	fail install_attach "attach with the unit's capabilities ($caps) failed: $out"
fi

# ---- the example config is one the daemon accepts: it starts, waits for
# the (absent) engine, and stops on SIGTERM ----
DLOG=$TOPO_TMP/daemon.log
DOCKER_HOST=unix://$TOPO_TMP/none.sock nsenter --net="/run/netns/$TOPO_HOST" \
	env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
	setpriv --no-new-privs --bounding-set="-all,$caps" "$XE_BIN" daemon \
	--config "$DEST/etc/xdp-egress/daemon.json" --run-dir "$TOPO_TMP/run" 2>"$DLOG" &
DAEMON_PID=$!
TOPO_PIDS+=("$DAEMON_PID")
if wait_until 10 grep -q "retrying every" "$DLOG" && kill -0 "$DAEMON_PID" 2>/dev/null &&
	grep -q "on networks from\|labelled" "$DLOG"; then
	ok install_daemon_config
else
	fail install_daemon_config "the daemon with the installed config $(kill -0 "$DAEMON_PID" 2>/dev/null && echo runs || echo exited) and said: $(tr '\n' ' ' <"$DLOG")"
fi
kill -TERM "$DAEMON_PID" 2>/dev/null
wait "$DAEMON_PID"
check install_daemon_stops "the daemon did not exit 0 on SIGTERM" [ "$?" = 0 ]

# ---- the unit ----
# verify with the DESTDIR's paths: ExecStart's binary, and man: for
# Documentation= (systemd-analyze runs man).
mkdir -p "$TOPO_TMP/unit"
sed "s|^ExecStart=/|ExecStart=$DEST/|" "$UNIT" >"$TOPO_TMP/unit/xdp-egress.service"
if out=$(MANPATH=$DEST/usr/local/share/man systemd-analyze verify "$TOPO_TMP/unit/xdp-egress.service" 2>&1) &&
	[ -z "$out" ]; then
	ok install_unit_verify
else
	fail install_unit_verify "systemd-analyze verify: $out"
fi
check install_unit_contract "the unit does not run '$DEST... daemon --config /etc/xdp-egress/daemon.json' with Restart=on-failure: $(grep -E '^(ExecStart|Restart)=' "$UNIT" | tr '\n' ' ')" \
	eval 'grep -qx "ExecStart=/usr/local/sbin/xdp-egress daemon --config /etc/xdp-egress/daemon.json" "$UNIT" &&
		grep -qx "Restart=on-failure" "$UNIT"'
log "systemd-analyze security: $(systemd-analyze security --offline=yes "$TOPO_TMP/unit/xdp-egress.service" 2>&1 | tail -1)"

# ---- the man pages ----
# Each renders without a troff warning; xdp-egress(8) has a section for
# every command `--help` lists and every option of each command's --help.
for page in xdp-egress xdp-egress-cni; do
	f=$DEST/usr/local/share/man/man8/$page.8
	MANWIDTH=80 man --warnings -l "$f" >"$TOPO_TMP/$page.txt" 2>"$TOPO_TMP/$page.err"
	rc=$?
	check "install_man_${page//-/_}" "man -l $f exited $rc, said: $(head -5 "$TOPO_TMP/$page.err" | tr '\n' ' '), or has no NAME/SEE ALSO" \
		eval '[ "$rc" = 0 ] && [ ! -s "$TOPO_TMP/$page.err" ] && grep -q "^NAME" "$TOPO_TMP/$page.txt" &&
			grep -q "^SEE ALSO" "$TOPO_TMP/$page.txt"'
done
missing=""
for c in $(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' <<<"$help"); do
	grep -q "^   $c\$" "$TOPO_TMP/xdp-egress.txt" || missing="$missing $c"
	for o in $("$XE_BIN" "$c" --help | grep -o '^  --[a-z-]*'); do
		# Within the command's section: from "   c" to the next section.
		awk -v c="   $c" -v o="       $o" '$0 == c { on = 1; next } on && /^   [a-z]/ { on = 0 }
			on && (index($0, o " ") == 1 || $0 == o) { found = 1 } END { exit !found }' \
			"$TOPO_TMP/xdp-egress.txt" || missing="$missing $c$o"
	done
done
check install_man_matches_help "xdp-egress(8) lacks what --help has:$missing" [ -z "$missing" ]
check install_man_cni_keys "xdp-egress-cni(8) does not document the config keys mode, uplink, uplinkMode" \
	eval 'grep -q "^       mode (" "$TOPO_TMP/xdp-egress-cni.txt" && grep -q "^       uplink (" "$TOPO_TMP/xdp-egress-cni.txt" &&
		grep -q "^       uplinkMode (" "$TOPO_TMP/xdp-egress-cni.txt"'

# ---- the bash completion ----
# complete WORD...: what _xdp_egress offers for the last word.
complete_words() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _xdp_egress; echo "${COMPREPLY[*]}"' \
		_ "$DEST/usr/local/share/bash-completion/completions/xdp-egress" "$@"
}
got=$(complete_words xdp-egress att)
check install_complete_command "'xdp-egress att<TAB>' offers '$got', want 'attach'" [ "$got" = attach ]
got=$(complete_words xdp-egress attach --upl)
check install_complete_option "'xdp-egress attach --upl<TAB>' offers '$got', want '--uplink --uplink-mode'" \
	[ "$got" = "--uplink --uplink-mode" ]
got=$(complete_words xdp-egress detach --a)
check install_complete_option_per_command "'xdp-egress detach --a<TAB>' offers '$got', want '--all'" [ "$got" = --all ]
got=$(complete_words xdp-egress attach --mode n)
check install_complete_value "'xdp-egress attach --mode n<TAB>' offers '$got', want 'native'" [ "$got" = native ]

# ---- uninstall ----
if mk uninstall DESTDIR="$DEST"; then
	left=$(files "$DEST")
	check install_uninstall_clean "uninstall left: $(echo $left)" [ -z "$left" ]
else
	fail install_uninstall_clean "make uninstall failed: $(tail -5 "$TOPO_TMP/make.log")"
fi

# ---- an operator's config: kept by install and by uninstall; other
# install directories ----
OP=$DEST/op
mkdir -p "$OP/etc/xdp-egress"
echo '{"networks": ["mine"]}' >"$OP/etc/xdp-egress/daemon.json"
vars=(DESTDIR="$OP" PREFIX=/usr CNI_BIN_DIR=/usr/lib/cni)
if mk install "${vars[@]}"; then
	check install_keeps_config "install changed the operator's daemon.json: $(cat "$OP/etc/xdp-egress/daemon.json")" \
		eval '[ "$(cat "$OP/etc/xdp-egress/daemon.json")" = "{\"networks\": [\"mine\"]}" ] &&
			grep -q "kept .*daemon.json" "$TOPO_TMP/make.log"'
	check install_prefix "PREFIX=/usr CNI_BIN_DIR=/usr/lib/cni: $(files "$OP" | tr '\n' ' '); unit: $(grep ^ExecStart "$OP/usr/lib/systemd/system/xdp-egress.service" 2>&1)" \
		eval '[ -x "$OP/usr/sbin/xdp-egress" ] && [ -x "$OP/usr/lib/cni/xdp-egress-cni" ] &&
			grep -qx "ExecStart=/usr/sbin/xdp-egress daemon --config /etc/xdp-egress/daemon.json" \
				"$OP/usr/lib/systemd/system/xdp-egress.service"'
	mk uninstall "${vars[@]}"
	left=$(files "$OP")
	check install_uninstall_keeps_config "uninstall left '$(echo $left)', want the operator's config only" \
		[ "$left" = /etc/xdp-egress/daemon.json ]
else
	fail install_keeps_config "make install ${vars[*]} failed: $(tail -5 "$TOPO_TMP/make.log")"
fi
# Regenerate the unit of the default paths for what builds next.
mk build/doc/xdp-egress.service
exit 0
