#!/bin/sh
# build.sh — build the GGUF fuzz harness and its seed corpus (see README.md).
# Usage: tests/fuzz/build.sh [BUILD_DIR]   (default build-fuzz; run from the repository root)
set -e
B=${1:-build-fuzz}/fuzz
mkdir -p "$B/seeds" "$B/corpus" "$B/artifacts"
PKG="openblas libutf8proc libcjson"
CF="-g -O1 -D_GNU_SOURCE -ffp-contract=off -Wall -Wextra -Iengine -Icommon $(pkg-config --cflags $PKG)"
LIBS="$(pkg-config --libs $PKG) -lm -lpthread"
clang $CF -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    tests/fuzz/fuzz_gguf.c engine/*.c $LIBS -o "$B/fuzz_gguf"
# gen_seeds uses testutil.c's model writer; the two paths it needs to compile are unused here
clang $CF -Itests $(pkg-config --cflags check) -DQK_SHARED_DIR='"../shared"' -DQK_BIN_DIR='"."' \
    tests/fuzz/gen_seeds.c tests/testutil.c engine/*.c $LIBS $(pkg-config --libs check libcrypto) -o "$B/gen_seeds"
"$B/gen_seeds" "$B/seeds" ../shared/data/models/stories260K/stories260K.gguf
echo "built $B/fuzz_gguf; seeds in $B/seeds"
