#!/usr/bin/env bash
# Runs every integration test, each in a network namespace of its own and
# with a time limit, and prints a summary line.
#
# Usage: run.sh BIN_DIR ASAN_BIN_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$1 asan_bin=$2
passed=0 failed=0

run() {
    local name=$1; shift
    local start=$SECONDS
    if timeout --kill-after=10 300 "$@"; then
        passed=$((passed + 1))
        echo "ok    $name ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL  $name ($((SECONDS - start)) s)"
    fi
}

run connect bash "$here/test-connect.sh" "$bin"
run tls bash "$here/test-tls.sh" "$bin"
run bad-input bash "$here/test-bad-input.sh" "$asan_bin"
run steer bash "$here/test-steer.sh" "$bin"
run megaflow bash "$here/test-megaflow.sh" "$bin"
run fabric bash "$here/test-fabric.sh" "$bin"
run multihost bash "$here/test-multihost.sh" "$bin"
run ha bash "$here/test-ha.sh" "$bin" takeover during handoff
run ha-split bash "$here/test-ha.sh" "$bin" split partition
run agent bash "$here/test-agent.sh" "$bin"
run hostile bash "$here/test-hostile.sh" "$bin"
run restart bash "$here/test-restart.sh" "$bin"
run elastic bash "$here/test-elastic.sh" "$bin"
run limits bash "$here/test-limits.sh" "$bin" "$asan_bin"
run scenarios bash "$here/test-scenarios.sh" "$bin"
run demo bash "$here/../../topo/demo.sh" "$bin"

echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
