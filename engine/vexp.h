/*
 * vexp.h — ggml-cpu's vector exp, and the two row operations built on it: the SwiGLU of
 * the feed-forward block and the exponentials of the attention softmax.
 */
#ifndef QK_VEXP_H
#define QK_VEXP_H

#include <stdint.h>

/* SwiGLU over one row of n elements: y[i] = silu(g[i]) * u[i], silu(x) = x / (1 + e^-x).
 * y may equal g or u. Arithmetic of ggml-cpu's x86 AVX2 build (vec.h ggml_vec_silu_f32,
 * then ggml_mul): the first n - n % 8 elements take e^-x from ggml_v_expf's algorithm
 * (ARM optimized-routines expf: 2^(x/ln2) split as 2^n · poly(b), n rounded by the
 * 1.5·2^23 shift, a degree-5 polynomial; max error 1.45 + 0.5 ulp; results flush to 0
 * below x ≈ -103.97 and to infinity above 88.38), the last n % 8 from libm expf. The
 * scalar build and the AVX2 build give the same bits (every step is a correctly rounded
 * IEEE operation or fused multiply-add). NaN in, NaN out. */
void qk_vec_swiglu(int64_t n, float *y, const float *g, const float *u);

/* e^x by the vector algorithm above, one element. */
float qk_vexpf(float x);

/* The combination of the 16 running sums of qk_vec_exp_sub, by a fixed tree:
 * c_l = s_l + s_(l+8) (l < 8), d_l = c_l + c_(l+4) (l < 4), then (d_0 + d_2) + (d_1 + d_3),
 * the order in which 4-, 8- and 16-lane SIMD halve a register. */
static inline double qk_sum16_d(const double s[16]) {
    double d[4];
    for (int l = 0; l < 4; l++) d[l] = (s[l] + s[l + 8]) + (s[l + 4] + s[l + 12]);
    return (d[0] + d[2]) + (d[1] + d[3]);
}

/* y[i] = e^(x[i] - shift) for i < n by the vector algorithm, every element (ggml's
 * softmax rows are multiples of 8 long, so none takes libm's expf); returns the sum of
 * the y[i] in double: 16 running sums s_j = y[j] + y[16 + j] + ... over the whole groups
 * of 16, in index order, combined by qk_sum16_d, then the last n % 16 elements added in
 * index order. The same bits on every build; the running sums are independent chains,
 * so SIMD adds a whole group per step (a sum per group of 8 or 16 needs shuffles that
 * cost more than the exponentials). y may equal x. */
double qk_vec_exp_sub(int64_t n, float *y, const float *x, float shift);

#endif
