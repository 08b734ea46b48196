/*
 * quants_float_avx2.c — AVX2/FMA/F16C kernels for the types of quants_float.c:
 * dot products F32·F32, F16·F16 and BF16·BF16, the activation conversions
 * float -> F16 and float -> BF16, and the row expansions (to_float) F16 -> float and
 * BF16 -> float that the dequantize + sgemm path of matmul.c runs over every weight row
 * and every converted activation row.
 *
 * Every kernel here has a scalar reference in quants_float.c and is tested against it
 * (tests/test_kernels_legacy.c). Functions carry __attribute__((target(...))) so the rest
 * of the build stays baseline x86-64; qk_install_float_avx2() is only called when the CPU
 * has the features (cpu.h).
 *
 * Invariants:
 *  - The conversions write exactly the bytes of qk_quantize_row_f16 / _bf16 (fp16.h):
 *    VCVTPS2PH with imm 0 rounds to nearest even, turns NaN into a quiet NaN keeping the
 *    top 10 payload bits and overflow into +-inf (Intel SDM, VCVTPS2PH), which is exactly
 *    qk_float_to_half; the BF16 conversion is the same integer formula as
 *    qk_float_to_bf16, eight lanes at a time.
 *  - The expansions write exactly the floats of qk_dequantize_row_f16 / _bf16, NaN
 *    payloads included, for any k >= 0 (see their section).
 *  - The dot products accept any n >= 0 (not only multiples of the vector width). They
 *    differ from the scalar ones only in the order of the float additions (8 lanes x 4
 *    accumulators, then a tree sum, then the tail in index order; BF16 also pairs even
 *    and odd elements in separate accumulators) and in FMA (one rounding per
 *    multiply-add instead of two). A product of two F16 values is exact in float, and so
 *    is one of two BF16 values unless it overflows or underflows; apart from that, only
 *    the summation order differs.
 */
#include <immintrin.h>
#include <stdint.h>

#include "cpu.h"
#include "quants.h"
#include "quants_avx2_common.h"

QK_AVX2 static inline float hsum4_ps(__m256 a, __m256 b, __m256 c, __m256 d) {
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
}

/* 8 binary16 values at p as 8 floats (exact). */
QK_AVX2 static inline __m256 load_f16x8(const qk_half *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
/* ---------------------------------------------------------------- dot products ----- */

QK_AVX2 static void vec_dot_f32_avx2(int n, float *s, const void *vx, const void *vy) {
    const float *x = (const float *)vx, *y = (const float *)vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        PREFETCH_X(x + i);
        PREFETCH_X(x + i + 16);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float sum = hsum4_ps(a0, a1, a2, a3);
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

/* y's elements i .. i+7 as floats: from yf when given (y already expanded), else from y. */
QK_AVX2 static inline __m256 y8(const qk_half *y, const float *yf, int i) {
    return yf ? _mm256_loadu_ps(yf + i) : load_f16x8(y + i);
}

/* The F16 dot product; yf: NULL, or y expanded to n floats (the same values, so the same
 * result). */
QK_AVX2 static inline __attribute__((always_inline)) float dot_f16(int n, const qk_half *x, const qk_half *y,
                                                                   const float *yf) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        PREFETCH_X(x + i);
        a0 = _mm256_fmadd_ps(load_f16x8(x + i), y8(y, yf, i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), y8(y, yf, i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), y8(y, yf, i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), y8(y, yf, i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(x + i), y8(y, yf, i), a0);
    float sum = hsum4_ps(a0, a1, a2, a3);
    for (; i < n; i++) sum += qk_half_to_float(x[i]) * (yf ? yf[i] : qk_half_to_float(y[i]));
    return sum;
}

QK_AVX2 static void vec_dot_f16_avx2(int n, float *s, const void *vx, const void *vy) {
    *s = dot_f16(n, (const qk_half *)vx, (const qk_half *)vy, NULL);
}

QK_AVX2 void qk_vec_dot_f16_rows_avx2(int n, int n_rows, float *s, const qk_half *x, size_t x_stride,
                                      const qk_half *y) {
    float yf[QK_DOT_F16_ROWS_MAX];
    if (n > QK_DOT_F16_ROWS_MAX) {
        for (int r = 0; r < n_rows; r++) s[r] = dot_f16(n, x + (size_t)r * x_stride, y, NULL);
        return;
    }
    for (int i = 0; i < n; i++) yf[i] = qk_half_to_float(y[i]);
    for (int r = 0; r < n_rows; r++) s[r] = dot_f16(n, x + (size_t)r * x_stride, y, yf);
}

/* BF16: 16 values are loaded at once; shifting each 32-bit word left by 16 gives the
 * even-indexed elements as floats, masking off its low half the odd-indexed ones (x and y
 * split the same way, so even pairs with even and odd with odd). Two integer ops per 16
 * elements, where widening (VPMOVZXWD) and shifting would take four. */
QK_AVX2 static inline __m256 bf16_even(__m256i v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
QK_AVX2 static inline __m256 bf16_odd(__m256i v) {
    return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xFFFF0000u)));
}
QK_AVX2 static inline __m256i load_bf16x16(const qk_bf16 *p) { return _mm256_loadu_si256((const __m256i *)p); }

QK_AVX2 static void vec_dot_bf16_avx2(int n, float *s, const void *vx, const void *vy) {
    const qk_bf16 *x = (const qk_bf16 *)vx, *y = (const qk_bf16 *)vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        PREFETCH_X(x + i);
        const __m256i x0 = load_bf16x16(x + i), y0 = load_bf16x16(y + i);
        const __m256i x1 = load_bf16x16(x + i + 16), y1 = load_bf16x16(y + i + 16);
        a0 = _mm256_fmadd_ps(bf16_even(x0), bf16_even(y0), a0);
        a1 = _mm256_fmadd_ps(bf16_odd(x0), bf16_odd(y0), a1);
        a2 = _mm256_fmadd_ps(bf16_even(x1), bf16_even(y1), a2);
        a3 = _mm256_fmadd_ps(bf16_odd(x1), bf16_odd(y1), a3);
    }
    for (; i + 16 <= n; i += 16) {
        const __m256i x0 = load_bf16x16(x + i), y0 = load_bf16x16(y + i);
        a0 = _mm256_fmadd_ps(bf16_even(x0), bf16_even(y0), a0);
        a1 = _mm256_fmadd_ps(bf16_odd(x0), bf16_odd(y0), a1);
    }
    float sum = hsum4_ps(a0, a1, a2, a3);
    for (; i < n; i++) sum += qk_bf16_to_float(x[i]) * qk_bf16_to_float(y[i]);
    *s = sum;
}

/* ---------------------------------------------------------------- conversions ------ */

/* k floats -> k binary16 (round to nearest even), same bytes as qk_quantize_row_f16. */
QK_AVX2 static void from_float_f16_avx2(const float *x, void *vy, int64_t k) {
    qk_half *y = (qk_half *)vy;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < k; i++) y[i] = qk_float_to_half(x[i]);
}

/* 8 floats -> 8 bfloat16 codes in the low 16 bits of each 32-bit lane: NaN -> top half
 * with the quiet bit (bit 6 of the bf16) set, otherwise (u + 0x7fff + lsb) >> 16. */
QK_AVX2 static inline __m256i bf16_codes(const float *x) {
    const __m256i u = _mm256_loadu_si256((const __m256i *)x);
    const __m256i hi = _mm256_srli_epi32(u, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(rounded, _mm256_or_si256(hi, _mm256_set1_epi32(64)), nan);
}

/* k floats -> k bfloat16 (round to nearest even, NaN quieted), same bytes as
 * qk_quantize_row_bf16. */
QK_AVX2 static void from_float_bf16_avx2(const float *x, void *vy, int64_t k) {
    qk_bf16 *y = (qk_bf16 *)vy;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        /* codes are <= 0xffff, so the unsigned saturating pack is exact; it interleaves the
         * 128-bit lanes (a.lo, b.lo, a.hi, b.hi), which the permute puts back in order. */
        __m256i p = _mm256_packus_epi32(bf16_codes(x + i), bf16_codes(x + i + 8));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute4x64_epi64(p, 0xD8));
    }
    for (; i < k; i++) y[i] = qk_float_to_bf16(x[i]);
}

/* k floats rounded to F16 and back: F16C's round to nearest even, then the exact
 * widening. The F16 codes VCVTPS2PH writes are never signalling NaNs, so these are the
 * bits of to_float_f16_avx2 after from_float_f16_avx2. */
QK_AVX2 static void round_f16_avx2(const float *x, float *y, int64_t k) {
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < k; i++) y[i] = qk_half_to_float(qk_float_to_half(x[i]));
}

/* k floats rounded to bfloat16 and back: the codes of from_float_bf16_avx2 shifted into
 * the top half, as the widening does. */
QK_AVX2 static void round_bf16_avx2(const float *x, float *y, int64_t k) {
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) _mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(bf16_codes(x + i), 16));
    for (; i < k; i++) y[i] = qk_bf16_to_float(qk_float_to_bf16(x[i]));
}

/* ---------------------------------------------------------------- expansions ------- */

/* F16 -> float. VCVTPH2PS is exact for zeros, subnormals, normals, infinities and quiet
 * NaNs (payload shifted up by 13 bits, as qk_half_to_float does), but it quiets a
 * signalling NaN (sets bit 22; measured: 0x7c01 -> 0x7fc02000), which qk_half_to_float
 * keeps as it is (0x7f802000). So each group of 32 halves is first checked for a
 * signalling NaN (|h| in 0x7c01..0x7dff), and such a group, which real weights never
 * contain, goes through the scalar conversion. The check: |h| + 0x03ff maps exactly that
 * range to the 16-bit signed values below -32257 (it wraps past 0x7fff to -32768..-32258;
 * every other |h| lands in 0x03ff..0x7fff or -32257..-31746). */
QK_AVX2 static inline __m256i f16_snan_mask(__m256i h) {
    const __m256i t = _mm256_add_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x7fff)), _mm256_set1_epi16(0x03ff));
    return _mm256_cmpgt_epi16(_mm256_set1_epi16(-32257), t);
}

QK_AVX2 static void to_float_f16_avx2(const void *vx, float *y, int64_t k) {
    const qk_half *x = (const qk_half *)vx;
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x + i + 16));
        const __m256i s = _mm256_or_si256(f16_snan_mask(a), f16_snan_mask(b));
        if (!_mm256_testz_si256(s, s)) {
            for (int j = 0; j < 32; j++) y[i + j] = qk_half_to_float(x[i + j]);
            continue;
        }
        _mm256_storeu_ps(y + i, load_f16x8(x + i));
        _mm256_storeu_ps(y + i + 8, load_f16x8(x + i + 8));
        _mm256_storeu_ps(y + i + 16, load_f16x8(x + i + 16));
        _mm256_storeu_ps(y + i + 24, load_f16x8(x + i + 24));
    }
    for (; i + 8 <= k; i += 8) {
        const __m256i s = f16_snan_mask(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(x + i))));
        if (_mm_testz_si128(_mm256_castsi256_si128(s), _mm256_castsi256_si128(s)))
            _mm256_storeu_ps(y + i, load_f16x8(x + i));
        else
            for (int j = 0; j < 8; j++) y[i + j] = qk_half_to_float(x[i + j]);
    }
    for (; i < k; i++) y[i] = qk_half_to_float(x[i]);
}

/* BF16 -> float: each code moved to the top half of a 32-bit word (exact and no float
 * operation, so NaNs keep every bit, as in qk_bf16_to_float). */
QK_AVX2 static inline __m256 bf16x8_ps(const qk_bf16 *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

QK_AVX2 static void to_float_bf16_avx2(const void *vx, float *y, int64_t k) {
    const qk_bf16 *x = (const qk_bf16 *)vx;
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        _mm256_storeu_ps(y + i, bf16x8_ps(x + i));
        _mm256_storeu_ps(y + i + 8, bf16x8_ps(x + i + 8));
        _mm256_storeu_ps(y + i + 16, bf16x8_ps(x + i + 16));
        _mm256_storeu_ps(y + i + 24, bf16x8_ps(x + i + 24));
    }
    for (; i + 8 <= k; i += 8) _mm256_storeu_ps(y + i, bf16x8_ps(x + i));
    for (; i < k; i++) y[i] = qk_bf16_to_float(x[i]);
}

void qk_install_float_avx2(qk_type_traits *table) {
    table[QK_TYPE_F32].vec_dot = vec_dot_f32_avx2;
    table[QK_TYPE_F16].vec_dot = vec_dot_f16_avx2;
    table[QK_TYPE_F16].from_float = table[QK_TYPE_F16].quantize_act = from_float_f16_avx2;
    table[QK_TYPE_BF16].vec_dot = vec_dot_bf16_avx2;
    table[QK_TYPE_BF16].from_float = table[QK_TYPE_BF16].quantize_act = from_float_bf16_avx2;
    table[QK_TYPE_F16].to_float = to_float_f16_avx2;
    table[QK_TYPE_BF16].to_float = to_float_bf16_avx2;
    table[QK_TYPE_F16].round_act = round_f16_avx2;
    table[QK_TYPE_BF16].round_act = round_bf16_avx2;
}
