#!/usr/bin/env bash
# tests/run-variants.sh — run the numerics-sensitive test suites (ctest label "numerics")
# under every arithmetic variant a user's machine can give them, and fail if any fails.
#
# A user's results differ from ours in the last bits because the arithmetic differs: which
# kernels run (AVX-512 VNNI, AVX2, scalar), which OpenBLAS kernels sgemm uses
# (OPENBLAS_CORETYPE is set on many CI runners), how many threads, and whether a matmul
# takes the vec_dot, the integer gemm or the FP32 GEMM path (the batch size decides).
# Each variant changes one of those from the environment this script is started in (a
# variant that sets OPENBLAS_CORETYPE replaces the caller's value, "blas-default" unsets
# it). On a CPU with AVX2 qkit's own FP32 GEMM replaces cblas_sgemm everywhere
# (engine/gemm_f32.h), so OpenBLAS runs only without AVX2 (the scalar variants) or with
# QK_GEMM_F32=0, which the blas-* variants set so that they do test OpenBLAS's kernels:
#
#   scalar          QK_FORCE_SCALAR=1: the scalar reference kernels everywhere
#   avx2            QK_NO_AVX512=1: AVX2 kernels without the AVX-512 VNNI variants
#   blas-default    OPENBLAS_CORETYPE unset: OpenBLAS picks its kernels for this CPU
#   blas-haswell    OPENBLAS_CORETYPE=Haswell   (needs AVX2)
#   blas-skylakex   OPENBLAS_CORETYPE=SkylakeX  (needs AVX-512 F/BW/VL/CD/DQ)
#   blas-zen        OPENBLAS_CORETYPE=Zen       (needs AVX2)
#   blas-prescott   OPENBLAS_CORETYPE=Prescott  (SSE3 only)
#   blas-threads1   OPENBLAS_NUM_THREADS=1
#   blas-threads2   OPENBLAS_NUM_THREADS=2
#   vecdot          QK_TEST_PPL_ARGS="-b 2": the golden perplexity runs decode 2 tokens at
#                   a time, so every matmul takes the vec_dot path
#   mixed           QK_TEST_PPL_ARGS="-b 3": the 32-element types (Q4_0 .. IQ4_NL) on the
#                   integer gemm, the K-quants and F16 on vec_dot (qk_matmul_gemm_min_m)
#   threads1        QK_TEST_PPL_ARGS="-t 1"
#   scalar-prescott QK_FORCE_SCALAR=1 and OPENBLAS_CORETYPE=Prescott: no SIMD anywhere
#
# The kernel variants (scalar, avx2) run every suite labelled "numerics"; the BLAS variants
# only those that call sgemm (label "blas"), and so does scalar-prescott, which differs
# from scalar only in OpenBLAS's kernels; vecdot, mixed and threads1 only those that read
# QK_TEST_PPL_ARGS (label "batch"): the other suites cannot see them.
#
# A core type the CPU cannot run is reported as skipped (OpenBLAS would not run it). Every
# comparison the suites make with a tolerance is recorded (tests/testutil.h,
# qk_test_close); the script ends with spread.md in the output directory: per suite and
# figure, the largest relative deviation from the reference under each variant, and the
# largest share of its tolerance used. Exit status 0 only when every variant passed.
#
# usage: tests/run-variants.sh [-B BUILD_DIR] [-o OUT_DIR] [-j JOBS] [VARIANT...]
#   -B  build directory (default: build); it must be built (make build)
#   -o  where the logs and spread.md go (default: BUILD_DIR/variants)
#   -j  ctest parallel jobs (default: nproc: the suites' serial parts — tools starting,
#       files written — then overlap; with 2 cores the scalar variant took 101 s, not 156)
#   VARIANT...  only these (default: all of the above)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
OUT=
JOBS=$(nproc)
ALL=(scalar avx2 blas-default blas-haswell blas-skylakex blas-zen blas-prescott blas-threads1
     blas-threads2 vecdot mixed threads1 scalar-prescott)
while getopts "B:o:j:h" opt; do
    case $opt in
        B) BUILD=$OPTARG ;;
        o) OUT=$OPTARG ;;
        j) JOBS=$OPTARG ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run-variants.sh: error: unknown option — see -h" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("${ALL[@]}")
case $BUILD in /*) ;; *) BUILD="$here/$BUILD" ;; esac
OUT=${OUT:-$BUILD/variants}
die() { echo "run-variants.sh: error: $*" >&2; exit 1; }
[ -f "$BUILD/CTestTestfile.cmake" ] || die "$BUILD is not a configured build — run 'make build' first"
mkdir -p "$OUT"
rm -f "$OUT"/spread-*.tsv

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }

# variant -> "ENV=VALUE ..." (an empty value means: unset it; "+" stands for a space), or
# "skip: why"
setting() {
    case $1 in
        scalar) echo "QK_FORCE_SCALAR=1" ;;
        avx2) echo "QK_NO_AVX512=1" ;;
        blas-default) echo "QK_GEMM_F32=0 OPENBLAS_CORETYPE=" ;;
        blas-haswell | blas-zen)
            if has avx2; then echo "QK_GEMM_F32=0 OPENBLAS_CORETYPE=$([ "$1" = blas-zen ] && echo Zen || echo Haswell)"
            else echo "skip: the CPU has no AVX2"; fi ;;
        blas-skylakex)
            if has avx512f && has avx512bw && has avx512vl && has avx512cd && has avx512dq; then
                echo "QK_GEMM_F32=0 OPENBLAS_CORETYPE=SkylakeX"
            else echo "skip: the CPU has no AVX-512 F/BW/VL/CD/DQ"; fi ;;
        blas-prescott) echo "QK_GEMM_F32=0 OPENBLAS_CORETYPE=Prescott" ;;
        blas-threads1) echo "QK_GEMM_F32=0 OPENBLAS_NUM_THREADS=1" ;;
        blas-threads2) echo "QK_GEMM_F32=0 OPENBLAS_NUM_THREADS=2" ;;
        vecdot) echo "QK_TEST_PPL_ARGS=-b+2" ;;
        mixed) echo "QK_TEST_PPL_ARGS=-b+3" ;;
        threads1) echo "QK_TEST_PPL_ARGS=-t+1" ;;
        scalar-prescott) echo "QK_FORCE_SCALAR=1 OPENBLAS_CORETYPE=Prescott" ;;
        *) die "unknown variant '$1' — see -h for the list" ;;
    esac
}

# variant -> the ctest label of the suites it can change
label() {
    case $1 in
        blas-* | scalar-prescott) echo blas ;;
        vecdot | mixed | threads1) echo batch ;;
        *) echo numerics ;;
    esac
}

failed=()
skipped=()
start=$(date +%s)
for v in "${VARIANTS[@]}"; do
    s=$(setting "$v")
    if [ "${s#skip: }" != "$s" ]; then
        echo "run-variants: $v: SKIPPED (${s#skip: })"
        skipped+=("$v")
        continue
    fi
    envs=() sets=() # env takes its -u options before the assignments
    for kv in $s; do
        k=${kv%%=*} val=${kv#*=}
        if [ -z "$val" ]; then envs+=(-u "$k"); else sets+=("$k=${val//+/ }"); fi
    done
    t0=$(date +%s)
    log="$OUT/$v.log"
    if (cd "$BUILD" && env "${envs[@]}" "${sets[@]}" QK_TEST_SPREAD_LOG="$OUT/spread-$v.tsv" \
            ctest -L "^$(label "$v")\$" -j "$JOBS" --output-on-failure >"$log" 2>&1); then
        echo "run-variants: $v (${s//+/ }): passed in $(( $(date +%s) - t0 )) s"
    else
        echo "run-variants: $v (${s//+/ }): FAILED — see $log"
        { grep -E '\*\*\*Failed|Timeout|tolerance' "$log" || tail -n 3 "$log"; } | head -20 | sed 's/^/    /'
        failed+=("$v")
    fi
done

# spread.md: rows suite / figure, one column per variant: the largest |Δ|/|ref| (in %)
# over the cases, or the largest |Δ| where the reference is 0 (a bound, not a value); then
# the tolerance (relative, absolute: the larger applies) and the largest share of it any
# variant used.
tsvs=("$OUT"/spread-*.tsv)
if [ -e "${tsvs[0]}" ]; then
    awk -F'\t' -v order="${VARIANTS[*]}" '
        FNR == 1 { v = FILENAME; sub(/.*spread-/, "", v); sub(/\.tsv$/, "", v) }
        function cell(s) { gsub(/\|/, "\\|", s); return s }
        {
            key = $1 SUBSEP $3
            if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
            if ($5 + 0 == 0) { absolute[key] = 1; d = $6 + 0 } else d = $7 + 0
            if (!((key, v) in dev) || d > dev[key, v]) dev[key, v] = d
            use = ($8 > 0) ? $6 / $8 : ($6 > 0 ? 1e300 : 0)
            if (use > share[key]) share[key] = use
            t = ($10 > 0 ? sprintf("%g %%", 100 * $10) : "") ($10 > 0 && $11 > 0 ? " or " : "") ($11 > 0 ? sprintf("%g", $11) : "")
            if (!(key in tol)) tol[key] = t
            else if (index(tol[key], t) == 0) tol[key] = tol[key] "; " t
        }
        END {
            nv = split(order, vs, " ")
            printf "| suite | figure |"
            for (i = 1; i <= nv; i++) printf " %s |", vs[i]
            printf " tolerance | max share of it |\n|---|---|"
            for (i = 1; i <= nv; i++) printf "--:|"
            printf "--:|--:|\n"
            for (k = 1; k <= nk; k++) {
                split(keys[k], p, SUBSEP)
                printf "| %s | %s |", p[1], cell(p[2])
                for (i = 1; i <= nv; i++) {
                    if (!((keys[k], vs[i]) in dev)) printf " – |"
                    else if (keys[k] in absolute) printf " %.3g |", dev[keys[k], vs[i]]
                    else printf " %.3g %% |", 100 * dev[keys[k], vs[i]]
                }
                printf " %s | %.2f |\n", tol[keys[k]], share[keys[k]]
            }
        }' "${tsvs[@]}" > "$OUT/spread.md"
    echo "run-variants: largest deviation per figure and variant: $OUT/spread.md"
fi

echo "run-variants: ${#VARIANTS[@]} variants in $(( $(date +%s) - start )) s;" \
     "${#failed[@]} failed${failed[*]:+ (${failed[*]})}, ${#skipped[@]} skipped${skipped[*]:+ (${skipped[*]})}"
[ ${#failed[@]} -eq 0 ]
