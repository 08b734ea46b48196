/*
 * bench_matrix.c — parsing of comma lists and the cross-product of qk-bench's parameters
 * into test instances, in llama-bench's order (see bench_matrix.h).
 */
#include "bench_matrix.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qk_int_list_push(qk_int_list *l, int v, qk_err *err) {
    int *nv = realloc(l->v, sizeof(int) * (size_t)(l->n + 1));
    if (!nv) return qk_errf(err, "out of memory");
    l->v = nv;
    l->v[l->n++] = v;
    return 0;
}

void qk_int_list_free(qk_int_list *l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int add_test(qk_bench_test **tests, int *n, int *cap, qk_bench_test t, qk_err *err) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        qk_bench_test *nt = realloc(*tests, sizeof(qk_bench_test) * (size_t)nc);
        if (!nt) return qk_errf(err, "out of memory");
        *tests = nt;
        *cap = nc;
    }
    (*tests)[(*n)++] = t;
    return 0;
}

int qk_bench_expand(const qk_bench_params *p, qk_bench_test **tests, int *n_tests,
                    qk_err *err) {
    *tests = NULL;
    *n_tests = 0;
    int cap = 0;
    if (p->n_models <= 0) return qk_errf(err, "no model given");
    if (p->pg.n % 2 != 0) return qk_errf(err, "-pg takes pairs 'pp,tg'");
    for (int mi = 0; mi < p->n_models; mi++) {
        for (int bi = 0; bi < p->n_batch.n; bi++) {
          for (int ui = 0; ui < (p->n_ubatch.n ? p->n_ubatch.n : 1); ui++) {
            for (int ti = 0; ti < p->n_threads.n; ti++) {
              for (int di = 0; di < (p->n_depth.n ? p->n_depth.n : 1); di++) {
                qk_bench_test base = {p->models[mi], mi, 0, 0, p->n_batch.v[bi], p->n_threads.v[ti],
                                      p->n_ubatch.n ? p->n_ubatch.v[ui] : 0, p->n_depth.n ? p->n_depth.v[di] : 0};
                for (int k = 0; k < p->n_prompt.n; k++) {
                    if (p->n_prompt.v[k] == 0) continue;
                    qk_bench_test t = base;
                    t.n_prompt = p->n_prompt.v[k];
                    if (add_test(tests, n_tests, &cap, t, err) != 0) goto fail;
                }
                for (int k = 0; k < p->n_gen.n; k++) {
                    if (p->n_gen.v[k] == 0) continue;
                    qk_bench_test t = base;
                    t.n_gen = p->n_gen.v[k];
                    if (add_test(tests, n_tests, &cap, t, err) != 0) goto fail;
                }
                for (int k = 0; k + 1 < p->pg.n; k += 2) {
                    if (p->pg.v[k] == 0 && p->pg.v[k + 1] == 0) continue;
                    qk_bench_test t = base;
                    t.n_prompt = p->pg.v[k];
                    t.n_gen = p->pg.v[k + 1];
                    if (add_test(tests, n_tests, &cap, t, err) != 0) goto fail;
                }
              }
            }
          }
        }
    }
    if (*n_tests == 0) {
        qk_errf(err, "nothing to run: every -p and -n value is 0 and no -pg was given");
        goto fail;
    }
    return 0;
fail:
    free(*tests);
    *tests = NULL;
    *n_tests = 0;
    return -1;
}

void qk_bench_test_name(const qk_bench_test *t, char *buf, size_t cap) {
    if (t->n_prompt > 0 && t->n_gen > 0) snprintf(buf, cap, "pp%d+tg%d", t->n_prompt, t->n_gen);
    else if (t->n_prompt > 0) snprintf(buf, cap, "pp%d", t->n_prompt);
    else snprintf(buf, cap, "tg%d", t->n_gen);
    size_t n = strlen(buf);
    if (t->n_depth > 0 && n < cap) snprintf(buf + n, cap - n, " @ d%d", t->n_depth);
}

/* One unsigned decimal integer at *p (a '-' separates a range, so no sign); advances *p. */
static bool read_int(const char **p, long *out) {
    if (!isdigit((unsigned char)**p)) return false;
    errno = 0;
    char *end;
    long x = strtol(*p, &end, 10);
    if (errno || x > INT_MAX) return false;
    *p = end;
    *out = x;
    return true;
}

int qk_bench_parse_list(const char *opt, const char *v, int min, int max, int max_values, qk_int_list *l,
                        qk_err *err) {
    qk_int_list add = {0};
    const char *p = v;
    for (;;) {
        const char *item = p;
        long first, last, step = 1;
        char kind = '+';
        bool ok = read_int(&p, &first);
        last = first;
        if (ok && *p == '-') {
            p++;
            ok = read_int(&p, &last);
            if (ok && (*p == '+' || *p == '*')) {
                kind = *p++;
                ok = read_int(&p, &step);
            }
            ok = ok && last >= first && (kind == '+' ? step >= 1 : step >= 2 && first >= 1);
        }
        ok = ok && (*p == ',' || *p == 0);
        size_t item_len = strcspn(item, ",");
        if (!ok) {
            qk_int_list_free(&add);
            return qk_errf(err, "%s: bad list item '%.*s': want N, FIRST-LAST, FIRST-LAST+STEP or FIRST-LAST*MULT "
                                "(STEP >= 1, MULT >= 2, LAST >= FIRST)", opt, (int)item_len, item);
        }
        for (long x = first; x <= last; x = kind == '+' ? x + step : x * step) {
            if (x < min || x > max) {
                qk_int_list_free(&add);
                return qk_errf(err, "%s: %ld (in '%.*s') is outside %d..%d", opt, x, (int)item_len, item, min, max);
            }
            if (add.n + l->n >= max_values) {
                qk_int_list_free(&add);
                return qk_errf(err, "%s: more than %d values", opt, max_values);
            }
            if (qk_int_list_push(&add, (int)x, err) != 0) {
                qk_int_list_free(&add);
                return -1;
            }
        }
        if (*p == 0) break;
        p++;
    }
    for (int k = 0; k < add.n; k++)
        if (qk_int_list_push(l, add.v[k], err) != 0) {
            qk_int_list_free(&add);
            return -1;
        }
    qk_int_list_free(&add);
    return 0;
}

void qk_bench_result_free(qk_bench_result *r) {
    if (!r) return;
    free(r->samples_ns);
    r->samples_ns = NULL;
    r->n_samples = 0;
}
