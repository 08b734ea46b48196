#!/usr/bin/env bash
# bench/agreement.sh — how closely qkit's perplexity and KL-divergence figures agree with
# llama.cpp's on the golden models, for every quantized type that has golden logs.
#
# For each model (wiki-qwen2-13m, base F16; stories260K, base F32) it
#   1. runs qk-perplexity on the base model over N chunks of 256 tokens of wiki.test.raw
#      (-c 256, as the golden logs), writing OUR base-logits file of those chunks;
#   2. for each type with a golden <model>.<TYPE>.ppl100.log: quantizes the base with OUR
#      qk-quantize (byte-identical to llama-quantize's output) and runs
#      qk-perplexity --kl-divergence against our base file. That one run gives PPL(Q)
#      over the same N chunks (the base file's tokens are the text's first N·256 tokens)
#      and the KLD statistics;
#   3. compares: our PPL vs llama-perplexity's final PPL in <model>.<TYPE>.ppl100.log, our
#      mean KLD vs the mean KLD in <model>.<TYPE>.kld100.log (llama.cpp against its own
#      F16/F32 base over the same 100 chunks), and same-top-p likewise; then EVERY
#      statistic of llama.cpp's KLD report (KLD percentiles, Δp percentiles, RMS Δp, ...).
# Output: markdown tables on stdout, the same rows as CSV in $WORK/agreement.csv and
# $WORK/agreement-stats.csv (one row per model x type x statistic).
# Progress and the tools' logs go to $WORK/*.log; one line per step on stderr.
#
# This is a benchmark, not a test: it takes minutes (the wiki-qwen2-13m base file of 100
# chunks is ~0.8 GB) and asserts nothing; the tolerances quoted in the table header are the
# fidelity issue's (PPL 0.05 %, KLD statistics 2 % relative), marked per row.
#
# usage: bench/agreement.sh [-B BUILD_DIR] [-w WORK_DIR] [-n CHUNKS] [-t THREADS]
#                           [-m MODEL]... [-k]
#   -B  build directory holding bin/qk-perplexity and bin/qk-quantize (default: build)
#   -w  work directory for quantized files, base files, JSON and logs
#       (default: ${TMPDIR:-/tmp}/qk-agreement)
#   -n  chunks (default: 100, the golden logs' count; other values compare against
#       100-chunk figures, so only 100 gives a like-for-like table)
#   -t  threads (default: 2)
#   -m  only this model (repeatable; default: wiki-qwen2-13m stories260K)
#   -k  keep the base-logits files (default: delete them at the end)
# Needs: jq, awk. Shared data: ../shared beside the checkout, or $QK_SHARED.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
WORK="${TMPDIR:-/tmp}/qk-agreement"
CHUNKS=100
THREADS=2
KEEP=0
MODELS=()
while getopts "B:w:n:t:m:kh" opt; do
    case $opt in
        B) BUILD=$OPTARG ;;
        w) WORK=$OPTARG ;;
        n) CHUNKS=$OPTARG ;;
        t) THREADS=$OPTARG ;;
        m) MODELS+=("$OPTARG") ;;
        k) KEEP=1 ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "agreement.sh: error: unknown option — see -h" >&2; exit 2 ;;
    esac
done
[ ${#MODELS[@]} -gt 0 ] || MODELS=(wiki-qwen2-13m stories260K)
case $BUILD in /*) ;; *) BUILD="$here/$BUILD" ;; esac
SHARED=${QK_SHARED:-$(cd "$here/../shared" 2>/dev/null && pwd || true)}
QKP="$BUILD/bin/qk-perplexity"
QKQ="$BUILD/bin/qk-quantize"
TEXT="$SHARED/data/wikitext-2-raw/wiki.test.raw"

die() { echo "agreement.sh: error: $*" >&2; exit 1; }
command -v jq >/dev/null || die "jq not found — install it (apt-get install jq)"
[ -x "$QKP" ] && [ -x "$QKQ" ] || die "$QKP or $QKQ missing — build first (cmake --build $BUILD)"
[ -f "$TEXT" ] || die "$TEXT missing — is ../shared beside the checkout (or QK_SHARED set)?"
mkdir -p "$WORK"

# base model path and base type name of a golden model
base_of() {
    case $1 in
        wiki-qwen2-13m) echo "$SHARED/data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf F16" ;;
        stories260K) echo "$SHARED/data/models/stories260K/stories260K.gguf F32" ;;
        *) die "unknown model $1 (wiki-qwen2-13m or stories260K)" ;;
    esac
}

# first number after a label in a llama.cpp log (the last occurrence of the label)
log_num() { # file label
    awk -v lab="$2" 'index($0, lab) { s = substr($0, index($0, lab) + length(lab));
        sub(/^[ :]*/, "", s); if (match(s, /^[-+0-9.eE]+/)) v = substr(s, 1, RLENGTH) }
        END { if (v == "") exit 1; print v }' "$1"
}

# relative difference in %, and whether it is within tol %
rel() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%+.3f", 100 * (a - b) / (b < 0 ? -b : b) }'; }
ok() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "nan" || r == "") print "-"; else print ((r < 0 ? -r : r) <= t ? "yes" : "NO") }'; }

# Every statistic of llama.cpp's KL-divergence report: label in the log, jq expression
# over our JSON (Δp figures are fractions there, percent in the log).
STATS=(
    "Mean    KLD:|.kld.mean_kld" "Maximum KLD:|.kld.kld_max" "99.9%   KLD:|.kld.kld_p99_9"
    "99.0%   KLD:|.kld.kld_p99" "Median  KLD:|.kld.kld_median" "10.0%   KLD:|.kld.kld_p10"
    " 5.0%   KLD:|.kld.kld_p5" " 1.0%   KLD:|.kld.kld_p1" "Minimum KLD:|.kld.kld_min"
    "RMS Δp    :|.kld.rms_dp * 100" "Same top p:|.kld.same_top * 100"
    "Mean    Δp:|.kld.mean_dp * 100" "Maximum Δp:|.kld.dp_max * 100" "99.9%   Δp:|.kld.dp_p99_9 * 100"
    "99.0%   Δp:|.kld.dp_p99 * 100" "95.0%   Δp:|.kld.dp_p95 * 100" "90.0%   Δp:|.kld.dp_p90 * 100"
    "75.0%   Δp:|.kld.dp_p75 * 100" "Median  Δp:|.kld.dp_median * 100" "25.0%   Δp:|.kld.dp_p25 * 100"
    "10.0%   Δp:|.kld.dp_p10 * 100" " 5.0%   Δp:|.kld.dp_p5 * 100" " 1.0%   Δp:|.kld.dp_p1 * 100"
    " 0.1%   Δp:|.kld.dp_p0_1 * 100" "Minimum Δp:|.kld.dp_min * 100"
)
STATS_CSV="$WORK/agreement-stats.csv"
echo "model,type,statistic,qkit,llama,rel_pct,within_2pct_or_print_resolution" > "$STATS_CSV"
stats_rows() { # model type our.json golden.kld100.log
    local e lab expr ours theirs r w
    for e in "${STATS[@]}"; do
        lab=${e%%|*}; expr=${e#*|}
        ours=$(jq -r "$expr" "$3")
        theirs=$(log_num "$4" "$lab") || continue
        r=$(rel "$ours" "$theirs")
        # within 2 %, or within half a unit of the last digit llama.cpp printed
        # ("Minimum KLD: 0.000004" stands for anything in [3.5e-6, 4.5e-6])
        w=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { n = b; sub(/^[-+]?[0-9]*/, "", n); d = length(n) - 1
            h = 0.5 * 10 ^ -(d < 0 ? 0 : d); e = a - b; e = e < 0 ? -e : e; m = b < 0 ? -b : b
            print (e <= 0.02 * m || e <= h) ? "yes" : "NO" }')
        echo "$1,$2,$(echo "$lab" | sed 's/ *:$//; s/^ *//; s/  */ /g'),$ours,$theirs,$r,$w" >> "$STATS_CSV"
    done
}

CSV="$WORK/agreement.csv"
echo "model,type,chunks,ppl_qkit,ppl_llama,ppl_rel_pct,ppl_within_0.05pct,kld_qkit,kld_llama,kld_rel_pct,kld_within_2pct,same_top_qkit,same_top_llama,seconds_qkit" > "$CSV"
rows=()

for model in "${MODELS[@]}"; do
    read -r bpath btype <<<"$(base_of "$model")"
    gdir="$SHARED/golden/$model/perplexity"
    [ -f "$bpath" ] || die "$bpath missing"
    base="$WORK/$model.$btype.c256.chunks$CHUNKS.kld"
    echo "agreement.sh: $model $btype: PPL over $CHUNKS chunks and base-logits file" >&2
    "$QKP" -m "$bpath" -f "$TEXT" -c 256 --chunks "$CHUNKS" -t "$THREADS" \
        --kl-divergence-base "$base" --json "$WORK/$model.$btype.json" \
        > "$WORK/$model.$btype.log" 2>&1 || die "qk-perplexity failed on $bpath — see $WORK/$model.$btype.log"
    ppl=$(jq -r .ppl "$WORK/$model.$btype.json")
    sec=$(jq -r .seconds "$WORK/$model.$btype.json")
    gppl=$(log_num "$gdir/$model.$btype.ppl100.log" "Final estimate: PPL =")
    r=$(rel "$ppl" "$gppl")
    echo "$model,$btype,$CHUNKS,$ppl,$gppl,$r,$(ok "$r" 0.05),,,,,,,$sec" >> "$CSV"

    for glog in "$gdir/$model".*.ppl100.log; do
        t=$(basename "$glog" .ppl100.log)
        t=${t#"$model".}
        [ "$t" = "$btype" ] && continue
        q="$WORK/$model-$t.gguf"
        echo "agreement.sh: $model $t: quantize, KLD over $CHUNKS chunks" >&2
        "$QKQ" "$bpath" "$q" "$t" > "$WORK/$model-$t.quantize.log" 2>&1 ||
            die "qk-quantize $t failed — see $WORK/$model-$t.quantize.log"
        js="$WORK/$model.$t.json"
        "$QKP" -m "$q" --kl-divergence-base "$base" --kl-divergence -t "$THREADS" --json "$js" \
            > "$WORK/$model.$t.log" 2>&1 || die "qk-perplexity --kl-divergence failed on $q — see $WORK/$model.$t.log"
        ppl=$(jq -r .kld.ppl_q "$js")
        kld=$(jq -r .kld.mean_kld "$js")
        st=$(jq -r '.kld.same_top * 100' "$js")
        sec=$(jq -r .seconds "$js")
        gppl=$(log_num "$glog" "Final estimate: PPL =")
        gkld=""; gst=""
        if [ -f "$gdir/$model.$t.kld100.log" ]; then
            gkld=$(log_num "$gdir/$model.$t.kld100.log" "Mean    KLD:")
            gst=$(log_num "$gdir/$model.$t.kld100.log" "Same top p:")
        fi
        r=$(rel "$ppl" "$gppl")
        rk=""; [ -n "$gkld" ] && rk=$(rel "$kld" "$gkld")
        [ -f "$gdir/$model.$t.kld100.log" ] && stats_rows "$model" "$t" "$js" "$gdir/$model.$t.kld100.log"
        echo "$model,$t,$CHUNKS,$ppl,$gppl,$r,$(ok "$r" 0.05),$kld,$gkld,$rk,$(ok "$rk" 2),$st,$gst,$sec" >> "$CSV"
        rm -f "$q"
    done
    [ "$KEEP" = 1 ] || rm -f "$base" "$base.nll"
done

# markdown table from the CSV
awk -F, 'NR == 1 { next }
    function f(x, fmt) { return x == "" ? "–" : sprintf(fmt, x) }
    BEGIN {
        print "| model | type | PPL qkit | PPL llama.cpp | Δ PPL | ≤0.05 % | mean KLD qkit | mean KLD llama.cpp | Δ KLD | ≤2 % | same top qkit / llama.cpp |"
        print "|---|---|---:|---:|---:|:-:|---:|---:|---:|:-:|---:|"
    }
    { printf "| %s | %s | %s | %s | %s%% | %s | %s | %s | %s | %s | %s |\n", $1, $2,
          f($4, "%.4f"), f($5, "%.4f"), $6, $7, f($8, "%.6f"), f($9, "%.6f"),
          ($10 == "" ? "–" : $10 "%"), ($11 == "" ? "–" : $11),
          ($12 == "" ? "–" : sprintf("%.3f / %.3f %%", $12, $13)) }' "$CSV"

# every KLD statistic: per type, how many are within 2 % and the worst ones
echo
echo "KL-divergence statistics vs llama.cpp's kld100 logs (all in $STATS_CSV):"
echo
awk -F, 'NR == 1 { next }
    BEGIN { print "| model | type | KLD stats within 2 % (or print resolution) | worst KLD stats (Δ %) | Δp stats within 2 % | worst Δp stats (Δ %) |"
            print "|---|---|:-:|---|:-:|---|" }
    function absv(x) { return x < 0 ? -x : x }
    { key = $1 "|" $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      g = ($3 ~ /Δp/) ? "p" : "k"; tot[key, g]++; if ($7 == "yes") good[key, g]++
      r = absv($6 + 0); lab = $3 " " sprintf("%+.2f", $6)
      if (r > w1[key, g]) { w2[key, g] = w1[key, g]; l2[key, g] = l1[key, g]; w1[key, g] = r; l1[key, g] = lab }
      else if (r > w2[key, g]) { w2[key, g] = r; l2[key, g] = lab } }
    END { for (i = 1; i <= n; i++) { k = order[i]; split(k, mt, "|")
          printf "| %s | %s | %d / %d | %s; %s | %d / %d | %s; %s |\n", mt[1], mt[2], good[k, "k"], tot[k, "k"],
                 l1[k, "k"], l2[k, "k"], good[k, "p"], tot[k, "p"], l1[k, "p"], l2[k, "p"] } }' "$STATS_CSV"
echo >&2
echo "agreement.sh: CSV in $CSV (PPL: $CHUNKS chunks of 256 vs llama-perplexity --chunks 100; KLD: against our own base file vs llama.cpp's kld100 logs)" >&2
