/*
 * test_quants_imat.c — bit-exactness of the importance-weighted quantizers
 * (qk_type_traits.quantize_imat, engine/quants_k_imat.c and quants_legacy_imat.c) against
 * llama.cpp.
 *
 * Golden data (golden/README.md): golden/<model>/quantize/<model>.imat.<FTYPE>.tsv lists
 * every tensor of `llama-quantize --imatrix <model>.imatrix.dat <base> out FTYPE 1`
 * (llama.cpp c392e50) with the sha256 of its bytes, and wiki-qwen2-13m.imatg.<FTYPE>.tsv
 * the same for current llama.cpp with the GGUF imatrix <model>.imatrix.gguf. For each tensor
 * of a quantized type this test rebuilds the bytes from the base model:
 *   base row --to_float--> floats --quantize_imat(type, weights)--> bytes
 * with weights = qk_imatrix_weights of the tensor's imatrix entry; a tensor without an entry
 * (token_embd, output) or a type without an importance-weighted quantizer (Q8_0) goes
 * through the type's from_float, as llama-quantize does. The per-tensor types come from
 * the .tsv, so the kernels are tested independently of the mixture rules.
 *
 * Layout as tests/test_quant_golden.c: one TCase per (model, FTYPE), one loop iteration
 * per ggml type of that file; a failure names the first mismatching tensors.
 *
 * Scalar and SIMD paths: on AVX2 machines the asymmetric searches run 16 sub-blocks per
 * SIMD batch (quants_kfit.c). The AVX2-tagged cases run this program again with
 * QK_FORCE_SCALAR=1 (the scalar paths): once over the golden cases, and once in
 * --edge-hashes mode, which prints the hashes of synthetic rows built to reach the rare
 * branches (all-zero, flat, sub-epsilon, one-signed, huge and denormal blocks; zero, unit
 * and wide-range weights), compared with the hashes this process's SIMD paths give.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "imatrix.h"
#include "testutil.h"
#include "types.h"

#define MAX_CASES 64
#define MAX_TYPES 8

typedef struct imat_case {
    char model[64];
    char ftype[32]; /* "imat.Q4_K_M" */
    char tsv[4096];
    char base[4096];
    char imatrix[4096];
    int n_types;
    qk_type types[MAX_TYPES];
} imat_case;

static imat_case g_cases[MAX_CASES];
static int g_n_cases;

/* Add the cases of one model: every <model>.imat.*.tsv and <model>.imatg.*.tsv, with the
 * imatrix each was made from (.dat for imat., .gguf for imatg.). */
static void collect_model(const char *model, const char *base_rel) {
    char rel[512], dir[4096];
    snprintf(rel, sizeof rel, "golden/%s/quantize", model);
    snprintf(dir, sizeof dir, "%s", qk_test_shared(rel));
    char names[MAX_CASES][256];
    /* none when the dir is missing: test_present reports it */
    const int n = qk_test_golden_tsv_names(dir, model, 1, names, MAX_CASES, NULL);
    const size_t mlen = strlen(model);
    for (int i = 0; i < n && g_n_cases < MAX_CASES; i++) {
        imat_case *c = &g_cases[g_n_cases];
        memset(c, 0, sizeof *c);
        snprintf(c->model, sizeof c->model, "%s", model);
        const size_t len = strlen(names[i]);
        snprintf(c->ftype, sizeof c->ftype, "%.*s", (int)(len - mlen - 5), names[i] + mlen + 1);
        const int gguf_imatrix = strncmp(c->ftype, "imatg.", 6) == 0;
        snprintf(rel, sizeof rel, "golden/%s/imatrix/%s.imatrix.%s", model, model, gguf_imatrix ? "gguf" : "dat");
        if ((size_t)snprintf(c->tsv, sizeof c->tsv, "%s/%s", dir, names[i]) >= sizeof c->tsv ||
            (size_t)snprintf(c->imatrix, sizeof c->imatrix, "%s", qk_test_shared(rel)) >= sizeof c->imatrix ||
            (size_t)snprintf(c->base, sizeof c->base, "%s", qk_test_shared(base_rel)) >= sizeof c->base)
            continue; /* path too long: test_present sees fewer cases */
        /* the distinct quantized types of the file, in order of first appearance */
        c->n_types = qk_test_tsv_types(c->tsv, 1, c->types, MAX_TYPES);
        if (c->n_types < 0) continue;
        g_n_cases++;
    }
}

static int count_cases(const char *model, const char *prefix) {
    int n = 0;
    for (int i = 0; i < g_n_cases; i++)
        n += strcmp(g_cases[i].model, model) == 0 && strncmp(g_cases[i].ftype, prefix, strlen(prefix)) == 0;
    return n;
}

START_TEST(test_present) {
    /* Every --imatrix golden file the README lists must be found. */
    ck_assert_msg(count_cases("wiki-qwen2-13m", "imat.") >= 13, "wiki-qwen2-13m: %d .imat.*.tsv under %s",
                  count_cases("wiki-qwen2-13m", "imat."), qk_test_shared("golden"));
    ck_assert_msg(count_cases("wiki-qwen2-13m", "imatg.") >= 8, "wiki-qwen2-13m: %d .imatg.*.tsv",
                  count_cases("wiki-qwen2-13m", "imatg."));
    ck_assert_msg(count_cases("stories260K", "imat.") >= 7, "stories260K: %d .imat.*.tsv",
                  count_cases("stories260K", "imat."));
}
END_TEST

START_TEST(test_table) {
    /* quantize_imat is set exactly for the types whose llama.cpp quantizer uses the weights. */
    static const qk_type with[] = {QK_TYPE_Q2_K, QK_TYPE_Q3_K, QK_TYPE_Q4_K, QK_TYPE_Q5_K, QK_TYPE_Q6_K,
                                   QK_TYPE_Q4_0, QK_TYPE_Q4_1, QK_TYPE_Q5_0, QK_TYPE_Q5_1, QK_TYPE_IQ4_NL};
    static const qk_type without[] = {QK_TYPE_F32, QK_TYPE_F16, QK_TYPE_BF16, QK_TYPE_Q8_0};
    for (size_t i = 0; i < sizeof with / sizeof with[0]; i++)
        ck_assert_msg(qk_type_get(with[i])->quantize_imat != NULL, "%s: no quantize_imat", qk_type_name(with[i]));
    for (size_t i = 0; i < sizeof without / sizeof without[0]; i++)
        ck_assert_msg(qk_type_get(without[i])->quantize_imat == NULL, "%s: quantize_imat set",
                      qk_type_name(without[i]));
}
END_TEST

/* The bytes of tensor t quantized to dst as llama-quantize --imatrix does (see the top of
 * the file); qw: the entry's weights (ne[0] of them), or NULL. */
static void quantize_tensor(const gguf_tensor *t, qk_type dst, const float *qw, uint8_t *out, float *row) {
    const qk_type_traits *st = qk_type_get(t->type), *dt = qk_type_get(dst);
    const int64_t ne0 = t->ne[0], nrows = gguf_tensor_nelements(t) / ne0;
    ck_assert_msg(st && st->to_float && dt && ne0 % dt->blck_size == 0, "%s: cannot convert %s -> %s", t->name,
                  qk_type_name(t->type), qk_type_name(dst));
    const size_t src_row = qk_row_size(t->type, ne0), dst_row = qk_row_size(dst, ne0);
    for (int64_t r = 0; r < nrows; r++) {
        st->to_float((const uint8_t *)t->data + r * src_row, row, ne0);
        if (qw && dt->quantize_imat)
            dt->quantize_imat(row, out + r * dst_row, ne0, qw);
        else
            dt->from_float(row, out + r * dst_row, ne0);
    }
}

/* _i encodes (case, type index): case = _i / MAX_TYPES, type = _i % MAX_TYPES. */
START_TEST(test_golden_type) {
    const imat_case *c = &g_cases[_i / MAX_TYPES];
    const int ti = _i % MAX_TYPES;
    ck_assert_int_lt(ti, c->n_types);
    const qk_type want = c->types[ti];

    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(c->base, &err);
    ck_assert_msg(g != NULL, "%s: %s", c->base, err.msg);
    qk_imatrix *im = qk_imatrix_read(c->imatrix, &err);
    ck_assert_msg(im != NULL, "%s: %s", c->imatrix, err.msg);
    FILE *f = fopen(c->tsv, "r");
    ck_assert_msg(f != NULL, "cannot open %s", c->tsv);

    int n_checked = 0, n_weighted = 0, n_bad = 0;
    char bad[1024] = "", line[1024];
    uint8_t *out = NULL;
    float *row = NULL, *qw = NULL;
    while (fgets(line, sizeof line, f)) {
        qk_test_tsv_line tl;
        qk_type dst;
        ck_assert_msg(qk_test_parse_tsv_line(line, &tl) == 0, "%s: bad line: %s", c->tsv, line);
        ck_assert_msg(qk_type_from_name(tl.type, &dst) == 0, "%s: unknown type %s", c->tsv, tl.type);
        if (dst != want) continue;
        const gguf_tensor *t = qk_test_tsv_tensor(g, &tl, c->tsv, c->base);
        const int64_t ne0 = t->ne[0];
        const size_t nbytes = qk_row_size(dst, ne0) * (size_t)(gguf_tensor_nelements(t) / ne0);
        out = realloc(out, nbytes);
        row = realloc(row, (size_t)ne0 * sizeof(float));
        qw = realloc(qw, (size_t)ne0 * sizeof(float));
        ck_assert(out != NULL && row != NULL && qw != NULL);
        const qk_imatrix_entry *e = qk_imatrix_find(im, tl.name);
        if (e) {
            ck_assert_msg(e->n_cols == ne0 && e->n_mat == 1, "%s: imatrix entry of %s has %lld x %lld values",
                          c->imatrix, tl.name, (long long)e->n_cols, (long long)e->n_mat);
            qk_imatrix_weights(e, 0, qw);
            n_weighted += qk_type_get(dst)->quantize_imat != NULL;
        }
        quantize_tensor(t, dst, e ? qw : NULL, out, row);
        char sha[65];
        qk_test_sha256_hex(out, nbytes, sha);
        n_checked++;
        if (strcmp(sha, tl.sha) != 0) {
            if (n_bad < 5) {
                const size_t used = strlen(bad);
                snprintf(bad + used, sizeof bad - used, "%s%s%s", n_bad ? ", " : "", tl.name,
                         e ? "" : " (no imatrix entry)");
            }
            n_bad++;
        }
    }
    fclose(f);
    free(out);
    free(row);
    free(qw);
    qk_imatrix_free(im);
    gguf_close(g);
    ck_assert_msg(n_checked > 0, "%s.%s: no %s tensor checked", c->model, c->ftype, qk_type_name(want));
    ck_assert_msg(n_bad == 0, "%s.%s: %d of %d %s tensors (%d with weights) differ from llama.cpp (first: %s%s)",
                  c->model, c->ftype, n_bad, n_checked, qk_type_name(want), n_weighted, bad, n_bad > 5 ? ", ..." : "");
}
END_TEST

/* ---------------------------------------------------------- scalar vs SIMD paths ---- */

#define EDGE_NE0 768 /* 3 super-blocks / 24 blocks: a full SIMD batch and a remainder */
#define EDGE_XKINDS 12
#define EDGE_WKINDS 5
#define EDGE_ROWS (EDGE_XKINDS * EDGE_WKINDS)

static const qk_type IMAT_TYPES[] = {QK_TYPE_Q2_K, QK_TYPE_Q3_K, QK_TYPE_Q4_K, QK_TYPE_Q5_K, QK_TYPE_Q6_K,
                                     QK_TYPE_Q4_0, QK_TYPE_Q4_1, QK_TYPE_Q5_0, QK_TYPE_Q5_1, QK_TYPE_IQ4_NL};
#define N_IMAT_TYPES (sizeof IMAT_TYPES / sizeof IMAT_TYPES[0])

/* Row values of pattern kind (each aims at a branch random weights rarely reach). */
static void edge_row(int kind, uint32_t *rng, float *x) {
    for (int e = 0; e < EDGE_NE0; e++) {
        const float r = qk_test_lcg_frand(rng); /* [-0.5, 0.5) */
        float v;
        switch (kind) {
        case 0: v = r; break;                                      /* plain */
        case 1: v = 0.0f; break;                                   /* all zero */
        case 2: v = 0.25f; break;                                  /* flat positive */
        case 3: v = -0.25f; break;                                 /* flat negative: max == min */
        case 4: v = r * 1e-20f; break;                             /* below GROUP_MAX_EPS */
        case 5: v = (e % 32 == 7) ? 40.0f : r * 0.01f; break;      /* one outlier per block */
        case 6: v = fabsf(r) + 0.1f; break;                        /* positive only */
        case 7: v = -fabsf(r) - 0.1f; break;                       /* negative only */
        case 8: v = (e % 11 == 0) ? r : 0.0f; break;               /* sparse */
        case 9: v = r * 1e20f; break;                              /* x^2 overflows */
        case 10: v = r * 1e-39f; break;                            /* denormals */
        default: v = (float)((int)(r * 16.0f)) * 0.5f; break;      /* ties on half steps */
        }
        x[e] = (e / 64) % 5 == 4 && kind != 1 ? 0.0f : v; /* some zero sub-blocks too */
    }
}

/* Column weights of pattern kind. */
static void edge_weights(int kind, uint32_t *rng, float *w) {
    for (int e = 0; e < EDGE_NE0; e++) {
        const float r = qk_test_lcg_frand(rng) + 0.5f; /* [0, 1) */
        switch (kind) {
        case 0: w[e] = 0.01f + r; break;
        case 1: w[e] = 1.0f; break;
        case 2: w[e] = e % 3 == 0 ? 0.0f : r; break;       /* dead columns */
        case 3: w[e] = 0.0f; break;                        /* no activations at all */
        default: w[e] = powf(10.0f, 16.0f * r - 8.0f); break; /* 1e-8 .. 1e8 */
        }
    }
}

/* sha256 of the EDGE_ROWS rows quantized to type t with quantize_imat. */
static void edge_hash(qk_type t, char sha[65]) {
    const qk_type_traits *tt = qk_type_get(t);
    const size_t rs = qk_row_size(t, EDGE_NE0);
    uint8_t *out = calloc(EDGE_ROWS, rs);
    float x[EDGE_NE0], w[EDGE_NE0];
    uint32_t rng = 12345;
    for (int r = 0; r < EDGE_ROWS; r++) {
        edge_row(r % EDGE_XKINDS, &rng, x);
        edge_weights(r / EDGE_XKINDS, &rng, w);
        tt->quantize_imat(x, out + (size_t)r * rs, EDGE_NE0, w);
    }
    qk_test_sha256_hex(out, (size_t)EDGE_ROWS * rs, sha);
    free(out);
}

/* Run this program again with QK_FORCE_SCALAR=1 and extra arguments; returns its exit
 * status, its output in *output. */
static int run_scalar(const char *env, const char *args, char **output) {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_msg(n > 0, "cannot find this program's path");
    self[n] = '\0';
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "QK_FORCE_SCALAR=1 %s '%s' %s 2>&1", env, self, args);
    return qk_test_run(cmd, output);
}

START_TEST(test_edge_scalar_simd) {
    char *txt = NULL;
    ck_assert_int_eq(run_scalar("", "--edge-hashes", &txt), 0);
    for (size_t i = 0; i < N_IMAT_TYPES; i++) {
        char sha[65], want[128];
        edge_hash(IMAT_TYPES[i], sha);
        snprintf(want, sizeof want, "%s %s\n", qk_type_name(IMAT_TYPES[i]), sha);
        ck_assert_msg(strstr(txt, want) != NULL, "%s: the SIMD path gives %s, the scalar path:\n%s",
                      qk_type_name(IMAT_TYPES[i]), sha, txt);
    }
    free(txt);
}
END_TEST

START_TEST(test_golden_scalar) {
    /* The golden cases again on the scalar paths (CK_RUN_SUITE keeps the child to them).
     * Under ASan one file only (three K-types on real rows): test_edge_scalar_simd runs
     * every type's scalar path there. */
    char *txt = NULL;
    const int rc = run_scalar(qk_test_sanitized() ? "QK_TEST_PART=main CK_RUN_SUITE=quants_imat "
                                                    "CK_RUN_CASE=wiki-qwen2-13m.imat.Q3_K_M"
                                                  : "QK_TEST_PART=main CK_RUN_SUITE=quants_imat",
                              "", &txt);
    ck_assert_msg(rc == 0, "with QK_FORCE_SCALAR=1 (exit %d):\n%s", rc, txt);
    free(txt);
}
END_TEST

static Suite *imat_suite(void) {
    collect_model("wiki-qwen2-13m", "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf");
    collect_model("stories260K", "data/models/stories260K/stories260K.gguf");
    Suite *s = suite_create("quants_imat");
    TCase *tc = tcase_create("present");
    tcase_add_test(tc, test_present);
    tcase_add_test(tc, test_table);
    suite_add_tcase(s, tc);
    for (int i = 0; i < g_n_cases; i++) {
        /* under ASan the .imatg files are left out: the same quantizers as the .imat ones,
         * with other weight values */
        if (qk_test_sanitized() && strncmp(g_cases[i].ftype, "imatg.", 6) == 0) continue;
        static char names[MAX_CASES][128];
        snprintf(names[i], sizeof names[i], "%.63s.%.31s", g_cases[i].model, g_cases[i].ftype);
        tc = tcase_create(names[i]);
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, test_golden_type, i * MAX_TYPES, i * MAX_TYPES + g_cases[i].n_types);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("scalar");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_edge_scalar_simd);
    tcase_add_test(tc, test_golden_scalar);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--edge-hashes") == 0) {
        /* one line per type: "<TYPE> <sha256>" of the synthetic rows (test_edge_scalar_simd) */
        for (size_t i = 0; i < N_IMAT_TYPES; i++) {
            char sha[65];
            edge_hash(IMAT_TYPES[i], sha);
            printf("%s %s\n", qk_type_name(IMAT_TYPES[i]), sha);
        }
        return 0;
    }
    return qk_test_main(imat_suite());
}
