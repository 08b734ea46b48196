/*
 * vexp.c — ggml-cpu's vector exp, SwiGLU and the softmax exponentials (see vexp.h for
 * the algorithm and its source). A scalar implementation of every step, and an AVX2 one
 * that performs the same operations eight lanes at a time (both also sixteen with
 * AVX-512, where qk_cpu_has_avx512vnni() says the CPU has it).
 */
#include "vexp.h"

#include <math.h>
#include <string.h>

#include "cpu.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quants_avx2_common.h"
#endif

/* Each a*b+c below is written as an explicit fused multiply-add or as a separately
 * rounded product; no contraction may change that (-ffp-contract=off, CMakeLists.txt). */
/* Constants of the algorithm (ggml vec.h ggml_v_expf; ARM optimized-routines expf). */
#define VEXP_SHIFT 0x1.8p23f    /* 1.5·2^23: adding it rounds to an integer */
#define VEXP_LOG2E 0x1.715476p+0f
#define VEXP_LN2_HI 0x1.62e4p-1f
#define VEXP_LN2_LO 0x1.7f7d1cp-20f
#define VEXP_C5 0x1.0e4020p-7f
#define VEXP_C4 0x1.573e2ep-5f
#define VEXP_C3 0x1.555e66p-3f
#define VEXP_C2 0x1.fffdb6p-2f
#define VEXP_C1 0x1.ffffecp-1f

static inline uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float qk_vexpf(float x) {
    const float z = fmaf(x, VEXP_LOG2E, VEXP_SHIFT);
    const float n = z - VEXP_SHIFT;                       /* round(x / ln 2) */
    const float b = fmaf(-n, VEXP_LN2_LO, fmaf(-n, VEXP_LN2_HI, x)); /* x - n ln 2 */
    const uint32_t e = fbits(z) << 23;                    /* n in the exponent field */
    const float k = bitsf(e + fbits(1.0f));               /* 2^n when it is a normal float */
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(VEXP_C5, b, VEXP_C4), u, fmaf(VEXP_C3, b, VEXP_C2)), u, VEXP_C1 * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(j, k, k);       /* 2^n (1 + j); NaN lands here */
    /* 2^n out of the normal range: scale in two steps, or saturate past |n| > 192 */
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = bitsf(g + 0x7f000000u), s2 = bitsf(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

static inline float silu_libm(float x) { return x / (1.0f + expf(-x)); }

static void swiglu_scalar(int64_t n, float *y, const float *g, const float *u) {
    const int64_t nv = n - n % 8;
    for (int64_t i = 0; i < nv; i++) y[i] = g[i] / (1.0f + qk_vexpf(-g[i])) * u[i];
    for (int64_t i = nv; i < n; i++) y[i] = silu_libm(g[i]) * u[i];
}

#if defined(__x86_64__) || defined(__i386__)
QK_AVX2 static inline __m256 vexp8(__m256 x) {
    const __m256 shift = _mm256_set1_ps(VEXP_SHIFT);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(VEXP_LOG2E), shift);
    const __m256 n = _mm256_sub_ps(z, shift);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(VEXP_LN2_LO), _mm256_fnmadd_ps(n, _mm256_set1_ps(VEXP_LN2_HI), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 p = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(VEXP_C5), b, _mm256_set1_ps(VEXP_C4)), u,
                                     _mm256_fmadd_ps(_mm256_set1_ps(VEXP_C3), b, _mm256_set1_ps(VEXP_C2)));
    const __m256 j = _mm256_fmadd_ps(p, u, _mm256_mul_ps(_mm256_set1_ps(VEXP_C1), b));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
    const __m256 normal = _mm256_fmadd_ps(j, k, k);
    if (!_mm256_movemask_ps(big)) return normal;
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 huge = _mm256_cmp_ps(absn, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
    const __m256 r = _mm256_blendv_ps(normal, scaled, big);
    return _mm256_blendv_ps(r, _mm256_mul_ps(s1, s1), huge);
}

/* (d0 + d2) + (d1 + d3): the last two steps of the combination of the 16 running sums. */
QK_AVX2 static inline double sum_d4(__m256d d) {
    const __m128d e = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(e, _mm_unpackhi_pd(e, e)));
}

/* The elements from i on (fewer than 16): e^(x - shift) by vexp8 (masked past n, the
 * bits of qk_vexpf), each added to sum in index order. */
QK_AVX2 static double exp_sub_tail_avx2(int64_t i, int64_t n, float *y, const float *x, float shift, double sum) {
    const __m256 vs = _mm256_set1_ps(shift);
    for (; i < n; i += 8) {
        const int r = n - i < 8 ? (int)(n - i) : 8;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(y + i, mask, vexp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vs)));
        for (int l = 0; l < r; l++) sum += (double)y[i + l];
    }
    return sum;
}

/* The 16 running sums in four registers of 4 doubles (lanes 0-3, 4-7, 8-11, 12-15). */
QK_AVX2 static double exp_sub_avx2(int64_t n, float *y, const float *x, float shift) {
    const __m256 vs = _mm256_set1_ps(shift);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 e0 = vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        const __m256 e1 = vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vs));
        _mm256_storeu_ps(y + i, e0);
        _mm256_storeu_ps(y + i + 8, e1);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e0)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e0, 1)));
        s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(e1)));
        s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(e1, 1)));
    }
    /* c_l = s_l + s_(l+8), then d_l = c_l + c_(l+4) */
    const __m256d d = _mm256_add_pd(_mm256_add_pd(s0, s2), _mm256_add_pd(s1, s3));
    return exp_sub_tail_avx2(i, n, y, x, shift, sum_d4(d));
}

/* vexp8's operations on 16 lanes (the same bits per lane). */
QK_AVX512F static inline __m512 vexp16(__m512 x) {
    const __m512 shift = _mm512_set1_ps(VEXP_SHIFT);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(VEXP_LOG2E), shift);
    const __m512 n = _mm512_sub_ps(z, shift);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(VEXP_LN2_LO), _mm512_fnmadd_ps(n, _mm512_set1_ps(VEXP_LN2_HI), x));
    const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(z), 23);
    const __m512 k = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(VEXP_C5), b, _mm512_set1_ps(VEXP_C4)), u,
                                     _mm512_fmadd_ps(_mm512_set1_ps(VEXP_C3), b, _mm512_set1_ps(VEXP_C2)));
    const __m512 j = _mm512_fmadd_ps(p, u, _mm512_mul_ps(_mm512_set1_ps(VEXP_C1), b));
    const __m512 absn = _mm512_abs_ps(n);
    const __mmask16 big = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(126.0f), _CMP_GT_OQ);
    const __m512 normal = _mm512_fmadd_ps(j, k, k);
    if (!big) return normal;
    const __m512i g = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ),
                                            _mm512_set1_epi32((int)0x82000000u));
    const __m512 s1 = _mm512_castsi512_ps(_mm512_add_epi32(g, _mm512_set1_epi32(0x7f000000)));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_sub_epi32(e, g));
    const __mmask16 huge = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(192.0f), _CMP_GT_OQ);
    const __m512 r = _mm512_mask_blend_ps(big, normal, _mm512_mul_ps(_mm512_fmadd_ps(s2, j, s2), s1));
    return _mm512_mask_blend_ps(huge, r, _mm512_mul_ps(s1, s1));
}

/* The 16 running sums in two registers of 8 doubles (lanes 0-7, 8-15). */
QK_AVX512F static double exp_sub_avx512(int64_t n, float *y, const float *x, float shift) {
    const __m512 vs = _mm512_set1_ps(shift);
    __m512d a = _mm512_setzero_pd(), b = a;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = vexp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
        _mm512_storeu_ps(y + i, e);
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        b = _mm512_add_pd(b, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    /* c_l = s_l + s_(l+8), then d_l = c_l + c_(l+4) */
    const __m512d c = _mm512_add_pd(a, b);
    const __m256d d = _mm256_add_pd(_mm512_castpd512_pd256(c), _mm512_extractf64x4_pd(c, 1));
    return exp_sub_tail_avx2(i, n, y, x, shift, sum_d4(d));
}

/* From element i on (groups of 8, then the tail by libm's expf, as swiglu_scalar). */
QK_AVX2 static void swiglu_avx2_from(int64_t i, int64_t n, float *y, const float *g, const float *u) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, vexp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) y[i] = silu_libm(g[i]) * u[i];
}

/* swiglu_avx2's operations on 16 lanes (the same bits per lane: vexp16, then the IEEE
 * division and product). */
QK_AVX512F static void swiglu_avx512(int64_t n, float *y, const float *g, const float *u) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, vexp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
    }
    swiglu_avx2_from(i, n, y, g, u);
}
#endif

double qk_vec_exp_sub(int64_t n, float *y, const float *x, float shift) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx512vnni()) return exp_sub_avx512(n, y, x, shift);
    if (qk_cpu_has_avx2()) return exp_sub_avx2(n, y, x, shift);
#endif
    double s[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) s[l] += (double)(y[i + l] = qk_vexpf(x[i + l] - shift));
    double sum = qk_sum16_d(s);
    for (; i < n; i++) sum += (double)(y[i] = qk_vexpf(x[i] - shift));
    return sum;
}

void qk_vec_swiglu(int64_t n, float *y, const float *g, const float *u) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx512vnni()) {
        swiglu_avx512(n, y, g, u);
        return;
    }
    if (qk_cpu_has_avx2()) {
        swiglu_avx2_from(0, n, y, g, u);
        return;
    }
#endif
    swiglu_scalar(n, y, g, u);
}
