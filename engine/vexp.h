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

/* The sum of 8 floats in double by a fixed tree, ((y0+y4) + (y2+y6)) + ((y1+y5) + (y3+y7)),
 * which 8-lane SIMD forms with two vector adds (the index-order sum is a chain of 8
 * dependent adds per 8 elements, which bounded the softmax's speed). */
static inline double qk_sum8_d(const float y[8]) {
    const double a0 = (double)y[0] + (double)y[4], a1 = (double)y[1] + (double)y[5];
    const double a2 = (double)y[2] + (double)y[6], a3 = (double)y[3] + (double)y[7];
    return (a0 + a2) + (a1 + a3);
}

/* y[i] = e^(x[i] - shift) for i < n by the vector algorithm, every element (ggml's
 * softmax rows are multiples of 8 long, so none takes libm's expf); returns the sum of
 * the y[i] in double: each group of 8 by qk_sum8_d, the groups and then the last n % 8
 * elements added in index order (the same bits on every build). y may equal x. */
double qk_vec_exp_sub(int64_t n, float *y, const float *x, float shift);

#endif
