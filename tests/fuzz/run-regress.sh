#!/usr/bin/env bash
# Replays the seed corpus and every past crash of each fuzz target through
# its sanitizer-built replay driver.
#
# Usage: run-regress.sh DIR_WITH_REPLAY_BINARIES
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
passed=0 failed=0
for replay in "$dir"/*-replay; do
    target=$(basename "$replay" -replay)
    inputs=()
    for d in "$here/corpus/$target" "$here/regress/$target"; do
        [ -d "$d" ] && inputs+=("$d")
    done
    if "$replay" "${inputs[@]}"; then
        passed=$((passed + 1))
        echo "ok    $target"
    else
        failed=$((failed + 1))
        echo "FAIL  $target"
    fi
done
echo "fuzz-regress: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
