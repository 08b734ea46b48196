#!/usr/bin/env bash
# scripts/study.sh — what `make study` runs after the build: find the model and the text,
# then run qk-study on them.
#
# The text: WikiText-2's wiki.test.raw, linked from the data mirror ($QK_DATA_DIR) or
# downloaded by datasets/fetch.sh. The model, in this order:
#   1. MODEL, when given;
#   2. the default, Qwen2.5-0.5B-Instruct F16, from the mirror or downloaded (fetch.sh);
#   3. when neither works (offline, and not in the mirror): the mirror's real trained model
#      $QK_DATA_DIR/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf. The study says so in one
#      line before it starts, and results.md says which model it used and why.
# Only when neither the default nor the fallback exists is it an error, naming both paths.
#
# With IMATRIX (a file) or IMATRIX_TEXT (a calibration text) every type is also quantized
# with an importance matrix (qk-study --imatrix / --imatrix-text).
#
# usage: scripts/study.sh BUILD_DIR DATA_DIR OUT TYPES CHUNKS CTX [THREADS]
#   (the Makefile passes its variables; MODEL, TEXT, IMATRIX and IMATRIX_TEXT come from the
#   environment)
set -euo pipefail

[ $# -ge 6 ] || { echo "usage: scripts/study.sh BUILD_DIR DATA_DIR OUT TYPES CHUNKS CTX [THREADS]" >&2; exit 2; }
build=$1 data=$2 out=$3 types=$4 chunks=$5 ctx=$6 threads=${7:-}
here=$(cd "$(dirname "$0")/.." && pwd)
mirror=${QK_DATA_DIR:-$here/../shared/data}
default_model=$data/models/qwen2.5-0.5b-instruct/qwen2.5-0.5b-instruct-fp16.gguf
fallback_rel=models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf
fallback=$mirror/$fallback_rel
die() { echo "study: error: $*" >&2; exit 1; }

text=${TEXT:-}
if [ -z "$text" ]; then
    "$here/datasets/fetch.sh" --text-only "$data" ||
        die "no evaluation text — put wiki.test.raw into $mirror/wikitext-2-raw/ (or pass TEXT=file.raw)"
    text=$data/wikitext-2-raw/wiki.test.raw
fi

model=${MODEL:-}
note=
if [ -z "$model" ]; then
    if QK_FETCH_MODEL_OPTIONAL=1 "$here/datasets/fetch.sh" "$data"; then
        model=$default_model
    elif [ -f "$fallback" ]; then
        model=$fallback
        why="the default model (Qwen2.5-0.5B-Instruct F16) could not be downloaded and is not in the data mirror $mirror"
        echo "study: $why: running on the mirror's wiki-qwen2-13m-f16.gguf instead ($fallback)" >&2
        note="The study ran on the data mirror's wiki-qwen2-13m-f16.gguf (a 13M-parameter qwen2 model trained on WikiText-2), not on the default Qwen2.5-0.5B-Instruct: $why. With a network, \`make study\` downloads the default; \`make study MODEL=file.gguf\` picks any F16 model."
    else
        die "no model: the default could not be fetched to $default_model (offline, and not in $mirror/models/), and the fallback $fallback does not exist — pass MODEL=file.gguf or put ../shared beside the checkout"
    fi
fi

args=(-m "$model" -f "$text" -o "$out" --types "$types" --chunks "$chunks" -c "$ctx")
[ -n "$threads" ] && args+=(-t "$threads")
[ -n "$note" ] && args+=(--note "$note")
[ -n "${IMATRIX:-}" ] && args+=(--imatrix "$IMATRIX")
[ -n "${IMATRIX_TEXT:-}" ] && args+=(--imatrix-text "$IMATRIX_TEXT")
exec "$build/bin/qk-study" "${args[@]}"
