/*
 * test_rmsnorm.c — qk_rmsnorm (engine/rmsnorm.c): the bits of the definition in
 * rmsnorm.h (squares rounded to float, summed in double in index order, then two rounded
 * products) on any build, for row counts that leave partial groups of rows and lengths
 * that leave a tail of elements; y = x in place.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rmsnorm.h"
#include "testutil.h"

static uint32_t rng = 11;

/* uniform in [lo, hi) from testutil's LCG */
static float urand(float lo, float hi) { return lo + (hi - lo) * (qk_test_lcg_frand(&rng) + 0.5f); }

/* rmsnorm.h's definition, one row */
static void ref_row(float *y, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

#define MAXR 19
#define MAXN 907

START_TEST(test_rmsnorm_bits) {
    static const int lens[] = {1, 7, 8, 13, 64, 896, 907};
    static float x[MAXR * MAXN], y[MAXR * MAXN], want[MAXR * MAXN], w[MAXN];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        for (int i = 0; i < n; i++) w[i] = urand(0.5f, 2.0f);
        for (int i = 0; i < MAXR * n; i++) x[i] = urand(-4.0f, 4.0f) * (i % 5 == 0 ? 1e3f : 1.0f);
        for (int r = 0; r < MAXR; r++) ref_row(want + (size_t)r * n, x + (size_t)r * n, w, n, 1e-6f);
        /* rows [r0, r1): 1 row, a partial group, a whole group, a group and a part */
        static const int ranges[][2] = {{0, 1}, {2, 7}, {3, 11}, {0, MAXR}};
        for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
            const int r0 = ranges[ri][0], r1 = ranges[ri][1];
            memset(y, 0xff, sizeof y);
            qk_rmsnorm(y, x, w, n, r0, r1, 1e-6f);
            ck_assert_mem_eq(y + (size_t)r0 * n, want + (size_t)r0 * n, sizeof(float) * (size_t)(r1 - r0) * n);
            const uint32_t poison = 0xffffffffu; /* rows outside the range untouched */
            if (r1 < MAXR) ck_assert_mem_eq(y + (size_t)r1 * n, &poison, 4);
        }
        /* in place */
        memcpy(y, x, sizeof(float) * MAXR * n);
        qk_rmsnorm(y, y, w, n, 0, MAXR, 1e-6f);
        ck_assert_mem_eq(y, want, sizeof(float) * MAXR * n);
    }
}
END_TEST

START_TEST(test_rmsnorm_scale) {
    /* a constant row c normalizes to 1/sqrt(1 + eps/c²) · w */
    float x[16], y[16], w[16];
    for (int i = 0; i < 16; i++) {
        x[i] = 3.0f;
        w[i] = (float)(i + 1);
    }
    qk_rmsnorm(y, x, w, 16, 0, 1, 0.0f);
    for (int i = 0; i < 16; i++) ck_assert_float_eq_tol(y[i], (float)(i + 1), 1e-6f * (float)(i + 1));
}
END_TEST

int main(void) {
    Suite *s = suite_create("rmsnorm");
    TCase *tc = tcase_create("rmsnorm");
    tcase_add_test(tc, test_rmsnorm_bits);
    tcase_add_test(tc, test_rmsnorm_scale);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
