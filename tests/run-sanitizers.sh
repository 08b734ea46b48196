#!/usr/bin/env bash
# tests/run-sanitizers.sh — the test suites under AddressSanitizer + UndefinedBehavior-
# Sanitizer, and the worker pool under ThreadSanitizer. Fails on the first finding (every
# check is built with -fno-sanitize-recover=all, so a finding is a failed test).
#
#   1. BUILD_DIR-asan: Debug, -O2 -fsanitize=address,undefined: every ctest suite but
#      test_agreement (the same golden comparisons at 5-10x the cost; test_perplexity and
#      test_forward run the same code paths on the same files) and test_faults' kill -9
#      cases (tag kill9: SIGKILL ends a process before any of its code runs);
#   2. BUILD_DIR-tsan: -O1 -fsanitize=thread: test_threads (pool sizes 1..64, barriers,
#      a pool freed right after a run, two pools driven at once).
#
# usage: tests/run-sanitizers.sh [-B BUILD_DIR] [-j JOBS]
#   -B  prefix of the two build directories (default: build, giving build-asan, build-tsan)
#   -j  parallel build and ctest jobs (default: nproc)
# Needs gcc's sanitizer runtimes (libasan, libubsan, libtsan: Debian's gcc has them).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
JOBS=$(nproc)
while getopts "B:j:h" opt; do
    case $opt in
        B) BUILD=$OPTARG ;;
        j) JOBS=$OPTARG ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run-sanitizers.sh: error: unknown option — see -h" >&2; exit 2 ;;
    esac
done
case $BUILD in /*) ;; *) BUILD="$here/$BUILD" ;; esac

build() { # dir, C flags[, target] (the build's output goes to DIR.log)
    cmake -S "$here" -B "$1" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$2" >"$1.log" 2>&1 &&
        cmake --build "$1" -j "$JOBS" ${3:+--target "$3"} >>"$1.log" 2>&1 ||
        { tail -n 20 "$1.log" >&2; echo "run-sanitizers: error: the build in $1 failed (log: $1.log)" >&2; exit 1; }
}

start=$(date +%s)
# -O2 rather than ASan's usual -O1: the compute-heavy suites run faster (test_imatrix_golden
# 44 -> 18 s, test_quantize_imatrix 48 -> 31 s; test_tokenizer, mostly allocation, 65 -> 62 s)
# and both sanitizers work at -O2; the frame pointer keeps the reports' stacks whole.
SAN="-O2 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
echo "run-sanitizers: building $BUILD-asan (ASan + UBSan)"
build "$BUILD-asan" "$SAN"
echo "run-sanitizers: ctest under ASan + UBSan"
(cd "$BUILD-asan" && ASAN_OPTIONS=detect_leaks=1 CK_EXCLUDE_TAGS=kill9 ctest -E '^test_agreement$' -j "$JOBS" --timeout 1500 \
    --output-on-failure)

echo "run-sanitizers: building $BUILD-tsan (TSan)"
build "$BUILD-tsan" "-O1 -fsanitize=thread -fno-sanitize-recover=all" test_threads
echo "run-sanitizers: test_threads under TSan"
(cd "$BUILD-tsan" && TSAN_OPTIONS=halt_on_error=1 ctest -R '^test_threads$' --output-on-failure)
echo "run-sanitizers: clean, in $(( $(date +%s) - start )) s"
