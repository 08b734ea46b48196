/*
 * rmsnorm.c — qk_rmsnorm (rmsnorm.h). A row's sum of squares is a chain of n dependent
 * double adds, which bounds a row-at-a-time loop; both versions therefore sum several
 * rows side by side. The AVX2 one keeps eight rows' sums in two vectors of four doubles:
 * it loads 8 elements of each of the 8 rows, transposes the 8 × 8 block (a vector then
 * holds one element index of all 8 rows) and adds the squares index by index, so every
 * row's sum still runs in index order.
 */
#include "rmsnorm.h"

#include <math.h>
#include <stddef.h>

#include "cpu.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quants_avx2_common.h"
#include "transpose_avx2.h"
#endif

#define ROWS 8

/* Row r's output from its sum of squares (the scale, then two rounded products). */
static void norm_row(float *y, const float *x, const float *w, int n, double sum, float eps) {
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

static void rmsnorm_scalar(float *y, const float *x, const float *w, int n, int r0, int r1, float eps) {
    for (int r = r0; r < r1; r += ROWS) {
        const int nr = r1 - r < ROWS ? r1 - r : ROWS;
        const float *xr[ROWS];
        double sum[ROWS] = {0.0};
        for (int k = 0; k < ROWS; k++) xr[k] = x + (size_t)(k < nr ? r + k : r) * n;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < ROWS; k++) sum[k] += (double)(xr[k][i] * xr[k][i]);
        for (int k = 0; k < nr; k++) norm_row(y + (size_t)(r + k) * n, xr[k], w, n, sum[k], eps);
    }
}

#if defined(__x86_64__) || defined(__i386__)
QK_AVX2 static void rmsnorm_avx2(float *y, const float *x, const float *w, int n, int r0, int r1, float eps) {
    for (int r = r0; r < r1; r += ROWS) {
        const int nr = r1 - r < ROWS ? r1 - r : ROWS;
        const float *xr[ROWS];
        for (int k = 0; k < ROWS; k++) xr[k] = x + (size_t)(k < nr ? r + k : r) * n;
        __m256d lo = _mm256_setzero_pd(), hi = lo; /* rows 0-3, 4-7 */
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 v[8];
            for (int k = 0; k < ROWS; k++) v[k] = _mm256_loadu_ps(xr[k] + i);
            qk_transpose8_ps(v);
            for (int j = 0; j < 8; j++) {
                const __m256 sq = _mm256_mul_ps(v[j], v[j]);
                lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
                hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
            }
        }
        double sum[ROWS];
        _mm256_storeu_pd(sum, lo);
        _mm256_storeu_pd(sum + 4, hi);
        for (; i < n; i++)
            for (int k = 0; k < ROWS; k++) sum[k] += (double)(xr[k][i] * xr[k][i]);
        for (int k = 0; k < nr; k++) norm_row(y + (size_t)(r + k) * n, xr[k], w, n, sum[k], eps);
    }
}
#endif

void qk_rmsnorm(float *y, const float *x, const float *w, int n, int r0, int r1, float eps) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx2()) {
        rmsnorm_avx2(y, x, w, n, r0, r1, eps);
        return;
    }
#endif
    rmsnorm_scalar(y, x, w, n, r0, r1, eps);
}
