#!/usr/bin/env bash
# bench/pp-table.sh — prompt processing of two qkit builds side by side, and of the newer
# one against the machine's arithmetic ceilings (qk-bench --peak):
#   1. the FP32 FMA and int8 ceilings of the widest instruction set, once per thread count;
#   2. per OpenBLAS setting (OPENBLAS_CORETYPE=Haswell, and unset: OpenBLAS's own choice
#      for this CPU), model and thread count: ppN with BASE and NEW alternating, R times
#      each (one repetition per run, so drift hits both sides), medians;
#   3. a markdown table: t/s of both, NEW/BASE, and NEW's fraction of the ceiling that
#      applies (qk-bench's pp_ceiling_fraction: int8 for quantized models, FP32 otherwise).
# A benchmark, not a test: it asserts nothing. On a shared machine, say how loaded it was.
#
# usage: bench/pp-table.sh [-r R] [-t LIST] [-p N] BASE_BIN_DIR NEW_BIN_DIR MODEL...
#   -r  runs per side and cell (default 3)    -t  thread counts (default 1,2)
#   -p  prompt tokens (default 512)
# BASE_BIN_DIR / NEW_BIN_DIR: directories holding qk-bench (NEW's must have --peak).
# Needs: jq.
set -euo pipefail

R=3
THREADS=1,2
P=512
while getopts "r:t:p:h" opt; do
    case $opt in
        r) R=$OPTARG ;;
        t) THREADS=$OPTARG ;;
        p) P=$OPTARG ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "pp-table.sh: error: unknown option — see -h" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
die() { echo "pp-table.sh: error: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "need BASE_BIN_DIR NEW_BIN_DIR MODEL... — see -h"
BASE=$1/qk-bench NEW=$2/qk-bench
shift 2
[ -x "$BASE" ] && [ -x "$NEW" ] || die "qk-bench not found in both directories"
command -v jq >/dev/null || die "jq not installed (apt-get install jq)"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A GFLOPS GOPS
for t in ${THREADS//,/ }; do
    j=$("$NEW" --peak -t "$t" --peak-passes 10 -o json)
    GFLOPS[$t]=$(jq '.[-1].fp32_gflops' <<<"$j")
    GOPS[$t]=$(jq '.[-1].int8_gops' <<<"$j")
    echo "pp-table: $t threads: FP32 ${GFLOPS[$t]} GFLOP/s, int8 ${GOPS[$t]} GOP/s ($(jq -r '.[-1].isa' <<<"$j"))" >&2
done

echo "| model | threads | OpenBLAS core | base t/s | new t/s | new/base | ceiling | of ceiling |"
echo "|---|--:|---|--:|--:|--:|---|--:|"
for core in Haswell native; do
    if [ $core = native ]; then envs=(-u OPENBLAS_CORETYPE); else envs=(OPENBLAS_CORETYPE=$core); fi
    for m in "$@"; do
        for t in ${THREADS//,/ }; do
            b=() n=() f=() kind= name=
            for ((i = 0; i < R; i++)); do
                jb=$(env "${envs[@]}" "$BASE" -m "$m" -p "$P" -n 0 -r 1 -t "$t" -o json)
                jn=$(env "${envs[@]}" "$NEW" -m "$m" -p "$P" -n 0 -r 1 -t "$t" -o json \
                     --peak-gflops "${GFLOPS[$t]}" --peak-gops "${GOPS[$t]}")
                b+=("$(jq '.[0].avg_ts' <<<"$jb")")
                n+=("$(jq '.[0].avg_ts' <<<"$jn")")
                f+=("$(jq '.[0].pp_ceiling_fraction' <<<"$jn")")
                kind=$(jq -r '.[0].peak_kind' <<<"$jn")
                name=$(jq -r '.[0].model_type' <<<"$jn")
            done
            mb=$(printf '%s\n' "${b[@]}" | median)
            mn=$(printf '%s\n' "${n[@]}" | median)
            mf=$(printf '%s\n' "${f[@]}" | median)
            ceil=$([ "$kind" = int8 ] && echo "int8 ${GOPS[$t]%.*} GOP/s" || echo "FP32 ${GFLOPS[$t]%.*} GFLOP/s")
            awk -v name="$name" -v t="$t" -v core="$core" -v mb="$mb" -v mn="$mn" -v mf="$mf" -v ceil="$ceil" \
                'BEGIN { printf "| %s | %d | %s | %.1f | %.1f | %.2fx | %s | %.1f %% |\n", name, t, core, mb, mn, mn / mb, ceil, 100 * mf }'
        done
    done
done
