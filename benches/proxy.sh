#!/usr/bin/env bash
# Benchmark: direct vs through `oauthscope proxy` (recording on), against Debian's nginx
# over HTTPS, load from oha through CONNECT with certificate checks. Installs nginx and
# oha when missing. Usage: bash benches/proxy.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null 2>&1 || cargo install oha --locked
cargo build --release --quiet
exec python3 benches/proxy_bench.py "$@"
