/*
 * test_gemm_legacy.c — the integer GEMM of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL
 * (gemm_legacy.h; types.h gemm_pack/gemm_act/gemm) against the scalar vec_dot kernels.
 *
 * Fixtures: random Gaussian weight rows quantized with the reference quantizer, some
 * rows scaled by up to 2^±6, activations with outliers converted by quantize_act; row
 * lengths of 1, 3 and 28 blocks; nr = 1, 7, 16, 21, 29, 37 rows (partial 16-row groups
 * and 8-row halves; pairs of groups with a partial second one, and an odd last group) and
 * nc = 1, 4, 5, 8, 9, 19 tokens (tiles with fewer tokens than the kernel's width: every
 * width of the two-group tile, 1 to 6, occurs).
 * A second set of fixtures adds extreme bytes: Q8_0 weight bytes of −128 and 127 and
 * activation bytes of −128 and 127 (which quantize_act writes only for NaN or never, but
 * which the kernels must take like vec_dot).
 *
 * What is checked:
 * - scalar gemm == scalar vec_dot (quants_legacy.c), bit for bit (gemm_legacy.h: the same
 *   float operations in the same order on the same exact integer block sums);
 * - the AVX2, AVX-VNNI and AVX-512 VNNI kernels == scalar gemm, bit for bit, and the AVX2
 *   packers write the scalar packers' bytes (tagged cases);
 * - the installed gemm (SIMD builds) == scalar vec_dot, bit for bit;
 * - the type table entries (pack group, block sizes, gemm only with SIMD).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gemm_legacy.h"
#include "quants.h"
#include "testutil.h"
#include "types.h"

static const qk_type TYPES[] = {QK_TYPE_Q4_0, QK_TYPE_Q4_1, QK_TYPE_Q5_0, QK_TYPE_Q5_1, QK_TYPE_Q8_0, QK_TYPE_IQ4_NL};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])
static const qk_vec_dot_fn SCALAR_DOT[] = {qk_vec_dot_q4_0_q8_0, qk_vec_dot_q4_1_q8_1, qk_vec_dot_q5_0_q8_0,
                                           qk_vec_dot_q5_1_q8_1, qk_vec_dot_q8_0_q8_0, qk_vec_dot_iq4_nl_q8_0};
static const int WITH_MIN[] = {0, 1, 0, 1, 0, 0};
static const qk_gemm_fn AVX2_GEMM[] = {qk_gemm_lsym4_avx2, qk_gemm_lmin4_avx2, qk_gemm_lsym5_avx2,
                                       qk_gemm_lmin5_avx2, qk_gemm_lsym8_avx2, qk_gemm_lsym8_avx2};
static const int NBS[] = {1, 3, 28};
static const int NRS[] = {1, 7, 16, 21, 29, 37};
static const int NCS[] = {1, 4, 5, 8, 9, 19};
#define MAX_R 37
#define MAX_C 19

static uint64_t rng;
static double urand(void) { return (double)(qk_test_splitmix64(&rng) >> 11) / 9007199254740992.0; }
static float gauss(void) {
    const double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

typedef struct fixture {
    qk_type t;
    int nb, n, nr, nc;
    size_t bx, bxp, by, bya;
    uint8_t *x;  /* nr weight rows */
    uint8_t *xp; /* packed groups (64-aligned) */
    uint8_t *y;  /* nc activation rows in vec_dot_type */
    uint8_t *ya; /* the same in gemm_act layout */
} fixture;

static void fixture_make(fixture *f, int ti, int nb, int nr, int nc, int extreme) {
    const qk_type_traits *tt = qk_type_get(TYPES[ti]), *vt = qk_type_get(tt->vec_dot_type);
    f->t = TYPES[ti];
    f->nb = nb;
    f->n = nb * 32;
    f->nr = nr;
    f->nc = nc;
    f->bx = qk_row_size(f->t, f->n);
    f->bxp = (size_t)nb * tt->gemm_pack_bsize;
    f->by = qk_row_size(tt->vec_dot_type, f->n);
    f->bya = (size_t)nb * tt->gemm_act_bsize;
    f->x = malloc(f->bx * (size_t)nr);
    f->xp = aligned_alloc(64, f->bxp * (size_t)((nr + 15) / 16));
    f->y = malloc(f->by * (size_t)nc);
    f->ya = malloc(f->bya * (size_t)nc);
    float *v = malloc(sizeof(float) * (size_t)f->n);
    ck_assert(f->x && f->xp && f->y && f->ya && v);
    for (int r = 0; r < nr; r++) {
        const float scale = ldexpf(1.0f, (int)(urand() * 13) - 6);
        for (int l = 0; l < f->n; l++) v[l] = scale * gauss();
        tt->quantize_ref(v, f->x + (size_t)r * f->bx, f->n);
        if (extreme && f->t == QK_TYPE_Q8_0) {
            block_q8_0 *b = (block_q8_0 *)(f->x + (size_t)r * f->bx);
            for (int i = 0; i < nb; i++)
                for (int j = 0; j < 32; j++)
                    if (urand() < 0.3) b[i].qs[j] = urand() < 0.5 ? -128 : 127;
        }
    }
    memset(f->xp, 0xA5, f->bxp * (size_t)((nr + 15) / 16));
    tt->gemm_pack(f->x, f->bx, nr, f->xp, f->n);
    for (int c = 0; c < nc; c++) {
        uint8_t *yc = f->y + (size_t)c * f->by;
        for (int l = 0; l < f->n; l++) v[l] = gauss() * (urand() < 0.01 ? 20.0f : 1.0f);
        vt->quantize_act(v, yc, f->n);
        if (extreme)
            for (int i = 0; i < nb; i++) {
                /* the qs of the i-th block: after d (Q8_0) or d and s (Q8_1) */
                int8_t *qs = (int8_t *)(yc + (size_t)i * vt->type_size + (vt->type_size - 32));
                for (int j = 0; j < 32; j++)
                    if (urand() < 0.3) qs[j] = urand() < 0.5 ? -128 : 127;
            }
        tt->gemm_act(yc, f->ya + (size_t)c * f->bya, f->n);
    }
    free(v);
}

static void fixture_free(fixture *f) {
    free(f->x);
    free(f->xp);
    free(f->y);
    free(f->ya);
}

static const void *xrow(const fixture *f, int r) { return f->x + (size_t)r * f->bx; }
static const void *yrow(const fixture *f, int c) { return f->y + (size_t)c * f->by; }

/* s[c·nr + r] from gemm over the fixture; lds = nr. */
static void run_gemm(const fixture *f, qk_gemm_fn g, float *s) {
    g(f->n, f->nr, f->nc, s, (size_t)f->nr, f->xp, f->bxp, f->ya, f->bya);
}

static qk_gemm_fn scalar_gemm(int ti) { return WITH_MIN[ti] ? qk_gemm_lmin_scalar : qk_gemm_lsym_scalar; }

static void for_shapes(int ti, void (*check)(const fixture *f, int ti)) {
    rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(ti * 7919 + 1);
    for (int extreme = 0; extreme < 2; extreme++)
        for (size_t i = 0; i < sizeof NBS / sizeof NBS[0]; i++)
            for (size_t a = 0; a < sizeof NRS / sizeof NRS[0]; a++)
                for (size_t b = 0; b < sizeof NCS / sizeof NCS[0]; b++) {
                    fixture f;
                    fixture_make(&f, ti, NBS[i], NRS[a], NCS[b], extreme);
                    check(&f, ti);
                    fixture_free(&f);
                }
}

/* Every output of gemm g equals the scalar vec_dot, bit for bit. */
static void check_against_dot(const fixture *f, int ti, qk_gemm_fn g, const char *what) {
    static float s[MAX_R * MAX_C];
    run_gemm(f, g, s);
    for (int c = 0; c < f->nc; c++)
        for (int r = 0; r < f->nr; r++) {
            float ref;
            SCALAR_DOT[ti](f->n, &ref, xrow(f, r), yrow(f, c));
            if (memcmp(&ref, &s[c * f->nr + r], sizeof ref) != 0)
                ck_abort_msg("%s %s n=%d nr=%d nc=%d r=%d c=%d: gemm %.9g, scalar vec_dot %.9g", what,
                             qk_type_name(f->t), f->n, f->nr, f->nc, r, c, (double)s[c * f->nr + r], (double)ref);
        }
}

static void check_scalar_exact(const fixture *f, int ti) { check_against_dot(f, ti, scalar_gemm(ti), "scalar"); }

static void check_installed_exact(const fixture *f, int ti) {
    const qk_type_traits *tt = qk_type_get(f->t);
    if (tt->gemm) check_against_dot(f, ti, tt->gemm, "installed");
}

static qk_gemm_fn simd_fn[N_TYPES];
static void check_simd_exact(const fixture *f, int ti) {
    static float s[MAX_R * MAX_C], ref[MAX_R * MAX_C];
    run_gemm(f, scalar_gemm(ti), ref);
    run_gemm(f, simd_fn[ti], s);
    ck_assert_msg(memcmp(s, ref, sizeof(float) * (size_t)(f->nr * f->nc)) == 0, "%s n=%d nr=%d nc=%d: SIMD != scalar",
                  qk_type_name(f->t), f->n, f->nr, f->nc);
}

START_TEST(test_table) {
    const qk_type_traits *tt = qk_type_get(TYPES[_i]);
    ck_assert_ptr_nonnull(tt->gemm_pack);
    ck_assert_ptr_nonnull(tt->gemm_act);
    ck_assert_int_eq(tt->gemm_pack_rows, QK_GL_ROWS);
    ck_assert_uint_eq(tt->gemm_pack_bsize, WITH_MIN[_i] ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM);
    ck_assert_uint_eq(tt->gemm_pack_bsize % 64, 0);
    ck_assert_uint_eq(tt->gemm_act_bsize, sizeof(qk_lact));
    /* a gemm kernel only with SIMD (the scalar one is slower than sgemm) */
    ck_assert_int_eq(tt->gemm != NULL, qk_cpu_has_avx2());
}
END_TEST

START_TEST(test_scalar_exact) { for_shapes(_i, check_scalar_exact); }
END_TEST

START_TEST(test_installed_exact) { for_shapes(_i, check_installed_exact); }
END_TEST

START_TEST(test_avx2_exact) {
    simd_fn[_i] = AVX2_GEMM[_i];
    for_shapes(_i, check_simd_exact);
}
END_TEST

/* AVX2 packers: the scalar packers' bytes (with the padding rows of the last group). */
static void check_pack_exact(const fixture *f, int ti) {
    static const qk_gemm_pack_fn SCALAR[] = {qk_gemm_pack_q4_0, qk_gemm_pack_q4_1, qk_gemm_pack_q5_0,
                                             qk_gemm_pack_q5_1, qk_gemm_pack_q8_0, qk_gemm_pack_iq4_nl};
    static const qk_gemm_pack_fn AVX2[] = {qk_gemm_pack_q4_0_avx2, qk_gemm_pack_q4_1_avx2, qk_gemm_pack_q5_0_avx2,
                                           qk_gemm_pack_q5_1_avx2, qk_gemm_pack_q8_0_avx2, qk_gemm_pack_iq4_nl_avx2};
    const size_t size = f->bxp * (size_t)((f->nr + 15) / 16);
    uint8_t *a = aligned_alloc(64, size), *b = aligned_alloc(64, size);
    ck_assert(a && b);
    memset(a, 0x55, size);
    memset(b, 0xAA, size);
    SCALAR[ti](f->x, f->bx, f->nr, a, f->n);
    AVX2[ti](f->x, f->bx, f->nr, b, f->n);
    ck_assert_msg(memcmp(a, b, size) == 0, "%s n=%d nr=%d: AVX2 pack != scalar pack", qk_type_name(f->t), f->n, f->nr);
    free(a);
    free(b);
}

/* The installed gemm_act (AVX2 where the CPU has it): the scalar converters' bytes. */
static void check_act_exact(const fixture *f, int ti) {
    static const qk_gemm_act_fn SCALAR[] = {qk_gemm_act_off8, qk_gemm_act_q8_1, qk_gemm_act_off16,
                                            qk_gemm_act_q8_1, qk_gemm_act_off128, qk_gemm_act_off128};
    uint8_t *ref = malloc(f->bya);
    ck_assert_ptr_nonnull(ref);
    for (int c = 0; c < f->nc; c++) {
        SCALAR[ti](yrow(f, c), ref, f->n);
        ck_assert_msg(memcmp(ref, f->ya + (size_t)c * f->bya, f->bya) == 0, "%s n=%d token %d: gemm_act != scalar",
                      qk_type_name(f->t), f->n, c);
    }
    free(ref);
}

START_TEST(test_avx2_pack_exact) { for_shapes(_i, check_pack_exact); }
END_TEST

START_TEST(test_act_exact) { for_shapes(_i, check_act_exact); }
END_TEST

START_TEST(test_avxvnni_exact) {
    simd_fn[_i] = WITH_MIN[_i] ? qk_gemm_lmin_avxvnni : qk_gemm_lsym_avxvnni;
    for_shapes(_i, check_simd_exact);
}
END_TEST

START_TEST(test_vnni_exact) {
    simd_fn[_i] = WITH_MIN[_i] ? qk_gemm_lmin_vnni : qk_gemm_lsym_vnni;
    for_shapes(_i, check_simd_exact);
}
END_TEST

static Suite *gemm_legacy_suite(void) {
    Suite *s = suite_create("gemm_legacy");
    TCase *tc = tcase_create("scalar");
    tcase_add_loop_test(tc, test_table, 0, N_TYPES);
    tcase_add_loop_test(tc, test_scalar_exact, 0, N_TYPES);
    tcase_add_loop_test(tc, test_installed_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx2");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_avx2_exact, 0, N_TYPES);
    tcase_add_loop_test(tc, test_avx2_pack_exact, 0, N_TYPES);
    tcase_add_loop_test(tc, test_act_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("avxvnni");
    tcase_set_tags(tc, QK_TEST_TAG_AVXVNNI);
    tcase_add_loop_test(tc, test_avxvnni_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx512vnni");
    tcase_set_tags(tc, QK_TEST_TAG_AVX512VNNI);
    tcase_add_loop_test(tc, test_vnni_exact, 0, N_TYPES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(gemm_legacy_suite()); }
