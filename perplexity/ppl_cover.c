/*
 * ppl_cover.c — byte and word counts of the text under the scored tokens, and bits per byte
 * and word perplexity from them. Definitions and the covered text: ppl_cover.h.
 */
#include "ppl_cover.h"

#include <math.h>
#include <stdlib.h>

static bool is_space(unsigned char b) { return b == ' ' || (b >= '\t' && b <= '\r'); }

void ppl_cover_add(ppl_cover *c, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const bool sp = is_space((unsigned char)s[i]);
        if (!sp && !c->in_word) c->n_words++;
        c->in_word = !sp;
    }
    c->n_bytes += n;
}

void ppl_cover_end_span(ppl_cover *c) { c->in_word = false; }

int ppl_cover_scored(const qk_vocab *v, const int32_t *tokens, int32_t n_ctx, int32_t n_chunks,
                     ppl_cover *out) {
    *out = (ppl_cover){0};
    size_t cap = 256;
    char *buf = malloc(cap);
    if (!buf) return -1;
    const int32_t first = n_ctx / 2;
    for (int32_t c = 0; c < n_chunks; c++) {
        for (int32_t i = first + 1; i < n_ctx; i++) {
            const int32_t id = tokens[(size_t)c * n_ctx + i];
            int n = qk_token_to_piece(v, id, buf, cap, false);
            if (n >= 0 && (size_t)n > cap) {
                char *nb = realloc(buf, (size_t)n);
                if (!nb) {
                    free(buf);
                    return -1;
                }
                buf = nb;
                cap = (size_t)n;
                n = qk_token_to_piece(v, id, buf, cap, false);
            }
            if (n < 0) {
                free(buf);
                return -1;
            }
            ppl_cover_add(out, buf, (size_t)n);
        }
        ppl_cover_end_span(out);
    }
    free(buf);
    return 0;
}

double ppl_bits_per_byte(double sum_nll, uint64_t n_bytes) {
    return n_bytes ? sum_nll / (M_LN2 * (double)n_bytes) : NAN;
}

double ppl_word_perplexity(double sum_nll, uint64_t n_words) {
    return n_words ? exp(sum_nll / (double)n_words) : NAN;
}
