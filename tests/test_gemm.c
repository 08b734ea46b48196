/*
 * test_gemm.c — the integer GEMM kernels (types.h gemm_pack/gemm; gemm_k.h) against the
 * vec_dot kernels, for every type that has one (Q2_K .. Q6_K).
 *
 * What is checked, on random Gaussian rows (quantized with the reference quantizer, some
 * rows scaled by up to 2^±6, activations with outliers) for row lengths of 1, 3 and 19
 * blocks and tile shapes that leave partial tiles (nr up to 19 rows, nc up to 9 tokens):
 * - scalar gemm == scalar vec_dot, bit for bit (gemm_k.h: the same float operations in
 *   the same order on the same exact integer block sums);
 * - AVX2 gemm == scalar gemm, bit for bit, and the AVX2 packers write the scalar packers'
 *   bytes; AVX-512 VNNI gemm on the 16-row layout == scalar gemm on the row layout, bit for
 *   bit, for 1 .. 19 rows (one and two groups, partial ones) (tagged cases);
 * - the installed gemm (SIMD builds) against the installed vec_dot (the AVX2 kernels keep 8 float lanes
 *   and a separate sum of the min terms, both on partial integer sums of either sign):
 *   |Δ| <= 2·(nb + 8)·2^-24·A with nb the blocks per row and
 *   A = Σ_b |d_y·d|·Σ_l |sc·q_l·y_l| + |d_y·dmin|·Σ_g |mn_g·bsums_g| (dmin := d for the
 *   symmetric types, whose offset is subtracted as mn·bsums), in double from the packed
 *   blocks: every float partial sum either path forms is at most A in magnitude, and each
 *   adds at most nb + 8 rounded terms, each rounding at most 2^-24 relative.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gemm_k.h"
#include "quants.h"
#include "testutil.h"
#include "types.h"

static const qk_type TYPES[] = {QK_TYPE_Q2_K, QK_TYPE_Q3_K, QK_TYPE_Q4_K, QK_TYPE_Q5_K, QK_TYPE_Q6_K};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])
static const qk_vec_dot_fn SCALAR_DOT[] = {qk_vec_dot_q2_K_q8_K, qk_vec_dot_q3_K_q8_K, qk_vec_dot_q4_K_q8_K,
                                           qk_vec_dot_q5_K_q8_K, qk_vec_dot_q6_K_q8_K};
static const int SYM[] = {0, 1, 0, 0, 1};
static const int NBS[] = {1, 3, 19};
#define SYM_OF(t) ((t) == QK_TYPE_Q3_K || (t) == QK_TYPE_Q6_K)
#define MAX_R 19
#define MAX_C 9

static uint64_t rng;
static double urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void) {
    const double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

typedef struct fixture {
    qk_type t;
    int nb, n, nr, nc;
    size_t bx, bxp, by;
    uint8_t *x;   /* nr weight rows */
    uint8_t *xp;  /* nr rows packed by the scalar packer, qk_kpack each (64-aligned) */
    uint8_t *xi;  /* the rows packed by the installed gemm_pack (groups of gemm_pack_rows) */
    size_t bxi;   /* bytes per packed group of xi */
    uint8_t *y;   /* nc Q8_K rows */
} fixture;

static const qk_gemm_pack_fn SCALAR_PACK[] = {qk_gemm_pack_q2_K, qk_gemm_pack_q3_K, qk_gemm_pack_q4_K,
                                              qk_gemm_pack_q5_K, qk_gemm_pack_q6_K};

static int n_groups(int nr, int rows) { return (nr + rows - 1) / rows; }

static void fixture_make(fixture *f, int ti, int nb, int nr, int nc) {
    const qk_type_traits *tt = qk_type_get(TYPES[ti]);
    f->t = TYPES[ti];
    f->nb = nb;
    f->n = nb * QK_K;
    f->nr = nr;
    f->nc = nc;
    f->bx = qk_row_size(f->t, f->n);
    f->bxp = (size_t)nb * sizeof(qk_kpack);
    f->bxi = (size_t)nb * tt->gemm_pack_bsize;
    f->by = qk_row_size(QK_TYPE_Q8_K, f->n);
    f->x = malloc(f->bx * (size_t)nr);
    f->xp = aligned_alloc(64, f->bxp * (size_t)nr);
    f->xi = aligned_alloc(64, f->bxi * (size_t)n_groups(nr, tt->gemm_pack_rows));
    f->y = malloc(f->by * (size_t)nc);
    float *v = malloc(sizeof(float) * (size_t)f->n);
    ck_assert(f->x && f->xp && f->xi && f->y && v);
    for (int r = 0; r < nr; r++) {
        const float scale = ldexpf(1.0f, (int)(urand() * 13) - 6);
        for (int l = 0; l < f->n; l++) v[l] = scale * gauss();
        tt->quantize_ref(v, f->x + (size_t)r * f->bx, f->n);
    }
    SCALAR_PACK[ti](f->x, f->bx, nr, f->xp, f->n);
    tt->gemm_pack(f->x, f->bx, nr, f->xi, f->n);
    for (int c = 0; c < nc; c++) {
        for (int l = 0; l < f->n; l++) v[l] = gauss() * (urand() < 0.01 ? 20.0f : 1.0f);
        qk_quantize_row_q8_K_ref(v, f->y + (size_t)c * f->by, f->n);
    }
    free(v);
}

static void fixture_free(fixture *f) {
    free(f->x);
    free(f->xp);
    free(f->xi);
    free(f->y);
}

static const void *xrow(const fixture *f, int r) { return f->x + (size_t)r * f->bx; }
static const void *yrow(const fixture *f, int c) { return f->y + (size_t)c * f->by; }

/* s[c·nr + r] from gemm over the fixture; lds = nr. */
static void run_gemm(const fixture *f, qk_gemm_fn g, float *s) {
    g(f->n, f->nr, f->nc, s, (size_t)f->nr, f->xp, f->bxp, f->y, f->by);
}

/* The bound A of the header comment for row r, token c. */
static double magnitude(const fixture *f, int r, int c) {
    const qk_kpack *x = (const qk_kpack *)(f->xp + (size_t)r * f->bxp);
    const block_q8_K *y = yrow(f, c);
    double a = 0;
    for (int b = 0; b < f->nb; b++) {
        int64_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            for (int l = 0; l < 16; l++) isum += llabs((int64_t)x[b].sc[g] * x[b].q[16 * g + l] * y[b].qs[16 * g + l]);
            msum += llabs((int64_t)x[b].mn[g] * y[b].bsums[g]);
        }
        const double dmin = SYM_OF(f->t) ? x[b].d : x[b].dmin;
        a += fabs((double)y[b].d * x[b].d) * (double)isum + fabs((double)y[b].d * dmin) * (double)msum;
    }
    return a;
}

static void for_shapes(int ti, void (*check)(const fixture *f, int ti)) {
    rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(ti * 7919 + 1);
    for (size_t i = 0; i < sizeof NBS / sizeof NBS[0]; i++)
        for (int nr = 1; nr <= MAX_R; nr += 3)
            for (int nc = 1; nc <= MAX_C; nc += 4) {
                fixture f;
                fixture_make(&f, ti, NBS[i], nr, nc);
                check(&f, ti);
                fixture_free(&f);
            }
}

static void check_scalar_exact(const fixture *f, int ti) {
    float s[MAX_R * MAX_C];
    run_gemm(f, SYM[ti] ? qk_gemm_ksym_scalar : qk_gemm_kmin_scalar, s);
    for (int c = 0; c < f->nc; c++)
        for (int r = 0; r < f->nr; r++) {
            float ref;
            SCALAR_DOT[ti](f->n, &ref, xrow(f, r), yrow(f, c));
            if (memcmp(&ref, &s[c * f->nr + r], sizeof ref) != 0)
                ck_abort_msg("%s n=%d r=%d c=%d: gemm %.9g, scalar vec_dot %.9g", qk_type_name(f->t), f->n, r, c,
                             (double)s[c * f->nr + r], (double)ref);
        }
}

static void check_installed_close(const fixture *f, int ti) {
    (void)ti;
    const qk_type_traits *tt = qk_type_get(f->t);
    float s[MAX_R * MAX_C];
    if (!tt->gemm) return;
    tt->gemm(f->n, f->nr, f->nc, s, (size_t)f->nr, f->xi, f->bxi, f->y, f->by);
    for (int c = 0; c < f->nc; c++)
        for (int r = 0; r < f->nr; r++) {
            float ref;
            tt->vec_dot(f->n, &ref, xrow(f, r), yrow(f, c));
            const double tol = 2.0 * (f->nb + 8) * ldexp(1.0, -24) * magnitude(f, r, c);
            ck_assert_msg(fabs((double)s[c * f->nr + r] - ref) <= tol, "%s n=%d r=%d c=%d: gemm %.9g, vec_dot %.9g, tol %g",
                          qk_type_name(f->t), f->n, r, c, (double)s[c * f->nr + r], (double)ref, tol);
        }
}

static qk_gemm_fn simd_fn;
static qk_gemm_fn simd_sym_fn;
static void check_simd_exact(const fixture *f, int ti) {
    float s[MAX_R * MAX_C], ref[MAX_R * MAX_C];
    run_gemm(f, SYM[ti] ? qk_gemm_ksym_scalar : qk_gemm_kmin_scalar, ref);
    run_gemm(f, SYM[ti] ? simd_sym_fn : simd_fn, s);
    ck_assert_msg(memcmp(s, ref, sizeof(float) * (size_t)(f->nr * f->nc)) == 0, "%s n=%d nr=%d nc=%d: SIMD != scalar",
                  qk_type_name(f->t), f->n, f->nr, f->nc);
}

START_TEST(test_table) {
    const qk_type_traits *tt = qk_type_get(TYPES[_i]);
    ck_assert_ptr_nonnull(tt->gemm_pack);
    /* a gemm kernel only with SIMD (the scalar one is slower than sgemm) */
    ck_assert_int_eq(tt->gemm != NULL, qk_cpu_has_avx2());
    /* rows one by one, or 16 interleaved for the AVX-512 VNNI kernels */
    ck_assert_uint_eq(tt->gemm_pack_bsize, qk_cpu_has_avx512vnni() ? sizeof(qk_kpack16) : sizeof(qk_kpack));
    ck_assert_int_eq(tt->gemm_pack_rows, qk_cpu_has_avx512vnni() ? QK_K16_ROWS : 1);
    ck_assert_ptr_null(tt->gemm_act);
    ck_assert_uint_eq(tt->gemm_pack_bsize % 64, 0);
    ck_assert_ptr_null(qk_type_get(QK_TYPE_F16)->gemm);
}
END_TEST

START_TEST(test_scalar_exact) { for_shapes(_i, check_scalar_exact); }
END_TEST

START_TEST(test_installed_close) { for_shapes(_i, check_installed_close); }
END_TEST

START_TEST(test_avx2_exact) {
    simd_fn = qk_gemm_kmin_avx2;
    simd_sym_fn = qk_gemm_ksym_avx2;
    for_shapes(_i, check_simd_exact);
}
END_TEST

/* AVX2 packers: the scalar packers' bytes, on the fixture's rows. */
static void check_pack_exact(const fixture *f, int ti) {
    static const qk_gemm_pack_fn AVX2[] = {qk_gemm_pack_q2_K_avx2, qk_gemm_pack_q3_K_avx2, qk_gemm_pack_q4_K_avx2,
                                           qk_gemm_pack_q5_K_avx2, qk_gemm_pack_q6_K_avx2};
    uint8_t *a = aligned_alloc(64, f->bxp), *b = aligned_alloc(64, f->bxp);
    ck_assert(a && b);
    for (int r = 0; r < f->nr; r++) {
        memset(a, 0x55, f->bxp);
        memset(b, 0xAA, f->bxp);
        SCALAR_PACK[ti](xrow(f, r), f->bx, 1, a, f->n);
        AVX2[ti](xrow(f, r), f->bx, 1, b, f->n);
        ck_assert_msg(memcmp(a, b, f->bxp) == 0, "%s n=%d row %d: AVX2 pack != scalar pack", qk_type_name(f->t), f->n, r);
    }
    free(a);
    free(b);
}

START_TEST(test_avx2_pack_exact) { for_shapes(_i, check_pack_exact); }
END_TEST

/* AVX-512 VNNI on the 16-row layout: the scalar kernel's bits on the row layout. */
static void check_vnni_exact(const fixture *f, int ti) {
    static const qk_gemm_pack_fn PACK16[] = {qk_gemm_pack16_q2_K, qk_gemm_pack16_q3_K, qk_gemm_pack16_q4_K,
                                             qk_gemm_pack16_q5_K, qk_gemm_pack16_q6_K};
    static const qk_gemm_fn GEMM16[] = {qk_gemm16_k16min_vnni, qk_gemm16_k16sym_vnni, qk_gemm16_k32min_vnni,
                                        qk_gemm16_k32min_vnni, qk_gemm16_k16sym_vnni};
    const size_t bx16 = (size_t)f->nb * sizeof(qk_kpack16);
    uint8_t *x16 = aligned_alloc(64, bx16 * (size_t)n_groups(f->nr, QK_K16_ROWS));
    ck_assert_ptr_nonnull(x16);
    PACK16[ti](f->x, f->bx, f->nr, x16, f->n);
    float s[MAX_R * MAX_C], ref[MAX_R * MAX_C];
    run_gemm(f, SYM[ti] ? qk_gemm_ksym_scalar : qk_gemm_kmin_scalar, ref);
    GEMM16[ti](f->n, f->nr, f->nc, s, (size_t)f->nr, x16, bx16, f->y, f->by);
    free(x16);
    ck_assert_msg(memcmp(s, ref, sizeof(float) * (size_t)(f->nr * f->nc)) == 0, "%s n=%d nr=%d nc=%d: VNNI != scalar",
                  qk_type_name(f->t), f->n, f->nr, f->nc);
}

START_TEST(test_vnni_exact) { for_shapes(_i, check_vnni_exact); }
END_TEST

static Suite *gemm_suite(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("scalar");
    tcase_add_loop_test(tc, test_table, 0, N_TYPES);
    tcase_add_loop_test(tc, test_scalar_exact, 0, N_TYPES);
    tcase_add_loop_test(tc, test_installed_close, 0, N_TYPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx2");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_avx2_exact, 0, N_TYPES);
    tcase_add_loop_test(tc, test_avx2_pack_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx512vnni");
    tcase_set_tags(tc, QK_TEST_TAG_AVX512VNNI);
    tcase_add_loop_test(tc, test_vnni_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(gemm_suite()); }
