#!/usr/bin/env bash
# run.sh [serve options] — installs what the agent needs, builds it and runs its main job:
# `nodeagent serve`, the agent: its gRPC API on a unix socket, durable tasks, reconciliation
# of every guest on its libvirt connection, libvirt's events. Without
# /etc/nodeagent/nodeagent.toml it uses the embedded default: libvirt's built-in test driver
# (test:///default), and state and the socket under ./.nodeagent.
# Stop it with Ctrl-C. Example: scripts/run.sh --uri qemu:///system
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh build
swift build --product nodeagent
exec .build/debug/nodeagent serve "$@"
