#!/usr/bin/env bash
# quantize-bench.sh — how fast qk-quantize is, and how much memory it holds, next to the
# llama-quantize figures qkit aims to beat.
#
# Runs `qk-quantize MODEL OUT TYPE THREADS` for each type (default Q4_K_M Q2_K Q6_K) and
# thread count (default 1 2) under /usr/bin/time -v on a synthetic F16 model with the
# shapes of Qwen2.5-0.5B (made with qk-synth when missing), and writes a CSV:
#   type,threads,seconds,peak_rss_mb,user_s,sys_s
# seconds = wall clock of the whole run (best of -r repetitions), peak_rss_mb = maximum
# resident set size (MiB, 1024*1024 bytes) of that run, user_s/sys_s = its CPU time (on a
# shared machine the CPU time is the steadier figure). It then prints one comparison line
# against llama-quantize's figures for the same model and types, measured on a 2-core
# AMD EPYC (Zen 3) with 2 threads: Q4_K_M 8.0 s, Q2_K 38.7 s, Q6_K 5.5 s, peak RSS 1.69 GB.
# Those were taken on another machine, so the ratio is indicative; the CPU model and load
# of this one are printed with it.
#
# This is a benchmark, not a test: it is not run by ctest and asserts nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

bin_dir="${QK_BIN_DIR:-$repo/build/bin}"
model="/tmp/synth-q05.gguf"
vocab="$repo/../shared/data/tokenizers/qwen2/qwen2-vocab.gguf"
csv="quantize-bench.csv"
types="Q4_K_M Q2_K Q6_K"
threads="1 2"
reps=1

usage() {
    cat <<EOF
usage: bench/quantize-bench.sh [options]

Time qk-quantize on a synthetic Qwen2.5-0.5B-shaped F16 model; write a CSV and compare
with llama-quantize's figures (2 threads, AMD EPYC Zen 3).

options:
  -b DIR    directory holding qk-quantize and qk-synth. default: \$QK_BIN_DIR or $repo/build/bin
  -m FILE   the F16 model; made with qk-synth --shape qwen2.5-0.5b if missing. default: $model
  -V FILE   vocabulary GGUF for qk-synth. default: $vocab
  -o FILE   CSV to write. default: $csv
  -T LIST   quantization types. default: "$types"
  -t LIST   thread counts. default: "$threads"
  -r N      repetitions per (type, threads); the fastest is kept. default: $reps
  -h        this help
EOF
}

while getopts "b:m:V:o:T:t:r:h" opt; do
    case "$opt" in
    b) bin_dir="$OPTARG" ;;
    m) model="$OPTARG" ;;
    V) vocab="$OPTARG" ;;
    o) csv="$OPTARG" ;;
    T) types="$OPTARG" ;;
    t) threads="$OPTARG" ;;
    r) reps="$OPTARG" ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

die() { echo "quantize-bench: error: $*" >&2; exit 1; }

quantize="$bin_dir/qk-quantize"
synth="$bin_dir/qk-synth"
[[ -x "$quantize" ]] || die "no qk-quantize in $bin_dir — build first (cmake --build build) or pass -b DIR"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing — install the 'time' package"
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "-r wants a positive integer, not '$reps'"

if [[ ! -f "$model" ]]; then
    [[ -x "$synth" ]] || die "no model at $model and no qk-synth in $bin_dir to make one"
    [[ -f "$vocab" ]] || die "no vocabulary at $vocab — pass -V FILE"
    echo "quantize-bench: making $model with qk-synth" >&2
    "$synth" --shape qwen2.5-0.5b --vocab "$vocab" -o "$model" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/qk-quantize-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
echo "quantize-bench: $(nproc) CPUs, ${cpu:-unknown CPU}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# "h:mm:ss" or "m:ss.ss" -> seconds
to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"; }

echo "type,threads,seconds,peak_rss_mb,user_s,sys_s" >"$csv"
for type in $types; do
    for t in $threads; do
        best=""
        for ((r = 0; r < reps; r++)); do
            out="$work/out.gguf"
            if ! /usr/bin/time -v "$quantize" "$model" "$out" "$type" "$t" >"$work/log" 2>"$work/time"; then
                tail -3 "$work/time" >&2
                die "qk-quantize $type with $t threads failed"
            fi
            rm -f "$out"
            wall="$(to_seconds "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time")")"
            rss="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")"
            user="$(sed -n 's/.*User time (seconds): //p' "$work/time")"
            sys="$(sed -n 's/.*System time (seconds): //p' "$work/time")"
            row="$type,$t,$wall,$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }'),$user,$sys"
            if [[ -z "$best" ]] || awk -v a="$wall" -v b="${best#*,*,}" 'BEGIN { exit !(a + 0 < b + 0) }'; then
                best="$row"
            fi
        done
        echo "$best" >>"$csv"
        echo "  $best" >&2
    done
done
echo "quantize-bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg); CSV: $csv" >&2

# One line against llama-quantize (2 threads, Zen 3): time ratio per type, peak RSS.
awk -F, -v cpu="${cpu:-this machine}" '
    BEGIN { ref["Q4_K_M"] = 8.0; ref["Q2_K"] = 38.7; ref["Q6_K"] = 5.5; ref_rss = 1.69 * 1000 }
    NR > 1 && $2 == 2 && ($1 in ref) {
        line = line sprintf("%s%s %.2f s vs %.1f s (%.2fx)", n++ ? ", " : "", $1, $3, ref[$1], ref[$1] / $3)
        if ($4 > rss) rss = $4
    }
    END {
        if (!n) { print "vs llama-quantize: no 2-thread run of Q4_K_M, Q2_K or Q6_K to compare"; exit }
        printf "qk-quantize vs llama-quantize (2 threads; llama.cpp on a Zen 3, speed-up in brackets): %s; peak RSS %.0f MB vs 1690 MB (%.2fx the memory) — on %s, indicative\n",
            line, rss, rss / ref_rss, cpu
    }' "$csv"
