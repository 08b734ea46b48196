/*
 * gemm_legacy.c — the integer GEMM of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL
 * (gemm_legacy.h): the packers, the activation converters and the scalar reference
 * kernels, which state the arithmetic every SIMD kernel (gemm_legacy_avx2.c) reproduces
 * bit for bit.
 */
#include "gemm_legacy.h"

#include <string.h>

#include "fp16.h"

/* Decoders: one block into its 32 unsigned codes u (natural element order) and d, m. */
typedef void (*decode_fn)(const void *x, int64_t i, uint8_t u[32], float *d, float *m);

static void decode_q4_0(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_q4_0 *x = (const block_q4_0 *)vx + i;
    for (int j = 0; j < 16; j++) {
        u[j] = x->qs[j] & 0x0F;
        u[j + 16] = x->qs[j] >> 4;
    }
    *d = qk_half_to_float(x->d);
    *m = 0.0f;
}

static void decode_q4_1(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_q4_1 *x = (const block_q4_1 *)vx + i;
    for (int j = 0; j < 16; j++) {
        u[j] = x->qs[j] & 0x0F;
        u[j + 16] = x->qs[j] >> 4;
    }
    *d = qk_half_to_float(x->d);
    *m = qk_half_to_float(x->m);
}

/* Q5_0 / Q5_1: the 5th bit of element j is bit j of the little-endian qh. */
static void decode_5bit(const uint8_t qs[16], const uint8_t qh8[4], uint8_t u[32]) {
    const uint32_t qh = (uint32_t)qh8[0] | (uint32_t)qh8[1] << 8 | (uint32_t)qh8[2] << 16 | (uint32_t)qh8[3] << 24;
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((qs[j] & 0x0F) | ((qh >> j) & 1) << 4);
        u[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

static void decode_q5_0(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_q5_0 *x = (const block_q5_0 *)vx + i;
    decode_5bit(x->qs, x->qh, u);
    *d = qk_half_to_float(x->d);
    *m = 0.0f;
}

static void decode_q5_1(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_q5_1 *x = (const block_q5_1 *)vx + i;
    decode_5bit(x->qs, x->qh, u);
    *d = qk_half_to_float(x->d);
    *m = qk_half_to_float(x->m);
}

static void decode_q8_0(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_q8_0 *x = (const block_q8_0 *)vx + i;
    for (int j = 0; j < 32; j++) u[j] = (uint8_t)(x->qs[j] + 128);
    *d = qk_half_to_float(x->d);
    *m = 0.0f;
}

static void decode_iq4_nl(const void *vx, int64_t i, uint8_t u[32], float *d, float *m) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx + i;
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)(qk_kvalues_iq4nl[x->qs[j] & 0x0F] + 128);
        u[j + 16] = (uint8_t)(qk_kvalues_iq4nl[x->qs[j] >> 4] + 128);
    }
    *d = qk_half_to_float(x->d);
    *m = 0.0f;
}

/* The packer shared by all six types: group by group, block by block, each row decoded
 * and its 8 four-byte lanes put in place; missing rows of the last group zeroed. */
static void pack_rows(const void *x, size_t bx, int nr, void *dst, int64_t n, decode_fn decode, size_t bsize) {
    const int64_t nb = n / 32;
    uint8_t *out = dst;
    for (int g0 = 0; g0 < nr; g0 += QK_GL_ROWS) {
        for (int64_t b = 0; b < nb; b++, out += bsize) {
            qk_lpack *p = (qk_lpack *)out;
            for (int r = 0; r < QK_GL_ROWS; r++) {
                uint8_t u[32];
                float d = 0.0f, m = 0.0f;
                if (g0 + r < nr) decode((const uint8_t *)x + (size_t)(g0 + r) * bx, b, u, &d, &m);
                else memset(u, 0, sizeof u);
                for (int s = 0; s < 8; s++) memcpy(p->q[s][r], u + 4 * s, 4);
                p->d[r] = d;
                if (bsize == QK_GL_BSIZE_MIN) p->m[r] = m;
            }
        }
    }
}

void qk_gemm_pack_q4_0(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_q4_0, QK_GL_BSIZE_SYM);
}
void qk_gemm_pack_q4_1(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_q4_1, QK_GL_BSIZE_MIN);
}
void qk_gemm_pack_q5_0(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_q5_0, QK_GL_BSIZE_SYM);
}
void qk_gemm_pack_q5_1(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_q5_1, QK_GL_BSIZE_MIN);
}
void qk_gemm_pack_q8_0(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_q8_0, QK_GL_BSIZE_SYM);
}
void qk_gemm_pack_iq4_nl(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_rows(x, bx, nr, dst, n, decode_iq4_nl, QK_GL_BSIZE_SYM);
}

static void act_off(const void *yq, void *dst, int64_t n, int off) {
    const block_q8_0 *y = yq;
    qk_lact *a = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) sum += y[i].qs[j];
        memcpy(a[i].qs, y[i].qs, 32);
        a[i].d = qk_half_to_float(y[i].d);
        a[i].u.c = -off * sum;
    }
}

void qk_gemm_act_off8(const void *yq, void *dst, int64_t n) { act_off(yq, dst, n, 8); }
void qk_gemm_act_off16(const void *yq, void *dst, int64_t n) { act_off(yq, dst, n, 16); }
void qk_gemm_act_off128(const void *yq, void *dst, int64_t n) { act_off(yq, dst, n, 128); }

void qk_gemm_act_q8_1(const void *yq, void *dst, int64_t n) {
    const block_q8_1 *y = yq;
    qk_lact *a = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        memcpy(a[i].qs, y[i].qs, 32);
        a[i].d = qk_half_to_float(y[i].d);
        a[i].u.s = qk_half_to_float(y[i].s);
    }
}

/* One output: row r of the packed group xg (nb blocks of bsize bytes) against the
 * activation row y, with the arithmetic of the header. */
static float dot_lpack(int nb, const uint8_t *xg, size_t bsize, int r, const qk_lact *y, int with_min) {
    float sumf = 0.0f;
    for (int b = 0; b < nb; b++) {
        const qk_lpack *p = (const qk_lpack *)(xg + (size_t)b * bsize);
        int32_t sumi = with_min ? 0 : y[b].u.c;
        for (int s = 0; s < 8; s++)
            for (int j = 0; j < 4; j++) sumi += (int32_t)p->q[s][r][j] * y[b].qs[4 * s + j];
        if (with_min) sumf += (p->d[r] * y[b].d) * (float)sumi + p->m[r] * y[b].u.s;
        else sumf += (float)sumi * (p->d[r] * y[b].d);
    }
    return sumf;
}

static void gemm_l_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                          size_t by, int with_min) {
    const size_t bsize = with_min ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM;
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++)
            s[(size_t)c * lds + r] =
                dot_lpack(n / 32, (const uint8_t *)xp + (size_t)(r / QK_GL_ROWS) * bxp, bsize, r % QK_GL_ROWS,
                          (const qk_lact *)((const uint8_t *)y + (size_t)c * by), with_min);
}

void qk_gemm_lsym_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by) {
    gemm_l_scalar(n, nr, nc, s, lds, xp, bxp, y, by, 0);
}

void qk_gemm_lmin_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by) {
    gemm_l_scalar(n, nr, nc, s, lds, xp, bxp, y, by, 1);
}

void qk_install_gemm_legacy(qk_type_traits *table) {
    static const struct {
        qk_type t;
        qk_gemm_pack_fn pack;
        qk_gemm_act_fn act;
        size_t bsize;
    } rows[] = {
        {QK_TYPE_Q4_0, qk_gemm_pack_q4_0, qk_gemm_act_off8, QK_GL_BSIZE_SYM},
        {QK_TYPE_Q4_1, qk_gemm_pack_q4_1, qk_gemm_act_q8_1, QK_GL_BSIZE_MIN},
        {QK_TYPE_Q5_0, qk_gemm_pack_q5_0, qk_gemm_act_off16, QK_GL_BSIZE_SYM},
        {QK_TYPE_Q5_1, qk_gemm_pack_q5_1, qk_gemm_act_q8_1, QK_GL_BSIZE_MIN},
        {QK_TYPE_Q8_0, qk_gemm_pack_q8_0, qk_gemm_act_off128, QK_GL_BSIZE_SYM},
        {QK_TYPE_IQ4_NL, qk_gemm_pack_iq4_nl, qk_gemm_act_off128, QK_GL_BSIZE_SYM},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        qk_type_traits *t = &table[rows[i].t];
        t->gemm_pack = rows[i].pack;
        t->gemm_pack_rows = QK_GL_ROWS;
        t->gemm_pack_bsize = rows[i].bsize;
        t->gemm_act = rows[i].act;
        t->gemm_act_bsize = sizeof(qk_lact);
    }
}
