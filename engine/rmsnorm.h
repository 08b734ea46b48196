/*
 * rmsnorm.h — RMS normalization of activation rows (ggml_rms_norm, then ggml_mul by the
 * norm weight), as every supported architecture applies it before attention and the FFN.
 */
#ifndef QK_RMSNORM_H
#define QK_RMSNORM_H

/* y[r][i] = (x[r][i] · s_r) · w[i] for rows r in [r0, r1) of n elements (row r at
 * x + r·n, y + r·n; y may equal x), s_r = 1 / sqrtf((float)(Σ_i x[r][i]² / n) + eps):
 * each square rounded to float, then added in double in index order from 0, as ggml's
 * ggml_compute_forward_rms_norm_f32 does. The scalar and AVX2 versions give the same bits. */
void qk_rmsnorm(float *y, const float *x, const float *w, int n, int r0, int r1, float eps);

#endif
