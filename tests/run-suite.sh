#!/usr/bin/env bash
# Runs one test suite and records its result for tests/summary.sh.
#
# Usage: run-suite.sh NAME COMMAND [ARG...]
#
# The suite's own closing line "N passed, M failed" is recorded as it is;
# a suite that prints none counts as one failure if it exits nonzero, as
# one pass otherwise.  The exit status is the command's.
set -u
name=$1; shift
results=${SFMESH_RESULTS:-build/results}
log=$(dirname "$results")/suite-$name.log
mkdir -p "$(dirname "$results")"

echo "=== $name"
start=$SECONDS
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -z "$line" ]; then
    if [ "$status" = 0 ]; then line="1 passed, 0 failed"
    else line="0 passed, 1 failed"; fi
elif [ "$status" != 0 ] && [ "${line##*passed, }" = "0 failed" ]; then
    # Passed every case but still failed (a crash at exit, say).
    line="${line%%,*}, 1 failed"
fi
echo "$name $line ($((SECONDS - start)) s)" >> "$results"
exit "$status"
