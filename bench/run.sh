#!/usr/bin/env bash
# sfmesh benchmarks: the entry point of "make bench".
#
#   bench/run.sh [PART...]     PART: remap failover fabric state program repl
#                              handoff megaflow multihost ha (default: all,
#                              in that order)
#
# Builds its helpers into build/bench/bin, runs each part (every network
# part in a network namespace and private OVS of its own, see
# tests/lib/ovs-harness.sh), writes build/bench/PART.json and machine.json,
# then regenerates docs/benchmarks.md and docs/img/bench-*.png from every
# build/bench/*.json present.  Needs root and the built binaries (make).
# Knobs (defaults): BENCH_TRIALS=10 (failover and fabric rounds),
# BENCH_RATE=10000, BENCH_FABRIC_LINK=veth (or patch),
# BENCH_STATE_ROUNDS=2, BENCH_PROGRAM_TRIALS=5, BENCH_REPL_ROUNDS=3,
# BENCH_HANDOFF_TRIALS=5 (per handoff mode), BENCH_HANDOFF_REPL="async sync",
# BENCH_MEGAFLOW_STREAMS="1 1000 10000 100000", BENCH_MEGAFLOW_RATE=5000,
# BENCH_MEGAFLOW_BUCKETS=256, BENCH_MULTIHOST_ROUNDS=3, BENCH_HA_ROUNDS=3,
# BENCH_HA_RATE=5000.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BIN=build/bin OUT=build/bench
HELPERS=$OUT/bin
PY=/usr/bin/python3
ALL="remap failover fabric state program repl handoff megaflow multihost ha"
parts=${*:-$ALL}
for p in $parts; do
    case " $ALL " in *" $p "*) ;; *) echo "unknown part: $p (parts: $ALL)" >&2
        exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root" >&2; exit 1; }
for b in sfmesh-controller sfmesh-agent sfmesh-ctl; do
    [ -x "$BIN/$b" ] || { echo "no $BIN/$b: run make first" >&2; exit 1; }
done

# Helpers: plain C, and two against libopenvswitch and lib/svcmap.c with
# the flags the Makefile uses.
mkdir -p "$HELPERS"
if pkg-config --exists libopenvswitch 2>/dev/null; then
    OVS_CFLAGS=$(pkg-config --cflags libopenvswitch)
    OVS_LIBS=$(pkg-config --libs libopenvswitch)
else
    [ -f build/ovs/ovs.mk ] || { echo "no build/ovs/ovs.mk: run make" >&2; exit 1; }
    OVS_CFLAGS=$(sed -n 's/^OVS_CFLAGS = //p' build/ovs/ovs.mk)
    OVS_LIBS=$(sed -n 's/^OVS_LIBS = //p' build/ovs/ovs.mk)
fi
CFLAGS="-std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Wno-sign-compare -Werror"
set -e
gcc $CFLAGS bench/udpseq.c -o "$HELPERS/udpseq"
gcc $CFLAGS bench/udpecho.c -o "$HELPERS/udpecho"
gcc $CFLAGS bench/udpfan.c -o "$HELPERS/udpfan"
# shellcheck disable=SC2086
gcc $CFLAGS -Ilib $OVS_CFLAGS bench/reactive-ctl.c -o "$HELPERS/reactive-ctl" \
    $OVS_LIBS
# shellcheck disable=SC2086
gcc $CFLAGS -Ilib $OVS_CFLAGS bench/remap.c lib/svcmap.c -o "$HELPERS/remap" \
    $OVS_LIBS
set +e

# The machine.
ovs_version=$(ovs-vswitchd --version | head -n 1 | awk '{print $NF}')
"$PY" - "$OUT/machine.json" "$ovs_version" <<'PY'
import json, os, platform, sys
model = ''
for line in open('/proc/cpuinfo'):
    if line.startswith('model name'):
        model = line.split(':', 1)[1].strip()
        break
mem = open('/proc/meminfo').readline().split()[1]
json.dump({'cores': os.cpu_count(), 'cpu': model, 'mem_gb': round(int(mem) / 2**20, 1),
           'kernel': platform.release(), 'ovs_version': sys.argv[2],
           'datapath': 'netdev (userspace), veth ports',
           'loadavg_at_start': open('/proc/loadavg').read().split()[:3]},
          open(sys.argv[1], 'w'), indent=1)
PY

status=0
start_all=$SECONDS
for p in $parts; do
    echo "== bench: $p" >&2
    t0=$SECONDS
    case $p in
    remap)
        "$HELPERS/remap" 4096 > "$OUT/remap.json.tmp" \
            && mv "$OUT/remap.json.tmp" "$OUT/remap.json" ;;
    *)
        timeout --kill-after=20 900 bash "bench/part-$p.sh" "$BIN" \
            "$HELPERS" "$OUT/$p.json.tmp" \
            && mv "$OUT/$p.json.tmp" "$OUT/$p.json" ;;
    esac
    rc=$?
    rm -f "$OUT/$p.json.tmp" "$OUT/$p.json.tmp.jsonl"
    echo "{\"part\": \"$p\", \"seconds\": $((SECONDS - t0)), \"status\": $rc, \"date\": \"$(date -u +%FT%TZ)\"}" \
        > "$OUT/time-$p.json"
    [ $rc = 0 ] || { echo "bench: part $p FAILED ($rc)" >&2; status=1; }
done
echo "== bench: $((SECONDS - start_all)) s for: $parts" >&2
"$PY" bench/report.py "$OUT" docs/benchmarks.md docs/img || status=1
exit $status
