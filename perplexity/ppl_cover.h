/*
 * ppl_cover.h — tokenizer-independent figures of a perplexity run: bits per byte and
 * word-level perplexity, computed over the text that the scored tokens cover.
 *
 * Definitions (lm-evaluation-harness, lm_eval/api/metrics.py: bits_per_byte and
 * word_perplexity of its loglikelihood_rolling tasks, e.g. wikitext):
 *   bits_per_byte   = Σ NLL / (ln 2 · B)      Σ NLL in nats over the scored tokens
 *   word_perplexity = exp(Σ NLL / W)
 * where B is the number of UTF-8 bytes and W the number of words of the text covered.
 *
 * Which text: under llama.cpp's chunk protocol (ppl_run.h) chunk c holds tokens
 * [c·n_ctx, (c+1)·n_ctx) and only the positions first = n_ctx/2 … n_ctx−2 are scored, each
 * predicting the next token, so the scored tokens are tokens[c·n_ctx + n_ctx/2 + 1 …
 * c·n_ctx + n_ctx − 1]. The covered text is, per chunk, the concatenation of those tokens'
 * pieces (qk_token_to_piece, control tokens as ""): B counts its bytes, W its words, a word
 * being a maximal run of bytes other than ASCII whitespace (space, \t, \n, \v, \f, \r) — the
 * fields of Python's bytes.split() with no argument. Each chunk's span is counted on its
 * own (a word cut by a span edge counts in each span it reaches). Detokenized pieces, not the
 * original file, because in --kl-divergence mode only the token ids are known.
 */
#ifndef QK_PPL_COVER_H
#define QK_PPL_COVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* Running byte and word counts of a stream of text pieces. */
typedef struct ppl_cover {
    uint64_t n_bytes, n_words;
    bool in_word; /* the last byte seen was part of a word */
} ppl_cover;

/* Add n bytes of text continuing the current span (a word may continue across calls). */
void ppl_cover_add(ppl_cover *c, const char *s, size_t n);
/* End the current span: the next byte starts a new word even if it is not whitespace. */
void ppl_cover_end_span(ppl_cover *c);

/* Counts of the text covered by the scored tokens of n_chunks chunks of n_ctx tokens
 * (tokens holds at least n_chunks·n_ctx ids, n_ctx >= 2). Returns 0, or -1 when a token id
 * is not in the vocabulary or memory runs out. */
int ppl_cover_scored(const qk_vocab *v, const int32_t *tokens, int32_t n_ctx, int32_t n_chunks,
                     ppl_cover *out);

/* Σ NLL (nats) / (ln 2 · n_bytes); NaN when n_bytes = 0. */
double ppl_bits_per_byte(double sum_nll, uint64_t n_bytes);
/* exp(Σ NLL / n_words); NaN when n_words = 0. */
double ppl_word_perplexity(double sum_nll, uint64_t n_words);

#endif
