/*
 * ppl_simd.c — AVX2/FMA loops of qk-perplexity over a row of logits (see ppl_simd.h for
 * what each computes and how its results relate to the scalar reference's).
 *
 * The functions carry __attribute__((target)) so the build stays baseline x86-64; they
 * are only called when ppl_simd_enabled() (run-time CPU check, engine/cpu.h). Rows of any
 * length are handled: full 8-float vectors, then one masked vector for the tail (masked
 * lanes are never used in a sum, maximum or index).
 */
#include "ppl_simd.h"

#include <math.h>
#include <stdatomic.h>

#include "cpu.h"

static atomic_int g_off; /* set by ppl_simd_set(false) */

bool ppl_simd_enabled(void) {
#if defined(__x86_64__)
    return !atomic_load_explicit(&g_off, memory_order_relaxed) && qk_cpu_has_avx2();
#else
    return false;
#endif
}

void ppl_simd_set(bool on) { atomic_store(&g_off, on ? 0 : 1); }

#if defined(__x86_64__)
#include <immintrin.h>

#define PPL_AVX2 __attribute__((target("avx2,fma")))

/* Lane mask for the last n (0 < n < 8) elements of a row. */
PPL_AVX2 static inline __m256i tail_mask(int32_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

/* e^x for 4 doubles (x in [−120, 89], clamped by the caller): x = k·ln2 + r, e^r by its
 * Taylor series to r^11/11! (|r| <= ln2/2: truncation < 7e-15), times 2^k built in the
 * exponent field. ln2 split into a 53-bit head and its remainder (Cody & Waite). */
PPL_AVX2 static inline __m256d exp4d(__m256d x) {
    const __m256d log2e = _mm256_set1_pd(1.4426950408889634074);
    const __m256d ln2_hi = _mm256_set1_pd(0x1.62e42fefa39efp-1);
    const __m256d ln2_lo = _mm256_set1_pd(0x1.abc9e3b39803fp-56);
    const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(k, ln2_hi, x);
    r = _mm256_fnmadd_pd(k, ln2_lo, r);
    /* Horner on 1/11!, 1/10!, ..., 1/1!, 1 */
    __m256d p = _mm256_set1_pd(1.0 / 39916800.0);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    const __m256i ki = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k));
    const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
}

/* expf of 8 floats, each rounded once from the double result; also returns the two halves
 * widened back to double (the float values, exactly), for double accumulation. */
PPL_AVX2 static inline __m256 exp8f(__m256 x, __m256d *lo, __m256d *hi) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-120.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(89.0f));
    const __m128 flo = _mm256_cvtpd_ps(exp4d(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    const __m128 fhi = _mm256_cvtpd_ps(exp4d(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    *lo = _mm256_cvtps_pd(flo);
    *hi = _mm256_cvtps_pd(fhi);
    return _mm256_set_m128(fhi, flo);
}

PPL_AVX2 static inline double hsum_pd(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

PPL_AVX2 static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

PPL_AVX2 static inline float hmin_ps(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* Lanes whose value is finite (not NaN, not ±Inf). */
PPL_AVX2 static inline __m256 finite_mask(__m256 v) {
    const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    return _mm256_cmp_ps(abs, _mm256_set1_ps(INFINITY), _CMP_LT_OQ);
}

/* Σ expf(l[i] − mx) over the whole 8-lane vectors of l[0..n), in two double accumulators
 * (low and high four lanes); returns the index where those vectors end. */
PPL_AVX2 static inline int32_t exp_sum_vectors(const float *l, int32_t n, __m256 vmx, __m256d *s0, __m256d *s1) {
    __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d lo, hi;
        exp8f(_mm256_sub_ps(_mm256_loadu_ps(l + i), vmx), &lo, &hi);
        a = _mm256_add_pd(a, lo);
        b = _mm256_add_pd(b, hi);
    }
    *s0 = a;
    *s1 = b;
    return i;
}

/* First index i with l[i] == v (v is known to occur). */
PPL_AVX2 static int32_t first_equal(const float *l, int32_t n, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(l + i), vv, _CMP_EQ_OQ));
        if (m) return i + __builtin_ctz((unsigned)m);
    }
    for (; i < n; i++)
        if (l[i] == v) return i;
    return 0;
}

PPL_AVX2 bool ppl_simd_row_scan(const float *l, int32_t n, float *max_logit, int32_t *imax,
                                double *sum_exp) {
    /* pass 1: maximum and finiteness */
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    __m256 fin = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(l + i);
        fin = _mm256_and_ps(fin, finite_mask(v));
        vmax = _mm256_max_ps(vmax, v);
    }
    const int32_t rest = n - i;
    __m256i tm = _mm256_setzero_si256();
    if (rest) {
        tm = tail_mask(rest);
        const __m256 v = _mm256_maskload_ps(l + i, tm);
        const __m256 outside = _mm256_castsi256_ps(_mm256_xor_si256(tm, _mm256_set1_epi32(-1)));
        fin = _mm256_and_ps(fin, _mm256_or_ps(finite_mask(v), outside));
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(tm)));
    }
    if (_mm256_movemask_ps(fin) != 0xff) return false;
    const float mx = hmax_ps(vmax);
    /* pass 2: Σ expf(l − max) in double */
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256d s0, s1;
    i = exp_sum_vectors(l, n, vmx, &s0, &s1);
    if (rest) {
        __m256d lo, hi;
        const __m256 e = exp8f(_mm256_sub_ps(_mm256_maskload_ps(l + i, tm), vmx), &lo, &hi);
        (void)e;
        const __m256i m64lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(tm));
        const __m256i m64hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(tm, 1));
        s0 = _mm256_add_pd(s0, _mm256_and_pd(lo, _mm256_castsi256_pd(m64lo)));
        s1 = _mm256_add_pd(s1, _mm256_and_pd(hi, _mm256_castsi256_pd(m64hi)));
    }
    *max_logit = mx;
    *imax = first_equal(l, n, mx);
    *sum_exp = hsum_pd(_mm256_add_pd(s0, s1));
    return true;
}

/* lp = scale·q + mlp for 8 uint16 (no FMA: the scalar code's two roundings). */
PPL_AVX2 static inline __m256 logprob8(const uint16_t *q, __m256 scale, __m256 mlp) {
    const __m256i qi = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)q));
    return _mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(qi)), mlp);
}

PPL_AVX2 double ppl_simd_kld_sum(const float *l, const uint16_t *q, int32_t n, float scale,
                                 float min_log_prob, float lse, int32_t *imax_base) {
    const __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(min_log_prob);
    const __m256 vlse = _mm256_set1_ps(lse), floor16 = _mm256_set1_ps(-16.0f);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int32_t i = 0;
    for (;; i += 8) {
        __m256 lp, li;
        __m256 keep; /* lanes in the row and above the floor */
        if (i + 8 <= n) {
            lp = logprob8(q + i, vs, vm);
            li = _mm256_loadu_ps(l + i);
            keep = _mm256_cmp_ps(lp, floor16, _CMP_GT_OQ);
            vmax = _mm256_max_ps(vmax, lp);
        } else if (i < n) {
            uint16_t qt[8] = {0};
            for (int32_t k = 0; k < n - i; k++) qt[k] = q[i + k];
            const __m256i tm = tail_mask(n - i);
            lp = logprob8(qt, vs, vm);
            li = _mm256_maskload_ps(l + i, tm);
            keep = _mm256_and_ps(_mm256_cmp_ps(lp, floor16, _CMP_GT_OQ), _mm256_castsi256_ps(tm));
            const __m256 in_row = _mm256_castsi256_ps(tm);
            vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), lp, in_row));
        } else {
            break;
        }
        if (_mm256_movemask_ps(keep) == 0) continue;
        __m256d elo, ehi;
        const __m256 p = exp8f(lp, &elo, &ehi);
        /* p·((lp − l) + lse) in float, zero where not kept */
        const __m256 t = _mm256_and_ps(_mm256_mul_ps(p, _mm256_add_ps(_mm256_sub_ps(lp, li), vlse)), keep);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
    }
    /* first index of the largest lp */
    const float mx = hmax_ps(vmax);
    const __m256 vmx = _mm256_set1_ps(mx);
    int32_t im = 0;
    for (i = 0; i + 8 <= n; i += 8) {
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(logprob8(q + i, vs, vm), vmx, _CMP_EQ_OQ));
        if (m) {
            im = i + __builtin_ctz((unsigned)m);
            break;
        }
    }
    if (i + 8 > n) {
        for (; i < n; i++) {
            if (scale * q[i] + min_log_prob == mx) {
                im = i;
                break;
            }
        }
    }
    *imax_base = im;
    return hsum_pd(_mm256_add_pd(s0, s1));
}

PPL_AVX2 bool ppl_simd_minmax(const float *l, int32_t n, float *mx, float *mn) {
    __m256 vmax = _mm256_set1_ps(-INFINITY), vmin = _mm256_set1_ps(INFINITY);
    __m256 fin = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(l + i);
        fin = _mm256_and_ps(fin, finite_mask(v));
        vmax = _mm256_max_ps(vmax, v);
        vmin = _mm256_min_ps(vmin, v);
    }
    float a = hmax_ps(vmax), b = hmin_ps(vmin);
    bool ok = _mm256_movemask_ps(fin) == 0xff;
    for (; i < n; i++) {
        if (!isfinite(l[i])) ok = false;
        if (l[i] > a) a = l[i];
        if (l[i] < b) b = l[i];
    }
    *mx = a;
    *mn = b;
    return ok;
}

PPL_AVX2 double ppl_simd_sum_exp(const float *l, int32_t n, float mx) {
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256d s0, s1;
    const int32_t i = exp_sum_vectors(l, n, vmx, &s0, &s1);
    double s = hsum_pd(_mm256_add_pd(s0, s1));
    if (i < n) {
        const __m256i tm = tail_mask(n - i);
        __m256d lo, hi;
        const __m256 e = exp8f(_mm256_sub_ps(_mm256_maskload_ps(l + i, tm), vmx), &lo, &hi);
        float t[8];
        _mm256_storeu_ps(t, e);
        for (int32_t k = 0; k < n - i; k++) s += (double)t[k];
    }
    return s;
}

PPL_AVX2 void ppl_simd_quantize(const float *l, int32_t n, float mn, float inv_scale, uint16_t *q) {
    const __m256 vmn = _mm256_set1_ps(mn), vinv = _mm256_set1_ps(inv_scale);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(l + i), b = _mm256_loadu_ps(l + i + 8);
        /* round to nearest even (MXCSR default), zero where l <= mn */
        const __m256i qa = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(vinv, _mm256_sub_ps(a, vmn))),
                                            _mm256_castps_si256(_mm256_cmp_ps(a, vmn, _CMP_GT_OQ)));
        const __m256i qb = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(vinv, _mm256_sub_ps(b, vmn))),
                                            _mm256_castps_si256(_mm256_cmp_ps(b, vmn, _CMP_GT_OQ)));
        /* saturate to [0, 65535] and restore element order across the 128-bit lanes */
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(qa, qb), 0xd8);
        _mm256_storeu_si256((__m256i *)(q + i), p);
    }
    for (; i < n; i++) {
        if (l[i] > mn) {
            const float v = inv_scale * (l[i] - mn);
            const long r = lrintf(v); /* nearest even, as VCVTPS2DQ */
            q[i] = (uint16_t)(r < 0 ? 0 : r > 65535 ? 65535 : r);
        } else {
            q[i] = 0;
        }
    }
}

#else /* not x86-64: never called (ppl_simd_enabled() is false) */

bool ppl_simd_row_scan(const float *l, int32_t n, float *max_logit, int32_t *imax, double *sum_exp) {
    (void)l, (void)n, (void)max_logit, (void)imax, (void)sum_exp;
    return false;
}
double ppl_simd_kld_sum(const float *l, const uint16_t *q, int32_t n, float scale,
                        float min_log_prob, float lse, int32_t *imax_base) {
    (void)l, (void)q, (void)n, (void)scale, (void)min_log_prob, (void)lse;
    *imax_base = 0;
    return 0;
}
bool ppl_simd_minmax(const float *l, int32_t n, float *mx, float *mn) {
    (void)l, (void)n, (void)mx, (void)mn;
    return false;
}
double ppl_simd_sum_exp(const float *l, int32_t n, float mx) {
    (void)l, (void)n, (void)mx;
    return 0;
}
void ppl_simd_quantize(const float *l, int32_t n, float mn, float inv_scale, uint16_t *q) {
    (void)l, (void)n, (void)mn, (void)inv_scale, (void)q;
}

#endif
