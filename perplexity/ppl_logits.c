/*
 * ppl_logits.c — llama.cpp's base-logits file (read, write, record encoding), qkit's
 * exact-NLL sidecar and per-prompt base file. Formats are documented in ppl_logits.h.
 *
 * Invariants: a reader validates the exact file size against the header before it
 * allocates anything sized by the header; a writer never leaves a partial file at the
 * target path (engine/afile.h: a registered temporary, renamed on commit, removed on abort
 * or by qk_afile_cleanup_all from a signal handler).
 */
#include "ppl_logits.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "ppl_simd.h"

/* ---- layout arithmetic ---------------------------------------------------------------- */

int32_t ppl_logits_nv(int32_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

int32_t ppl_logits_n_scored(int32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

uint64_t ppl_logits_file_size(int32_t n_ctx, int32_t n_vocab, int32_t n_chunk) {
    if (n_ctx < 4 || n_vocab < 1 || n_chunk < 1) return 0;
    const double approx = PPL_LOGITS_HEADER_BYTES + 4.0 * n_chunk * n_ctx +
                          2.0 * ppl_logits_nv(n_vocab) * (double)n_chunk * ppl_logits_n_scored(n_ctx);
    if (approx > 4.0e18) return 0;
    return PPL_LOGITS_HEADER_BYTES + 4ull * (uint64_t)n_chunk * (uint64_t)n_ctx +
           2ull * (uint64_t)ppl_logits_nv(n_vocab) * (uint64_t)n_chunk *
               (uint64_t)ppl_logits_n_scored(n_ctx);
}

uint64_t ppl_tokens_hash(const int32_t *tokens, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    const unsigned char *p = (const unsigned char *)tokens;
    for (size_t i = 0; i < n * sizeof(int32_t); i++) {
        h ^= p[i];
        h *= 0x100000001b3ull; /* FNV prime */
    }
    return h;
}

/* ---- one record ------------------------------------------------------------------------- */

/* Round to nearest (ties to even) for 0 <= x < 2^22 by adding 1.5·2^23 and reading the
 * mantissa bits (llama.cpp's nearest_int). */
static inline int nearest_int(float x) {
    float v = x + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

double ppl_logits_encode(const float *logits, int32_t n_vocab, int32_t tok, uint16_t *rec) {
    const int32_t nv = ppl_logits_nv(n_vocab);
    memset(rec, 0, (size_t)nv * sizeof *rec);
    const bool simd = ppl_simd_enabled();
    float mx = logits[0], mn = logits[0];
    bool finite = true;
    if (simd) {
        finite = ppl_simd_minmax(logits, n_vocab, &mx, &mn);
    } else {
        for (int32_t i = 0; i < n_vocab; i++) {
            const float l = logits[i];
            if (!isfinite(l)) finite = false;
            if (l > mx) mx = l;
            if (l < mn) mn = l;
        }
    }
    if (!finite) return NAN;
    if (mn < mx - 16) mn = mx - 16; /* keep 16 nats of dynamic range */
    double sum_exp = 0.0;
    if (simd) {
        sum_exp = ppl_simd_sum_exp(logits, n_vocab, mx);
    } else {
        for (int32_t i = 0; i < n_vocab; i++) sum_exp += expf(logits[i] - mx);
    }
    const float log_sum_exp = (float)log(sum_exp);
    const float min_log_prob = mn - mx - log_sum_exp;
    const float scale = (mx - mn) / 65535.0f;
    memcpy(rec, &scale, sizeof scale);
    memcpy(rec + 2, &min_log_prob, sizeof min_log_prob);
    uint16_t *q = rec + 4;
    if (scale != 0.0f && simd) {
        ppl_simd_quantize(logits, n_vocab, mn, 1 / scale, q);
    } else if (scale != 0.0f) {
        const float inv_scale = 1 / scale;
        for (int32_t i = 0; i < n_vocab; i++) {
            if (logits[i] > mn) {
                const int v = nearest_int(inv_scale * (logits[i] - mn));
                q[i] = (uint16_t)(v > 65535 ? 65535 : v);
            }
        }
    }
    return (double)mx + log(sum_exp) - (double)logits[tok];
}

void ppl_logits_rec_params(const uint16_t *rec, float *scale, float *min_log_prob) {
    memcpy(scale, rec, sizeof *scale);
    memcpy(min_log_prob, rec + 2, sizeof *min_log_prob);
}

float ppl_logits_rec_logprob(const uint16_t *rec, int32_t i) {
    float scale, mlp;
    ppl_logits_rec_params(rec, &scale, &mlp);
    return scale * rec[4 + i] + mlp;
}

/* ---- small file helpers ----------------------------------------------------------------- */

static FILE *open_sized(const char *path, uint64_t *size, qk_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        qk_errf(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        qk_errf(err, "%s is not a regular file", path);
        return NULL;
    }
    *size = (uint64_t)st.st_size;
    return f;
}

static int read_exact(FILE *f, void *buf, size_t n, const char *path, qk_err *err) {
    if (n && fread(buf, 1, n, f) != n)
        return qk_errf(err, "reading %s failed: %s", path,
                       ferror(f) ? strerror(errno) : "unexpected end of file");
    return 0;
}

static int check_size(const char *path, const char *what, uint64_t have, uint64_t want,
                      qk_err *err) {
    if (have < want)
        return qk_errf(err,
                       "%s is truncated: %llu bytes, but its header describes a %s of %llu "
                       "bytes — regenerate it",
                       path, (unsigned long long)have, what, (unsigned long long)want);
    if (have > want)
        return qk_errf(err, "%s has %llu bytes after the %s its header describes (%llu bytes) — "
                       "not a valid file",
                       path, (unsigned long long)(have - want), what, (unsigned long long)want);
    return 0;
}

/* ---- 1. base-logits file: reader -------------------------------------------------------- */

ppl_logits_file *ppl_logits_open(const char *path, qk_err *err) {
    uint64_t size = 0;
    FILE *f = open_sized(path, &size, err);
    if (!f) return NULL;
    ppl_logits_file *lf = NULL;
    unsigned char hdr[PPL_LOGITS_HEADER_BYTES];
    if (size < 8 || fread(hdr, 1, 8, f) != 8 || memcmp(hdr, PPL_LOGITS_MAGIC, 8) != 0) {
        qk_errf(err, "%s is not a llama.cpp base-logits file (no \"_logits_\" magic)", path);
        goto fail;
    }
    if (size < PPL_LOGITS_HEADER_BYTES) {
        qk_errf(err, "%s is truncated: %llu bytes, shorter than the 20-byte header", path,
                (unsigned long long)size);
        goto fail;
    }
    if (read_exact(f, hdr + 8, 12, path, err)) goto fail;
    int32_t n_ctx, n_vocab, n_chunk;
    memcpy(&n_ctx, hdr + 8, 4);
    memcpy(&n_vocab, hdr + 12, 4);
    memcpy(&n_chunk, hdr + 16, 4);
    if (n_ctx < 4 || n_vocab < 2 || n_chunk < 1 || n_vocab > (1 << 26) ||
        n_ctx > (1 << 24) || n_chunk > (1 << 24)) {
        qk_errf(err, "%s has an invalid header (n_ctx %d, n_vocab %d, n_chunk %d)", path, n_ctx,
                n_vocab, n_chunk);
        goto fail;
    }
    const uint64_t want = ppl_logits_file_size(n_ctx, n_vocab, n_chunk);
    if (want == 0) {
        qk_errf(err, "%s has an invalid header (n_ctx %d, n_vocab %d, n_chunk %d)", path, n_ctx,
                n_vocab, n_chunk);
        goto fail;
    }
    if (check_size(path, "base-logits file", size, want, err)) goto fail;

    lf = calloc(1, sizeof *lf);
    const size_t n_tok = (size_t)n_ctx * (size_t)n_chunk;
    if (lf) lf->tokens = malloc(n_tok * sizeof(int32_t));
    if (!lf || !lf->tokens) {
        qk_errf(err, "out of memory reading %s", path);
        goto fail;
    }
    if (read_exact(f, lf->tokens, n_tok * sizeof(int32_t), path, err)) goto fail;
    for (size_t i = 0; i < n_tok; i++) {
        if (lf->tokens[i] < 0 || lf->tokens[i] >= n_vocab) {
            qk_errf(err, "%s: token %zu has id %d, outside the vocabulary [0, %d) — corrupt file",
                    path, i, lf->tokens[i], n_vocab);
            goto fail;
        }
    }
    lf->n_ctx = n_ctx;
    lf->n_vocab = n_vocab;
    lf->n_chunk = n_chunk;
    lf->nv = ppl_logits_nv(n_vocab);
    lf->n_scored = ppl_logits_n_scored(n_ctx);
    lf->size = size;
    lf->tokens_hash = ppl_tokens_hash(lf->tokens, n_tok);
    lf->f = f;
    return lf;
fail:
    if (lf) free(lf->tokens);
    free(lf);
    fclose(f);
    return NULL;
}

/* A record's two floats as ppl_logits_encode writes them: scale = (max − min logit)/65535
 * with the range at most a few tens of nats (16 in llama.cpp, 24 in ik_llama.cpp), so
 * 0 <= scale <= 1 is generous; min_log_prob = min logit − max − log Σexp <= 0; and the
 * largest value a record can hold, scale·65535 + min_log_prob = −log Σexp, is a log-prob
 * (<= 0; 1e-3 allows the float rounding). Anything else — NaN, infinities, a negative
 * scale — would flow into every statistic and into the sorts. */
static bool record_params_ok(const uint16_t *rec) {
    float scale, mlp;
    memcpy(&scale, rec, sizeof scale);
    memcpy(&mlp, rec + 2, sizeof mlp);
    return isfinite(scale) && isfinite(mlp) && scale >= 0.0f && scale <= 1.0f && mlp <= 1e-3f &&
           (double)scale * 65535.0 + mlp <= 1e-3;
}

int ppl_logits_read_chunks(ppl_logits_file *lf, int32_t n_chunks, uint16_t *recs, qk_err *err) {
    if (n_chunks < 0 || lf->next_chunk + n_chunks > lf->n_chunk)
        return qk_errf(err, "base-logits file has %d chunks; asked for chunks %d..%d", lf->n_chunk,
                       lf->next_chunk, lf->next_chunk + n_chunks - 1);
    const size_t words = (size_t)n_chunks * (size_t)lf->n_scored * (size_t)lf->nv;
    if (words && fread(recs, sizeof(uint16_t), words, lf->f) != words)
        return qk_errf(err, "reading the log-probs of chunk %d from the base-logits file failed: %s",
                       lf->next_chunk,
                       ferror(lf->f) ? strerror(errno) : "unexpected end of file");
    for (size_t r = 0; r < (size_t)n_chunks * (size_t)lf->n_scored; r++)
        if (!record_params_ok(recs + r * (size_t)lf->nv))
            return qk_errf(err, "the base-logits file is damaged: chunk %d, record %d has an invalid scale or "
                           "min_log_prob (not a log-probability encoding) — write it again with --kl-divergence-base",
                           lf->next_chunk + (int32_t)(r / (size_t)lf->n_scored) + 1,
                           (int32_t)(r % (size_t)lf->n_scored));
    lf->next_chunk += n_chunks;
    return 0;
}

void ppl_logits_close(ppl_logits_file *lf) {
    if (!lf) return;
    if (lf->f) fclose(lf->f);
    free(lf->tokens);
    free(lf);
}

/* ---- 1. base-logits file: writer -------------------------------------------------------- */

struct ppl_logits_writer {
    qk_afile *a;
    int32_t nv;
    uint64_t n_records, n_written;
};

ppl_logits_writer *ppl_logits_create(const char *path, int32_t n_ctx, int32_t n_vocab,
                                     int32_t n_chunk, const int32_t *tokens, qk_err *err) {
    if (ppl_logits_file_size(n_ctx, n_vocab, n_chunk) == 0) {
        qk_errf(err, "invalid base-logits dimensions (n_ctx %d, n_vocab %d, n_chunk %d)", n_ctx,
                n_vocab, n_chunk);
        return NULL;
    }
    ppl_logits_writer *w = calloc(1, sizeof *w);
    if (!w) {
        qk_errf(err, "out of memory");
        return NULL;
    }
    w->a = qk_afile_create(path, err);
    if (!w->a) {
        free(w);
        return NULL;
    }
    w->nv = ppl_logits_nv(n_vocab);
    w->n_records = (uint64_t)n_chunk * (uint64_t)ppl_logits_n_scored(n_ctx);
    const int32_t dims[3] = {n_ctx, n_vocab, n_chunk};
    if (qk_afile_write(w->a, PPL_LOGITS_MAGIC, 8, err) ||
        qk_afile_write(w->a, dims, sizeof dims, err) ||
        qk_afile_write(w->a, tokens, (size_t)n_ctx * (size_t)n_chunk * sizeof(int32_t), err)) {
        ppl_logits_abort(w);
        return NULL;
    }
    return w;
}

int ppl_logits_write_records(ppl_logits_writer *w, const uint16_t *recs, size_t n_records,
                             qk_err *err) {
    if (w->n_written + n_records > w->n_records)
        return qk_errf(err, "internal error: more base-logits records than the header promises");
    if (qk_afile_write(w->a, recs, n_records * (size_t)w->nv * sizeof(uint16_t), err)) return -1;
    w->n_written += n_records;
    return 0;
}

int ppl_logits_commit(ppl_logits_writer *w, qk_err *err) {
    if (w->n_written != w->n_records) {
        qk_errf(err, "internal error: %llu of %llu base-logits records written",
                (unsigned long long)w->n_written, (unsigned long long)w->n_records);
        ppl_logits_abort(w);
        return -1;
    }
    int rc = qk_afile_commit(w->a, err);
    free(w);
    return rc;
}

void ppl_logits_abort(ppl_logits_writer *w) {
    if (!w) return;
    qk_afile_abort(w->a);
    free(w);
}

/* ---- 2. exact-NLL sidecar --------------------------------------------------------------- */

int ppl_nll_write(const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                  uint64_t tokens_hash, const double *nll, qk_err *err) {
    const int32_t n_scored = ppl_logits_n_scored(n_ctx);
    qk_afile *a = qk_afile_create(path, err);
    if (!a) return -1;
    const int32_t dims[4] = {n_ctx, n_vocab, n_chunk, n_scored};
    if (qk_afile_write(a, PPL_NLL_MAGIC, 8, err) || qk_afile_write(a, dims, sizeof dims, err) ||
        qk_afile_write(a, &tokens_hash, sizeof tokens_hash, err) ||
        qk_afile_write(a, nll, (size_t)n_chunk * (size_t)n_scored * sizeof(double), err)) {
        qk_afile_abort(a);
        return -1;
    }
    return qk_afile_commit(a, err);
}

double *ppl_nll_read(const char *path, const ppl_logits_file *base, qk_err *err) {
    uint64_t size = 0;
    FILE *f = open_sized(path, &size, err);
    if (!f) return NULL;
    double *nll = NULL;
    unsigned char hdr[PPL_NLL_HEADER_BYTES];
    if (size < PPL_NLL_HEADER_BYTES || fread(hdr, 1, sizeof hdr, f) != sizeof hdr ||
        memcmp(hdr, PPL_NLL_MAGIC, 8) != 0) {
        qk_errf(err, "%s is not a qkit exact-NLL sidecar", path);
        goto fail;
    }
    int32_t dims[4];
    uint64_t hash;
    memcpy(dims, hdr + 8, sizeof dims);
    memcpy(&hash, hdr + 24, sizeof hash);
    if (dims[0] != base->n_ctx || dims[1] != base->n_vocab || dims[2] != base->n_chunk ||
        dims[3] != base->n_scored || hash != base->tokens_hash) {
        qk_errf(err, "%s does not belong to its base-logits file (different dimensions or tokens)",
                path);
        goto fail;
    }
    const size_t n = (size_t)base->n_chunk * (size_t)base->n_scored;
    if (check_size(path, "sidecar", size, PPL_NLL_HEADER_BYTES + 8ull * n, err)) goto fail;
    nll = malloc(n * sizeof *nll);
    if (!nll) {
        qk_errf(err, "out of memory reading %s", path);
        goto fail;
    }
    if (read_exact(f, nll, n * sizeof *nll, path, err)) goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(nll[i]) || nll[i] < -1e-3) {
            qk_errf(err, "%s: value %zu is not a valid NLL (%g)", path, i, nll[i]);
            goto fail;
        }
    }
    fclose(f);
    return nll;
fail:
    free(nll);
    fclose(f);
    return NULL;
}

/* ---- 3. per-prompt base file ------------------------------------------------------------ */

int ppl_prompts_write(const char *path, int32_t n_vocab, const ppl_prompt_rec *recs, int32_t n,
                      qk_err *err) {
    qk_afile *a = qk_afile_create(path, err);
    if (!a) return -1;
    const int32_t dims[2] = {n_vocab, n};
    int rc = qk_afile_write(a, PPL_PROMPTS_MAGIC, 8, err) ||
             qk_afile_write(a, dims, sizeof dims, err);
    for (int32_t i = 0; i < n && !rc; i++) {
        unsigned char b[PPL_PROMPTS_RECORD_BYTES];
        memcpy(b, &recs[i].n_tokens, 4);
        memcpy(b + 4, &recs[i].n_scored, 4);
        memcpy(b + 8, &recs[i].hash, 8);
        memcpy(b + 16, &recs[i].nll_sum, 8);
        rc = qk_afile_write(a, b, sizeof b, err);
    }
    if (rc) {
        qk_afile_abort(a);
        return -1;
    }
    return qk_afile_commit(a, err);
}

ppl_prompt_rec *ppl_prompts_read(const char *path, int32_t *n_vocab, int32_t *n, qk_err *err) {
    uint64_t size = 0;
    FILE *f = open_sized(path, &size, err);
    if (!f) return NULL;
    ppl_prompt_rec *recs = NULL;
    unsigned char hdr[PPL_PROMPTS_HEADER_BYTES];
    if (size < sizeof hdr || fread(hdr, 1, sizeof hdr, f) != sizeof hdr ||
        memcmp(hdr, PPL_PROMPTS_MAGIC, 8) != 0) {
        qk_errf(err, "%s is not a qkit per-prompt base file (write one with --prompts and "
                "--kl-divergence-base alone)", path);
        goto fail;
    }
    int32_t dims[2];
    memcpy(dims, hdr + 8, sizeof dims);
    if (dims[0] < 1 || dims[1] < 1) {
        qk_errf(err, "%s has an invalid header (n_vocab %d, n_prompts %d)", path, dims[0], dims[1]);
        goto fail;
    }
    if (check_size(path, "per-prompt file", size,
                   PPL_PROMPTS_HEADER_BYTES + (uint64_t)PPL_PROMPTS_RECORD_BYTES * (uint64_t)dims[1],
                   err))
        goto fail;
    recs = calloc((size_t)dims[1], sizeof *recs);
    if (!recs) {
        qk_errf(err, "out of memory reading %s", path);
        goto fail;
    }
    for (int32_t i = 0; i < dims[1]; i++) {
        unsigned char b[PPL_PROMPTS_RECORD_BYTES];
        if (read_exact(f, b, sizeof b, path, err)) goto fail;
        memcpy(&recs[i].n_tokens, b, 4);
        memcpy(&recs[i].n_scored, b + 4, 4);
        memcpy(&recs[i].hash, b + 8, 8);
        memcpy(&recs[i].nll_sum, b + 16, 8);
        if (recs[i].n_scored < 1 || (int64_t)recs[i].n_tokens != (int64_t)recs[i].n_scored + 1 ||
            !isfinite(recs[i].nll_sum)) {
            qk_errf(err, "%s: prompt record %d is invalid", path, i);
            goto fail;
        }
    }
    fclose(f);
    *n_vocab = dims[0];
    *n = dims[1];
    return recs;
fail:
    free(recs);
    fclose(f);
    return NULL;
}
