/*
 * test_matmul.c — Check suite for the matmul driver (engine/matmul.c): both paths, every
 * weight type, odd shapes, 1–3 threads, the activation-conversion variants and the path
 * choice.
 *
 * What it pins down:
 * - vec_dot path: every output element is bit-identical to one direct call of the type's
 *   vec_dot on the weight row and the activation row converted whole by the type table's
 *   from_float — whatever the thread count, token count or conversion variant (each
 *   thread converting privately for tiny inputs, rows split among threads, or blocks of
 *   one row split among threads when m < threads), so conversion splits and row chunks
 *   lose, duplicate or misplace nothing;
 * - sgemm path: within 3e-5·M of a double-precision product of the dequantized weights
 *   (to_float) and the converted-then-expanded activations, M = Σ|w·a| over the row (a
 *   float sum of k ≤ 8448 terms rounds far less; a wrong row, tile or stride is off by
 *   O(M)); with the default tile and with 16-row tiles (many tiles per thread, the last
 *   one short); F32 weights are used in place. Largest error measured across the
 *   arithmetic variants of tests/run-variants.sh (OpenBLAS core types and threads, AVX2 and
 *   scalar conversions): 1.1e-7·M;
 * - gemm path (types with an integer gemm kernel): every element bit-identical to the
 *   type's SCALAR vec_dot (quants_legacy.c / quants_k.c) on the converted activation row
 *   (gemm_k.h, gemm_legacy.h), whatever the thread count or tile; for the other types
 *   QK_MATMUL_GEMM runs the vec_dot path. The kernels themselves are compared with
 *   vec_dot in test_gemm.c and test_gemm_legacy.c;
 * - QK_MATMUL_AUTO gives exactly the result of the path qk_matmul_choose names, and
 *   qk_matmul_choose switches to gemm at qk_matmul_gemm_min_m for the types with a gemm
 *   kernel, else to sgemm at qk_matmul_blas_min_m (rows of at least
 *   QK_MATMUL_SGEMM_MIN_K elements; shorter rows stay on vec_dot).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "quants.h"
#include "testutil.h"
#include "threads.h"
#include "types.h"

static const qk_type TYPES[] = {QK_TYPE_F32,  QK_TYPE_F16,  QK_TYPE_BF16, QK_TYPE_Q4_0, QK_TYPE_Q4_1,
                                QK_TYPE_Q5_0, QK_TYPE_Q5_1, QK_TYPE_Q8_0, QK_TYPE_IQ4_NL, QK_TYPE_Q2_K,
                                QK_TYPE_Q3_K, QK_TYPE_Q4_K, QK_TYPE_Q5_K, QK_TYPE_Q6_K};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

typedef struct shape {
    int64_t k, n;
    int m[4];
    int n_m;
} shape;

/* k = 512: two K-quant blocks; k = 8448 = 33·256: m·k above the private-conversion limit
 * even for m = 1, so m < threads splits the blocks of a row. */
static const shape SHAPES[] = {
    {512, 37, {1, 2, 5, 40}, 4},
    {8448, 19, {1, 2}, 2},
};

static uint64_t rng = 1;
static float frand(void) { /* uniform in [-1, 1) */
    return (float)(qk_test_splitmix64(&rng) >> 40) / (float)(1 << 23) - 1.0f;
}

typedef struct fixture {
    qk_type t;
    const qk_type_traits *tt, *vt;
    int64_t k, n, m;
    uint8_t *w;      /* [n] rows of t */
    float *x;        /* [m][k] */
    float *y_dot;    /* direct vec_dot reference */
    float *y_sdot;   /* the same with the type's scalar vec_dot (types with a gemm kernel) */
    double *y_ref;   /* double product of dequantized W and expanded X */
    double *y_mag;   /* Σ|w·a| per element */
} fixture;

/* The scalar vec_dot of the types with a gemm kernel (NULL for the others). */
static qk_vec_dot_fn scalar_dot(qk_type t) {
    switch (t) {
    case QK_TYPE_Q4_0: return qk_vec_dot_q4_0_q8_0;
    case QK_TYPE_Q4_1: return qk_vec_dot_q4_1_q8_1;
    case QK_TYPE_Q5_0: return qk_vec_dot_q5_0_q8_0;
    case QK_TYPE_Q5_1: return qk_vec_dot_q5_1_q8_1;
    case QK_TYPE_Q8_0: return qk_vec_dot_q8_0_q8_0;
    case QK_TYPE_IQ4_NL: return qk_vec_dot_iq4_nl_q8_0;
    case QK_TYPE_Q2_K: return qk_vec_dot_q2_K_q8_K;
    case QK_TYPE_Q3_K: return qk_vec_dot_q3_K_q8_K;
    case QK_TYPE_Q4_K: return qk_vec_dot_q4_K_q8_K;
    case QK_TYPE_Q5_K: return qk_vec_dot_q5_K_q8_K;
    case QK_TYPE_Q6_K: return qk_vec_dot_q6_K_q8_K;
    default: return NULL;
    }
}

static void fixture_make(fixture *f, qk_type t, int64_t k, int64_t n, int64_t m) {
    f->t = t;
    f->tt = qk_type_get(t);
    f->vt = qk_type_get(f->tt->vec_dot_type);
    f->k = k;
    f->n = n;
    f->m = m;
    const size_t wrow = qk_row_size(t, k), xrow = qk_row_size(f->tt->vec_dot_type, k);
    f->w = malloc(wrow * (size_t)n);
    f->x = malloc(sizeof(float) * (size_t)(m * k));
    f->y_dot = malloc(sizeof(float) * (size_t)(m * n));
    f->y_sdot = malloc(sizeof(float) * (size_t)(m * n));
    f->y_ref = malloc(sizeof(double) * (size_t)(m * n));
    f->y_mag = malloc(sizeof(double) * (size_t)(m * n));
    float *wf = malloc(sizeof(float) * (size_t)(n * k));
    float *xf = malloc(sizeof(float) * (size_t)(m * k));
    uint8_t *xq = malloc(xrow * (size_t)m);
    ck_assert(f->w && f->x && f->y_dot && f->y_sdot && f->y_ref && f->y_mag && wf && xf && xq);
    for (int64_t r = 0; r < n; r++) {
        for (int64_t l = 0; l < k; l++) wf[r * k + l] = frand() * (1.0f + (float)(r % 3));
        f->tt->quantize_ref(wf + r * k, f->w + (size_t)r * wrow, k);
        f->tt->to_float(f->w + (size_t)r * wrow, wf + r * k, k);
    }
    for (int64_t i = 0; i < m * k; i++) f->x[i] = frand() * 2.0f;
    for (int64_t i = 0; i < m; i++) {
        f->vt->quantize_act(f->x + i * k, xq + (size_t)i * xrow, k);
        f->vt->to_float(xq + (size_t)i * xrow, xf + i * k, k);
    }
    for (int64_t i = 0; i < m; i++) {
        for (int64_t r = 0; r < n; r++) {
            f->tt->vec_dot((int)k, &f->y_dot[i * n + r], f->w + (size_t)r * wrow, xq + (size_t)i * xrow);
            if (scalar_dot(t)) scalar_dot(t)((int)k, &f->y_sdot[i * n + r], f->w + (size_t)r * wrow, xq + (size_t)i * xrow);
            double s = 0, a = 0;
            for (int64_t l = 0; l < k; l++) {
                s += (double)wf[r * k + l] * (double)xf[i * k + l];
                a += fabs((double)wf[r * k + l] * (double)xf[i * k + l]);
            }
            f->y_ref[i * n + r] = s;
            f->y_mag[i * n + r] = a;
        }
    }
    free(wf);
    free(xf);
    free(xq);
}

static void fixture_free(fixture *f) {
    free(f->w);
    free(f->x);
    free(f->y_dot);
    free(f->y_sdot);
    free(f->y_ref);
    free(f->y_mag);
}

static void run(qk_pool *pool, qk_matmul_scratch *sc, const fixture *f, float *y) {
    for (int64_t i = 0; i < f->m * f->n; i++) y[i] = NAN; /* every element must be written */
    /* stale scratch from the previous call must not hide a part left unconverted */
    if (sc->xq) memset(sc->xq, 0x7f, sc->xq_size);
    if (sc->xf) memset(sc->xf, 0x7f, sc->xf_size);
    if (sc->wf) memset(sc->wf, 0x7f, sc->wf_size);
    if (sc->wp) memset(sc->wp, 0x7f, sc->wp_size);
    ck_assert_int_eq(qk_matmul(pool, sc, f->t, f->w, f->k, f->n, f->x, f->m, y), 0);
}

static void check_dot_exact(const fixture *f, const float *y, const char *what, int nth) {
    for (int64_t i = 0; i < f->m * f->n; i++)
        if (memcmp(&y[i], &f->y_dot[i], sizeof(float)) != 0)
            ck_abort_msg("%s %s k=%lld n=%lld m=%lld t=%d: element %lld is %.9g, direct vec_dot %.9g", what,
                         f->tt->name, (long long)f->k, (long long)f->n, (long long)f->m, nth, (long long)i,
                         (double)y[i], (double)f->y_dot[i]);
}

static void check_sdot_exact(const fixture *f, const float *y, int nth) {
    for (int64_t i = 0; i < f->m * f->n; i++)
        if (memcmp(&y[i], &f->y_sdot[i], sizeof(float)) != 0)
            ck_abort_msg("gemm %s k=%lld n=%lld m=%lld t=%d: element %lld is %.9g, scalar vec_dot %.9g", f->tt->name,
                         (long long)f->k, (long long)f->n, (long long)f->m, nth, (long long)i, (double)y[i],
                         (double)f->y_sdot[i]);
}

static void check_gemm_close(const fixture *f, const float *y, const char *what, int nth) {
    double worst = 0; /* largest |error| / M, recorded for tests/run-variants.sh */
    for (int64_t i = 0; i < f->m * f->n; i++) {
        double e = fabs((double)y[i] - f->y_ref[i]);
        if (!(e <= 3e-5 * f->y_mag[i] + 1e-30))
            ck_abort_msg("%s %s k=%lld n=%lld m=%lld t=%d: element %lld is %.9g, reference %.9g (M %.3g)", what,
                         f->tt->name, (long long)f->k, (long long)f->n, (long long)f->m, nth, (long long)i,
                         (double)y[i], f->y_ref[i], f->y_mag[i]);
        if (f->y_mag[i] > 0) worst = fmax(worst, e / f->y_mag[i]);
    }
    ck_assert(qk_test_close(f->tt->name, "sgemm path: max |error|/M", worst, 0, 0, 3e-5));
}

START_TEST(test_paths_every_type) {
    const qk_type t = TYPES[_i];
    rng = 0x1234567ULL + (uint64_t)_i;
    qk_pool *pools[3];
    for (int p = 0; p < 3; p++) ck_assert_ptr_nonnull(pools[p] = qk_pool_new(p + 1));
    qk_matmul_scratch sc = {0};
    for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
        const shape *sh = &SHAPES[si];
        if (sh->k % qk_type_get(t)->blck_size) continue;
        for (int mi = 0; mi < sh->n_m; mi++) {
            fixture f;
            fixture_make(&f, t, sh->k, sh->n, sh->m[mi]);
            float *y = malloc(sizeof(float) * (size_t)(f.m * f.n));
            float *y2 = malloc(sizeof(float) * (size_t)(f.m * f.n));
            ck_assert(y && y2);
            for (int p = 0; p < 3; p++) {
                sc.tile_floats = 0;
                sc.force_path = QK_MATMUL_VEC_DOT;
                run(pools[p], &sc, &f, y);
                check_dot_exact(&f, y, "vec_dot", p + 1);
                sc.force_path = QK_MATMUL_SGEMM;
                run(pools[p], &sc, &f, y);
                check_gemm_close(&f, y, "sgemm", p + 1);
                sc.tile_floats = 16 * f.k;
                run(pools[p], &sc, &f, y);
                check_gemm_close(&f, y, "sgemm, 16-row tiles", p + 1);
                sc.tile_floats = 0;
                sc.force_path = QK_MATMUL_GEMM;
                run(pools[p], &sc, &f, y);
                if (qk_type_get(t)->gemm) {
                    ck_assert_ptr_nonnull(scalar_dot(t));
                    check_sdot_exact(&f, y, p + 1);
                } else {
                    check_dot_exact(&f, y, "gemm requested, no kernel", p + 1);
                }
                /* AUTO = the path qk_matmul_choose names, bit for bit */
                sc.tile_floats = 0;
                sc.force_path = QK_MATMUL_AUTO;
                run(pools[p], &sc, &f, y);
                sc.force_path = qk_matmul_choose(t, f.m, f.k);
                run(pools[p], &sc, &f, y2);
                ck_assert_int_eq(memcmp(y, y2, sizeof(float) * (size_t)(f.m * f.n)), 0);
            }
            free(y);
            free(y2);
            fixture_free(&f);
        }
    }
    qk_matmul_scratch_free(&sc);
    ck_assert_ptr_null(sc.xq);
    for (int p = 0; p < 3; p++) qk_pool_free(pools[p]);
}
END_TEST

START_TEST(test_choice_switches_at_threshold) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        const qk_type t = TYPES[ti];
        const int has_gemm = qk_type_get(t)->gemm != NULL;
        const int64_t from = has_gemm ? qk_matmul_gemm_min_m(t) : qk_matmul_blas_min_m(t);
        const int batch = has_gemm ? QK_MATMUL_GEMM : QK_MATMUL_SGEMM;
        ck_assert_int_ge(from, 2); /* one token never pays for a dequantized tile */
        ck_assert_int_eq(qk_matmul_gemm_min_m(t) != INT64_MAX, has_gemm);
        for (int64_t m = 1; m <= 1024; m++)
        {
            ck_assert_int_eq(qk_matmul_choose(t, m, 896), m >= from ? batch : QK_MATMUL_VEC_DOT);
            /* rows shorter than QK_MATMUL_SGEMM_MIN_K never take the sgemm path */
            ck_assert_int_eq(qk_matmul_choose(t, m, 64), QK_MATMUL_VEC_DOT);
        }
    }
    ck_assert_int_eq(qk_matmul_blas_min_m((qk_type)QK_TYPE_COUNT), INT64_MAX);
}
END_TEST

/* Whether a call on type t2 after one on t1, with the same m and k, finds the activations
 * it needs already converted, as qk_matmul's same_x compares them: the same vec_dot_type
 * and the same gemm_act (none off the gemm path); on the sgemm path also their F32
 * expansion, which only a call on that path writes. */
static int same_layout(qk_type t1, qk_type t2, int64_t m, int64_t k) {
    const qk_matmul_path p1 = qk_matmul_choose(t1, m, k), p2 = qk_matmul_choose(t2, m, k);
    const qk_type_traits *a = qk_type_get(t1), *b = qk_type_get(t2);
    if (p2 == QK_MATMUL_SGEMM && p1 != QK_MATMUL_SGEMM) return 0;
    const qk_gemm_act_fn fa = p1 == QK_MATMUL_GEMM ? a->gemm_act : NULL, fb = p2 == QK_MATMUL_GEMM ? b->gemm_act : NULL;
    return a->vec_dot_type == b->vec_dot_type && fa == fb;
}

/* Calls i = 0 .. ncalls - 1 on one scratch, path paths[i] on activations xs[i], same_x
 * set for the last: where that call has to convert, it gives the bits of a fresh call. */
static void check_same_x_converts(qk_pool *pool, const fixture *f, int64_t k, int64_t n, int64_t m, int ncalls,
                                  const qk_matmul_path *paths, const float *const *xs) {
    float *want = malloc(sizeof(float) * (size_t)(m * n)), *got = malloc(sizeof(float) * (size_t)(m * n));
    ck_assert(want && got);
    qk_matmul_scratch fresh = {.force_path = paths[ncalls - 1]}, sc = {0};
    ck_assert_int_eq(qk_matmul(pool, &fresh, f->t, f->w, k, n, xs[ncalls - 1], m, want), 0);
    for (int i = 0; i < ncalls; i++) {
        sc.force_path = paths[i];
        sc.same_x = i == ncalls - 1;
        ck_assert_int_eq(qk_matmul(pool, &sc, f->t, f->w, k, n, xs[i], m, got), 0);
    }
    ck_assert_msg(memcmp(got, want, sizeof(float) * (size_t)(m * n)) == 0, "%s: the last of %d calls reused what it should not",
                  f->tt->name, ncalls);
    qk_matmul_scratch_free(&fresh);
    qk_matmul_scratch_free(&sc);
    free(got);
    free(want);
}

/* same_x: after a call on type A, a call on the same activations takes the converted ones
 * as they are where the layout is the same (after Q8_0, IQ4_NL: same vec_dot_type and
 * gemm_act, Q5_0 on the vec_dot path; after F16, F16 on either path) — shown by handing
 * it other x values, which it must not read — and gives the bits of a fresh call on the
 * first x; where the layout differs (Q5_0 on the gemm path, after Q8_0 on the sgemm
 * path) or m differs, it converts anew. m = 2 with k = 8448 (the vec_dot path in every
 * build, one shared conversion) and m = 40, k = 512 (the gemm path with SIMD, the sgemm
 * path without; F16: the sgemm path). */
START_TEST(test_same_x_reuses_conversion) {
    static const int64_t km[2][2] = {{8448, 2}, {512, 40}};
    static const qk_type pairs[3][2] = {
        {QK_TYPE_Q8_0, QK_TYPE_IQ4_NL}, {QK_TYPE_Q8_0, QK_TYPE_Q5_0}, {QK_TYPE_F16, QK_TYPE_F16}};
    const int64_t n = 19;
    qk_pool *pool = qk_pool_new(_i + 1);
    for (int si = 0; si < 2; si++)
        for (int pi = 0; pi < 3; pi++) {
            const int64_t k = km[si][0], m = km[si][1];
            fixture a, f;
            fixture_make(&a, pairs[pi][0], k, n, m);
            fixture_make(&f, pairs[pi][1], k, n, m);
            float *want = malloc(sizeof(float) * (size_t)(m * n)), *got = malloc(sizeof(float) * (size_t)(m * n));
            float *other = malloc(sizeof(float) * (size_t)(m * k));
            ck_assert(want && got && other);
            for (int64_t i = 0; i < m * k; i++) other[i] = -a.x[i] * 3.0f;
            const int reused = same_layout(a.t, f.t, m, k);
            qk_matmul_scratch fresh = {0}, sc = {0};
            ck_assert_int_eq(qk_matmul(pool, &fresh, f.t, f.w, k, n, a.x, m, want), 0);
            ck_assert_int_eq(qk_matmul(pool, &sc, a.t, a.w, k, n, a.x, m, got), 0);
            sc.same_x = 1;
            ck_assert_int_eq(qk_matmul(pool, &sc, f.t, f.w, k, n, reused ? other : a.x, m, got), 0);
            ck_assert_msg(memcmp(got, want, sizeof(float) * (size_t)(m * n)) == 0,
                          "%s after %s with same_x (k=%lld m=%lld, reused %d), t=%d", f.tt->name, a.tt->name,
                          (long long)k, (long long)m, reused, _i + 1);
            /* another m: converts */
            ck_assert_int_eq(qk_matmul(pool, &fresh, f.t, f.w, k, n, other, m - 1, want), 0);
            ck_assert_int_eq(qk_matmul(pool, &sc, f.t, f.w, k, n, other, m - 1, got), 0);
            ck_assert(memcmp(got, want, sizeof(float) * (size_t)((m - 1) * n)) == 0);
            qk_matmul_scratch_free(&fresh);
            qk_matmul_scratch_free(&sc);
            free(other);
            free(got);
            free(want);
            fixture_free(&a);
            fixture_free(&f);
        }
    /* the sgemm path after a call on another path finds xq but not its F32 expansion, so
     * it converts (Q8_0 both times, the paths forced) */
    fixture a, h;
    fixture_make(&a, QK_TYPE_Q8_0, 512, n, 40);
    const qk_matmul_path p_q8[] = {QK_MATMUL_VEC_DOT, QK_MATMUL_SGEMM};
    const float *x_q8[] = {a.x, a.x};
    check_same_x_converts(pool, &a, 512, n, 40, 2, p_q8, x_q8);
    /* an sgemm-path call on F16 may write only xf (round_act): a vec_dot call after it
     * converts, even where xq still holds an older call's rows (here: of other) */
    fixture_make(&h, QK_TYPE_F16, 512, n, 40);
    float *other = malloc(sizeof(float) * 40 * 512);
    ck_assert_ptr_nonnull(other);
    for (int64_t i = 0; i < 40 * 512; i++) other[i] = -h.x[i] * 3.0f;
    const qk_matmul_path p_f16[] = {QK_MATMUL_VEC_DOT, QK_MATMUL_SGEMM, QK_MATMUL_VEC_DOT};
    const float *x_f16[] = {other, h.x, h.x};
    check_same_x_converts(pool, &h, 512, n, 40, 3, p_f16, x_f16);
    free(other);
    fixture_free(&h);
    fixture_free(&a);
    qk_pool_free(pool);
}
END_TEST

int main(void) {
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("matmul");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_paths_every_type, 0, N_TYPES);
    tcase_add_test(tc, test_choice_switches_at_threshold);
    tcase_add_loop_test(tc, test_same_x_reuses_conversion, 0, 2);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
