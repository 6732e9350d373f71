#!/usr/bin/env bash
# Benchmark, side by side in one interleaved run: direct vs `oauthscope proxy` vs mitmproxy
# (`mitmdump`), recording on (oauthscope writes its capture, mitmdump runs with -w), against
# Debian's nginx over HTTPS and HTTP, load from oha through CONNECT with certificate checks.
# Installs nginx, oha and mitmproxy (PyPI, into target/venv) when missing.
# Usage: bash benches/proxy.sh [--quick] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null 2>&1 || cargo install oha --locked
if [ ! -x target/venv/bin/mitmdump ]; then
  python3 -m venv target/venv && target/venv/bin/pip install -q mitmproxy
fi
cargo build --release --quiet
exec python3 benches/proxy_bench.py "$@"
