/*
 * ppl_logits.h — the files qk-perplexity reads and writes:
 *   1. llama.cpp's base-logits file (`--kl-divergence-base FILE`), byte-compatible both ways;
 *   2. qkit's exact-NLL sidecar `FILE.nll` written next to it;
 *   3. qkit's per-prompt base file (`--prompts P --kl-divergence-base FILE`).
 * All three are written atomically (temporary name, then rename) by ppl_afile.
 *
 * 1. Base-logits file (llama.cpp examples/perplexity/perplexity.cpp, perplexity() and
 *    kl_divergence(); llama-cpp-reference.md §1b). Native-endian (little-endian on x86):
 *      offset 0   char[8]  "_logits_"
 *      offset 8   int32    n_ctx      (tokens per chunk)
 *      offset 12  int32    n_vocab
 *      offset 16  int32    n_chunk
 *      offset 20  int32    tokens[n_chunk·n_ctx]   (the tokenized text, BOS substitution
 *                                                    NOT applied)
 *      then for each chunk, for each of n_scored = n_ctx − 1 − n_ctx/2 scored positions,
 *      one record of nv = 2·((n_vocab+1)/2) + 4 uint16 words:
 *        words 0..1 float32 scale, words 2..3 float32 min_log_prob,
 *        words 4..4+n_vocab−1 uint16 q[i] (a zero pad word when n_vocab is odd).
 *    log p_i ≈ scale·q[i] + min_log_prob. Encoding of one row of logits: max, min_logit =
 *    max(min, max − 16), log_sum_exp = log Σ expf(l − max) (double sum, float log),
 *    scale = (max − min_logit)/65535, min_log_prob = min_logit − max − log_sum_exp,
 *    q[i] = round((l_i − min_logit)/scale) by the 1.5·2²³ magic add when l_i > min_logit,
 *    else 0 (all q = 0 when scale = 0). Size = 20 + 4·n_chunk·n_ctx + 2·nv·n_chunk·n_scored.
 *
 * 2. Exact-NLL sidecar FILE.nll (qkit's own). Native-endian:
 *      offset 0   char[8]  "_qknll1_"
 *      offset 8   int32    n_ctx, offset 12 int32 n_vocab, offset 16 int32 n_chunk,
 *      offset 20  int32    n_scored (per chunk)
 *      offset 24  uint64   FNV-1a 64 hash of the base file's token section (its bytes)
 *      offset 32  float64  nll[n_chunk·n_scored]: the base model's exact −log p(next token)
 *                          in nats (not clipped at 16 nats), in the base file's record order.
 *    Size = 32 + 8·n_chunk·n_scored.
 *
 * 3. Per-prompt base file (qkit's own). Native-endian:
 *      offset 0   char[8]  "_qkppt1_"
 *      offset 8   int32    n_vocab, offset 12 int32 n_prompts
 *      offset 16  per prompt, 24 bytes: int32 n_tokens (fed, BOS included), int32 n_scored,
 *                 uint64 FNV-1a 64 hash of the prompt's token ids, float64 nll_sum (nats).
 *    Size = 16 + 24·n_prompts.
 *
 * Errors are values (qk_err, engine/error.h); readers validate sizes and ranges strictly and
 * never trust a count from the file before checking it against the file size.
 */
#ifndef QK_PPL_LOGITS_H
#define QK_PPL_LOGITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define PPL_LOGITS_MAGIC "_logits_"
#define PPL_NLL_MAGIC "_qknll1_"
#define PPL_PROMPTS_MAGIC "_qkppt1_"
#define PPL_LOGITS_HEADER_BYTES 20
#define PPL_NLL_HEADER_BYTES 32
#define PPL_PROMPTS_HEADER_BYTES 16
#define PPL_PROMPTS_RECORD_BYTES 24

/* ---- layout arithmetic ------------------------------------------------------------------ */

/* uint16 words per record: 2·((n_vocab+1)/2) + 4. */
int32_t ppl_logits_nv(int32_t n_vocab);
/* Scored positions per chunk: n_ctx − 1 − n_ctx/2 (255 at n_ctx = 512). */
int32_t ppl_logits_n_scored(int32_t n_ctx);
/* Total file size in bytes, or 0 when the counts are not positive or the size would exceed
 * 2^62 bytes. */
uint64_t ppl_logits_file_size(int32_t n_ctx, int32_t n_vocab, int32_t n_chunk);

/* FNV-1a 64 over the bytes of n int32 token ids (as stored, native-endian). */
uint64_t ppl_tokens_hash(const int32_t *tokens, size_t n);

/* ---- one record --------------------------------------------------------------------------- */

/* Encode the logits of one position (n_vocab floats) into rec (ppl_logits_nv words; the pad
 * word is zeroed). Returns the exact NLL of `tok` in double (max + log Σexp − l_tok), or NaN
 * when the logits hold NaN/Inf (rec is then all zero). */
double ppl_logits_encode(const float *logits, int32_t n_vocab, int32_t tok, uint16_t *rec);
/* scale and min_log_prob stored in a record. */
void ppl_logits_rec_params(const uint16_t *rec, float *scale, float *min_log_prob);
/* Reconstructed log p_i = scale·q[i] + min_log_prob (float, as llama.cpp). */
float ppl_logits_rec_logprob(const uint16_t *rec, int32_t i);

/* ---- 1. base-logits file: reader ---------------------------------------------------------- */

typedef struct ppl_logits_file {
    int32_t n_ctx, n_vocab, n_chunk;
    int32_t nv;        /* words per record */
    int32_t n_scored;  /* records per chunk */
    int32_t *tokens;   /* n_chunk·n_ctx token ids, all in [0, n_vocab) */
    uint64_t size;     /* file size in bytes (== ppl_logits_file_size) */
    uint64_t tokens_hash;
    int32_t next_chunk;
    FILE *f;
} ppl_logits_file;

/* Open and validate a base-logits file: magic "_logits_", n_ctx >= 4, n_vocab >= 2,
 * n_chunk >= 1, exact file size, every token id in range. Errors name the file and what is
 * wrong (not a logits file / truncated / trailing bytes / bad token at index i). */
ppl_logits_file *ppl_logits_open(const char *path, qk_err *err);
/* Read the records of the next n_chunks chunks (n_chunks·n_scored·nv words) into recs, and
 * check each record's scale (finite, 0..1) and min_log_prob (finite, <= 0, and scale·65535 +
 * min_log_prob <= 0: the largest value it encodes is a log-probability): a damaged record
 * is an error naming its chunk (1-based) and record, so no NaN reaches a statistic. */
int ppl_logits_read_chunks(ppl_logits_file *lf, int32_t n_chunks, uint16_t *recs, qk_err *err);
void ppl_logits_close(ppl_logits_file *lf);

/* ---- 1. base-logits file: writer ---------------------------------------------------------- */

typedef struct ppl_logits_writer ppl_logits_writer;

/* Start writing path (atomically): header and the n_chunk·n_ctx tokens. */
ppl_logits_writer *ppl_logits_create(const char *path, int32_t n_ctx, int32_t n_vocab,
                                     int32_t n_chunk, const int32_t *tokens, qk_err *err);
/* Append n_records records (n_records·nv words), in chunk order. */
int ppl_logits_write_records(ppl_logits_writer *w, const uint16_t *recs, size_t n_records,
                             qk_err *err);
/* Check that all n_chunk·n_scored records were written, then rename into place. Frees w. */
int ppl_logits_commit(ppl_logits_writer *w, qk_err *err);
void ppl_logits_abort(ppl_logits_writer *w);

/* ---- 2. exact-NLL sidecar ----------------------------------------------------------------- */

/* Write path atomically; nll holds n_chunk·n_scored values. */
int ppl_nll_write(const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                  uint64_t tokens_hash, const double *nll, qk_err *err);
/* Read path and check it belongs to base (same n_ctx, n_vocab, n_chunk, n_scored, token hash,
 * exact size, finite values >= -1e-3: an NLL is >= 0 up to rounding). Returns a malloc'd array of
 * base->n_chunk·base->n_scored doubles, or NULL with err set. */
double *ppl_nll_read(const char *path, const ppl_logits_file *base, qk_err *err);

/* ---- 3. per-prompt base file -------------------------------------------------------------- */

typedef struct ppl_prompt_rec {
    int32_t n_tokens;  /* tokens fed (BOS included) */
    int32_t n_scored;  /* n_tokens − 1 */
    uint64_t hash;     /* ppl_tokens_hash of the fed tokens */
    double nll_sum;    /* Σ −log p over the scored tokens, nats */
} ppl_prompt_rec;

int ppl_prompts_write(const char *path, int32_t n_vocab, const ppl_prompt_rec *recs, int32_t n,
                      qk_err *err);
/* Returns malloc'd records (*n of them) and the stored n_vocab, or NULL with err set. */
ppl_prompt_rec *ppl_prompts_read(const char *path, int32_t *n_vocab, int32_t *n, qk_err *err);

#endif
