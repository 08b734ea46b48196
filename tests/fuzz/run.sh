#!/bin/sh
# run.sh — run libFuzzer harnesses built by build.sh until each has used CPU_SECONDS of CPU
# time (not wall time: on a shared machine the harnesses run niced, side by side), then
# print per target the executions, the coverage and the findings (files in artifacts/).
# Usage: tests/fuzz/run.sh [BUILD_DIR] [CPU_SECONDS] [TARGET...]
#   defaults: build-fuzz, 1800, every target (gguf tokenizer files reports)
set -e
B=${1:-build-fuzz}/fuzz
CPU=${2:-1800}
[ $# -gt 2 ] && shift 2 && TARGETS="$*" || TARGETS="gguf tokenizer files reports"
cd "$B"
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1
pids=""
for h in $TARGETS; do
    case $h in
    gguf) extra="-dict=../../tests/fuzz/gguf.dict -max_len=65536" ;;
    tokenizer) extra="-max_len=1048578 -len_control=0" ;; # 2 selector bytes + up to 1 MiB of text at once
    *) extra="-max_len=262144" ;;
    esac
    # a finding (crash, leak, timeout, sanitizer report, failed property) stops that harness
    # and is written to $h/artifacts/: fix it, add a regression test, run again
    nice -n 19 "./fuzz_$h" $extra -timeout=30 -rss_limit_mb=2048 -max_total_time=86400 \
        -artifact_prefix="$h/artifacts/" "$h/corpus" "$h/seeds" >"$h/log.txt" 2>&1 &
    pids="$pids $!:$h"
done
# stop each harness (SIGINT: libFuzzer prints its final statistics) at CPU seconds
tick=$(getconf CLK_TCK)
while :; do
    alive=0
    for ph in $pids; do
        p=${ph%%:*}
        [ -r "/proc/$p/stat" ] || continue
        alive=1
        used=$(awk -v t="$tick" '{print int(($14 + $15) / t)}' "/proc/$p/stat")
        [ "$used" -ge "$CPU" ] && kill -INT "$p" 2>/dev/null || true
    done
    [ $alive = 1 ] || break
    sleep 10
done
for ph in $pids; do
    h=${ph#*:}
    stats=$(grep -E '^#[0-9]+' "$h/log.txt" | tail -1)
    n=$(ls "$h/artifacts" | grep -c -E '^(crash|leak|timeout|oom)-' || true)
    slow=$(ls "$h/artifacts" | grep -c '^slow-unit-' || true)
    echo "$h: $stats | findings: $n | slow units (>10 s, noted only): $slow"
done
