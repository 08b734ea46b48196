/*
 * test_vexp.c — ggml's vector exp (engine/vexp.c): accuracy against libm, saturation and
 * NaN behaviour; SwiGLU and the softmax exponentials giving, on the AVX2 path, the same
 * bits as the scalar steps (qk_vexpf per element, libm expf for SwiGLU's n % 8 tail).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vexp.h"
#include "testutil.h"

static uint64_t rng = 7;

/* uniform in [lo, hi) */
static float urand(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(qk_test_splitmix64(&rng) >> 11) / 9007199254740992.0);
}

static int32_t ulp_diff(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return ia > ib ? ia - ib : ib - ia;
}

START_TEST(test_vexpf_accuracy) {
    /* documented: at most 1.45 + 0.5 ulp from e^x, i.e. 2 ulp after rounding */
    int32_t worst = 0;
    for (int i = 0; i < 200000; i++) {
        const float x = urand(-87.0f, 88.0f);
        const float want = (float)exp((double)x);
        const int32_t d = ulp_diff(qk_vexpf(x), want);
        if (d > worst) worst = d;
        ck_assert_msg(d <= 2, "vexpf(%.9g) = %.9g, e^x = %.9g (%d ulp)", x, qk_vexpf(x), want, d);
    }
    ck_assert_int_ge(worst, 1); /* it is an approximation: not libm's correctly rounded values */
    ck_assert_float_eq(qk_vexpf(0.0f), 1.0f);
}
END_TEST

START_TEST(test_vexpf_edges) {
    ck_assert_float_eq(qk_vexpf(-110.0f), 0.0f); /* below -103.97: zero */
    ck_assert_float_eq(qk_vexpf(-1000.0f), 0.0f);
    ck_assert(isinf(qk_vexpf(90.0f)) && qk_vexpf(90.0f) > 0); /* above 88.38: infinity */
    ck_assert(isinf(qk_vexpf(INFINITY)));
    ck_assert_float_eq(qk_vexpf(-INFINITY), 0.0f);
    ck_assert(isnan(qk_vexpf(NAN)));
    /* subnormal results (n < -126) are still accurate */
    const float x = -95.0f;
    ck_assert_int_le(ulp_diff(qk_vexpf(x), (float)exp((double)x)), 2);
    ck_assert_float_gt(qk_vexpf(x), 0.0f);
}
END_TEST

/* what qk_vec_swiglu must give, element by element, by the scalar steps */
static float swiglu_ref(int64_t i, int64_t n, float g, float u) {
    if (i < n - n % 8) return g / (1.0f + qk_vexpf(-g)) * u;
    return g / (1.0f + expf(-g)) * u;
}

START_TEST(test_swiglu_bits) {
    static const int64_t lens[] = {1, 7, 8, 9, 15, 16, 172, 896, 4864};
    static float g[4864], u[4864], y[4864];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        for (int rep = 0; rep < 20; rep++) {
            for (int64_t i = 0; i < n; i++) {
                const int kind = (int)(qk_test_splitmix64(&rng) % 16);
                g[i] = kind == 0 ? urand(-200.0f, 200.0f) /* special paths of the exp */
                       : kind == 1 ? (i % 3 ? INFINITY : -INFINITY)
                       : kind == 2 ? NAN
                                   : urand(-12.0f, 12.0f);
                u[i] = urand(-3.0f, 3.0f);
            }
            qk_vec_swiglu(n, y, g, u);
            for (int64_t i = 0; i < n; i++) {
                const float want = swiglu_ref(i, n, g[i], u[i]);
                ck_assert_msg(memcmp(&want, &y[i], 4) == 0 || (isnan(want) && isnan(y[i])),
                              "n=%lld i=%lld g=%.9g: %.9g, scalar steps give %.9g", (long long)n,
                              (long long)i, g[i], y[i], want);
            }
        }
    }
}
END_TEST

START_TEST(test_swiglu_in_place_and_accuracy) {
    float g[64], u[64], y[64], gi[64];
    for (int i = 0; i < 64; i++) g[i] = urand(-8.0f, 8.0f), u[i] = urand(-2.0f, 2.0f);
    memcpy(gi, g, sizeof g);
    qk_vec_swiglu(64, y, g, u);
    qk_vec_swiglu(64, gi, gi, u); /* y = g allowed */
    ck_assert_mem_eq(y, gi, sizeof y);
    for (int i = 0; i < 64; i++) {
        const double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * (double)u[i];
        ck_assert_double_le(fabs((double)y[i] - want), 1e-6 * fabs(want) + 1e-30);
    }
}
END_TEST

START_TEST(test_exp_sub) {
    static const int64_t lens[] = {1, 5, 8, 13, 16, 31, 64, 257, 2053};
    static float x[2053], y[2053];
    /* each length 8 times, with new data: one sum rarely shows a change of order */
    for (size_t li = 0; li < 8 * sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li % (sizeof lens / sizeof lens[0])];
        float max = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            /* masked entries give 0; the others span 2^-80..1 after the shift, so that the
             * double sums are inexact and their order shows */
            x[i] = i % 11 == 3 ? -INFINITY : urand(-55.0f, 5.0f);
            if (x[i] > max) max = x[i];
        }
        const double sum = qk_vec_exp_sub(n, y, x, max);
        double want_sum = 0.0;
        static float w[2053];
        for (int64_t i = 0; i < n; i++) {
            w[i] = qk_vexpf(x[i] - max);
            ck_assert_msg(memcmp(&w[i], &y[i], 4) == 0, "n=%lld i=%lld: %.9g vs %.9g", (long long)n,
                          (long long)i, y[i], w[i]);
        }
        /* 16 running sums over the whole groups of 16, combined by the header's tree
         * (written out here), the rest in index order */
        double s[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
            for (int l = 0; l < 16; l++) s[l] += (double)w[i + l];
        double d[4];
        for (int l = 0; l < 4; l++) d[l] = (s[l] + s[l + 8]) + (s[l + 4] + s[l + 12]);
        want_sum = (d[0] + d[2]) + (d[1] + d[3]);
        for (; i < n; i++) want_sum += (double)w[i];
        ck_assert(sum == want_sum);
        double seq = 0.0; /* the index-order sum, to which it is close */
        for (i = 0; i < n; i++) seq += (double)w[i];
        ck_assert_double_eq_tol(sum, seq, 1e-12 * seq);
        ck_assert_double_ge(sum, 1.0); /* the maximum contributes e^0 = 1 */
    }
    /* in place */
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    qk_vec_exp_sub(16, x, x, 15.0f);
    ck_assert_float_eq(x[15], 1.0f);
    ck_assert_int_le(ulp_diff(x[0], (float)exp(-15.0)), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("vexp");
    TCase *tc = tcase_create("vexp");
    tcase_add_test(tc, test_vexpf_accuracy);
    tcase_add_test(tc, test_vexpf_edges);
    tcase_add_test(tc, test_swiglu_bits);
    tcase_add_test(tc, test_swiglu_in_place_and_accuracy);
    tcase_add_test(tc, test_exp_sub);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
