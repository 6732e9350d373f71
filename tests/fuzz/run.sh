#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time each (default 60 s), seeded from the
# samples, the connector cases and the shared HAR interop files.
# Usage: bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# A crash stops the run: its input is in tests/fuzz/artifacts/<target>/. Fix the bug, then
# copy the input to tests/fuzz/regressions/<target>/ so tests/fuzz_regressions.rs keeps it
# fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(capture_reader har_import connector parsers classification)
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly flags (sanitizers); this machine has one stable toolchain.
export RUSTC_BOOTSTRAP=1

corpus() { # target -> seed folder under target/
  local dir="$ROOT/target/fuzz-corpus/$1"
  mkdir -p "$dir"
  case $1 in
    capture_reader) cp samples/*.jsonl "$dir"/ ;;
    har_import)
      if [ -d ../shared/interop/har ]; then
        find ../shared/interop/har -name '*.har' -size -200k -exec cp {} "$dir"/ \;
      fi ;;
    connector)
      find samples/connectors -type f \( -name '*.json' -o -name '*.toml' \) -exec cp {} "$dir"/ \; ;;
    parsers)
      printf 'Bearer realm="api", error="invalid_token", error_description="expired"' > "$dir/www"
      printf 'Basic Y29ubmVjdG9yLWFwcDpzM2NyZXQ=' > "$dir/basic"
      printf 'eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjEsImF1ZCI6WyJhIl19.c2ln' > "$dir/jwt"
      printf 'grant_type=refresh_token&refresh_token=rt-1&client_id=a%%20b' > "$dir/form"
      printf 'https://app.example/cb?code=abc&state=x#access_token=t&expires_in=3600' > "$dir/url"
      printf '{"access_token":"t","token_type":"Bearer","expires_in":"3600","refresh_token":"r"}' > "$dir/json" ;;
    classification)
      printf 'POST\0https://login.example/oauth2/token\0content-type: application/x-www-form-urlencoded\nauthorization: Basic YTpi\0grant_type=authorization_code&code=c&redirect_uri=https%%3A%%2F%%2Fapp\0200\0content-type: application/json\0{"access_token":"at","expires_in":3600,"refresh_token":"rt"}' > "$dir/token"
      printf 'GET\0https://api.example/v1/me\0authorization: Bearer at\0\0401\0www-authenticate: Bearer error="invalid_token"\0' > "$dir/api" ;;
  esac
  echo "$dir"
}

cd tests/fuzz
status=0
for t in "${TARGETS[@]}"; do
  seeds=$(cd "$ROOT" && corpus "$t")
  mkdir -p "corpus/$t" "regressions/$t"
  echo "== $t: ${SECS}s"
  if ! cargo fuzz run --fuzz-dir . "$t" "corpus/$t" "$seeds" "regressions/$t" -- \
      -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
      -print_final_stats=1 2>&1 | tee "$ROOT/target/fuzz-$t.log" | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Test unit written)"; then
    :
  fi
  if grep -q "Test unit written\|SUMMARY: libFuzzer\|panicked" "$ROOT/target/fuzz-$t.log"; then
    echo "!! $t found a crash: see tests/fuzz/artifacts/$t/ and $ROOT/target/fuzz-$t.log"
    status=1
  fi
done
exit $status
