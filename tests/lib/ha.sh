# Controller high availability: two controllers c1 and c2 on a Raft
# cluster of sfmesh's database, the chain's switch and agents configured
# with both; what test-ha.sh and bench/part-ha.sh share.  Sourced after
# ovs-harness.sh, agent-chain.sh and ovsdb-cluster.sh, with BIN and a
# say() function.
#
#   ha_cluster_start    the 3-member cluster, its members dropping a
#                       silent client after 1 s (docs/ha.md)
#   ha_controller_start N   controller cN (OpenFlow port 668N, agents 669N)
#   hactl N ARGS...     sfmesh-ctl of cN
#   is_active N, is_master N, n_masters, switch_roles
#   switch_tables, flow_durations, durations_grew, changes_of, log_time_ms
#   roles_sample, roles_check   the split-brain check of br0's roles
#
# Defining sfm_chain_controller_start and sfm_set_controller, it makes
# sfm_chain_setup start both controllers (c1 first: it is the active one).

OF_PORT_BASE=6680
AGENT_PORT_BASE=6690
now_ms() { date +%s%3N; }

# The members drop a silent client after 1 s, as docs/ha.md advises, so
# that a suspended controller's lock is free within about 2 s.
ha_cluster_start() {
    SFM_DB_INACTIVITY_PROBE=1000
    sfm_dbcluster_start 3 "$SFM_TOP/ofctl-app/sfmesh.ovsschema"
}

# Starts controller c$1 on its fixed ports, on the database cluster, as
# group 424$1, by which the partition's rule knows its packets.
ha_controller_start() {
    local n=$1
    setpriv --regid "424$n" --clear-groups \
    "$BIN/sfmesh-controller" --detach --no-chdir -vconsole:off \
        --pidfile="$OVS_RUNDIR/c$n.pid" --log-file="$OVS_LOGDIR/c$n.log" \
        --unixctl="$OVS_RUNDIR/c$n.ctl" \
        --config="$SFM_TOP/docs/examples/two-service-chain.yaml" \
        --ovsdb="unix:$OVS_RUNDIR/db.sock" --db="$SFM_DB_REMOTES" \
        --name="c$n" --agent-listen="ptcp:$((AGENT_PORT_BASE + n)):10.9.0.254" \
        "ptcp:$((OF_PORT_BASE + n)):127.0.0.1" \
        || sfm_die "controller c$n did not start"
    sfm_track_pidfile "$OVS_RUNDIR/c$n.pid"
}
hactl() { local n=$1; shift; "$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/c$n.ctl" "$@"; }

# Succeeds if controller c$1 says it is the active one.
is_active() { hactl "$1" ha 2>/dev/null | grep -q ", active (generation"; }

# Prints the switch's own view of its controllers: "TARGET ROLE" lines.
switch_roles() {
    ovs-vsctl --format=csv --data=bare --no-headings \
        --columns=target,role list controller | tr ',' ' '
}

# Prints how many controllers br0 counts as its primary.
n_masters() { switch_roles | awk '$2 == "master"' | wc -l; }

# Succeeds if br0 has controller c$1 as its only primary.
is_master() {
    [ "$(switch_roles | awk '$2 == "master" {print $1}')" \
      = "tcp:127.0.0.1:$((OF_PORT_BASE + $1))" ]
}

kill_agent() {
    kill -KILL "$(cat "$OVS_RUNDIR/agent-$1.pid")"
    say "killed the agent of $1"
}

kill_controller() {
    kill -KILL "$(cat "$OVS_RUNDIR/c$1.pid")"
}

# The chain's controller start (agent-chain.sh): both controllers, c1
# first so that it is the active one; the switch and the agents know both.
sfm_chain_controller_start() {
    ha_controller_start 1
    SFM_WAIT_TIMEOUT=15 sfm_wait_until is_active 1 \
        || { hactl 1 ha >&2; sfm_die "c1 never became active"; }
    ha_controller_start 2
    SFM_CTL=$OVS_RUNDIR/c1.ctl
    SFM_OF_PORT=$((OF_PORT_BASE + 1))
    AGENT_PORT=$((AGENT_PORT_BASE + 1))
    SFM_AGENT_CONTROLLERS="tcp:10.9.0.254:$((AGENT_PORT_BASE + 1)),tcp:10.9.0.254:$((AGENT_PORT_BASE + 2))"
}
sfm_set_controller() {
    ovs-vsctl -- --id=@c1 create controller \
        target="tcp\:127.0.0.1\:$((OF_PORT_BASE + 1))" max_backoff=1000 \
        inactivity_probe=5000 \
        -- --id=@c2 create controller \
        target="tcp\:127.0.0.1\:$((OF_PORT_BASE + 2))" max_backoff=1000 \
        inactivity_probe=5000 \
        -- set bridge "$1" controller=@c1,@c2 \
        || sfm_die "cannot set the controllers of $1"
}


# Prints br0's flows and groups without their statistics, sorted.
switch_tables() {
    ovs-ofctl -O OpenFlow15 --no-stats dump-flows br0 | sort
    ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -v " reply " | sort
}

# Prints "COOKIE-AND-MATCH DURATION" for each flow of br0.
flow_durations() {
    ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -v " reply " | awk '{
        d = ""; key = "";
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^duration=/) { d = $i; sub(/^duration=/, "", d);
                                     sub(/s,$/, "", d) }
            else if ($i !~ /^(n_packets|n_bytes|idle_age|hard_age)=/)
                key = key " " $i
        }
        print key, d }' | sort
}

# Fails unless every flow of br0 in $1 (flow_durations) is in $2 with a
# duration at least $3 seconds longer.
durations_grew() {
    "$SFM_PY" - "$1" "$2" "$3" <<'EOF'
import sys
def load(p):
    out = {}
    for line in open(p):
        key, _, d = line.rstrip("\n").rpartition(" ")
        out[key] = float(d)
    return out
a, b, dt = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
bad = [k for k in a if k not in b or b[k] < a[k] + dt]
for k in bad[:5]:
    print("flow reset or gone:", k, a[k], b.get(k), file=sys.stderr)
sys.exit(1 if bad or len(a) != len(b) else 0)
EOF
}

# The flow and group changes c$1 counted for br0: "+A ~M -D" twice.
changes_of() {
    hactl "$1" switches | sed -n 's/.*bundles (flows \([^,]*\), groups \([^)]*\)).*/\1 \2/p'
}

# Prints the time, in ms, of the first line of log $1 (c1, c2, agent-fw-1,
# ...) that matches $2, at or after $3 ms (default: any).
log_time_ms() {
    log_line_after "$@" | cut -d' ' -f1
}

# Prints "TIME_MS LINE" for that line.
log_line_after() {
    local line t
    while IFS= read -r line; do
        t=$(date -d "$(printf '%s' "$line" | cut -d'|' -f1 | sed 's/Z$//')" \
            +%s%3N) || continue
        if [ "$t" -ge "${3:-0}" ]; then
            printf '%s %s\n' "$t" "$line"
            return 0
        fi
    done < <(grep -- "$2" "$OVS_LOGDIR/$1.log")
    return 1
}

# Samples how many primaries br0 has, every 100 ms, until roles_check.
roles_sample() {
    : > "$SFM_TMP/roles"
    ( while :; do
          printf '%s %s\n' "$(now_ms)" "$(n_masters)" >> "$SFM_TMP/roles"
          sleep 0.1
      done ) & sampler=$!
    SFM_PIDS+=("$sampler")
    switch_tables > "$SFM_TMP/tables.before"
}

# Stops the sampling; fails if br0 ever had two primaries, if c2 is not
# its primary now, if c2 fenced any agent or if br0's tables changed.
roles_check() {
    local worst
    kill "$sampler"
    is_master 2 || { switch_roles >&2; sfm_die "c2 is not primary at the end"; }
    worst=$(awk '{if ($2 > m) m = $2} END {print m + 0}' "$SFM_TMP/roles")
    say "$(wc -l < "$SFM_TMP/roles") samples of br0's roles, at most $worst primary"
    [ "$worst" -le 1 ] || sfm_die "two primaries at once"
    grep -q "fenced" "$OVS_LOGDIR/c2.log" \
        && { grep fenced "$OVS_LOGDIR/c2.log" >&2; sfm_die "c2 fenced a live agent"; }
    switch_tables > "$SFM_TMP/tables.after"
    diff "$SFM_TMP/tables.before" "$SFM_TMP/tables.after" >&2 \
        || sfm_die "br0's flows or groups changed"
    say "no agent fenced, br0's flows and groups unchanged"
}
