/*
 * quants_legacy_avx2.c — AVX2/FMA/F16C kernels for the types of quants_legacy.c: the dot
 * products Q4_0·Q8_0, Q4_1·Q8_1, Q5_0·Q8_0, Q5_1·Q8_1, Q8_0·Q8_0, IQ4_NL·Q8_0, the
 * activation quantizers float -> Q8_0 and float -> Q8_1, and the dequantizers (to_float)
 * of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and IQ4_NL; and AVX-512 VNNI variants of four of
 * the dot products, with the same results, single-row and four-row (vec_dot4: the batch-1
 * decode kernels; their section below).
 *
 * Every kernel here has a scalar reference in quants_legacy.c and is tested against it
 * (tests/test_kernels_legacy.c). Functions carry __attribute__((target(...))) so the rest
 * of the build stays baseline x86-64; qk_install_legacy_avx2() and
 * qk_install_legacy_avx512vnni() are only called when the CPU has the features (cpu.h).
 * Block layouts: quants.h (ggml-common.h).
 *
 * Dot products. Per 32-element block the weight codes are unpacked into 32 bytes in
 * element order (low nibbles = elements 0..15 in the low 128-bit lane, high nibbles =
 * 16..31 in the high lane, which is also the order of the Q8 activation bytes), and the
 * integer dot product is formed with VPMADDUBSW (u8 x s8 -> pairs summed to s16) and
 * VPMADDWD by 1 (-> s32). VPMADDUBSW needs an unsigned first operand: the unsigned codes of
 * Q4_1/Q5_1 go in as they are; Q4_0's offset is taken off as sum (w-8)a = sum w a -
 * sum 8a (two VPMADDUBSW, one subtraction), Q5_0's as sum nib a - sum 16(1-bit4) a; the
 * signed codes of Q8_0 and IQ4_NL are fed as |w| and sign(w)*a (VPSIGNB), the usual AVX2
 * technique (also ggml-cpu's, which uses it for Q5_0 too). No 16-bit sum can saturate
 * for the codes the formats produce (|w| <= 31, or |w| <= 127 with |a| <= 127:
 * 2*127*127 < 32767). The one input outside that: an activation byte of -128 against a
 * negative Q8_0 or IQ4_NL weight, which VPSIGNB cannot negate; the Q8_0/Q8_1 quantizers
 * only produce -127..127 from finite input (-128 marks a NaN, as in ggml).
 * The eight s32 lane sums of a block are converted to float and multiplied-added by the
 * block's float d_x*d_y into two alternating accumulators; the lanes are summed at the
 * end. So the result differs from the scalar kernel (which forms the exact block sum
 * first, then adds blocks in order) only in float rounding: summation order and FMA.
 * (ggml-cpu uses one accumulator. Measured: one chain costs 8-13 % of Q8_0/Q5_1 speed at
 * batch 1 here, and buys no agreement unless every other operation is bit-identical too:
 * bench/agreement.sh moved by as much either way; see test_agreement.c.)
 * The work per block is a dozen or so vector uops, so what remains of it is counted: the
 * nibble unpack is a 128-bit broadcast load, one variable shift and one AND; the _0 types'
 * d fields are converted by table lookup (half_table). Measured alternatives that were
 * slower: VPSIGNB for Q4_0's offset, VCVTPH2PS per d field, gathering a chunk's d fields
 * with integer loads and converting 8 at a time, and summing Q4_1/Q5_1's m_x*s_y terms in
 * a separate loop (a serial add chain).
 *
 * Activation quantizers. They write exactly the bytes of qk_quantize_row_q8_0_ref /
 * q8_1_ref: amax by VMAXPS (equal to the scalar running maximum for non-NaN input),
 * d = amax/127 and id = 1/d in scalar float as the reference does, q = roundf(x*id) with
 * ties away from zero (VROUNDPS only rounds ties to even, so it is built from truncation:
 * t = trunc(p), and t + sign(p) where |p| - |t| >= 0.5), then the low byte of the
 * truncating float->int32 conversion (CVTTPS2DQ gives INT32_MIN, low byte 0, for NaN and
 * out-of-range values, as the reference's cvt_trunc does). A block that contains a NaN is
 * handed to the scalar reference, since the reference's running maximum treats NaN
 * order-dependently. The fraction is computed from |p| (not p - t) so that no compiler
 * can fuse the product x*id into it. d and s are rounded to half with VCVTPS2PH (round to
 * nearest even: the same bytes as qk_float_to_half).
 *
 * Dequantizers: the same float bits as quants_legacy.c's (see their section).
 */
/* The dequantizers must round q*d and q*d + m separately, as the scalar ones do: the
 * engine is built with -ffp-contract=off (CMakeLists.txt), without which GCC contracts
 * across the intrinsics (plain vector * and + in its headers). The explicit
 * _mm256_fmadd_ps of the dot products are unaffected. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "quants.h"
#include "quants_avx2_common.h"

/* ------------------------------------------------------------------ helpers ------- */

QK_AVX2 static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* 16 packed bytes -> 32 nibbles in element order: byte j's low nibble at j, its high
 * nibble at j + 16. The bytes are loaded into both 128-bit lanes and the high lane is
 * shifted right by 4 (per 32-bit word: each byte's bits 4..7 land in its own bits 0..3). */
QK_AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i v = _mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* The 32 bits of a block's qh (bit j = bit 4 of element j's code) -> 32 bytes, 0xFF where
 * the bit is set: byte j takes byte j/8 of qh, ORs in every bit but bit j%8, and compares
 * with all-ones. */
QK_AVX2 static inline __m256i unpack_bits(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i sel = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                          0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), sel);
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(-1));
}

/* Eight s32 partial sums of w[j]*a[j] for signed bytes w, a (see the file comment). */
QK_AVX2 static inline __m256i dot_s8(__m256i w, __m256i a) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Eight s32 partial sums of w[j]*a[j] for unsigned w (0..31), signed a. */
QK_AVX2 static inline __m256i dot_u8(__m256i w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
}

/* Eight s32 partial sums of (w[j] - o[j])*a[j] for unsigned w, o (0..31), signed a: the
 * offsets are subtracted in the 16-bit pair sums (|pair| <= 2*31*128, no saturation). */
QK_AVX2 static inline __m256i dot_u8_sub(__m256i w, __m256i o, __m256i a) {
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(w, a), _mm256_maddubs_epi16(o, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

QK_AVX2 static inline __m256i load32(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* binary16 -> float for all 65536 codes (256 KiB), filled by qk_install_legacy_avx2().
 * Converting a block's d by a table load keeps the vector units free: per block of the _0
 * types the scale then costs a scalar multiply and a broadcast instead of two VCVTPH2PS as
 * well; measured 8-18% faster (the scales of a matrix cluster, so the lookups stay in L1).
 * The _1 types convert their (d, m) and (d, s) pairs with one VCVTPH2PS each instead,
 * which measured faster there. */
static float half_table[65536];

static inline float half_lookup(const void *p) {
    qk_half h;
    memcpy(&h, p, 2);
    return half_table[h];
}

/* The float scale of a block pair, d_x * d_y broadcast to 8 lanes (d is the first field
 * of every block). */
QK_AVX2 static inline __m256 block_scale(const void *xb, const void *yb) {
    return _mm256_set1_ps(half_lookup(xb) * half_lookup(yb));
}

/* acc += float(isum) * d, lane-wise. */
QK_AVX2 static inline __m256 acc_block(__m256 acc, __m256i isum, __m256 d) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), d, acc);
}

/* The block loop shared by all dot products: two accumulators, blocks alternating between
 * them. BLOCK(i) is an expression giving block i's eight s32 partial sums; x, y the block
 * arrays (d fields first). */
#define DOT_BLOCKS(nb, BLOCK, result)                                                   \
    do {                                                                                 \
        __m256 acc0_ = _mm256_setzero_ps(), acc1_ = _mm256_setzero_ps();                 \
        int i_ = 0;                                                                      \
        for (; i_ + 2 <= (nb); i_ += 2) {                                                \
            prefetch_block(&x[i_], 2 * sizeof x[0]);                                     \
            acc0_ = acc_block(acc0_, BLOCK(i_), block_scale(&x[i_], &y[i_]));            \
            acc1_ = acc_block(acc1_, BLOCK(i_ + 1), block_scale(&x[i_ + 1], &y[i_ + 1])); \
        }                                                                                \
        if (i_ < (nb)) acc0_ = acc_block(acc0_, BLOCK(i_), block_scale(&x[i_], &y[i_])); \
        (result) = hsum_ps(_mm256_add_ps(acc0_, acc1_));                                 \
    } while (0)

/* The same loop for the _1 types (Q4_1/Q5_1 against Q8_1), whose blocks start with two
 * halves, (d_x, m_x) and (d_y, s_y): one multiply gives (d_x d_y, m_x s_y, 0, 0); lane 0
 * scales the block, lane 1 is summed into a separate accumulator. */
QK_AVX2 static inline __m128 cvt_first_two_halves(const void *block) {
    int32_t v;
    memcpy(&v, block, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(v));
}
QK_AVX2 static inline __m256 acc_block_min(__m256 acc, __m128 *accm, __m256i isum, const void *xb, const void *yb) {
    const __m128 dm = _mm_mul_ps(cvt_first_two_halves(xb), cvt_first_two_halves(yb));
    *accm = _mm_add_ps(*accm, dm);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_broadcastss_ps(dm), acc);
}

#define DOT_BLOCKS_MIN(nb, BLOCK, result)                                                 \
    do {                                                                                 \
        __m256 acc0_ = _mm256_setzero_ps(), acc1_ = _mm256_setzero_ps();                 \
        __m128 accm0_ = _mm_setzero_ps(), accm1_ = _mm_setzero_ps();                     \
        int i_ = 0;                                                                      \
        for (; i_ + 2 <= (nb); i_ += 2) {                                                \
            prefetch_block(&x[i_], 2 * sizeof x[0]);                                     \
            acc0_ = acc_block_min(acc0_, &accm0_, BLOCK(i_), &x[i_], &y[i_]);            \
            acc1_ = acc_block_min(acc1_, &accm1_, BLOCK(i_ + 1), &x[i_ + 1], &y[i_ + 1]); \
        }                                                                                \
        if (i_ < (nb)) acc0_ = acc_block_min(acc0_, &accm0_, BLOCK(i_), &x[i_], &y[i_]); \
        const __m128 m_ = _mm_add_ps(accm0_, accm1_);                                    \
        (result) = hsum_ps(_mm256_add_ps(acc0_, acc1_)) + _mm_cvtss_f32(_mm_movehdup_ps(m_)); \
    } while (0)

/* The loop of DOT_BLOCKS for four weight rows (vec_dot4): x[r] the block arrays of rows
 * r = 0..3, y the activation blocks. Each row keeps its own two accumulators and gets
 * the same operations in the same order as in its single-row kernel, so s[r] has the bits
 * vec_dot gives for row r; what depends on the activations alone is formed once per block
 * for the four rows: the activation bytes a, d_y, and SHARED(a). ROW(b, a, sh) gives the
 * eight s32 lane sums of weight block b. The prefetch runs linearly over the four rows'
 * bytes (they are contiguous): one stream, not four. */
#define DOT4_ROW(acc, r, i) acc = acc_block(acc, ROW(&x[r][i], a_, sh_), _mm256_set1_ps(half_lookup(&x[r][i]) * dy_))
#define DOT4_STEP(acc, i, SHARED, ROW)                                                         \
    do {                                                                                       \
        const __m256i a_ = load32(y[i].qs), sh_ = SHARED(a_);                                  \
        const float dy_ = half_lookup(&y[i]);                                                  \
        (void)sh_; /* unused where nothing but a is shared */                                  \
        DOT4_ROW(acc##0, 0, i);                                                                \
        DOT4_ROW(acc##1, 1, i);                                                                \
        DOT4_ROW(acc##2, 2, i);                                                                \
        DOT4_ROW(acc##3, 3, i);                                                                \
    } while (0)

/* (Named accumulators, not arrays: GCC 12 kept arrays of them on the stack.) */
#define DOT4_BLOCKS(nb, SHARED, ROW, s)                                                        \
    do {                                                                                       \
        __m256 p0 = _mm256_setzero_ps(), p1 = p0, p2 = p0, p3 = p0, q0 = p0, q1 = p0, q2 = p0, q3 = p0; \
        int i_ = 0;                                                                            \
        for (; i_ + 2 <= (nb); i_ += 2) {                                                      \
            prefetch_block((const uint8_t *)x[0] + 4 * i_ * sizeof x[0][0], 8 * sizeof x[0][0]); \
            DOT4_STEP(p, i_, SHARED, ROW);                                                     \
            DOT4_STEP(q, i_ + 1, SHARED, ROW);                                                 \
        }                                                                                      \
        if (i_ < (nb)) DOT4_STEP(p, i_, SHARED, ROW);                                          \
        (s)[0] = hsum_ps(_mm256_add_ps(p0, q0));                                               \
        (s)[1] = hsum_ps(_mm256_add_ps(p1, q1));                                               \
        (s)[2] = hsum_ps(_mm256_add_ps(p2, q2));                                               \
        (s)[3] = hsum_ps(_mm256_add_ps(p3, q3));                                               \
    } while (0)

/* The block arrays of four rows bx bytes apart. */
#define ROWS4(T, vx, bx)                                                                       \
    {(const T *)(vx), (const T *)((const uint8_t *)(vx) + (bx)), (const T *)((const uint8_t *)(vx) + 2 * (bx)), \
     (const T *)((const uint8_t *)(vx) + 3 * (bx))}

/* ------------------------------------------------------------------ dot products -- */

QK_AVX2 static void vec_dot_q4_0_q8_0_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = (const block_q4_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b8 = _mm256_set1_epi8(8);
#define BLOCK(i) dot_u8_sub(unpack_nibbles(x[i].qs), b8, load32(y[i].qs))
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

/* sum over blocks of d_x*d_y*sumi + m_x*s_y (s_y = d_y * sum of the block's q_y). */
QK_AVX2 static void vec_dot_q4_1_q8_1_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = (const block_q4_1 *)vx;
    const block_q8_1 *y = (const block_q8_1 *)vy;
#define BLOCK(i) dot_u8(unpack_nibbles(x[i].qs), load32(y[i].qs))
    DOT_BLOCKS_MIN(n / QK8_1, BLOCK, *s);
#undef BLOCK
}

/* Q5_0: (code - 16)·a = nibble·a - 16·(1 - bit 4)·a, both unsigned first operands of
 * VPMADDUBSW (dot_u8_sub): one vector op fewer per block than forming the signed code
 * and using dot_s8, and the same integer lane sums. */
QK_AVX2 static void vec_dot_q5_0_q8_0_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = (const block_q5_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b16 = _mm256_set1_epi8(16);
#define BLOCK(i) dot_u8_sub(unpack_nibbles(x[i].qs), _mm256_andnot_si256(unpack_bits(x[i].qh), b16), load32(y[i].qs))
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

QK_AVX2 static void vec_dot_q5_1_q8_1_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = (const block_q5_1 *)vx;
    const block_q8_1 *y = (const block_q8_1 *)vy;
    const __m256i b4 = _mm256_set1_epi8(0x10);
#define BLOCK(i)                                                                            \
    dot_u8(_mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_and_si256(unpack_bits(x[i].qh), b4)), \
           load32(y[i].qs))
    DOT_BLOCKS_MIN(n / QK8_1, BLOCK, *s);
#undef BLOCK
}

QK_AVX2 static void vec_dot_q8_0_q8_0_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = (const block_q8_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define BLOCK(i) dot_s8(load32(x[i].qs), load32(y[i].qs))
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

/* IQ4_NL: the nibbles index the 16-entry level table with VPSHUFB. */
QK_AVX2 static void vec_dot_iq4_nl_q8_0_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl));
#define BLOCK(i) dot_s8(_mm256_shuffle_epi8(levels, unpack_nibbles(x[i].qs)), load32(y[i].qs))
    DOT_BLOCKS(n / QK4_NL, BLOCK, *s);
#undef BLOCK
}

/* Four-row versions (DOT4_BLOCKS). Q4_0 and Q5_0 share the offset term: on AVX2 the
 * VPMADDUBSW of the offset bytes with a (Q5_0 then feeds the full code nibble + 16·bit4,
 * whose pair sums minus those of 16·a are the pair sums dot_u8_sub forms, so the same
 * lane sums); Q8_0 and IQ4_NL share only a and d_y. */
#define SHARED_NONE(a) (a)
QK_AVX2 static void vec_dot4_q4_0_q8_0_avx2(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q4_0 *x[4] = ROWS4(block_q4_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define SHARED(a) _mm256_maddubs_epi16(_mm256_set1_epi8(8), a)
#define ROW(b, a, sh) _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(unpack_nibbles((b)->qs), a), sh), _mm256_set1_epi16(1))
    DOT4_BLOCKS(n / QK8_0, SHARED, ROW, s);
#undef ROW
#undef SHARED
}

QK_AVX2 static void vec_dot4_q5_0_q8_0_avx2(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q5_0 *x[4] = ROWS4(block_q5_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b16 = _mm256_set1_epi8(16);
#define SHARED(a) _mm256_maddubs_epi16(b16, a)
#define CODE(b) _mm256_or_si256(unpack_nibbles((b)->qs), _mm256_and_si256(unpack_bits((b)->qh), b16))
#define ROW(b, a, sh) _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(CODE(b), a), sh), _mm256_set1_epi16(1))
    DOT4_BLOCKS(n / QK8_0, SHARED, ROW, s);
#undef ROW
#undef CODE
#undef SHARED
}

QK_AVX2 static void vec_dot4_q8_0_q8_0_avx2(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q8_0 *x[4] = ROWS4(block_q8_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define ROW(b, a, sh) dot_s8(load32((b)->qs), a)
    DOT4_BLOCKS(n / QK8_0, SHARED_NONE, ROW, s);
#undef ROW
}

QK_AVX2 static void vec_dot4_iq4_nl_q8_0_avx2(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_iq4_nl *x[4] = ROWS4(block_iq4_nl, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl));
#define ROW(b, a, sh) dot_s8(_mm256_shuffle_epi8(levels, unpack_nibbles((b)->qs)), a)
    DOT4_BLOCKS(n / QK4_NL, SHARED_NONE, ROW, s);
#undef ROW
}

/* ------------------------------------------- AVX-512 VNNI variants (same results) -- */

/* On CPUs with AVX512F+BW+VL+VNNI (qk_cpu_has_avx512vnni), still on 256-bit registers:
 * VPDPBUSD forms the sums of four u8 x s8 products per 32-bit lane in one instruction,
 * where AVX2 needs VPMADDUBSW + VPMADDWD, and the lanes group the same four bytes, so the
 * integer lane sums are identical (the AVX2 pair sums cannot saturate for the codes the
 * formats produce; see the file comment) and so is every float operation after them:
 * each kernel here returns the bits of its AVX2 twin (tests/test_kernels_legacy.c).
 * Q5_0 also takes its bit-4 plane as a mask register: one mask load and a masked blend
 * give the 16(1 - bit4) offsets that unpack_bits + ANDNOT give on AVX2. Measured on the
 * Sapphire-Rapids-class dev VM, 1 thread, in cache, best of 8 alternations: Q5_0 and
 * IQ4_NL about 14 % faster than their AVX2 kernels. */
#define QK_AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Eight s32 sums of 4 products w[j]*a[j], unsigned w (0..255), signed a. */
QK_AVX512VNNI static inline __m256i dot_u8_vnni(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
}

QK_AVX512VNNI static void vec_dot_q4_0_q8_0_vnni(int n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = (const block_q4_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b8 = _mm256_set1_epi8(8);
#define BLOCK(i) \
    _mm256_sub_epi32(dot_u8_vnni(unpack_nibbles(x[i].qs), load32(y[i].qs)), dot_u8_vnni(b8, load32(y[i].qs)))
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

QK_AVX512VNNI static inline __m256i q5_0_block_vnni(const block_q5_0 *b, __m256i a, __m256i b16) {
    uint32_t h;
    memcpy(&h, b->qh, 4);
    const __m256i off = _mm256_mask_blend_epi8(_cvtu32_mask32(h), b16, _mm256_setzero_si256()); /* 16 where bit 4 is 0 */
    return _mm256_sub_epi32(dot_u8_vnni(unpack_nibbles(b->qs), a), dot_u8_vnni(off, a));
}

QK_AVX512VNNI static void vec_dot_q5_0_q8_0_vnni(int n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = (const block_q5_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b16 = _mm256_set1_epi8(16);
#define BLOCK(i) q5_0_block_vnni(&x[i], load32(y[i].qs), b16)
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

/* dot_s8 with VPDPBUSD: |w| and sign(w)*a as on AVX2. */
QK_AVX512VNNI static inline __m256i dot_s8_vnni(__m256i w, __m256i a) {
    return dot_u8_vnni(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

QK_AVX512VNNI static void vec_dot_q8_0_q8_0_vnni(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = (const block_q8_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define BLOCK(i) dot_s8_vnni(load32(x[i].qs), load32(y[i].qs))
    DOT_BLOCKS(n / QK8_0, BLOCK, *s);
#undef BLOCK
}

QK_AVX512VNNI static void vec_dot_iq4_nl_q8_0_vnni(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl));
#define BLOCK(i) dot_s8_vnni(_mm256_shuffle_epi8(levels, unpack_nibbles(x[i].qs)), load32(y[i].qs))
    DOT_BLOCKS(n / QK4_NL, BLOCK, *s);
#undef BLOCK
}

/* Four-row versions (DOT4_BLOCKS). The offset term moves into VPDPBUSD's accumulator
 * input, formed once per block: with O the per-lane sum of o·a over the lane's four
 * bytes, a block's lane sums are dpbusd(-O, u, a) with u the unsigned code (Q4_0: nibble,
 * o = 8; Q5_0: nibble + 16·bit4, o = 16) or the signed code + 128 (Q8_0, IQ4_NL:
 * o = 128): one VPDPBUSD per row and block, and the same integers as above. (Except
 * for Q8_0 and IQ4_NL where an activation byte is -128, which marks a NaN input: there
 * the single-row kernels' VPSIGNB trick is not exact and these are; see the file
 * comment.) */
QK_AVX512VNNI static inline __m256i neg_offset_sum(__m256i a, __m256i o) {
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), o, a));
}

QK_AVX512VNNI static void vec_dot4_q4_0_q8_0_vnni(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q4_0 *x[4] = ROWS4(block_q4_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define SHARED(a) neg_offset_sum(a, _mm256_set1_epi8(8))
#define ROW(b, a, neg) _mm256_dpbusd_epi32(neg, unpack_nibbles((b)->qs), a)
    DOT4_BLOCKS(n / QK8_0, SHARED, ROW, s);
#undef ROW
#undef SHARED
}

/* nibble + 16 where the block's qh bit is set: one masked byte add. */
QK_AVX512VNNI static inline __m256i q5_0_code(const block_q5_0 *b) {
    uint32_t h;
    memcpy(&h, b->qh, 4);
    const __m256i nib = unpack_nibbles(b->qs);
    return _mm256_mask_add_epi8(nib, _cvtu32_mask32(h), nib, _mm256_set1_epi8(16));
}

QK_AVX512VNNI static void vec_dot4_q5_0_q8_0_vnni(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q5_0 *x[4] = ROWS4(block_q5_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
#define SHARED(a) neg_offset_sum(a, _mm256_set1_epi8(16))
#define ROW(b, a, neg) _mm256_dpbusd_epi32(neg, q5_0_code(b), a)
    DOT4_BLOCKS(n / QK8_0, SHARED, ROW, s);
#undef ROW
#undef SHARED
}

QK_AVX512VNNI static void vec_dot4_q8_0_q8_0_vnni(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_q8_0 *x[4] = ROWS4(block_q8_0, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b128 = _mm256_set1_epi8(-128);
#define SHARED(a) neg_offset_sum(a, b128)
#define ROW(b, a, neg) _mm256_dpbusd_epi32(neg, _mm256_xor_si256(load32((b)->qs), b128), a)
    DOT4_BLOCKS(n / QK8_0, SHARED, ROW, s);
#undef ROW
#undef SHARED
}

QK_AVX512VNNI static void vec_dot4_iq4_nl_q8_0_vnni(int n, float s[4], const void *vx, size_t bx, const void *vy) {
    const block_iq4_nl *x[4] = ROWS4(block_iq4_nl, vx, bx);
    const block_q8_0 *y = (const block_q8_0 *)vy;
    const __m256i b128 = _mm256_set1_epi8(-128);
    const __m256i levels_u = _mm256_xor_si256(
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl)), b128);
#define SHARED(a) neg_offset_sum(a, b128)
#define ROW(b, a, neg) _mm256_dpbusd_epi32(neg, _mm256_shuffle_epi8(levels_u, unpack_nibbles((b)->qs)), a)
    DOT4_BLOCKS(n / QK4_NL, SHARED, ROW, s);
#undef ROW
#undef SHARED
}

/* ------------------------------------------------------------------ Q8 quantizers -- */

/* roundf(p) (ties away from zero), lane-wise, exact for every float p. */
QK_AVX2 static inline __m256 round_away(__m256 p) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    /* |p| - |t| is exact (same sign, |t| <= |p| < |t| + 1); NaN (from an infinite p)
     * compares false, leaving t = p. */
    const __m256 frac = _mm256_sub_ps(_mm256_and_ps(p, absmask), _mm256_and_ps(t, absmask));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_andnot_ps(absmask, p), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* Low byte of trunc-to-int32(roundf(v*id)) for 8 lanes, as 32-bit lanes 0..255. */
QK_AVX2 static inline __m256i q8_lane(__m256 v, __m256 vid) {
    const __m256i q = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v, vid)));
    return _mm256_and_si256(q, _mm256_set1_epi32(0xFF));
}

/* Quantize one 32-float block without NaN to Q8 codes at qs; returns d, and the codes in
 * *codes. */
/* Load a block's 32 floats into v[0..3]; returns max |x| (equal to the scalar running
 * maximum for non-NaN input). */
QK_AVX2 static inline float load_block_amax(const float *x, __m256 v[4]) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(x + 8 * j);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absmask), _mm256_and_ps(v[1], absmask)),
                             _mm256_max_ps(_mm256_and_ps(v[2], absmask), _mm256_and_ps(v[3], absmask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    return _mm_cvtss_f32(m4);
}

QK_AVX2 static inline float q8_block(const float *x, int8_t *qs, __m256i *codes) {
    __m256 v[4];
    const float amax = load_block_amax(x, v);
    const __m256 v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    /* lanes hold values 0..255, so both unsigned saturating packs are exact; they work
     * within 128-bit lanes and leave the 4-byte groups of v0..v3 as v0a v1a v2a v3a v0b
     * v1b v2b v3b (a = first 4 elements, b = last 4), which the permute puts in order. */
    const __m256i p01 = _mm256_packus_epi32(q8_lane(v0, vid), q8_lane(v1, vid));
    const __m256i p23 = _mm256_packus_epi32(q8_lane(v2, vid), q8_lane(v3, vid));
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, b);
    *codes = b;
    return d;
}

QK_AVX2 static inline int block_has_nan(const float *x) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 u = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q)),
                                  _mm256_or_ps(_mm256_cmp_ps(v2, v2, _CMP_UNORD_Q), _mm256_cmp_ps(v3, v3, _CMP_UNORD_Q)));
    return _mm256_movemask_ps(u) != 0;
}

/* Same bytes as qk_quantize_row_q8_0_ref (k a multiple of 32). */
QK_AVX2 static void from_float_q8_0_avx2(const float *x, void *vy, int64_t k) {
    block_q8_0 *y = (block_q8_0 *)vy;
    const int64_t nb = k / QK8_0;
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        if (block_has_nan(x)) {
            qk_quantize_row_q8_0_ref(x, &y[i], QK8_0);
            continue;
        }
        __m256i codes;
        y[i].d = _cvtss_sh(q8_block(x, y[i].qs, &codes), 0);
    }
}

/* Same bytes as qk_quantize_row_q8_1_ref: Q8_0's codes plus s = half(sum(q) * d). */
QK_AVX2 static void from_float_q8_1_avx2(const float *x, void *vy, int64_t k) {
    block_q8_1 *y = (block_q8_1 *)vy;
    const int64_t nb = k / QK8_1;
    for (int64_t i = 0; i < nb; i++, x += QK8_1) {
        if (block_has_nan(x)) {
            qk_quantize_row_q8_1_ref(x, &y[i], QK8_1);
            continue;
        }
        __m256i codes;
        const float d = q8_block(x, y[i].qs, &codes);
        y[i].d = _cvtss_sh(d, 0);
        /* sum of the 32 signed codes: u8 1 x s8 q in pairs, then pairs of s16. */
        const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), codes);
        const int sum = hsum_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
        y[i].s = _cvtss_sh((float)sum * d, 0);
    }
}

/* Activation quantizers: the bytes of qk_quantize_row_q8_0_act / q8_1_act (ggml-cpu's
 * x86 arithmetic): id = 127/amax, x*id converted by CVTPS2DQ (round half to even under
 * the default MXCSR; INT32_MIN for NaN/out of range), signed saturating packs. A block
 * with a NaN goes to the scalar function (its running maximum is order-dependent). */
QK_AVX2 static inline float act_block_avx2(const float *x, int8_t *qs, __m256i *codes) {
    __m256 v[4];
    const float amax = load_block_amax(x, v);
    const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int j = 0; j < 4; j++) q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], vid));
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, b);
    *codes = b;
    return amax / 127;
}

QK_AVX2 static void act_q8_0_avx2(const float *x, void *vy, int64_t k) {
    block_q8_0 *y = (block_q8_0 *)vy;
    for (int64_t i = 0; i < k / QK8_0; i++, x += QK8_0) {
        __m256i codes;
        if (block_has_nan(x))
            qk_quantize_row_q8_0_act(x, &y[i], QK8_0);
        else
            y[i].d = _cvtss_sh(act_block_avx2(x, y[i].qs, &codes), 0);
    }
}

QK_AVX2 static void act_q8_1_avx2(const float *x, void *vy, int64_t k) {
    block_q8_1 *y = (block_q8_1 *)vy;
    for (int64_t i = 0; i < k / QK8_1; i++, x += QK8_1) {
        if (block_has_nan(x)) {
            qk_quantize_row_q8_1_act(x, &y[i], QK8_1);
            continue;
        }
        __m256i codes;
        const float d = act_block_avx2(x, y[i].qs, &codes);
        const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), codes);
        const int sum = hsum_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
        y[i].d = _cvtss_sh(d, 0);
        y[i].s = _cvtss_sh(d * (float)sum, 0);
    }
}

/* ------------------------------------------------------------------ dequantizers -- */
/* to_float for the dequantize + sgemm path of matmul.c (weights, and the Q8_0/Q8_1
 * activation rows expanded back to float). Per block the codes are put in element order
 * as bytes (the unpack helpers above; signed code - offset for Q4_0, Q5_0 and IQ4_NL's
 * levels, unsigned codes below 32 for the _1 types, which read the same either way),
 * widened 8 at a time to int32 and converted to float (exact), then multiplied by the
 * block's d: the float operations of quants_legacy.c, one multiply (q * d and d * q give
 * the same bits: IEEE multiplication is commutative, and q is never NaN), and for the _1
 * types one add of m after it, separately rounded (no FMA: -ffp-contract=off; as q*d
 * is exact here, at most 7 + 11 significant bits, the add is the only rounding). d and m
 * come from half_table, i.e. from qk_half_to_float itself; a signalling-NaN d or m is
 * quieted by the multiply or add in both versions alike. The one case where the bits can
 * differ: the _1 types with a NaN m and a q*d that is NaN too (d NaN, or d infinite and
 * q = 0) with another payload; q*d + m is NaN either way, and which payload survives
 * depends on the operand order the compiler picked for the commutative add, in the scalar
 * code as well (GCC 12 -O2 gives the same bits; clang 14 -march=native not for Q5_1). */

/* 8 lanes of (float)b[j] * d for the low 8 signed bytes of b, stored at y. */
QK_AVX2 static inline void emit8(float *y, __m128i b, __m256 d) {
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d));
}
/* The same plus m: (float)b[j] * d + m. */
QK_AVX2 static inline void emit8_m(float *y, __m128i b, __m256 d, __m256 m) {
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d), m));
}

/* 16 signed codes in element order -> y[0..16). */
QK_AVX2 static inline void emit16(float *y, __m128i q, __m256 d) {
    emit8(y, q, d);
    emit8(y + 8, _mm_srli_si128(q, 8), d);
}
QK_AVX2 static inline void emit16_m(float *y, __m128i q, __m256 d, __m256 m) {
    emit8_m(y, q, d, m);
    emit8_m(y + 8, _mm_srli_si128(q, 8), d, m);
}

/* 32 codes in element order -> y[0..32). */
QK_AVX2 static inline void emit32(float *y, __m256i q, __m256 d) {
    emit16(y, _mm256_castsi256_si128(q), d);
    emit16(y + 16, _mm256_extracti128_si256(q, 1), d);
}
QK_AVX2 static inline void emit32_m(float *y, __m256i q, __m256 d, __m256 m) {
    emit16_m(y, _mm256_castsi256_si128(q), d, m);
    emit16_m(y + 16, _mm256_extracti128_si256(q, 1), d, m);
}

/* The 16 packed bytes at qs -> their low nibbles (elements 0..15) and high nibbles
 * (elements 16..31). */
QK_AVX2 static inline __m128i nibbles_lo(__m128i q) { return _mm_and_si128(q, _mm_set1_epi8(0x0F)); }
QK_AVX2 static inline __m128i nibbles_hi(__m128i q) {
    return _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F));
}
QK_AVX2 static inline __m128i load16(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }

/* A half at p, converted by half_table and broadcast. */
QK_AVX2 static inline __m256 half_bcast(const void *p) { return _mm256_set1_ps(half_lookup(p)); }

QK_AVX2 static void to_float_q4_0_avx2(const void *vx, float *y, int64_t k) {
    const block_q4_0 *x = (const block_q4_0 *)vx;
    const __m128i eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < k / QK4_0; i++, y += QK4_0) {
        const __m256 d = half_bcast(&x[i].d);
        const __m128i q = load16(x[i].qs);
        emit16(y, _mm_sub_epi8(nibbles_lo(q), eight), d);
        emit16(y + 16, _mm_sub_epi8(nibbles_hi(q), eight), d);
    }
}

QK_AVX2 static void to_float_q4_1_avx2(const void *vx, float *y, int64_t k) {
    const block_q4_1 *x = (const block_q4_1 *)vx;
    for (int64_t i = 0; i < k / QK4_1; i++, y += QK4_1) {
        const __m256 d = half_bcast(&x[i].d), m = half_bcast(&x[i].m);
        const __m128i q = load16(x[i].qs);
        emit16_m(y, nibbles_lo(q), d, m);
        emit16_m(y + 16, nibbles_hi(q), d, m);
    }
}

/* Q5_0 code - 16 as a signed byte, as in vec_dot_q5_0_q8_0_avx2. */
QK_AVX2 static void to_float_q5_0_avx2(const void *vx, float *y, int64_t k) {
    const block_q5_0 *x = (const block_q5_0 *)vx;
    const __m256i hi = _mm256_set1_epi8((char)0xF0);
    for (int64_t i = 0; i < k / QK5_0; i++, y += QK5_0)
        emit32(y, _mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_andnot_si256(unpack_bits(x[i].qh), hi)),
               half_bcast(&x[i].d));
}

QK_AVX2 static void to_float_q5_1_avx2(const void *vx, float *y, int64_t k) {
    const block_q5_1 *x = (const block_q5_1 *)vx;
    const __m256i b4 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < k / QK5_1; i++, y += QK5_1)
        emit32_m(y, _mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_and_si256(unpack_bits(x[i].qh), b4)),
                 half_bcast(&x[i].d), half_bcast(&x[i].m));
}

/* 32 int8 codes at qs times d (8-byte loads widened straight from memory). */
QK_AVX2 static inline void emit32_i8(float *y, const int8_t *qs, __m256 d) {
    for (int j = 0; j < 32; j += 8) emit8(y + j, _mm_loadl_epi64((const __m128i *)(qs + j)), d);
}

QK_AVX2 static void to_float_q8_0_avx2(const void *vx, float *y, int64_t k) {
    const block_q8_0 *x = (const block_q8_0 *)vx;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0) emit32_i8(y, x[i].qs, half_bcast(&x[i].d));
}

QK_AVX2 static void to_float_q8_1_avx2(const void *vx, float *y, int64_t k) {
    const block_q8_1 *x = (const block_q8_1 *)vx;
    for (int64_t i = 0; i < k / QK8_1; i++, y += QK8_1) emit32_i8(y, x[i].qs, half_bcast(&x[i].d));
}

QK_AVX2 static void to_float_iq4_nl_avx2(const void *vx, float *y, int64_t k) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx;
    const __m128i levels = _mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl);
    for (int64_t i = 0; i < k / QK4_NL; i++, y += QK4_NL) {
        const __m256 d = half_bcast(&x[i].d);
        const __m128i q = load16(x[i].qs);
        emit16(y, _mm_shuffle_epi8(levels, nibbles_lo(q)), d);
        emit16(y + 16, _mm_shuffle_epi8(levels, nibbles_hi(q)), d);
    }
}

void qk_install_legacy_avx2(qk_type_traits *table) {
    for (uint32_t h = 0; h < 65536; h++) half_table[h] = qk_half_to_float((qk_half)h);
    table[QK_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx2;
    table[QK_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx2;
    table[QK_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_avx2;
    table[QK_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_avx2;
    table[QK_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx2;
    table[QK_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0_avx2;
    table[QK_TYPE_Q8_0].from_float = from_float_q8_0_avx2;
    table[QK_TYPE_Q8_1].from_float = from_float_q8_1_avx2;
    table[QK_TYPE_Q8_0].quantize_act = act_q8_0_avx2;
    table[QK_TYPE_Q8_1].quantize_act = act_q8_1_avx2;
    table[QK_TYPE_Q4_0].to_float = to_float_q4_0_avx2;
    table[QK_TYPE_Q4_1].to_float = to_float_q4_1_avx2;
    table[QK_TYPE_Q5_0].to_float = to_float_q5_0_avx2;
    table[QK_TYPE_Q5_1].to_float = to_float_q5_1_avx2;
    table[QK_TYPE_Q8_0].to_float = to_float_q8_0_avx2;
    table[QK_TYPE_Q8_1].to_float = to_float_q8_1_avx2;
    table[QK_TYPE_IQ4_NL].to_float = to_float_iq4_nl_avx2;
    table[QK_TYPE_Q4_0].vec_dot4 = vec_dot4_q4_0_q8_0_avx2;
    table[QK_TYPE_Q5_0].vec_dot4 = vec_dot4_q5_0_q8_0_avx2;
    table[QK_TYPE_Q8_0].vec_dot4 = vec_dot4_q8_0_q8_0_avx2;
    table[QK_TYPE_IQ4_NL].vec_dot4 = vec_dot4_iq4_nl_q8_0_avx2;
}

void qk_install_legacy_avx512vnni(qk_type_traits *table) {
    table[QK_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_vnni;
    table[QK_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_vnni;
    table[QK_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_vnni;
    table[QK_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0_vnni;
    table[QK_TYPE_Q4_0].vec_dot4 = vec_dot4_q4_0_q8_0_vnni;
    table[QK_TYPE_Q5_0].vec_dot4 = vec_dot4_q5_0_q8_0_vnni;
    table[QK_TYPE_Q8_0].vec_dot4 = vec_dot4_q8_0_q8_0_vnni;
    table[QK_TYPE_IQ4_NL].vec_dot4 = vec_dot4_iq4_nl_q8_0_vnni;
}
