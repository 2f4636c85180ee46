#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after another, at the lowest CPU
# priority, and prints one markdown row per target: executions, corpus size, crashes.
#   cargo +nightly fuzz build -O            # once (or set FUZZ_BIN_DIR to the built binaries)
#   fuzz/run_all.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^kvref-fuzz$')
fi
bin_dir="${FUZZ_BIN_DIR:-${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release}"
echo "| target | seconds | executions | corpus | crashes |"
echo "|---|---|---|---|---|"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  nice -n 19 "$bin_dir/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="artifacts/$target/" "corpus/$target" >"$log" 2>&1
  status=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  crashes=$(find "artifacts/$target" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' | wc -l)
  corpus=$(find "corpus/$target" -type f | wc -l)
  echo "| $target | $seconds | ${runs:-none (exit $status)} | $corpus | $crashes |"
done
