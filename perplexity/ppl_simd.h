/*
 * ppl_simd.h — AVX2/FMA versions of the per-token loops of qk-perplexity over a row of
 * n_vocab logits (151,936 for Qwen2): the log-softmax scan, the KL divergence against a
 * 16-bit base record, and the encoding of a row into a base record. ppl_stats.c and
 * ppl_logits.c call them when ppl_simd_enabled(); the scalar code there is the reference.
 *
 * Numerics (how the results relate to the scalar reference's, and so to llama.cpp's):
 *  - expf is evaluated in double precision (Cody–Waite reduction x = k·ln2 + r,
 *    |r| <= ln2/2, Taylor polynomial to r^11/11!, relative error < 1e-14) and rounded once
 *    to float, i.e. correctly rounded (tests/test_ppl_simd.c: all of 277,278 inputs in
 *    [−110, 5]). glibc's expf, which the scalar code and llama.cpp call, is accurate to
 *    0.502 ulp and misrounds by one ulp on ~0.05 % of inputs; a sum of 151,936 terms then
 *    moves by ~1e-10 relative, far below any printed digit. Inputs below −104 give 0.
 *  - Every other operation is the scalar code's, in float where it is float (llama.cpp's
 *    choices: the exp terms and the KLD terms are float, their sums are double), without
 *    FMA contraction; the double sums run in 4 lanes (order differs by ~1e-16 relative).
 *  - Maxima, minima and "first index of the maximum" are exact (compare, then the first
 *    index holding the maximum), so argmax ties resolve as in the scalar loops.
 *  - The 16-bit quantization q = round-to-nearest-even(inv_scale·(l − min)) uses the same
 *    float operations and VCVTPS2DQ's default rounding (nearest even), which is what the
 *    scalar 1.5·2^23 magic addition computes for 0 <= v < 2^22: the q words and scale of a
 *    record are bit-identical; min_log_prob (which holds log Σexp) may differ by one ulp
 *    in rare rows (none in the 1,020 rows of a Qwen2-vocabulary test file).
 */
#ifndef QK_PPL_SIMD_H
#define QK_PPL_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* True when the AVX2 paths are in use: the CPU has AVX2+FMA+F16C (engine/cpu.h, which also
 * honours QK_FORCE_SCALAR=1) and ppl_simd_set(false) was not called. */
bool ppl_simd_enabled(void);
/* Tests: force the scalar reference (false) or allow the AVX2 paths again (true). */
void ppl_simd_set(bool on);

/* Log-softmax scan: *max_logit, *imax (first index of the maximum), *sum_exp = Σ
 * (double)expf(l_i − max) in double; returns false when a logit is NaN/±Inf (the other
 * outputs are then unspecified). n >= 1. */
bool ppl_simd_row_scan(const float *l, int32_t n, float *max_logit, int32_t *imax, double *sum_exp);

/* KLD sum of one token: Σ_{i: lp_i > −16} (double)(p_i·((lp_i − l_i) + lse)), p_i =
 * expf(lp_i), lp_i = scale·q[i] + min_log_prob (float, no FMA). *imax_base: first index of
 * the maximum lp_i. n >= 1. */
double ppl_simd_kld_sum(const float *l, const uint16_t *q, int32_t n, float scale,
                        float min_log_prob, float lse, int32_t *imax_base);

/* Encoding: *mx, *mn = max and min of the row; returns false on NaN/±Inf. */
bool ppl_simd_minmax(const float *l, int32_t n, float *mx, float *mn);
/* Σ (double)expf(l_i − mx). */
double ppl_simd_sum_exp(const float *l, int32_t n, float mx);
/* q[i] = l_i > mn ? min(65535, round-nearest-even(inv_scale·(l_i − mn))) : 0. */
void ppl_simd_quantize(const float *l, int32_t n, float mn, float inv_scale, uint16_t *q);

#endif
