/*
 * quants_kfit.h — internal: the scale/min searches and scale packing shared by the K-quant
 * reference quantizers in quants_k.c and the importance-weighted quantizers in
 * quants_k_imat.c and quants_legacy_imat.c. Not part of the public engine API.
 *
 * Every function here reproduces the helper of the same name (without the qk_ prefix) in
 * llama.cpp's ggml/src/ggml-quants.c, operation for operation, in single-precision float
 * with no fused multiply-add (the engine is built with -ffp-contract=off: CMakeLists.txt).
 * That is what makes the quantizers bit-exact: the golden llama.cpp build evidently ran
 * ggml-quants.c without FMA (plain x86-64 SSE2 float; with contraction most golden hashes
 * stop matching).
 * See llama-cpp-reference.md §2.2.
 */
#ifndef QK_QUANTS_KFIT_H
#define QK_QUANTS_KFIT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Values whose |max| is below this are treated as all-zero (ggml's GROUP_MAX_EPS). */
#define QK_GROUP_MAX_EPS 1e-15f

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))

/* The signed value of the element with the largest |x[i]| (the first one on ties; 0 when
 * n = 0 or all are 0), as every ggml search and scale quantizer finds it; *amax = its
 * magnitude. A NaN never wins (the comparison is false). */
static inline float qk_signed_absmax(int n, const float *x, float *amax) {
    float max = 0.0f, am = 0.0f;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > am) {
            am = ax;
            max = x[i];
        }
    }
    *amax = am;
    return max;
}

/*
 * Round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int): adding 1.5*2^23
 * puts the integer in the low mantissa bits, and the float add itself rounds half to even.
 * Outside that range (or for NaN) the result is meaningless but defined; every caller
 * clamps it to its code range.
 */
static inline int qk_nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/*
 * Symmetric ("type 0") search, ggml make_qx_quants. n values x -> codes L[i] in
 * [0, 2*nmax-1] (signed code l = L[i]-nmax in [-nmax, nmax-1]); returns the scale d with
 * x ~= d*l. Starts from iscale = -nmax/max (max = signed value of largest |x|) and tries
 * iscale = -(nmax + 0.1*is)/max, is = +-1..+-9, keeping the best (sum w*x*l)^2 / sum w*l^2.
 * Weights: qw when non-NULL, else by rmse_type (1: x^2, 2: 1, 3: |x|, other: sqrt|x|);
 * rmse_type 0 returns the plain start scale, negative values return early with the
 * average of the fitted and start scale. All |x| < GROUP_MAX_EPS -> L = 0, returns 0.
 */
float qk_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                        const float *qw);

/*
 * Symmetric search with coordinate descent, ggml make_q3_quants. Codes L[i] in
 * [0, 2*nmax-1] as above; with do_rmse, weights x^2 and up to 5 passes that change one
 * code at a time when that raises (sum w*x*l)^2 / sum w*l^2; returns sumlx/suml2.
 * Without do_rmse returns the start scale -max/nmax.
 */
float qk_make_q3_quants(int n, int nmax, const float *x, int8_t *L, int do_rmse);

/*
 * Asymmetric ("type 1") search, ggml make_qkx2_quants: x ~= scale*L[i] - *the_min with
 * L[i] in [0, nmax] and *the_min >= 0. Tries iscale = (rmin + rdelta*is + nmax)/(max-min),
 * is = 0..nstep, solving the weighted 2x2 least squares each time (min forced to 0 and
 * the scale refitted when the fitted min is positive), and keeps the lowest weighted
 * error (|diff| when use_mad, else diff^2). Laux is n bytes of scratch. Returns the scale
 * (0 when all x are equal after clamping min to <= 0).
 */
float qk_make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                          int use_mad);

/*
 * Asymmetric search of the importance-weighted quantizers, ggml make_qkx3_quants. ggml's
 * function is make_qkx2_quants with two differences: weights NULL means w = x^2, and the
 * flat test is max <= min instead of max == min. The second never matters (max >= min
 * always holds once min is clamped to <= 0, and a NaN makes both tests false), and every
 * caller (the *_impl quantizers) passes weights, so weights must be non-NULL here and the
 * result is exactly qk_make_qkx2_quants' (the batch version is qk_make_qkx2_quants_x16).
 */
float qk_make_qkx3_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                          int use_mad);

/*
 * Quantization of non-negative sub-block scales (or mins) against their weights, ggml
 * make_qp_quants: codes L[i] in [0, nmax] with x ~= d*L[i]; returns d. Starts from
 * iscale = nmax/max (max = largest x, at least 0; max == 0 -> L = 0, returns 0), tries
 * iscale = (nmax + 0.1*is)/max for is = +-1..+-4 keeping the lowest sum qw*(x - l/iscale)^2,
 * then up to 5 coordinate-descent passes raising (sum qw*x*l)^2 / sum qw*l^2; returns
 * sum qw*x*l / sum qw*l^2. Codes are capped at nmax but not floored: a negative x gives a
 * negative code stored modulo 256, as ggml's uint8_t does (the later arithmetic then uses
 * the wrapped value, as there). qw must be non-NULL.
 */
float qk_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw);

/*
 * Batch versions: 16 independent sub-blocks of n <= QK_KFIT_X16_MAXN values, x (and
 * weights, L) holding sub-block j at offset j*n. Each gives exactly what 16 calls of the
 * scalar function give (codes, scales[j], the_mins[j]): the same float operations in the
 * same order, one sub-block per SIMD lane. qk_make_qx_quants_x16 is make_qx_quants with
 * rmse_type 1 and no importance weights (Q6_K's case), qk_make_qx_quants_w_x16 the same
 * with importance weights (the _imat quantizers' case), qk_make_q3_quants_x16 is
 * make_q3_quants with do_rmse (Q3_K's case). Call them only when qk_kfit_have_x16() is
 * true (x86-64 with AVX2, QK_FORCE_SCALAR unset; cpu.h); elsewhere they fall back to the
 * scalar loop.
 */
#define QK_KFIT_X16_MAXN 32
int qk_kfit_have_x16(void);
void qk_make_qkx2_quants_x16(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                             float *the_mins, float *scales, float rmin, float rdelta, int nstep,
                             int use_mad);
void qk_make_qx_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales);
/* make_qx_quants with rmse_type 1 and importance weights qw (laid out as x). */
void qk_make_qx_quants_w_x16(int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales);
void qk_make_q3_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales);

/*
 * Any number nsub of sub-blocks of n <= QK_KFIT_X16_MAXN values (laid out as for the batch
 * versions): qk_make_qkx3_quants (weights non-NULL), respectively qk_make_qx_quants with
 * rmse_type 1 and weights qw (non-NULL), for each sub-block j, results in L + j*n,
 * scales[j] (and the_mins[j]). With qk_kfit_have_x16() the sub-blocks go through the batch
 * versions 16 at a time, a last partial batch padded with copies of its first sub-block
 * whose results are dropped; otherwise through the scalar functions. Same results either
 * way.
 */
void qk_make_qkx3_quants_n(int nsub, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                           float *the_mins, float *scales, float rmin, float rdelta, int nstep, int use_mad);
void qk_make_qx_quants_n(int nsub, int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales);

/*
 * The K-quants' final re-quantization of one sub-block against its stored scale:
 * L[i] = clamp(nearest_int((x[i] + dm) / d), lo, hi) - lo for i < n, in float as ggml
 * writes it ((x + dm) / d; the symmetric types pass dm = 0, and x + 0 differs from x only
 * in the sign of a zero, which nearest_int ignores). Uses AVX2 when qk_kfit_have_x16() and
 * n is a multiple of 8; the bytes are the same either way.
 */
void qk_requant(int n, const float *x, float d, float dm, int lo, int hi, uint8_t *L);

/*
 * Q4_K / Q5_K: 8 pairs of 6-bit (scale, min) in 12 bytes (ggml get_scale_min_k4).
 * j < 4: scale = q[j] & 63, min = q[j+4] & 63.
 * j >= 4: scale = (q[j+4] & 15) | (q[j-4] >> 6) << 4, min = (q[j+4] >> 4) | (q[j] >> 6) << 4.
 */
static inline void qk_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Inverse of qk_get_scale_min_k4 for one j (sc, m in 0..63); touches only the bits that
 * belong to j, so the eight pairs may be stored in any order into a zeroed q[12]. */
void qk_set_scale_min_k4(int j, uint8_t *q, uint8_t sc, uint8_t m);

/*
 * Q3_K: 16 6-bit scales stored with a +32 bias in 12 bytes. Low 4 bits in q[j] (j < 8)
 * or the high nibble of q[j-8] (j >= 8); high 2 bits at shift 2*(j/4) of q[8 + j%4].
 * Returns the signed scale (stored - 32), in -32..31.
 */
static inline int qk_get_scale_q3_K(int j, const uint8_t *q) {
    int lo = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
    int hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* Inverse of qk_get_scale_q3_K for one j (sc in -32..31) into a zeroed q[12]. */
void qk_set_scale_q3_K(int j, uint8_t *q, int sc);

#endif
