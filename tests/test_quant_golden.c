/*
 * test_quant_golden.c — bit-exactness of every reference quantizer against llama.cpp.
 *
 * For each golden/<model>/quantize/<model>.<FTYPE>.tsv (one line per tensor of
 * `llama-quantize <base> out FTYPE`: name, ggml type, ne list, sha256 of the tensor's
 * bytes; see golden/README.md), this test re-quantizes the base model's tensors with
 * qkit's reference quantizers and compares the sha256 of every tensor's bytes:
 *   base row --to_float(src type)--> float row --quantize_ref(dst type)--> bytes
 * (when the destination type equals the stored type the bytes are copied, as
 * llama-quantize does). The per-tensor types come from the .tsv, so this checks the
 * kernels only, not the mixture rules that pick the types.
 *
 * Layout: one Check TCase per (model, FTYPE) named "<model>.<FTYPE>", and in it one loop
 * iteration per ggml type present in that file (iteration i = the i-th type in order of
 * first appearance, printed in the failure message), so a failing K-quant does not hide a
 * passing Q4_0 in the same file. A failure lists the first mismatching tensor names.
 * FTYPEs with a .log but no .tsv failed in llama.cpp too and are not tested here; neither
 * are the llama-quantize --imatrix outputs (imat.* / imatg.*), which need the imatrix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "testutil.h"
#include "types.h"

#define MAX_CASES 64
#define MAX_TYPES 8

typedef struct golden_case {
    char model[64];
    char ftype[32];
    char tsv[8192];
    char base[8192];
    int n_types;
    qk_type types[MAX_TYPES];
} golden_case;

static golden_case g_cases[MAX_CASES];
static int g_n_cases;

/* Add the cases of one model: every <model>.<FTYPE>.tsv in its golden quantize dir. */
static void collect_model(const char *model, const char *base_rel) {
    char dir_rel[256];
    snprintf(dir_rel, sizeof dir_rel, "golden/%s/quantize", model);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", qk_test_shared(dir_rel));
    size_t mlen = strlen(model);
    char names[MAX_CASES][256];
    int n_imatrix = 0;
    /* none when the dir is missing: test_golden_present reports it */
    const int n = qk_test_golden_tsv_names(dir, model, 0, names, MAX_CASES, &n_imatrix);
    for (int i = 0; i < n && g_n_cases < MAX_CASES; i++) {
        golden_case *c = &g_cases[g_n_cases];
        memset(c, 0, sizeof *c);
        snprintf(c->model, sizeof c->model, "%s", model);
        size_t len = strlen(names[i]);
        snprintf(c->ftype, sizeof c->ftype, "%.*s", (int)(len - mlen - 5), names[i] + mlen + 1);
        if ((size_t)snprintf(c->tsv, sizeof c->tsv, "%s/%s", dir, names[i]) >= sizeof c->tsv ||
            (size_t)snprintf(c->base, sizeof c->base, "%s", qk_test_shared(base_rel)) >=
                sizeof c->base)
            continue; /* path too long: test_golden_present will see fewer cases */
        /* the distinct ggml types of the file, in order of first appearance */
        c->n_types = qk_test_tsv_types(c->tsv, 0, c->types, MAX_TYPES);
        if (c->n_types < 0) continue;
        g_n_cases++;
    }
    if (n_imatrix) printf("%s: %d --imatrix golden files left out (they need the imatrix)\n", model, n_imatrix);
}

/* Re-quantize one tensor into `out` (its size in bytes must be qk_row_size * rows).
 * Returns 0, or -1 with a message in msg. */
static int requantize(const gguf_tensor *t, qk_type dst, uint8_t *out, float *row, char *msg,
                      size_t msgsz) {
    const qk_type_traits *st = qk_type_get(t->type);
    const qk_type_traits *dt = qk_type_get(dst);
    const int64_t ne0 = t->ne[0];
    const int64_t nrows = gguf_tensor_nelements(t) / ne0;
    if (t->type == dst) {
        memcpy(out, t->data, t->nbytes);
        return 0;
    }
    if (!st || !st->to_float || !dt || !dt->quantize_ref || ne0 % dt->blck_size != 0) {
        snprintf(msg, msgsz, "%s: cannot convert %s -> %s", t->name, qk_type_name(t->type),
                 qk_type_name(dst));
        return -1;
    }
    const size_t src_row = qk_row_size(t->type, ne0), dst_row = qk_row_size(dst, ne0);
    for (int64_t r = 0; r < nrows; r++) {
        st->to_float((const uint8_t *)t->data + r * src_row, row, ne0);
        dt->quantize_ref(row, out + r * dst_row, ne0);
    }
    return 0;
}

START_TEST(test_golden_present) {
    /* Both models' goldens must be found, with at least their base listing. */
    int n_wiki = 0, n_stories = 0;
    for (int i = 0; i < g_n_cases; i++) {
        n_wiki += strcmp(g_cases[i].model, "wiki-qwen2-13m") == 0;
        n_stories += strcmp(g_cases[i].model, "stories260K") == 0;
    }
    ck_assert_msg(n_wiki >= 2, "no golden .tsv files for wiki-qwen2-13m under %s",
                  qk_test_shared("golden"));
    ck_assert_msg(n_stories >= 2, "no golden .tsv files for stories260K under %s",
                  qk_test_shared("golden"));
}
END_TEST

/* _i encodes (case, type index): case = _i / MAX_TYPES, type = _i % MAX_TYPES. */
START_TEST(test_golden_type) {
    const golden_case *c = &g_cases[_i / MAX_TYPES];
    const int ti = _i % MAX_TYPES;
    ck_assert_int_lt(ti, c->n_types);
    const qk_type want = c->types[ti];

    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(c->base, &err);
    ck_assert_msg(g != NULL, "%s: %s", c->base, err.msg);
    FILE *f = fopen(c->tsv, "r");
    ck_assert_msg(f != NULL, "cannot open %s", c->tsv);

    int n_checked = 0, n_bad = 0, n_lines = 0;
    char bad[1024] = "";
    char line[1024];
    uint8_t *out = NULL;
    float *row = NULL;
    while (fgets(line, sizeof line, f)) {
        qk_test_tsv_line tl;
        ck_assert_msg(qk_test_parse_tsv_line(line, &tl) == 0, "%s: bad line: %s", c->tsv, line);
        n_lines++;
        qk_type dst;
        ck_assert_msg(qk_type_from_name(tl.type, &dst) == 0, "%s: unknown type %s", c->tsv,
                      tl.type);
        if (dst != want) continue;
        const gguf_tensor *t = qk_test_tsv_tensor(g, &tl, c->tsv, c->base);
        const int64_t ne0 = t->ne[0];
        const size_t nbytes = qk_row_size(dst, ne0) * (size_t)(gguf_tensor_nelements(t) / ne0);
        out = realloc(out, nbytes);
        row = realloc(row, (size_t)ne0 * sizeof(float));
        ck_assert(out != NULL && row != NULL);
        char msg[256];
        ck_assert_msg(requantize(t, dst, out, row, msg, sizeof msg) == 0, "%s", msg);
        char sha[65];
        qk_test_sha256_hex(out, nbytes, sha);
        n_checked++;
        if (strcmp(sha, tl.sha) != 0) {
            if (n_bad < 5) {
                size_t used = strlen(bad);
                snprintf(bad + used, sizeof bad - used, "%s%s", n_bad ? ", " : "", tl.name);
            }
            n_bad++;
        }
    }
    fclose(f);
    free(out);
    free(row);
    ck_assert_msg(n_lines == (int)g->n_tensors, "%s lists %d tensors, %s has %llu", c->tsv,
                  n_lines, c->base, (unsigned long long)g->n_tensors);
    gguf_close(g);
    ck_assert_msg(n_checked > 0, "%s.%s: no %s tensor checked", c->model, c->ftype,
                  qk_type_name(want));
    ck_assert_msg(n_bad == 0, "%s.%s: %d of %d %s tensors differ from llama.cpp (first: %s%s)",
                  c->model, c->ftype, n_bad, n_checked, qk_type_name(want), bad,
                  n_bad > 5 ? ", ..." : "");
}
END_TEST

static Suite *golden_suite(void) {
    collect_model("wiki-qwen2-13m", "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf");
    collect_model("stories260K", "data/models/stories260K/stories260K.gguf");
    Suite *s = suite_create("quant_golden");
    TCase *tc = tcase_create("present");
    tcase_add_test(tc, test_golden_present);
    suite_add_tcase(s, tc);
    for (int i = 0; i < g_n_cases; i++) {
        static char names[MAX_CASES][128];
        snprintf(names[i], sizeof names[i], "%.63s.%.31s", g_cases[i].model, g_cases[i].ftype);
        tc = tcase_create(names[i]);
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, test_golden_type, i * MAX_TYPES, i * MAX_TYPES + g_cases[i].n_types);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return qk_test_main(golden_suite()); }
