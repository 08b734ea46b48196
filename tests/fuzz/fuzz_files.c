/*
 * fuzz_files.c — libFuzzer harness for the binary and text files qk-perplexity and
 * qk-prompts read (perplexity/ppl_logits.h, datasets/prompts.h).
 *
 * Input: byte 0 picks the reader, the rest is the file:
 *   0  base-logits file: ppl_logits_open, then every chunk through ppl_logits_read_chunks
 *      (whose record checks must keep every value finite: asserted here);
 *   1  exact-NLL sidecar: ppl_nll_read against a fixed valid base file made at start-up
 *      (every value returned must be finite and >= -1e-3, the reader's rounding allowance);
 *   2  per-prompt base file: ppl_prompts_read;
 *   3  prompt-set file: qk_prompts_load;
 *   4  source text for a prompt set: qk_prompts_build with the default rules.
 * With QK_FUZZ_SEEDS=DIR set, start-up writes one valid file per reader into DIR (the seed
 * corpus; build.sh does this) and exits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ppl_logits.h"
#include "prompts.h"

enum { N_CTX = 8, N_VOCAB = 5, N_CHUNK = 2 };

static fuzz_file g_in;
static char g_dir[64];
static char g_base[96]; /* the fixed base-logits file for reader 1 */

/* A valid base-logits file of N_CHUNK chunks at path (and its .nll at nll_path when not NULL). */
static void write_base(const char *path, const char *nll_path) {
    int32_t tokens[N_CTX * N_CHUNK];
    for (int i = 0; i < N_CTX * N_CHUNK; i++) tokens[i] = i % N_VOCAB;
    qk_err err = {{0}};
    ppl_logits_writer *w = ppl_logits_create(path, N_CTX, N_VOCAB, N_CHUNK, tokens, &err);
    FUZZ_ASSERT(w, "%s", err.msg);
    const int32_t nv = ppl_logits_nv(N_VOCAB), ns = ppl_logits_n_scored(N_CTX);
    uint16_t rec[64];
    double nll[N_CHUNK * N_CTX];
    for (int i = 0; i < N_CHUNK * ns; i++) {
        float logits[N_VOCAB] = {0.5f * (float)i, -1.0f, 2.0f, 0.25f, -3.0f};
        nll[i] = ppl_logits_encode(logits, N_VOCAB, i % N_VOCAB, rec);
        FUZZ_ASSERT(ppl_logits_write_records(w, rec, 1, &err) == 0, "%s", err.msg);
    }
    (void)nv;
    FUZZ_ASSERT(ppl_logits_commit(w, &err) == 0, "%s", err.msg);
    if (nll_path)
        FUZZ_ASSERT(ppl_nll_write(nll_path, N_CTX, N_VOCAB, N_CHUNK, ppl_tokens_hash(tokens, N_CTX * N_CHUNK), nll,
                                  &err) == 0,
                    "%s", err.msg);
}

/* Write dir/<k>-<name> with the selector byte k before the file's bytes. */
static void write_seed(const char *dir, int k, const char *name, const char *src) {
    char out[4096];
    snprintf(out, sizeof out, "%s/%d-%s", dir, k, name);
    FILE *f = fopen(out, "wb");
    FUZZ_ASSERT(f, "cannot write %s", out);
    fputc(k, f);
    FILE *in = fopen(src, "rb");
    FUZZ_ASSERT(in, "cannot read %s", src);
    int c;
    while ((c = fgetc(in)) != EOF) fputc(c, f);
    fclose(in);
    FUZZ_ASSERT(fclose(f) == 0, "cannot write %s", out);
}

static void write_seeds(const char *dir) {
    char base[96], nll[96], ppt[96], set[96], src[96];
    snprintf(base, sizeof base, "%s/base", g_dir);
    snprintf(nll, sizeof nll, "%s/base.nll", g_dir);
    snprintf(ppt, sizeof ppt, "%s/prompts.bin", g_dir);
    snprintf(set, sizeof set, "%s/set.txt", g_dir);
    snprintf(src, sizeof src, "%s/src.txt", g_dir);
    write_base(base, nll);
    qk_err err = {{0}};
    ppl_prompt_rec recs[2] = {{4, 3, 0x1234, 5.5}, {9, 8, 0xfedc, 11.25}};
    FUZZ_ASSERT(ppl_prompts_write(ppt, N_VOCAB, recs, 2, &err) == 0, "%s", err.msg);
    FILE *f = fopen(set, "w");
    FUZZ_ASSERT(f && fputs("The first prompt, caf\xc3\xa9.\r\nA second one.\n", f) >= 0 && fclose(f) == 0, "set");
    f = fopen(src, "w");
    FUZZ_ASSERT(f, "src");
    for (int i = 0; i < 4; i++)
        fprintf(f, " = Heading %d = \n\n A line long enough to be taken as a prompt by the default rules of "
                   "qk-prompts, which want more than one hundred code points in a line. %d\n",
                i, i);
    FUZZ_ASSERT(fclose(f) == 0, "src");
    write_seed(dir, 0, "base", base);
    write_seed(dir, 1, "nll", nll);
    write_seed(dir, 2, "prompts", ppt);
    write_seed(dir, 3, "set", set);
    write_seed(dir, 4, "src", src);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_file_init(&g_in, "fuzz.bin");
    snprintf(g_dir, sizeof g_dir, "/tmp/qk-fuzz-XXXXXX");
    FUZZ_ASSERT(mkdtemp(g_dir), "mkdtemp");
    snprintf(g_base, sizeof g_base, "%s/fixed-base", g_dir);
    write_base(g_base, NULL);
    const char *seeds = getenv("QK_FUZZ_SEEDS");
    if (seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

static void read_logits(void) {
    qk_err err = {{0}};
    ppl_logits_file *lf = ppl_logits_open(g_in.path, &err);
    if (!lf) {
        fuzz_check_err(&err, "ppl_logits_open");
        return;
    }
    const size_t words = (size_t)lf->n_scored * (size_t)lf->nv;
    uint16_t *recs = malloc(words * sizeof *recs);
    FUZZ_ASSERT(recs, "%zu words for one chunk of a file of %llu bytes", words, (unsigned long long)lf->size);
    for (int32_t c = 0; c < lf->n_chunk; c++) {
        if (ppl_logits_read_chunks(lf, 1, recs, &err) != 0) {
            fuzz_check_err(&err, "ppl_logits_read_chunks");
            break;
        }
        for (int32_t r = 0; r < lf->n_scored; r++) {
            const uint16_t *rec = recs + (size_t)r * (size_t)lf->nv;
            float scale, min_lp;
            ppl_logits_rec_params(rec, &scale, &min_lp);
            FUZZ_ASSERT(isfinite(scale) && isfinite(min_lp), "a record with a non-finite scale passed");
            for (int32_t i = 0; i < lf->n_vocab; i++)
                FUZZ_ASSERT(isfinite(ppl_logits_rec_logprob(rec, i)), "a non-finite log-probability passed");
        }
    }
    free(recs);
    ppl_logits_close(lf);
}

static void read_nll(void) {
    qk_err err = {{0}};
    ppl_logits_file *base = ppl_logits_open(g_base, &err);
    FUZZ_ASSERT(base, "%s", err.msg);
    double *nll = ppl_nll_read(g_in.path, base, &err);
    if (nll) {
        for (int32_t i = 0; i < base->n_chunk * base->n_scored; i++)
            FUZZ_ASSERT(isfinite(nll[i]) && nll[i] >= -1e-3, "NLL value %g passed", nll[i]);
        free(nll);
    } else {
        fuzz_check_err(&err, "ppl_nll_read");
    }
    ppl_logits_close(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fuzz_file_set(&g_in, data + 1, size - 1);
    qk_err err = {{0}};
    switch (data[0] % 5) {
    case 0: read_logits(); break;
    case 1: read_nll(); break;
    case 2: {
        int32_t nv, n;
        ppl_prompt_rec *r = ppl_prompts_read(g_in.path, &nv, &n, &err);
        if (r) FUZZ_ASSERT(n >= 0, "negative prompt count");
        else fuzz_check_err(&err, "ppl_prompts_read");
        free(r);
        break;
    }
    case 3: {
        qk_prompt_set set = {0};
        if (qk_prompts_load(g_in.path, &set, &err) == 0) {
            for (int i = 0; i < set.n; i++) FUZZ_ASSERT(!strpbrk(set.text[i], "\r\n"), "a prompt holds a line break");
            qk_prompts_free(&set);
        } else {
            fuzz_check_err(&err, "qk_prompts_load");
        }
        break;
    }
    case 4: {
        qk_prompt_rules rules = qk_prompt_rules_default();
        qk_prompt_set set = {0};
        if (qk_prompts_build((const char *)data + 1, size - 1, &rules, &set, &err) == 0) qk_prompts_free(&set);
        else fuzz_check_err(&err, "qk_prompts_build");
        break;
    }
    }
    return 0;
}
