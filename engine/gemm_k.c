/*
 * gemm_k.c — the K-quant integer GEMM (gemm_k.h): the decoders of Q2_K .. Q6_K blocks into
 * qk_kpack and the scalar reference kernel, which states the arithmetic every SIMD kernel
 * (gemm_k_avx2.c) reproduces bit for bit.
 */
#include "gemm_k.h"

#include <string.h>

#include "fp16.h"
#include "quants_k_pack.h"
#include "quants_kfit.h"

/* sc and mn of 16-group g. */
static inline void set_group(qk_kpack *p, int g, int sc, int mn) {
    p->sc[g] = (int16_t)sc;
    p->mn[g] = (int16_t)mn;
}

static inline void clear_pad(qk_kpack *p) { memset(p->pad, 0, sizeof p->pad); }

static void pack_row_q2_K(const void *vx, void *dst, int64_t n) {
    const block_q2_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        unpack_2bit(x[i].qs, p->q);
        for (int g = 0; g < 16; g++) set_group(p, g, x[i].scales[g] & 0xF, x[i].scales[g] >> 4);
        p->d = qk_half_to_float(x[i].d);
        p->dmin = qk_half_to_float(x[i].dmin);
        clear_pad(p);
    }
}

static void pack_row_q3_K(const void *vx, void *dst, int64_t n) {
    const block_q3_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        unpack_q3_K(&x[i], p->q);
        for (int g = 0; g < 16; g++) {
            const int sc = qk_get_scale_q3_K(g, x[i].scales);
            set_group(p, g, sc, 4 * sc);
        }
        p->d = qk_half_to_float(x[i].d);
        p->dmin = 0.0f;
        clear_pad(p);
    }
}

/* Q4_K / Q5_K: 8 scales and mins of 32 elements, i.e. two 16-groups each. */
static void pack_q45_K_scales(qk_kpack *p, qk_half d, qk_half dmin, const uint8_t *scales) {
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, scales, &sc, &m);
        set_group(p, 2 * j, sc, m);
        set_group(p, 2 * j + 1, sc, m);
    }
    p->d = qk_half_to_float(d);
    p->dmin = qk_half_to_float(dmin);
    clear_pad(p);
}

static void pack_row_q4_K(const void *vx, void *dst, int64_t n) {
    const block_q4_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        unpack_4bit(x[i].qs, p->q);
        pack_q45_K_scales(p, x[i].d, x[i].dmin, x[i].scales);
    }
}

static void pack_row_q5_K(const void *vx, void *dst, int64_t n) {
    const block_q5_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        unpack_q5_K(&x[i], p->q);
        pack_q45_K_scales(p, x[i].d, x[i].dmin, x[i].scales);
    }
}

static void pack_row_q6_K(const void *vx, void *dst, int64_t n) {
    const block_q6_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        unpack_q6_K(&x[i], p->q);
        for (int g = 0; g < 16; g++) set_group(p, g, x[i].scales[g], 32 * x[i].scales[g]);
        p->d = qk_half_to_float(x[i].d);
        p->dmin = 0.0f;
        clear_pad(p);
    }
}

/* One output: the packed row x (nb blocks) against the Q8_K row y. */
static float dot_kpack(int nb, const qk_kpack *x, const block_q8_K *y, int sym) {
    float sumf = 0.0f;
    for (int b = 0; b < nb; b++) {
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int l = 0; l < 16; l++) s += (int32_t)x[b].q[16 * g + l] * y[b].qs[16 * g + l];
            isum += x[b].sc[g] * s;
            msum += x[b].mn[g] * y[b].bsums[g];
        }
        if (sym) {
            sumf += x[b].d * y[b].d * (float)(isum - msum);
        } else {
            const float d = y[b].d * x[b].d, dmin = y[b].d * x[b].dmin;
            sumf += d * (float)isum - dmin * (float)msum;
        }
    }
    return sumf;
}

static void gemm_k_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                          size_t by, int sym) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++)
            s[(size_t)c * lds + r] = dot_kpack(n / QK_K, (const qk_kpack *)((const uint8_t *)xp + (size_t)r * bxp),
                                               (const block_q8_K *)((const uint8_t *)y + (size_t)c * by), sym);
}

void qk_gemm_kmin_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by) {
    gemm_k_scalar(n, nr, nc, s, lds, xp, bxp, y, by, 0);
}

void qk_gemm_ksym_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by) {
    gemm_k_scalar(n, nr, nc, s, lds, xp, bxp, y, by, 1);
}

/* qk_gemm_pack_fn from a one-row packer: rows one by one, each n/256 blocks. */
#define PACK_ROWS(name, row)                                                                          \
    void name(const void *x, size_t bx, int nr, void *dst, int64_t n) {                               \
        const size_t bxp = (size_t)(n / QK_K) * sizeof(qk_kpack);                                     \
        for (int r = 0; r < nr; r++) row((const uint8_t *)x + (size_t)r * bx, (uint8_t *)dst + r * bxp, n); \
    }
PACK_ROWS(qk_gemm_pack_q2_K, pack_row_q2_K)
PACK_ROWS(qk_gemm_pack_q3_K, pack_row_q3_K)
PACK_ROWS(qk_gemm_pack_q4_K, pack_row_q4_K)
PACK_ROWS(qk_gemm_pack_q5_K, pack_row_q5_K)
PACK_ROWS(qk_gemm_pack_q6_K, pack_row_q6_K)

void qk_install_gemm_k(qk_type_traits *table) {
    static const struct {
        qk_type t;
        qk_gemm_pack_fn pack;
    } rows[] = {
        {QK_TYPE_Q2_K, qk_gemm_pack_q2_K}, {QK_TYPE_Q3_K, qk_gemm_pack_q3_K}, {QK_TYPE_Q4_K, qk_gemm_pack_q4_K},
        {QK_TYPE_Q5_K, qk_gemm_pack_q5_K}, {QK_TYPE_Q6_K, qk_gemm_pack_q6_K},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        table[rows[i].t].gemm_pack = rows[i].pack;
        table[rows[i].t].gemm_pack_rows = 1;
        table[rows[i].t].gemm_pack_bsize = sizeof(qk_kpack);
    }
}
