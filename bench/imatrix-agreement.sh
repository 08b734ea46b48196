#!/usr/bin/env bash
# bench/imatrix-agreement.sh — does qkit's importance matrix give the quants llama.cpp's
# does? On wiki-qwen2-13m (the golden setting of ../shared/golden/README.md):
#   1. qk-imatrix -m BASE -f calibration/wiki.test.tail.raw -c 256 --chunks 100 (ours), and
#      its tokens/s beside qk-perplexity's on the same text and settings;
#   2. the base's logits over the first 100 chunks of 256 tokens of wiki.test.raw;
#   3. for each type with a golden wiki-qwen2-13m.imat.<TYPE>.kld100.log: qk-quantize
#      --imatrix with OUR imatrix and with llama.cpp's golden .dat, then qk-perplexity
#      --kl-divergence of both against our base file;
#   4. the table: mean KLD with our imatrix, with llama.cpp's, llama.cpp's own figure (its
#      quant of the golden .dat against its own base), and the relative difference of ours
#      from llama.cpp's figure (the issue's target: within 2 %).
# A benchmark, not a test: it takes a few minutes and asserts nothing.
#
# usage: bench/imatrix-agreement.sh [-B BUILD_DIR] [-w WORK_DIR] [-t THREADS]
# Needs: jq, awk. Shared data: ../shared beside the checkout, or $QK_SHARED.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
WORK="${TMPDIR:-/tmp}/qk-imatrix-agreement"
THREADS=2
while getopts "B:w:t:h" opt; do
    case $opt in
        B) BUILD=$OPTARG ;;
        w) WORK=$OPTARG ;;
        t) THREADS=$OPTARG ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "imatrix-agreement.sh: error: unknown option — see -h" >&2; exit 2 ;;
    esac
done
case $BUILD in /*) ;; *) BUILD="$here/$BUILD" ;; esac
SHARED=${QK_SHARED:-$(cd "$here/../shared" 2>/dev/null && pwd || true)}
die() { echo "imatrix-agreement.sh: error: $*" >&2; exit 1; }
[ -d "$SHARED/golden" ] || die "no ../shared beside the checkout — set QK_SHARED"
for t in qk-imatrix qk-quantize qk-perplexity; do
    [ -x "$BUILD/bin/$t" ] || die "$BUILD/bin/$t missing — run make build"
done
command -v jq >/dev/null || die "jq not installed (apt-get install jq)"

M=wiki-qwen2-13m
BASE="$SHARED/data/models/$M/$M-f16.gguf"
TEXT="$SHARED/data/wikitext-2-raw/wiki.test.raw"
CALIB="$SHARED/data/calibration/wiki.test.tail.raw"
GOLD="$SHARED/golden/$M"
mkdir -p "$WORK"
step() { echo "imatrix-agreement: $*" >&2; }
tps() { jq -r '.tokens_per_second // (.n_tokens_evaluated / .seconds)' "$1"; }

step "qk-imatrix (100 chunks of 256, -t $THREADS) and qk-perplexity on the same text"
"$BUILD/bin/qk-imatrix" -m "$BASE" -f "$CALIB" -c 256 --chunks 100 -t "$THREADS" -o "$WORK/ours.gguf" \
    --json "$WORK/imatrix.json" > "$WORK/imatrix.log" 2>&1
"$BUILD/bin/qk-perplexity" -m "$BASE" -f "$CALIB" -c 256 -b 256 --chunks 100 -t "$THREADS" \
    --json "$WORK/ppl-calib.json" > "$WORK/ppl-calib.log" 2>&1
step "base logits (100 chunks of wiki.test.raw)"
[ -f "$WORK/base.kld" ] ||
    "$BUILD/bin/qk-perplexity" -m "$BASE" -f "$TEXT" -c 256 --chunks 100 -t "$THREADS" \
        --kl-divergence-base "$WORK/base.kld" > "$WORK/base.log" 2>&1

echo "| type | mean KLD, our imatrix | mean KLD, llama.cpp's .dat | llama.cpp | ours vs llama.cpp |"
echo "|:--|--:|--:|--:|--:|"
for log in "$GOLD"/perplexity/$M.imat.*.kld100.log; do
    T=${log#*.imat.}
    T=${T%.kld100.log}
    row="| $T |"
    for im in ours golden; do
        f="$WORK/ours.gguf"
        [ $im = golden ] && f="$GOLD/imatrix/$M.imatrix.dat"
        step "$T with the $im imatrix"
        "$BUILD/bin/qk-quantize" --imatrix "$f" "$BASE" "$WORK/q.gguf" "$T" "$THREADS" > "$WORK/q-$T-$im.log" 2>&1
        "$BUILD/bin/qk-perplexity" -m "$WORK/q.gguf" --kl-divergence-base "$WORK/base.kld" --kl-divergence \
            -t "$THREADS" --json "$WORK/kld-$T-$im.json" > "$WORK/kld-$T-$im.log" 2>&1
        row="$row $(jq -r '.kld.mean_kld * 1e6 | round / 1e6' "$WORK/kld-$T-$im.json") |"
        [ $im = ours ] && ours=$(jq -r '.kld.mean_kld' "$WORK/kld-$T-$im.json")
    done
    gold=$(awk '/^Mean +KLD:/ {print $3}' "$log")
    echo "$row $gold | $(awk -v a="$ours" -v b="$gold" 'BEGIN { printf "%+.2f %%", 100 * (a - b) / b }') |"
done
rm -f "$WORK/q.gguf"
echo
printf 'qk-imatrix: %.0f t/s; qk-perplexity -b 256 on the same text: %.0f t/s (-t %s)\n' \
    "$(tps "$WORK/imatrix.json")" "$(tps "$WORK/ppl-calib.json")" "$THREADS"
