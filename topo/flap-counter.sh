#!/usr/bin/env bash
# The flap check in full: short link flaps of a dlp instance under traffic
# through the counter service (every packet a replicated state change),
# each flap length with each replication mode, one scenario at a time:
# 10 flaps of 5 ms, of 10 ms and of 50 ms down (200 ms up), async and
# sync, with the scenario's default traffic (24 TCP connections, the 2000
# pps UDP stream, 25 counted UDP echo streams at 100 pps).  Each run must
# end with no stream that lost an increment and every bucket's primary
# and secondary agreeing (topo/scenario.py --check; see topo/counters.py).
# Prints one line per run and a summary table (per run: the measured
# downs, the flaps the switch reported, how many of their rewrites left
# after the link was up again / after the switch had reported it live,
# the median rewrite delay, the streams with lost increments of all and of
# the UDP echo streams, the worst loss, all increments lost, the streams
# whose primary and secondary disagree); writes each run's
# result.json and logs under OUT_DIR and every run's figures to
# OUT_DIR/summary.json.
#
# Usage (root): topo/flap-counter.sh [BIN_DIR [OUT_DIR]]
#   BIN_DIR  the sfmesh binaries (default build/bin)
#   OUT_DIR  default build/scenarios/flap-counter
# Knobs (defaults): FLAP_DOWNS="0.005 0.01 0.05", FLAP_REPL="async sync",
#   FLAP_COUNT=10, FLAP_UP=0.2, FLAP_RUNS=1 (runs of each combination),
#   FLAP_ARGS (more scenario.py options, e.g. "--connections 12").
# Exit status: 0 if every run passed its check, 1 if not.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$top/build/bin}" && pwd)
OUT=${2:-$top/build/scenarios/flap-counter}
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
status=0
runs=()
for repl in ${FLAP_REPL:-async sync}; do
    for down in ${FLAP_DOWNS:-0.005 0.01 0.05}; do
        for k in $(seq 1 "${FLAP_RUNS:-1}"); do
            name=$repl-${down}s-$k
            start=$SECONDS
            # shellcheck disable=SC2086
            timeout --kill-after=10 180 "$PY" "$top/topo/scenario.py" \
                --bin "$BIN" --topo chain --failure flap --function counter \
                --replication "$repl" --flap-count "${FLAP_COUNT:-10}" \
                --flap-down "$down" --flap-up "${FLAP_UP:-0.2}" \
                --no-plot --check ${FLAP_ARGS:-} --out "$OUT/$name" \
                > "$OUT/$name.log" 2>&1
            rc=$?
            if [ ! -s "$OUT/$name/result.json" ]; then
                echo "$name: no result (exit $rc)" >&2
                tail -n 20 "$OUT/$name.log" >&2
                status=1
                continue
            fi
            [ "$rc" = 0 ] || status=1
            runs+=("$OUT/$name/result.json")
            echo "$name: $(sed -n 's/^verdict *//p' "$OUT/$name.log")" \
                "($((SECONDS - start)) s, load $(cut -d' ' -f1 /proc/loadavg))" >&2
        done
    done
done
[ ${#runs[@]} -gt 0 ] || exit 1
"$PY" - "$OUT/summary.json" "${runs[@]}" <<'PY'
import json, sys
rows, out = [], []
for path in sys.argv[2:]:
    r = json.load(open(path))
    c = r["counters"]
    seen = r["flaps"]["reports"]
    downs = sorted(x["down_ms"] for x in r["flaps"]["downs"])
    rw = sorted(x["rewrite_ms"] for x in seen if x["rewrite_ms"] is not None)
    rec = {
        "replication": r["replication"], "flaps": len(downs),
        "down_ms": [downs[0], downs[len(downs) // 2], downs[-1]],
        "reported": len(seen),
        "link_up_before_rewrite": sum(1 for x in seen
                                      if x["link_up_before_rewrite"]),
        "live_before_rewrite": sum(1 for x in seen
                                   if x["live_before_rewrite"]),
        "rewrite_ms": [rw[0], rw[len(rw) // 2], rw[-1]] if rw else None,
        "checked": c["checked"], "lossy": c["with_lost_increments"],
        "lossy_udp_echo": c["kinds"].get("UDP echo", {}).get("lost", 0),
        "udp_echo": c["kinds"].get("UDP echo", {}).get("checked", 0),
        "worst": c["worst_loss"], "lost_total": c["lost_increments_total"],
        "disagree": c["disagree"], "tcp": [r["tcp"]["survived"],
                                           r["tcp"]["n"]],
        "ok": r["ok"], "result": path,
    }
    out.append(rec)
    rows.append((rec["replication"], "%.2f ms" % rec["down_ms"][1],
                 "%.2f-%.2f" % (downs[0], downs[-1]),
                 "%d/%d" % (rec["reported"], rec["flaps"]),
                 "%d/%d" % (rec["link_up_before_rewrite"],
                            rec["live_before_rewrite"]),
                 "%s" % ("%.0f ms" % rec["rewrite_ms"][1] if rw else "-"),
                 "%d/%d" % (rec["lossy"], rec["checked"]),
                 "%d/%d" % (rec["lossy_udp_echo"], rec["udp_echo"]),
                 "%d" % rec["worst"], "%d" % rec["lost_total"],
                 "%d" % rec["disagree"], "%d/%d" % tuple(rec["tcp"]),
                 "pass" if rec["ok"] else "FAIL"))
json.dump(out, open(sys.argv[1], "w"), indent=1)
head = ("repl", "down", "range ms", "reported", "up/live<rw", "rewrite",
        "lossy", "lossy echo", "worst", "lost", "disagree", "TCP", "check")
w = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
for row in [head] + rows:
    print("  ".join("%-*s" % (w[i], v) for i, v in enumerate(row)).rstrip())
PY
exit $status
