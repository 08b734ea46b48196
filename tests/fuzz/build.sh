#!/bin/sh
# build.sh — build the libFuzzer harnesses and their seed corpora (see README.md).
# Usage: tests/fuzz/build.sh [BUILD_DIR]   (default build-fuzz; run from the repository root)
set -e
B=${1:-build-fuzz}/fuzz
mkdir -p "$B/obj"
PKG="openblas libutf8proc libcjson"
INC="-Iengine -Icommon -Iperplexity -Idatasets -Ireports -Ibench -Iquantize -Itests/fuzz"
CF="-g -O1 -D_GNU_SOURCE -ffp-contract=off -Wall -Wextra -Wno-missing-field-initializers $INC $(pkg-config --cflags $PKG)"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
LIBS="$(pkg-config --libs $PKG) -lm -lpthread"

# every library source (no tool's main), instrumented once
OBJS=""
for src in engine/*.c common/*.c perplexity/*.c datasets/*.c reports/report_*.c bench/bench_compare*.c quantize/*.c; do
    case "$(basename "$src")" in qk-*) continue ;; esac
    obj="$B/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
    clang $CF $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    OBJS="$OBJS $obj"
done
for h in gguf tokenizer files reports; do
    mkdir -p "$B/$h/seeds" "$B/$h/corpus" "$B/$h/artifacts"
    clang $CF $SAN -fsanitize=fuzzer "tests/fuzz/fuzz_$h.c" $OBJS $LIBS -o "$B/fuzz_$h"
done

# seeds: GGUF files made with the engine's writer (gen_seeds uses testutil.c's model writer;
# the two paths it needs to compile are unused here) and the metadata of stories260K
clang $CF -Itests $(pkg-config --cflags check) -DQK_SHARED_DIR='"../shared"' -DQK_BIN_DIR='"."' \
    tests/fuzz/gen_seeds.c tests/testutil.c engine/*.c $LIBS $(pkg-config --libs check libcrypto) -o "$B/gen_seeds"
"$B/gen_seeds" "$B/gguf/seeds" ../shared/data/models/stories260K/stories260K.gguf
# tokenizer: byte 0 = vocabulary, byte 1 = flags, then text
i=0
for f in ../shared/data/tokenizers/llama.cpp/*.inp; do
    for v in 0 1 2; do
        { printf "\\00$v\\000"; head -c 4096 "$f"; } >"$B/tokenizer/seeds/$i-$v"
    done
    i=$((i + 1))
done
QK_FUZZ_SEEDS="$B/files/seeds" "$B/fuzz_files"
QK_FUZZ_SEEDS="$B/reports/seeds" "$B/fuzz_reports"
for f in ../shared/golden/bench/*.csv; do
    { printf '\002'; cat "$f"; } >"$B/reports/seeds/2-$(basename "$f")"
done
echo "built $B/fuzz_{gguf,tokenizer,files,reports}; seeds in $B/*/seeds"
