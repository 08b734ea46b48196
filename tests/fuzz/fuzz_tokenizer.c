/*
 * fuzz_tokenizer.c — libFuzzer harness for the tokenizers on real vocabularies.
 *
 * Input: byte 0 picks the vocabulary (Llama-2 SentencePiece, GPT-2 byte-level BPE, Qwen2
 * byte-level BPE: ../shared/data/tokenizers, loaded once), byte 1 the flags (bit 0 add
 * special tokens, bit 1 parse special-token texts), the rest is the text (run with
 * -max_len=1048578 for texts up to 1 MiB). Checked besides the sanitizers:
 *   - qk_tokenize succeeds (every byte string is text) and every id is in [0, n_vocab);
 *   - valid UTF-8, no special tokens added or parsed, a vocabulary without
 *     tokenizer.ggml.clean_spaces (GPT-2's has it: " ." detokenizes as "."): qk_detokenize
 *     gives the text back byte for byte;
 *   - SentencePiece: the same after the space prefix the vocabulary adds is removed, for
 *     texts without U+2581 "▁" (SentencePiece writes spaces as "▁", so a "▁" in the text
 *     comes back as a space, in llama.cpp too);
 *   - every id's piece can be asked for (qk_token_to_piece) without a fault.
 * Set QK_SHARED_DIR to the shared tree when not run from build-fuzz/fuzz (default
 * ../../../shared).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gguf.h"
#include "tokenizer.h"
#include "tokenizer_impl.h" /* qk_vocab.clean_spaces */

static const char *const VOCABS[3] = {
    "data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf",
    "data/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf",
    "data/tokenizers/qwen2/qwen2-vocab.gguf",
};
static qk_vocab *g_vocab[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *shared = getenv("QK_SHARED_DIR");
    if (!shared) shared = "../../../shared";
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", shared, VOCABS[i]);
        qk_err err = {{0}};
        gguf_ctx *g = gguf_open(path, &err);
        FUZZ_ASSERT(g, "%s (set QK_SHARED_DIR)", err.msg);
        g_vocab[i] = qk_vocab_load(g, &err);
        FUZZ_ASSERT(g_vocab[i], "%s", err.msg);
        gguf_close(g);
    }
    return 0;
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n) return false;
        uint32_t cp = k == 1 ? c : (uint32_t)(c & (0x7F >> k));
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const qk_vocab *v = g_vocab[data[0] % 3];
    const bool add_special = data[1] & 1, parse_special = data[1] & 2;
    const char *text = (const char *)data + 2;
    const size_t len = size - 2;

    int32_t *ids = NULL;
    size_t n = 0;
    qk_err err = {{0}};
    FUZZ_ASSERT(qk_tokenize(v, text, len, add_special, parse_special, &ids, &n, &err) == 0,
                "qk_tokenize failed on %zu bytes: %s", len, err.msg);
    const int32_t nv = qk_vocab_n_tokens(v);
    for (size_t i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < nv, "id %d outside the vocab", ids[i]);

    char piece[64];
    for (size_t i = 0; i < n && i < 256; i++) (void)qk_token_to_piece(v, ids[i], piece, sizeof piece, true);

    const bool spm = qk_vocab_kind_of(v) == QK_VOCAB_SPM;
    if (!add_special && !parse_special && !v->clean_spaces && valid_utf8((const uint8_t *)text, len) &&
        !(spm && memmem(text, len, "\xe2\x96\x81", 3))) {
        char *d = qk_detokenize(v, ids, n, false);
        FUZZ_ASSERT(d, "qk_detokenize returned NULL");
        const char *got = d;
        size_t got_len = strlen(d);
        /* SentencePiece prepends a space to the text when the vocabulary asks for it, and
         * detokenizing without BOS keeps it */
        if (spm && got_len == len + 1 && got[0] == ' ') {
            got++;
            got_len--;
        }
        /* a NUL in the text ends qk_detokenize's C string */
        const size_t cmp_len = strnlen(text, len);
        FUZZ_ASSERT(got_len == cmp_len && memcmp(got, text, cmp_len) == 0,
                    "%s: the text (%zu bytes) does not round-trip (%zu bytes back)",
                    spm ? "spm" : "bpe", len, strlen(d));
        free(d);
    }
    free(ids);
    return 0;
}
