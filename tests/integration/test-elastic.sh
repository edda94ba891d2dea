#!/usr/bin/env bash
# Elastic service pools: the two-service chain with sfmesh-agent (stateful
# firewall, async replication) in every instance, 32 TCP connections
# carrying data the whole time, and the dlp pool changed under them:
#
#   - scale out: dlp-3 (its agent already running) is added to the file
#     and the controller reloaded: it wins exactly its rendezvous buckets,
#     each by a make-before-break handoff, and the fw service's map, epoch
#     and groups on the switch do not change;
#   - drain: "sfmesh-ctl drain dlp-1" hands every bucket it holds to the
#     others, then disables it; "enable" brings it back, and it gets its
#     rendezvous share of primaries back by handoffs;
#   - a reload that would remove every dlp instance at once is refused;
#   - scale in: dlp-2 is removed from the file (and the file reloaded a
#     second time during the drain): it is drained, then leaves the map;
#   - dlp-2 is added back, and its agent killed while buckets are being
#     handed to it: the map ends with no bucket on it;
#   - rebalance after a failure: dlp-1's agent is killed (it is fenced, its
#     buckets fail over), then started again: within 10 s it holds its
#     rendezvous share of primaries again;
#   - the controller restarts: every agent ends on an epoch at least as
#     high as before.
# Every connection survives every step.
#
# Usage: test-elastic.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
REPL=async
N_CONNS=32

sfm_setup elastic
say() { printf '  [elastic] %s\n' "$*" >&2; }

# The example configuration with the dlp instances "$@".
write_config() {
    "$SFM_PY" - "$top/docs/examples/two-service-chain.yaml" "$@" <<'EOF' \
        > "$SFM_TMP/config.yaml.new"
import re, sys
text = open(sys.argv[1]).read()
keep = set(sys.argv[2:])
out = []
for line in text.splitlines():
    m = re.match(r'\s+(dlp-\d+): \{', line)
    if m and m.group(1) not in keep:
        continue
    out.append(line)
print('\n'.join(out))
EOF
    mv "$SFM_TMP/config.yaml.new" "$SFM_TMP/config.yaml"
}

SFM_CHAIN_CONFIG=$SFM_TMP/config.yaml
SFM_PY=/usr/bin/python3
write_config dlp-1 dlp-2
SFM_CHAIN_AGENTS=4
. "$top/tests/lib/agent-chain.sh"
sfm_chain_setup
CTL_LOG=$OVS_LOGDIR/sfmesh-controller.log

reload() {
    kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"
}

# Prints the primary of every dlp bucket, one per line.
dlp_primaries() {
    ctl map dlp | awk 'NF == 3 && $1 ~ /^[0-9]+$/ {print $2}'
}

# Prints "PRIMARY IDEAL" of instance $1.
share() {
    ctl instances | awk -v i="$1" '$1 == i {print $7, $9}'
}

# Succeeds if the dlp service has no handoff in progress or wanted, and
# every live instance holds its rendezvous share of primaries.
dlp_converged() {
    ctl handoffs dlp | grep -q "in progress 0,.* pending 0," || return 1
    ctl instances | awk '$2 == "dlp" && ($6 == "up" || $6 == "cold") \
                         && $7 != $9 {bad = 1} END {exit bad}'
}

# The fw groups on the switch (their buckets name fw MACs).
fw_groups() {
    ovs-ofctl -O OpenFlow15 dump-groups br0 | grep '02:00:00:00:01:0' | sort
}

fw_epoch() { ctl map fw | sed -n 's/.*epoch \([0-9]*\).*/\1/p'; }

# Succeeds if instance $1 is in state $2.
instance_is() {
    ctl instances | awk -v i="$1" -v s="$2" '$1 == i && $6 == s {f = 1}
                                             END {exit !f}'
}

# The ports appeared after the switch was programmed, so the maps reached
# their targets by handoffs too: start from maps at their targets.
all_converged() {
    ! ctl handoffs | grep "^service" | grep -vq "in progress 0,.* pending 0,"
}
SFM_WAIT_TIMEOUT=20 sfm_wait_until all_converged \
    || { ctl handoffs >&2; sfm_die "maps not at their targets at start"; }

sfm_chain_traffic_start "$N_CONNS" 40

say "scale out: dlp-3 added to the file"
dlp_primaries > "$SFM_TMP/before"
fw_groups > "$SFM_TMP/fw.before"
fw_before=$(fw_epoch)
write_config dlp-1 dlp-2 dlp-3
reload
# The reload turns BFD on on dlp-3's port: it joins once its session is up.
SFM_WAIT_TIMEOUT=20 sfm_wait_until instance_is dlp-3 up \
    || { ctl instances >&2; ctl bfd >&2; sfm_die "dlp-3 did not join"; }
SFM_WAIT_TIMEOUT=20 sfm_wait_until dlp_converged \
    || { ctl handoffs dlp >&2; ctl instances >&2; sfm_die "no convergence"; }
dlp_primaries > "$SFM_TMP/after"
moved=$(paste "$SFM_TMP/before" "$SFM_TMP/after" | awk '$1 != $2' | wc -l)
read -r won ideal <<< "$(share dlp-3)"
say "buckets moved $moved, dlp-3 won $won, its rendezvous share $ideal"
[ "$ideal" -gt 0 ] || sfm_die "dlp-3 has no rendezvous share"
[ "$moved" = "$ideal" ] || sfm_die "moved $moved buckets, ideal $ideal"
paste "$SFM_TMP/before" "$SFM_TMP/after" | awk '$1 != $2 && $2 != "dlp-3"' \
    | grep -q . && sfm_die "a bucket moved to another instance than dlp-3"
grep -q "handoff\|every bucket at its target" "$CTL_LOG" \
    || sfm_die "no handoff logged"
[ "$(fw_epoch)" = "$fw_before" ] || sfm_die "fw epoch changed"
fw_groups | diff -q - "$SFM_TMP/fw.before" >/dev/null \
    || sfm_die "fw groups changed on the switch"
ctl handoffs dlp | grep -q "abandoned 0," \
    || { ctl handoffs dlp >&2; sfm_die "a handoff was abandoned"; }

say "drain dlp-1"
ctl drain dlp-1 || sfm_die "drain refused"
SFM_WAIT_TIMEOUT=20 sfm_wait_until instance_is dlp-1 disabled \
    || { ctl instances >&2; sfm_die "dlp-1 not drained"; }
read -r held _ <<< "$(share dlp-1)"
[ "$held" = 0 ] || sfm_die "dlp-1 holds $held primaries after its drain"
ctl map dlp | awk 'NF == 3 && ($2 == "dlp-1" || $3 == "dlp-1")' | grep -q . \
    && sfm_die "dlp-1 is still in a bucket"
ctl drain dlp-2 >/dev/null 2>&1 && ctl drain dlp-3 >/dev/null 2>&1 \
    && sfm_die "the last live dlp instance was drained"
ctl enable dlp-2 >/dev/null
ctl enable dlp-1 || sfm_die "enable refused"
SFM_WAIT_TIMEOUT=20 sfm_wait_until dlp_converged \
    || { ctl instances >&2; sfm_die "dlp-1 did not get its share back"; }

say "a reload that removes every dlp instance at once is refused"
cp "$SFM_TMP/config.yaml" "$SFM_TMP/config.keep"
write_config
"$SFM_PY" - "$SFM_TMP/config.yaml" <<'EOF'
import sys
p = sys.argv[1]
t = open(p).read().replace(
    "  dlp:\n    instances:\n",
    "  dlp:\n    instances:\n"
    "      dlp-9: {switch: sw1, port: dlp-9, mac: \"02:00:00:00:02:09\"}\n")
open(p, "w").write(t)
EOF
reload
sfm_wait_until grep -q "removes every live instance of the service" \
    "$CTL_LOG" || sfm_die "the reload was not refused"
instance_is dlp-1 up || sfm_die "the refused reload changed dlp-1"
mv "$SFM_TMP/config.keep" "$SFM_TMP/config.yaml"

say "scale in: dlp-2 removed from the file, a second reload during its drain"
dlp_primaries > "$SFM_TMP/before"
read -r held _ <<< "$(share dlp-2)"
write_config dlp-1 dlp-3
reload
sleep 0.1
reload
SFM_WAIT_TIMEOUT=20 sfm_wait_until \
    eval '! ctl instances | grep -q "^dlp-2 "' \
    || { ctl instances >&2; sfm_die "dlp-2 did not leave"; }
dlp_primaries > "$SFM_TMP/after"
moved=$(paste "$SFM_TMP/before" "$SFM_TMP/after" | awk '$1 != $2' | wc -l)
say "buckets moved $moved, dlp-2 held $held"
[ "$moved" = "$held" ] || sfm_die "moved $moved buckets, dlp-2 held $held"
SFM_WAIT_TIMEOUT=20 sfm_wait_until dlp_converged || sfm_die "no convergence"

say "scale out again, and the new instance's agent killed during its handoffs"
# dlp-2's agent (still running) joins again, and is killed while buckets
# are being handed to it: each handoff in progress is abandoned, the
# buckets it already took fail over to their secondaries (which hold their
# state), and the map ends consistent: no bucket with dlp-2 in it.
write_config dlp-1 dlp-2 dlp-3
reload
sfm_wait_until eval 'ctl handoffs dlp | grep -q "in progress [1-9]"' \
    || sfm_die "no handoff to dlp-2 started"
kill -KILL "$(cat "$OVS_RUNDIR/agent-dlp-2.pid")"
sfm_wait_until instance_is dlp-2 down || sfm_die "dlp-2 not fenced"
SFM_WAIT_TIMEOUT=20 sfm_wait_until dlp_converged \
    || { ctl handoffs dlp >&2; sfm_die "no convergence after dlp-2 died"; }
ctl map dlp | awk 'NF == 3 && ($2 == "dlp-2" || $3 == "dlp-2")' | grep -q . \
    && sfm_die "dead dlp-2 is still in a bucket"
write_config dlp-1 dlp-3
reload
sfm_wait_until eval '! ctl instances | grep -q "^dlp-2 "' \
    || sfm_die "dead dlp-2 not removed"

say "rebalance: dlp-1's agent killed, then started again"
kill -KILL "$(cat "$OVS_RUNDIR/agent-dlp-1.pid")"
sfm_wait_until instance_is dlp-1 down || sfm_die "dlp-1 not fenced"
sfm_chain_agent_start dlp-1 3
t0=$(date +%s%N)
# Back means up (its BFD session too) and warm; only then does converged
# say anything about it (a DOWN instance has no share to reach).
SFM_WAIT_TIMEOUT=15 sfm_wait_until instance_is dlp-1 up \
    || { ctl instances >&2; ctl bfd >&2; sfm_die "dlp-1 did not come back"; }
SFM_WAIT_TIMEOUT=15 sfm_wait_until dlp_converged \
    || { ctl instances >&2; ctl handoffs dlp >&2;
         sfm_die "dlp-1 did not get its share back"; }
say "dlp-1 back at its rendezvous share in $((($(date +%s%N) - t0) / 1000000)) ms"

say "the controller restarts: no agent's epoch goes back"
ctl agents | awk 'NR > 1 && $2 == "up" {print $1, $5}' | sort \
    > "$SFM_TMP/epochs.before"
pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -TERM "$pid"
sfm_wait_until eval '! kill -0 '"$pid"' 2>/dev/null' \
    || sfm_die "controller did not stop"
sfm_chain_controller_start --agent-listen="ptcp:$AGENT_PORT:10.9.0.254" \
    "ptcp:$SFM_OF_PORT:127.0.0.1"
SFM_CHAIN_AGENTS=4 SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_chain_ready \
    || { ctl agents >&2; sfm_die "agents did not come back"; }
ctl agents | awk 'NR > 1 && $2 == "up" {print $1, $5}' | sort \
    > "$SFM_TMP/epochs.after"
join "$SFM_TMP/epochs.before" "$SFM_TMP/epochs.after" \
    | awk '$3 < $2 {print; bad = 1} END {exit bad}' \
    || sfm_die "an agent's epoch went back"

sfm_chain_traffic_wait
read -r survived failed gap <<< "$(sfm_chain_traffic_result)"
say "connections surviving: $survived of $N_CONNS (failed: $failed), longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost: $failed"
echo "PASS: elastic"
