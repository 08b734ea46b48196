/*
 * test_mixture.c — the mixture rules (quantize/mixture.c) against real llama-quantize runs
 * and against the Qwen2.5-0.5B outcomes of llama-cpp-reference.md §3.5.
 *
 * Golden check: for every ../shared/golden/<model>/quantize/<model>.<TYPE>.log, the plan
 * built from the base model's own tensor list (read from its GGUF) must give, for every
 * tensor, the order and ggml type of the golden .tsv; the tensors that fell back must be
 * exactly those the log warns about, and the "k of n tensor(s) required fallback" counts
 * must match. A .log with no .tsv is a failed llama-quantize run: the plan must fail too,
 * naming the tensor llama-quantize stopped at. The --imatrix runs (<model>.imat.<TYPE>,
 * c392e50 with the .dat; <model>.imatg.<TYPE>, current llama.cpp with the GGUF imatrix)
 * are planned with has_imatrix set; for imatg only the fallback count is compared (current
 * llama.cpp prints its fallback warnings before the tensor lines).
 *
 * Then the cases without golden files: importance-matrix branches (Q4_0/Q5_0/IQ4_NL
 * ffn_down, Q2_K_S) on a synthetic Qwen2.5-0.5B, and the --tensor-type rules (which one
 * wins, against the mixture, the overrides, the fallback, --pure, --no-fallback).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftype.h"
#include "gguf.h"
#include "mixture.h"
#include "model.h"
#include "tensor_rules.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers ---------- */

typedef struct tlist {
    qk_mix_tensor *t;
    size_t n;
    qk_mix_model m;
    gguf_ctx *g;
    char arch[32];
} tlist;

static int32_t get_i32(gguf_ctx *g, const char *arch, const char *suffix, int32_t dflt) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    return gguf_get_i64(g, key, &v) == 0 ? (int32_t)v : dflt;
}

static void load_tlist(tlist *L, const char *rel) {
    qk_err err = {{0}};
    L->g = gguf_open(qk_test_shared(rel), &err);
    ck_assert_msg(L->g != NULL, "gguf_open %s: %s", rel, err.msg);
    gguf_str a;
    ck_assert_int_eq(gguf_get_str(L->g, "general.architecture", &a), 0);
    snprintf(L->arch, sizeof L->arch, "%.*s", (int)a.len, a.ptr);
    L->m.arch = L->arch;
    L->m.n_layer = get_i32(L->g, L->arch, "block_count", 0);
    L->m.n_head = get_i32(L->g, L->arch, "attention.head_count", 0);
    L->m.n_head_kv = get_i32(L->g, L->arch, "attention.head_count_kv", L->m.n_head);
    L->m.n_expert = get_i32(L->g, L->arch, "expert_count", 0);
    L->n = L->g->n_tensors;
    L->t = calloc(L->n, sizeof *L->t);
    for (size_t i = 0; i < L->n; i++) {
        const gguf_tensor *gt = &L->g->tensors[i];
        L->t[i].name = gt->name;
        memcpy(L->t[i].ne, gt->ne, sizeof gt->ne);
        L->t[i].type = gt->type;
    }
}

static void free_tlist(tlist *L) {
    free(L->t);
    gguf_close(L->g);
}

/* Golden tsv rows: name \t TYPE \t ne-list \t sha256. */
typedef struct grow {
    char name[80];
    char type[16];
    char ne[64];
} grow;

static size_t read_tsv(const char *path, grow **rows) {
    char *txt = qk_test_read_file(path, NULL);
    ck_assert_msg(txt != NULL, "cannot read %s", path);
    size_t cap = 64, n = 0;
    *rows = malloc(cap * sizeof **rows);
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        if (n == cap) *rows = realloc(*rows, (cap *= 2) * sizeof **rows);
        grow *r = &(*rows)[n];
        ck_assert_msg(sscanf(line, "%79[^\t]\t%15[^\t]\t%63[^\t]", r->name, r->type, r->ne) == 3,
                      "bad tsv line in %s: %s", path, line);
        n++;
    }
    free(txt);
    return n;
}

static void ne_str(const qk_mix_tensor *t, char *buf, size_t cap) {
    int nd = 1;
    for (int i = 3; i >= 1; i--)
        if (t->ne[i] != 1) {
            nd = i + 1;
            break;
        }
    size_t o = 0;
    for (int i = 0; i < nd; i++) o += snprintf(buf + o, cap - o, i ? ",%lld" : "%lld", (long long)t->ne[i]);
}

static size_t tensor_bytes(const qk_mix_tensor *t, qk_type type) {
    const qk_type_traits *tt = qk_type_get(type);
    int64_t nel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    return (size_t)(nel / tt->blck_size) * tt->type_size;
}

/* Parse llama-quantize's log: the tensors that fell back, the fallback summary, and (for a
 * failed run) the tensor it stopped at. */
typedef struct glog {
    char fallback[128][80];
    int n_fb_names;
    int warn_k, warn_n; /* -1 when the log has no WARNING line */
    int failed;
    char failed_at[80];
    int n_falling_back; /* current llama.cpp's "-> falling back to" warnings */
} glog;

static void read_log(const char *path, glog *L) {
    memset(L, 0, sizeof *L);
    L->warn_k = L->warn_n = -1;
    char *txt = qk_test_read_file(path, NULL);
    ck_assert_msg(txt != NULL, "cannot read %s", path);
    char current[80] = "";
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        int i, n;
        char name[80];
        if (sscanf(line, "[ %d/ %d] %79s -", &i, &n, name) == 3) snprintf(current, sizeof current, "%s", name);
        if (strstr(line, "falling back to")) L->n_falling_back++;
        if (strstr(line, "using fallback quantization")) {
            ck_assert_int_lt(L->n_fb_names, 128);
            snprintf(L->fallback[L->n_fb_names++], 80, "%s", current);
        }
        const char *w = strstr(line, "WARNING: ");
        if (w && strstr(line, "required fallback")) ck_assert_int_eq(sscanf(w, "WARNING: %d of %d", &L->warn_k, &L->warn_n), 2);
        if (strstr(line, "failed to quantize")) {
            L->failed = 1;
            snprintf(L->failed_at, sizeof L->failed_at, "%s", current);
        }
    }
    free(txt);
}

static int in_list(const glog *L, const char *name) {
    for (int i = 0; i < L->n_fb_names; i++)
        if (strcmp(L->fallback[i], name) == 0) return 1;
    return 0;
}

/* Check every golden run of one model; returns how many runs were checked. */
static int check_model_goldens(const char *model, const char *base_rel) {
    tlist L;
    load_tlist(&L, base_rel);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", qk_test_shared("golden"));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s/quantize", model);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int checked = 0, n_ok = 0, n_fail = 0, n_imatrix = 0;
    struct dirent *e;
    size_t *order = malloc(L.n * sizeof *order);
    qk_mix_choice *ch = malloc(L.n * sizeof *ch);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), ml = strlen(model);
        if (len < ml + 6 || strncmp(e->d_name, model, ml) != 0 || e->d_name[ml] != '.' ||
            strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        char tname[32];
        snprintf(tname, sizeof tname, "%.*s", (int)(len - ml - 5), e->d_name + ml + 1);
        const bool imatrix = qk_test_golden_is_imatrix(tname);
        const bool current = strncmp(tname, "imatg.", 6) == 0; /* current llama.cpp's log */
        n_imatrix += imatrix;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        glog G;
        read_log(path, &G);
        snprintf(path, sizeof path, "%s/%s.%s.tsv", dir, model, tname);
        FILE *f = fopen(path, "r");
        int have_tsv = f != NULL;
        if (f) fclose(f);

        const qk_ftype_info *fi = qk_ftype_parse(imatrix ? strchr(tname, '.') + 1 : tname);
        ck_assert_msg(fi != NULL, "%s: unknown type %s", model, tname);
        qk_mix_params p;
        qk_mix_params_init(&p);
        p.ftype = fi->id;
        p.has_imatrix = imatrix;
        qk_mix_summary sum;
        qk_err err = {{0}};
        int rc = qk_mix_plan(&p, &L.m, L.t, L.n, order, ch, &sum, &err);
        ck_assert_int_eq(have_tsv, !G.failed);
        if (!have_tsv) {
            ck_assert_msg(rc != 0, "%s %s: llama-quantize failed but the plan succeeded", model, tname);
            ck_assert_msg(strstr(err.msg, G.failed_at) != NULL, "%s %s: error '%s' does not name '%s'", model,
                          tname, err.msg, G.failed_at);
            n_fail++;
        } else {
            ck_assert_msg(rc == 0, "%s %s: %s", model, tname, err.msg);
            grow *rows;
            size_t nr = read_tsv(path, &rows);
            ck_assert_uint_eq(nr, L.n);
            int n_fb = 0;
            for (size_t k = 0; k < nr; k++) {
                const qk_mix_tensor *t = &L.t[order[k]];
                const qk_mix_choice *c = &ch[order[k]];
                char ne[64];
                ne_str(t, ne, sizeof ne);
                ck_assert_msg(strcmp(rows[k].name, t->name) == 0, "%s %s row %zu: golden %s, plan %s", model, tname,
                              k, rows[k].name, t->name);
                ck_assert_msg(strcmp(rows[k].type, qk_type_name(c->type)) == 0, "%s %s %s: golden %s, plan %s",
                              model, tname, t->name, rows[k].type, qk_type_name(c->type));
                ck_assert_str_eq(rows[k].ne, ne);
                ck_assert_msg(current || c->fallback == in_list(&G, t->name), "%s %s %s: fallback %d, log says %d",
                              model, tname, t->name, c->fallback, in_list(&G, t->name));
                n_fb += c->fallback;
            }
            ck_assert_int_eq(n_fb, current ? G.n_falling_back : G.n_fb_names);
            if (current) {
                ck_assert_int_eq(sum.n_fallback, G.n_falling_back);
            } else if (G.warn_k >= 0) {
                ck_assert_int_eq(sum.n_fallback, G.warn_k);
                ck_assert_int_eq(sum.n_checked, G.warn_n);
            } else {
                ck_assert_int_eq(sum.n_fallback, 0);
            }
            free(rows);
            n_ok++;
        }
        checked++;
    }
    closedir(d);
    free(order);
    free(ch);
    free_tlist(&L);
    printf("%s: %d golden runs checked (%d succeeded, %d failed in llama.cpp), %d of them --imatrix runs\n", model,
           checked, n_ok, n_fail, n_imatrix);
    return checked;
}

START_TEST(golden_wiki_qwen2) {
    int n = check_model_goldens("wiki-qwen2-13m", "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf");
    /* IQ4_NL, Q2_K, Q3_K_M, Q4_0/1, Q4_K_S/M, Q5_0/1, Q5_K_S/M, Q6_K, Q8_0; the same 13 with
     * the .dat imatrix, 8 with the GGUF one */
    ck_assert_int_ge(n, 13 + 13 + 8);
}
END_TEST

START_TEST(golden_stories260k) {
    int n = check_model_goldens("stories260K", "data/models/stories260K/stories260K.gguf");
    ck_assert_int_ge(n, 13 + 13); /* with and without the .dat imatrix */
}
END_TEST

/* ------------------------------------------------- synthetic Qwen2.5-0.5B (§3.1) ------ */

typedef struct synth {
    qk_mix_tensor t[300];
    char names[300][64];
    size_t n;
} synth;

static void add(synth *S, const char *name, int64_t ne0, int64_t ne1, qk_type type) {
    snprintf(S->names[S->n], 64, "%s", name);
    S->t[S->n] = (qk_mix_tensor){S->names[S->n], {ne0, ne1, 1, 1}, type, false};
    S->n++;
}

/* Tensors in a deliberately unsorted order (layers descending) to exercise the sort. */
static void make_qwen25_05b(synth *S, qk_mix_model *m) {
    S->n = 0;
    add(S, "token_embd.weight", 896, 151936, QK_TYPE_F16);
    for (int l = 23; l >= 0; l--) {
        char b[64];
#define T(suffix, a, c, ty) snprintf(b, sizeof b, "blk.%d." suffix, l), add(S, b, a, c, ty)
        T("attn_norm.weight", 896, 1, QK_TYPE_F32);
        T("attn_q.weight", 896, 896, QK_TYPE_F16);
        T("attn_q.bias", 896, 1, QK_TYPE_F32);
        T("attn_k.weight", 896, 128, QK_TYPE_F16);
        T("attn_k.bias", 128, 1, QK_TYPE_F32);
        T("attn_v.weight", 896, 128, QK_TYPE_F16);
        T("attn_v.bias", 128, 1, QK_TYPE_F32);
        T("attn_output.weight", 896, 896, QK_TYPE_F16);
        T("ffn_norm.weight", 896, 1, QK_TYPE_F32);
        T("ffn_gate.weight", 896, 4864, QK_TYPE_F16);
        T("ffn_up.weight", 896, 4864, QK_TYPE_F16);
        T("ffn_down.weight", 4864, 896, QK_TYPE_F16);
#undef T
    }
    add(S, "output_norm.weight", 896, 1, QK_TYPE_F32);
    *m = (qk_mix_model){"qwen2", 24, 14, 2, 0};
}

static const int more_bits_24[12] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23};

static int is_more_bits_24(int l) {
    for (int i = 0; i < 12; i++)
        if (more_bits_24[i] == l) return 1;
    return 0;
}

static double plan_mib(synth *S, const qk_mix_model *m, uint32_t ftype, qk_mix_choice *ch, qk_mix_summary *sum,
                       uint64_t *params) {
    size_t order[300];
    qk_mix_params p;
    qk_mix_params_init(&p);
    p.ftype = ftype;
    qk_err err = {{0}};
    ck_assert_msg(qk_mix_plan(&p, m, S->t, S->n, order, ch, sum, &err) == 0, "%s", err.msg);
    uint64_t bytes = 0, nel = 0;
    for (size_t i = 0; i < S->n; i++) {
        bytes += tensor_bytes(&S->t[i], ch[i].type);
        nel += (uint64_t)(S->t[i].ne[0] * S->t[i].ne[1]);
    }
    *params = nel;
    return (double)bytes / (1024.0 * 1024.0);
}

START_TEST(qwen25_q4_k_m) {
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    ck_assert_uint_eq(S.n, 290);
    qk_mix_choice ch[300];
    qk_mix_summary sum;
    uint64_t params;
    double mib = plan_mib(&S, &m, QK_FTYPE_MOSTLY_Q4_K_M, ch, &sum, &params);
    ck_assert_uint_eq(params, 494032768ull); /* §3.2 */
    for (size_t i = 0; i < S.n; i++) {
        const char *nm = S.t[i].name;
        qk_type ty = ch[i].type;
        int l = -1;
        sscanf(nm, "blk.%d.", &l);
        if (S.t[i].type == QK_TYPE_F32) {
            ck_assert_int_eq(ty, QK_TYPE_F32);
            ck_assert(!ch[i].quantize);
        } else if (strcmp(nm, "token_embd.weight") == 0) {
            ck_assert_int_eq(ty, QK_TYPE_Q8_0); /* tied: output rule, 896 % 256 != 0 */
            ck_assert(!ch[i].fallback);
        } else if (strstr(nm, "attn_v.weight")) {
            ck_assert_msg(ty == (is_more_bits_24(l) ? QK_TYPE_Q8_0 : QK_TYPE_Q5_0), "%s: %s", nm, qk_type_name(ty));
            ck_assert_int_eq(ch[i].wanted, is_more_bits_24(l) ? QK_TYPE_Q6_K : QK_TYPE_Q4_K);
            ck_assert(ch[i].fallback);
        } else if (strstr(nm, "ffn_down")) {
            ck_assert_msg(ty == (is_more_bits_24(l) ? QK_TYPE_Q6_K : QK_TYPE_Q4_K), "%s: %s", nm, qk_type_name(ty));
            ck_assert(!ch[i].fallback);
        } else {
            ck_assert_msg(ty == QK_TYPE_Q5_0 && ch[i].fallback, "%s: %s", nm, qk_type_name(ty));
        }
    }
    ck_assert_int_eq(sum.n_fallback, 144);
    ck_assert_int_eq(sum.n_checked, 169);
    ck_assert_int_eq(sum.n_quantize, 169);
    printf("Qwen2.5-0.5B Q4_K_M: %.1f MiB, %.2f bpw, %d of %d fallbacks\n", mib,
           mib * 1024 * 1024 * 8 / (double)params, sum.n_fallback, sum.n_checked);
    ck_assert_double_eq_tol(mib, 373.7, 0.05);
    ck_assert_double_eq_tol(mib * 1024 * 1024 * 8 / (double)params, 6.35, 0.005);
}
END_TEST

/* §3.5 table: tensor data MiB and effective bpw per ftype. */
START_TEST(qwen25_sizes_table) {
    static const struct { uint32_t ftype; double mib, bpw; } rows[] = {
        {QK_FTYPE_MOSTLY_Q2_K, 317.2, 5.39},   {QK_FTYPE_MOSTLY_Q3_K_M, 333.3, 5.66},
        {QK_FTYPE_MOSTLY_Q4_K_S, 361.9, 6.15}, {QK_FTYPE_MOSTLY_Q4_K_M, 373.7, 6.35},
        {QK_FTYPE_MOSTLY_Q6_K, 476.6, 8.09},   {QK_FTYPE_MOSTLY_Q8_0, 500.8, 8.50},
        {QK_FTYPE_MOSTLY_F16, 942.4, 16.0},
    };
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        qk_mix_choice ch[300];
        qk_mix_summary sum;
        uint64_t params;
        double mib = plan_mib(&S, &m, rows[r].ftype, ch, &sum, &params);
        double bpw = mib * 1024 * 1024 * 8 / (double)params;
        printf("Qwen2.5-0.5B %-7s %6.1f MiB %5.2f bpw (fallbacks %d of %d)\n", qk_ftype_by_id(rows[r].ftype)->name,
               mib, bpw, sum.n_fallback, sum.n_checked);
        ck_assert_msg(mib > rows[r].mib - 0.05 && mib < rows[r].mib + 0.05, "%s: %.2f MiB, §3.5 says %.1f",
                      qk_ftype_by_id(rows[r].ftype)->name, mib, rows[r].mib);
        ck_assert_double_eq_tol(bpw, rows[r].bpw, 0.0051);
    }
}
END_TEST

/* llama-bench's model_size column (tensor data bytes) for llama-quantize's files of a
 * random-weight model with Qwen2.5-0.5B's exact shapes (golden/bench): the plan must give
 * the same byte counts, to the byte. */
START_TEST(qwen25_llama_bench_sizes) {
    char *csv = qk_test_read_file(qk_test_shared("golden/bench/synth-qwen2.5-0.5b.llama-bench.csv"), NULL);
    ck_assert_ptr_nonnull(csv);
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    int checked = 0;
    char seen[8][32] = {{0}};
    int n_seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* fields 6..9: "file","model type","model_size","n_params" */
        char *f[12] = {0};
        int nf = 0;
        for (char *p = line; nf < 12 && *p;) {
            if (*p == '"') p++;
            f[nf++] = p;
            char *e = strchr(p, ',');
            if (!e) break;
            *e = 0;
            if (e > p && e[-1] == '"') e[-1] = 0;
            p = e + 1;
        }
        if (nf < 9 || strncmp(f[5], "synth-qwen2.5-0.5b-", 19) != 0) continue;
        char type[32];
        snprintf(type, sizeof type, "%s", f[5] + 19);
        char *dot = strstr(type, ".gguf");
        ck_assert_ptr_nonnull(dot);
        *dot = 0;
        int dup = 0;
        for (int i = 0; i < n_seen; i++) dup |= strcmp(seen[i], type) == 0;
        if (dup) continue;
        ck_assert_int_lt(n_seen, 8);
        snprintf(seen[n_seen++], 32, "%s", type);
        const qk_ftype_info *fi = qk_ftype_parse(type);
        ck_assert_msg(fi != NULL, "type %s", type);
        qk_mix_choice ch[300];
        qk_mix_summary sum;
        uint64_t params;
        double mib = plan_mib(&S, &m, fi->id, ch, &sum, &params);
        uint64_t bytes = (uint64_t)llround(mib * 1024 * 1024);
        ck_assert_msg(bytes == strtoull(f[7], NULL, 10), "%s: plan %llu bytes, llama.cpp %s", type,
                      (unsigned long long)bytes, f[7]);
        ck_assert_uint_eq(params, strtoull(f[8], NULL, 10));
        checked++;
    }
    free(csv);
    ck_assert_int_ge(checked, 4); /* F16, Q2_K, Q4_K_M, Q6_K */
}
END_TEST

START_TEST(qwen25_q4_k_s_and_q2_k) {
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    qk_mix_choice ch[300];
    qk_mix_summary sum;
    uint64_t params;
    plan_mib(&S, &m, QK_FTYPE_MOSTLY_Q4_K_S, ch, &sum, &params);
    for (size_t i = 0; i < S.n; i++) {
        int l = -1;
        sscanf(S.t[i].name, "blk.%d.", &l);
        if (strstr(S.t[i].name, "attn_v.weight"))
            ck_assert_int_eq(ch[i].type, l < 4 ? QK_TYPE_Q5_1 : QK_TYPE_Q5_0);
        if (strstr(S.t[i].name, "ffn_down"))
            ck_assert_int_eq(ch[i].type, l < 3 ? QK_TYPE_Q5_K : QK_TYPE_Q4_K);
    }
    plan_mib(&S, &m, QK_FTYPE_MOSTLY_Q2_K, ch, &sum, &params);
    for (size_t i = 0; i < S.n; i++) {
        const char *nm = S.t[i].name;
        if (S.t[i].type == QK_TYPE_F32) continue;
        if (strstr(nm, "attn_v.weight")) { /* n_gqa = 7 >= 4: Q4_K, which falls back to Q5_0 */
            ck_assert_int_eq(ch[i].wanted, QK_TYPE_Q4_K);
            ck_assert_int_eq(ch[i].type, QK_TYPE_Q5_0);
        } else if (strstr(nm, "ffn_down")) {
            ck_assert_int_eq(ch[i].type, QK_TYPE_Q3_K);
        } else if (strcmp(nm, "token_embd.weight") == 0) {
            ck_assert_int_eq(ch[i].type, QK_TYPE_Q8_0);
        } else {
            ck_assert_int_eq(ch[i].type, QK_TYPE_IQ4_NL);
        }
    }
    ck_assert_int_eq(sum.n_fallback, 144);
}
END_TEST

/* ------------------------------------------------------------- options --------------- */

static int plan_with(tlist *L, qk_mix_params *p, size_t *order, qk_mix_choice *ch, qk_mix_summary *sum, qk_err *err) {
    return qk_mix_plan(p, &L->m, L->t, L->n, order, ch, sum, err);
}

static const qk_mix_choice *find(tlist *L, qk_mix_choice *ch, const char *name) {
    for (size_t i = 0; i < L->n; i++)
        if (strcmp(L->t[i].name, name) == 0) return &ch[i];
    ck_abort_msg("no tensor %s", name);
    return NULL;
}

START_TEST(pure_and_overrides) {
    tlist L;
    load_tlist(&L, "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf");
    size_t order[128];
    qk_mix_choice ch[128];
    qk_mix_summary sum;
    qk_err err = {{0}};
    qk_mix_params p;

    /* --pure: Q4_K everywhere, including the tied embedding; no rules, no fallback count. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.pure = true;
    ck_assert_msg(plan_with(&L, &p, order, ch, &sum, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < L.n; i++)
        ck_assert_int_eq(ch[i].type, L.t[i].type == QK_TYPE_F32 ? QK_TYPE_F32 : QK_TYPE_Q4_K);
    ck_assert_int_eq(sum.n_checked, 0);
    ck_assert_int_eq(sum.n_quantize, 43);

    /* --output-tensor-type applies to the tied embedding; --token-embedding-type wins. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.output_tensor_type = QK_TYPE_Q8_0;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) == 0);
    ck_assert_int_eq(find(&L, ch, "token_embd.weight")->type, QK_TYPE_Q8_0);
    ck_assert_int_eq(find(&L, ch, "blk.2.attn_v.weight")->type, QK_TYPE_Q6_K);
    p.token_embedding_type = QK_TYPE_Q4_0;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) == 0);
    ck_assert_int_eq(find(&L, ch, "token_embd.weight")->type, QK_TYPE_Q4_0);

    /* F16 target: no rules; already-F16 tensors are copied, none "quantized". */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_F16;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) == 0);
    ck_assert_int_eq(sum.n_quantize, 0);
    ck_assert_int_eq(find(&L, ch, "token_embd.weight")->type, QK_TYPE_F16);

    /* COPY keeps everything. */
    qk_mix_params_init(&p);
    p.only_copy = true;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) == 0);
    for (size_t i = 0; i < L.n; i++) ck_assert(!ch[i].quantize && ch[i].type == L.t[i].type);

    /* Activation-only types are refused as overrides. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.output_tensor_type = QK_TYPE_Q8_K;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) != 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "output-tensor-type"));
    free_tlist(&L);
}
END_TEST

START_TEST(pure_and_no_fallback_errors) {
    tlist L;
    load_tlist(&L, "data/models/stories260K/stories260K.gguf");
    size_t order[64];
    qk_mix_choice ch[64];
    qk_mix_summary sum;
    qk_err err = {{0}};
    qk_mix_params p;

    /* --pure Q4_K_M on 64-wide rows: no fallback in [U] -> error naming the first tensor. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.pure = true;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) != 0);
    ck_assert_msg(strstr(err.msg, "'output.weight'") && strstr(err.msg, "--pure"), "%s", err.msg);

    /* --no-fallback: output.weight's Q8_0 is a rule, not a fallback; token_embd's Q5_0 is. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.no_fallback = true;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) != 0);
    ck_assert_msg(strstr(err.msg, "'token_embd.weight'") && strstr(err.msg, "Q5_0"), "%s", err.msg);

    /* An override that does not divide ne[0] is an error naming the tensor. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q6_K;
    p.token_embedding_type = QK_TYPE_Q4_K;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) != 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "'token_embd.weight'"));

    /* Overrides that fit: untied token_embd Q8_0, output F16. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.token_embedding_type = QK_TYPE_Q8_0;
    p.output_tensor_type = QK_TYPE_F16;
    ck_assert_msg(plan_with(&L, &p, order, ch, &sum, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(find(&L, ch, "token_embd.weight")->type, QK_TYPE_Q8_0);
    ck_assert_int_eq(find(&L, ch, "output.weight")->type, QK_TYPE_F16);
    ck_assert_int_eq(find(&L, ch, "blk.0.attn_q.weight")->type, QK_TYPE_Q5_0);

    /* F16 needs no fallback even for 172-wide rows. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_F16;
    ck_assert(plan_with(&L, &p, order, ch, &sum, &err) == 0);
    ck_assert_int_eq(find(&L, ch, "blk.0.ffn_down.weight")->type, QK_TYPE_F16);
    ck_assert_int_eq(find(&L, ch, "blk.0.ffn_norm.weight")->type, QK_TYPE_F32);
    free_tlist(&L);
}
END_TEST

START_TEST(requantize_and_bad_models) {
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    size_t order[300];
    qk_mix_choice ch[300];
    qk_err err = {{0}};
    qk_mix_params p;
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    S.t[4].type = QK_TYPE_Q8_0; /* blk.23.attn_k.weight: a quantized input matrix */
    ck_assert_str_eq(S.t[4].name, "blk.23.attn_k.weight");
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    ck_assert_msg(strstr(err.msg, S.t[4].name) && strstr(err.msg, "--allow-requantize"), "%s", err.msg);
    p.allow_requantize = true;
    ck_assert_msg(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) == 0, "%s", err.msg);
    ck_assert(ch[4].quantize && ch[4].type == QK_TYPE_Q5_0);

    /* attn_v count must equal block_count when the rules run. */
    make_qwen25_05b(&S, &m);
    m.n_layer = 23;
    p.allow_requantize = false;
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "attn_v"));

    /* Unsupported ftypes are refused. */
    m.n_layer = 24;
    p.ftype = QK_FTYPE_MOSTLY_IQ2_XXS;
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    p.ftype = QK_FTYPE_MOSTLY_Q2_K_S;
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    p.ftype = 77;
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
}
END_TEST

START_TEST(order_and_helpers) {
    qk_mix_tensor t[] = {
        {"blk.10.attn_q.weight", {8, 8, 1, 1}, QK_TYPE_F32, false},
        {"blk.9.ffn_up.weight", {8, 8, 1, 1}, QK_TYPE_F32, false},
        {"token_embd.weight", {8, 8, 1, 1}, QK_TYPE_F32, false},
        {"blk.9.attn_q.weight", {8, 8, 1, 1}, QK_TYPE_F32, false},
        {"output_norm.weight", {8, 1, 1, 1}, QK_TYPE_F32, false},
        {"blk.0.ffn_down.weight", {8, 8, 1, 1}, QK_TYPE_F32, false},
    };
    size_t order[6];
    qk_mix_order(t, 6, order);
    static const char *want[] = {"output_norm.weight",   "token_embd.weight",   "blk.0.ffn_down.weight",
                                 "blk.9.attn_q.weight", "blk.9.ffn_up.weight", "blk.10.attn_q.weight"};
    for (int i = 0; i < 6; i++) ck_assert_str_eq(t[order[i]].name, want[i]);

    /* use_more_bits for 24 layers is exactly the §3.5 set. */
    for (int l = 0; l < 24; l++) ck_assert_int_eq(qk_mix_use_more_bits(l, 24), is_more_bits_24(l));
    /* 6 layers (wiki-qwen2-13m): layers 2 and 5. */
    for (int l = 0; l < 6; l++) ck_assert_int_eq(qk_mix_use_more_bits(l, 6), l == 2 || l == 5);

    char b[16];
    ck_assert_str_eq(qk_mix_ggml_name(QK_TYPE_Q4_K, b), "q4_K");
    ck_assert_str_eq(qk_mix_ggml_name(QK_TYPE_IQ4_NL, b), "iq4_nl");
    ck_assert_str_eq(qk_mix_ggml_name(QK_TYPE_F16, b), "f16");
    ck_assert_str_eq(qk_mix_ggml_name(QK_TYPE_Q8_0, b), "q8_0");

    /* ftype table: names, aliases, ids, display names. */
    ck_assert_uint_eq(qk_ftype_parse("q4_k_m")->id, 15);
    ck_assert_uint_eq(qk_ftype_parse("Q4_K")->id, 15);
    ck_assert_uint_eq(qk_ftype_parse("q3_k")->id, 12);
    ck_assert_uint_eq(qk_ftype_parse("18")->id, 18);
    ck_assert_str_eq(qk_ftype_parse("10")->name, "Q2_K");
    ck_assert_ptr_null(qk_ftype_parse("Q4_K_X"));
    ck_assert_ptr_null(qk_ftype_parse("5")); /* retired id */
    ck_assert_ptr_null(qk_ftype_parse(""));
    ck_assert_str_eq(qk_ftype_name(15), "Q4_K - Medium");
    ck_assert_str_eq(qk_ftype_name(10), "Q2_K - Medium");
    ck_assert_str_eq(qk_ftype_name(18), "Q6_K");
    ck_assert_str_eq(qk_ftype_name(1), "F16");
    ck_assert_str_eq(qk_ftype_name(999), "unknown, may not work");
    ck_assert(qk_ftype_supported(qk_ftype_parse("IQ4_NL")));
    ck_assert(!qk_ftype_supported(qk_ftype_parse("IQ4_XS")));
}
END_TEST

/* ------------------------------------------- importance matrix and --tensor-type ------ */

static qk_type synth_type(const synth *S, const qk_mix_choice *ch, const char *name) {
    for (size_t i = 0; i < S->n; i++)
        if (strcmp(S->t[i].name, name) == 0) return ch[i].type;
    ck_abort_msg("no tensor %s", name);
    return QK_TYPE_COUNT;
}

/* The has_imatrix branches of llama_tensor_get_type on 24 layers (first eighth: 0-2). */
START_TEST(imatrix_branches) {
    synth S;
    qk_mix_model m;
    make_qwen25_05b(&S, &m);
    size_t order[300];
    qk_mix_choice ch[300];
    qk_err err = {{0}};
    qk_mix_params p;
    static const struct { uint32_t ftype; qk_type plain, early; bool with; } cases[] = {
        {QK_FTYPE_MOSTLY_Q4_0, QK_TYPE_Q4_0, QK_TYPE_Q4_1, true},
        {QK_FTYPE_MOSTLY_Q4_0, QK_TYPE_Q4_0, QK_TYPE_Q4_0, false},
        {QK_FTYPE_MOSTLY_Q5_0, QK_TYPE_Q5_0, QK_TYPE_Q5_1, true},
        {QK_FTYPE_MOSTLY_Q5_0, QK_TYPE_Q5_0, QK_TYPE_Q5_0, false},
        {QK_FTYPE_MOSTLY_IQ4_NL, QK_TYPE_IQ4_NL, QK_TYPE_IQ4_NL, true}, /* IQ4_NL's Q5_K only without */
        {QK_FTYPE_MOSTLY_IQ4_NL, QK_TYPE_IQ4_NL, QK_TYPE_Q5_K, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qk_mix_params_init(&p);
        p.ftype = cases[c].ftype;
        p.has_imatrix = cases[c].with;
        ck_assert_msg(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(synth_type(&S, ch, "blk.2.ffn_down.weight"), cases[c].early);
        ck_assert_int_eq(synth_type(&S, ch, "blk.3.ffn_down.weight"), cases[c].plain);
    }
    /* Q2_K_S: refused without an imatrix; with one, attn_v Q4_K (n_gqa 7, falls back to
     * Q5_0 on 896 columns), ffn_down Q4_K in layers 0-2, and every Q2_K tensor needs data */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q2_K_S;
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    ck_assert_msg(strstr(err.msg, "Q2_K_S needs an importance matrix"), "%s", err.msg);
    p.has_imatrix = true;
    for (size_t i = 0; i < S.n; i++) S.t[i].has_weights = strcmp(S.t[i].name, "token_embd.weight") != 0;
    ck_assert_msg(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(synth_type(&S, ch, "blk.0.attn_v.weight"), QK_TYPE_Q5_0);
    ck_assert_int_eq(synth_type(&S, ch, "blk.2.ffn_down.weight"), QK_TYPE_Q4_K);
    ck_assert_int_eq(synth_type(&S, ch, "blk.3.ffn_down.weight"), QK_TYPE_Q2_K);
    ck_assert_int_eq(synth_type(&S, ch, "blk.3.ffn_up.weight"), QK_TYPE_IQ4_NL);
    S.t[S.n - 2 - 12 * 10].has_weights = false; /* blk.10.ffn_down.weight */
    ck_assert_str_eq(S.t[S.n - 2 - 12 * 10].name, "blk.10.ffn_down.weight");
    ck_assert(qk_mix_plan(&p, &m, S.t, S.n, order, ch, NULL, &err) != 0);
    ck_assert_msg(strstr(err.msg, "'blk.10.ffn_down.weight'") && strstr(err.msg, "no entry"), "%s", err.msg);
}
END_TEST

/* Plan L as ftype with the rules (NULL-terminated); returns qk_mix_plan's result. */
static int plan_rules(tlist *L, qk_mix_params *p, qk_rule_list *R, const char *const *rules, qk_mix_choice *ch,
                      qk_mix_summary *sum, qk_err *err) {
    size_t order[128];
    qk_rules_free(R);
    for (; *rules; rules++) ck_assert_msg(qk_rules_add(R, *rules, "--tensor-type", err) == 0, "%s", err->msg);
    p->rules = R->v;
    p->n_rules = R->n;
    return qk_mix_plan(p, &L->m, L->t, L->n, order, ch, sum, err);
}

#define RULES(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(tensor_type_rules) {
    tlist W, St;
    load_tlist(&W, "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf");
    load_tlist(&St, "data/models/stories260K/stories260K.gguf");
    qk_mix_choice ch[128];
    qk_mix_summary sum;
    qk_err err = {{0}};
    qk_rule_list R = {0};
    qk_mix_params p;
#define PLAN(L, ftype_, ...) \
    (qk_mix_params_init(&p), p.ftype = (ftype_), plan_rules(L, &p, &R, RULES(__VA_ARGS__), ch, &sum, &err))
#define TYPE(L, name) (find(L, ch, name)->type)
    /* Last match wins; rule index 1-based; n_matched counts the tensors tried. */
    ck_assert_msg(PLAN(&W, QK_FTYPE_MOSTLY_Q4_K_M, "attn=q8_0", "attn_v=Q5_K") == 0, "%s", err.msg);
    ck_assert_int_eq(TYPE(&W, "blk.2.attn_v.weight"), QK_TYPE_Q5_K);
    ck_assert_int_eq(find(&W, ch, "blk.2.attn_v.weight")->rule, 2);
    ck_assert_int_eq(TYPE(&W, "blk.2.attn_q.weight"), QK_TYPE_Q8_0);
    ck_assert_int_eq(find(&W, ch, "blk.2.ffn_up.weight")->rule, 0);
    ck_assert_int_eq(R.v[0].n_matched, 24); /* attn_q/k/v/output x 6 (not attn_norm, biases) */
    ck_assert_int_eq(R.v[1].n_matched, 6);
    ck_assert(PLAN(&W, QK_FTYPE_MOSTLY_Q4_K_M, "attn_v=q5_k", "attn=q8_0") == 0);
    ck_assert_int_eq(TYPE(&W, "blk.2.attn_v.weight"), QK_TYPE_Q8_0);
    /* Rule vs mixture: the layer counters advance as without rules (blk.5 keeps Q6_K);
     * the pattern is lower-cased and searched, not matched whole. */
    ck_assert(PLAN(&W, QK_FTYPE_MOSTLY_Q4_K_M, "BLK\\.2\\.ATTN_V=q8_0") == 0);
    ck_assert_int_eq(TYPE(&W, "blk.2.attn_v.weight"), QK_TYPE_Q8_0);
    ck_assert_int_eq(TYPE(&W, "blk.5.attn_v.weight"), QK_TYPE_Q6_K);
    ck_assert_int_eq(TYPE(&W, "blk.1.attn_v.weight"), QK_TYPE_Q4_K);
    /* Overrides: --token-embedding-type wins over a rule (rule 0); a tied embedding's
     * --output-tensor-type is its mixture type, which a rule replaces. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.token_embedding_type = QK_TYPE_Q8_0;
    ck_assert(plan_rules(&W, &p, &R, RULES("token_embd=q5_k"), ch, &sum, &err) == 0);
    ck_assert(TYPE(&W, "token_embd.weight") == QK_TYPE_Q8_0 && find(&W, ch, "token_embd.weight")->rule == 0);
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.output_tensor_type = QK_TYPE_Q8_0;
    ck_assert(plan_rules(&W, &p, &R, RULES("token_embd=q5_k"), ch, &sum, &err) == 0);
    ck_assert_int_eq(TYPE(&W, "token_embd.weight"), QK_TYPE_Q5_K);
    /* --pure: rules still apply; norms are never tried. */
    qk_mix_params_init(&p);
    p.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    p.pure = true;
    ck_assert(plan_rules(&W, &p, &R, RULES("ffn_down=q8_0"), ch, &sum, &err) == 0);
    ck_assert(TYPE(&W, "blk.0.ffn_down.weight") == QK_TYPE_Q8_0 && TYPE(&W, "blk.0.ffn_up.weight") == QK_TYPE_Q4_K);
    ck_assert(PLAN(&W, QK_FTYPE_MOSTLY_Q4_K_M, "norm=q8_0") == 0);
    ck_assert(TYPE(&W, "output_norm.weight") == QK_TYPE_F32 && R.v[0].n_matched == 0);
    /* Fallback: a rule's Q6_K on 64 columns falls back to Q8_0 (counted); a rule's Q8_0
     * fits, so those tensors need no fallback any more (stories: 36 of 37 without). */
    ck_assert(PLAN(&St, QK_FTYPE_MOSTLY_Q4_K_M, "attn_q=q6_k") == 0);
    const qk_mix_choice *c = find(&St, ch, "blk.0.attn_q.weight");
    ck_assert(c->type == QK_TYPE_Q8_0 && c->wanted == QK_TYPE_Q6_K && c->fallback && c->rule == 1);
    ck_assert(sum.n_fallback == 36 && sum.n_checked == 37);
    ck_assert(PLAN(&St, QK_FTYPE_MOSTLY_Q4_K_M, "attn_q=q8_0") == 0);
    ck_assert(TYPE(&St, "blk.0.attn_q.weight") == QK_TYPE_Q8_0 && sum.n_fallback == 31);
    /* (refused rule types, F16 targets: tests/test_quantize_imatrix.c) */
#undef PLAN
#undef TYPE
    qk_rules_free(&R);
    free_tlist(&W);
    free_tlist(&St);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mixture");
    TCase *tc = tcase_create("mixture");
    tcase_add_test(tc, golden_wiki_qwen2);
    tcase_add_test(tc, golden_stories260k);
    tcase_add_test(tc, qwen25_q4_k_m);
    tcase_add_test(tc, qwen25_sizes_table);
    tcase_add_test(tc, qwen25_q4_k_s_and_q2_k);
    tcase_add_test(tc, qwen25_llama_bench_sizes);
    tcase_add_test(tc, pure_and_overrides);
    tcase_add_test(tc, pure_and_no_fallback_errors);
    tcase_add_test(tc, requantize_and_bad_models);
    tcase_add_test(tc, order_and_helpers);
    tcase_add_test(tc, imatrix_branches);
    tcase_add_test(tc, tensor_type_rules);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
