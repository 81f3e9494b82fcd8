#!/usr/bin/env bash
# Installs what building Freshet needs on a fresh Debian machine of the project's kind:
# clang/libclang (bindgen for the RocksDB bindings) and protoc. Idempotent and quiet when
# everything is already there. Sourced by the README commands and by .ci/run.
set -euo pipefail

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -n "$(ls /usr/lib/llvm-*/lib/libclang.so* 2>/dev/null | head -n1)" ] || need+=(libclang-dev)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)

if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Keep the (large) build cache outside the clone so fresh clones on the same machine reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/freshet/target}"
mkdir -p "$CARGO_TARGET_DIR"
