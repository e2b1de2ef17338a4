#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS on a scratch copy of its seed corpora:
#   run_fuzzer.sh FUZZER SECONDS SEED_DIR...
# Exit 0 when it ran out of time with no crash; otherwise the fuzzer's own exit code, with the
# crashing input left in the working directory it prints.
set -euo pipefail
fuzzer=$1
seconds=$2
shift 2
work=$(mktemp -d /tmp/comity-fuzz-XXXXXX)
mkdir -p "$work/corpus"
cd "$work"
set +e
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$work/corpus" "$@" 2>&1 | grep -E "^#[0-9]+ +DONE|^stat::number_of_executed_units|ERROR|SUMMARY|crash-|Test unit written"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "left in $work"; fi
exit "$rc"
