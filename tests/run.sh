#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#
#   ./tests/run.sh [CTEST ARGS]   g++ build in ./build: every test, the crash loop included
#   ./tests/run.sh --asan         clang with AddressSanitizer and UndefinedBehaviorSanitizer in
#                                 ./build-asan: every test, then each libFuzzer target for
#                                 COMITY_FUZZ_SECONDS (default 20)
#   ./tests/run.sh --tsan         clang with ThreadSanitizer in ./build-tsan: the engine and RPC
#                                 tests (tests/tsan/absl_sync_annotations.cc says why it links more)
#   ./tests/run.sh --all          the three, one after the other (what .ci/run does)
#
# Any sanitizer report fails the test that made it; a build that fails stops the run (the
# functions below run under `&&`, where `set -e` does not stop them). COMITY_BUILD_DIR overrides the build folder
# of the first form.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh

mode=plain
case "${1:-}" in
  --asan | --tsan | --all) mode=${1#--}; shift ;;
esac

# The engine and RPC tests, for TSan: their targets and their suites.
tsan_targets=(commit_pipeline_test engine_test clocks_test rpc_test edge_test watch_test authorization_test evidence_service_test
  io_fault_test federation_test evidence_across_test partition_test federation_kill_test comityd)
tsan_suites='^(CommitPipeline|Engine|Clocks|Scheduler|Rpc|Checkpoint|PagedTrail|Edge|Watch|Authorization|IoFault|Evidence|Federation|Partition)'

plain() {
  COMITY_CMAKE_ARGS="-DCOMITY_WERROR=ON ${COMITY_CMAKE_ARGS:-}" ./deploy/build.sh || return
  (cd "${COMITY_BUILD_DIR:-build}" && ctest --output-on-failure -j2 "$@")
}

asan() {
  COMITY_BUILD_DIR=build-asan COMITY_BUILD_TYPE=Debug COMITY_CMAKE_ARGS="-DCOMITY_WERROR=ON \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS=-O1 -DCOMITY_SANITIZE=address,undefined \
    -DCOMITY_FUZZ=ON -DCOMITY_FUZZ_SECONDS=${COMITY_FUZZ_SECONDS:-20}" ./deploy/build.sh || return
  # The fuzzers last; each takes one core for its time.
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --output-on-failure -j2 -E '^Fuzz\.' "$@" &&
    ctest --output-on-failure -j2 -R '^Fuzz\.')
}

tsan() {
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOMITY_WERROR=ON \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS=-O1 -DCOMITY_SANITIZE=thread >/dev/null || return
  cmake --build build-tsan -j "${COMITY_JOBS:-2}" --target "${tsan_targets[@]}" || return
  (cd build-tsan &&
    TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 suppressions=$PWD/../tests/tsan/suppressions.txt" \
      ctest --output-on-failure -j2 -R "$tsan_suites" "$@")
}

case "$mode" in
  plain) plain "$@" ;;
  asan) asan "$@" ;;
  tsan) tsan "$@" ;;
  all) plain "$@" && asan && tsan ;;
esac
