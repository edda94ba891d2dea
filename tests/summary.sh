#!/usr/bin/env bash
# Prints the suites recorded by tests/run-suite.sh and the total, and exits
# nonzero if any failed or none ran.
set -u
results=${1:-build/results}
passed=0 failed=0
echo
echo "=== summary"
if [ ! -s "$results" ]; then
    echo "no suite ran"
    exit 1
fi
while read -r name p _ f _ rest; do
    printf '%-14s %s passed, %s failed %s\n' "$name:" "$p" "${f}" "$rest"
    passed=$((passed + p))
    failed=$((failed + f))
done < "$results"
echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
