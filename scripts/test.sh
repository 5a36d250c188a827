#!/usr/bin/env bash
# test.sh — installs what the tests need and runs the whole test suite, as CI does.
#
#   1. system packages (scripts/install-deps.sh test);
#   2. one build of everything, tests included;
#   3. the tiny guest image (scripts/build-guest-image.sh), built once per run and shared by
#      every integration test (NODEAGENT_GUEST_IMAGE), and the same image with the in-guest
#      cgroup checker added (scripts/build-guest-tools.sh, NODEAGENT_CGROUP_GUEST_IMAGE);
#   4. the Python example client's modules, generated from Protos/ with grpcio-tools
#      (examples/python/generate.sh), which the end-to-end tests drive the agent with;
#   5. `swift test`, with NODEAGENT_REQUIRE_INTEGRATION=1 so the real-hypervisor tests run
#      (and fail loudly rather than skip if something is missing).
# Private libvirtd instances live under one run directory; whatever is left there when the
# tests end (even after a crash) is stopped by PID and removed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$(date +%s)
scripts/install-deps.sh test

echo "[test] building (debug, with tests)"
swift build --build-tests

image_dir=$PWD/.build/guest-image
scripts/build-guest-image.sh "$image_dir"
tools_dir=$PWD/.build/guest-tools
DEBS_FROM=$image_dir scripts/build-guest-tools.sh "$tools_dir"

examples/python/generate.sh

run_dir=$(mktemp -d /tmp/nodeagent-run.XXXXXX)
cleanup() {
    for instance in "$run_dir"/*/; do
        [[ -d $instance ]] && scripts/private-libvirtd.sh stop "$instance" >/dev/null 2>&1 || true
    done
    rm -rf "$run_dir"
}
trap cleanup EXIT

export NODEAGENT_GUEST_IMAGE=$image_dir
export NODEAGENT_CGROUP_GUEST_IMAGE=$tools_dir/image
export NODEAGENT_REQUIRE_INTEGRATION=1
export NODEAGENT_TEST_RUN_DIR=$run_dir
echo "[test] running the suite"
# One test at a time: TCG guests, host cgroup tests and timing-sensitive checks share 2 cores.
swift test --skip-build --no-parallel "$@"
echo "[test] whole run took $(( $(date +%s) - start )) s"
