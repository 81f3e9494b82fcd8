#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs system packages, checks formatting and
# lints, then runs every test (unit, property, integration and end-to-end process tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# promtool (Debian package `prometheus`) checks the /metrics exposition in the tests.
if ! command -v promtool >/dev/null 2>&1; then
  echo "test: installing prometheus (for promtool)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
