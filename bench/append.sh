#!/usr/bin/env bash
# Store append rate with full durability (every acknowledged append is fsynced: blob file,
# its directory, and the SQLite commit with synchronous=FULL), one writer and many.
# Usage: bench/append.sh [COUNT=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
cargo build --release -q -p tern-tests --bin append-bench
bin=target/release/append-bench
for concurrency in 1 16; do
  dir=$(mktemp -d)
  "$bin" "$dir" "$count" "$concurrency"
  rm -rf "$dir"
done
