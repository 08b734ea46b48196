/*
 * fp16.h — IEEE binary16 and bfloat16 conversions.
 *
 * float -> half rounds to nearest, ties to even (what the x86 F16C instruction
 * VCVTPS2PH with imm 0 does, and what ggml's GGML_FP32_TO_FP16 gives); NaN stays NaN,
 * overflow gives +-inf. float -> bf16 rounds to nearest even and turns NaN into a quiet
 * NaN (ggml_compute_fp32_to_bf16). Sources: IEEE 754-2008; ggml/src/ggml-impl.h.
 */
#ifndef QK_FP16_H
#define QK_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t qk_half;
typedef uint16_t qk_bf16;

static inline uint32_t qk_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float qk_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* binary16 -> binary32, exact. */
static inline float qk_half_to_float(qk_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return qk_bits_f32(sign);
        /* subnormal: value = mant * 2^-24 */
        float f = (float)mant * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31) return qk_bits_f32(sign | 0x7f800000u | (mant << 13));
    return qk_bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* binary32 -> binary16, round to nearest even. */
static inline qk_half qk_float_to_half(float f) {
    uint32_t x = qk_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (qk_half)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
    if (ax >= 0x477ff000u) return (qk_half)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) { /* result is subnormal or zero */
        if (ax < 0x33000000u) return (qk_half)sign; /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (qk_half)(sign | q);
    }
    uint32_t r = ax - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t q = r >> 13;
    uint32_t rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
    return (qk_half)(sign | q);
}

static inline float qk_bf16_to_float(qk_bf16 h) { return qk_bits_f32((uint32_t)h << 16); }

static inline qk_bf16 qk_float_to_bf16(float f) {
    uint32_t u = qk_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (qk_bf16)((u >> 16) | 64); /* quiet NaN */
    return (qk_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

#endif
