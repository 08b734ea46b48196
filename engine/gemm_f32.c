/*
 * gemm_f32.c — the blocking loops of qkit's FP32 GEMM (see gemm_f32.h) and the choice of
 * kernel set; the packers and microkernels are in gemm_f32_avx2.c.
 *
 * Loop order for one call (rows [0, n) of W, tokens [0, m)):
 *   for each panel of up to qk_gemm_f32_panel_rows(k) rows:
 *     for each block of KC columns of k:       pack the panel (L2-resident)
 *       for each group of N tokens:            their KC activations stay in L1 or L2
 *         for each strip of S rows:            microkernel, S x N block of Y
 * so each weight element is converted once per call and read from L2 once per token
 * group, and each activation element is read from memory once per panel.
 */
#include "gemm_f32.h"

#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static int env_off(const char *name) {
    const char *v = getenv(name);
    return v && strcmp(v, "0") == 0;
}

int qk_gemm_f32_supported(int level) {
#if defined(__x86_64__)
    if (level == QK_GEMM_F32_AVX512) return qk_cpu_has_avx512vnni();
    if (level == QK_GEMM_F32_AVX2) return qk_cpu_has_avx2();
#else
    (void)level;
#endif
    return 0;
}

int qk_gemm_f32_level(void) {
    static int cached = -1;
    if (cached < 0) {
        if (env_off("QK_GEMM_F32"))
            cached = QK_GEMM_F32_NONE;
        else if (qk_gemm_f32_supported(QK_GEMM_F32_AVX512))
            cached = QK_GEMM_F32_AVX512;
        else if (qk_gemm_f32_supported(QK_GEMM_F32_AVX2))
            cached = QK_GEMM_F32_AVX2;
        else
            cached = QK_GEMM_F32_NONE;
    }
    return cached;
}

static int kernels(int level, qk_gemm_f32_kernels *ks) {
    if (!qk_gemm_f32_supported(level)) return -1;
#if defined(__x86_64__)
    if (level == QK_GEMM_F32_AVX512)
        qk_gemm_f32_get_avx512(ks);
    else
        qk_gemm_f32_get_avx2(ks);
    return 0;
#else
    (void)ks;
    return -1;
#endif
}

int qk_gemm_f32_strip(int level) {
    qk_gemm_f32_kernels ks;
    return kernels(level, &ks) ? 0 : ks.strip;
}

int qk_gemm_f32_tokens(int level) {
    qk_gemm_f32_kernels ks;
    return kernels(level, &ks) ? 0 : ks.tokens;
}

/* Scratch layout (floats): 16 for alignment, the packed panel (PANEL_FLOATS), the
 * padded activations of a last, partial token group (N x KC), the to_float rows of one
 * strip (S x KC). The largest S and N of any kernel set are used. */
#define MAX_STRIP 32
#define MAX_TOKENS 12
#define PANEL_FLOATS ((size_t)QK_GEMM_F32_PANEL_FLOATS)
#define XT_FLOATS ((size_t)MAX_TOKENS * QK_GEMM_F32_KC)
#define TMP_FLOATS ((size_t)MAX_STRIP * QK_GEMM_F32_KC)

int64_t qk_gemm_f32_panel_rows(int64_t k) {
    const int64_t kc = k < QK_GEMM_F32_KC ? (k > 0 ? k : 1) : QK_GEMM_F32_KC;
    const int64_t rows = QK_GEMM_F32_PANEL_FLOATS / kc / 32 * 32;
    return rows < QK_GEMM_F32_PANEL_ROWS_MIN   ? QK_GEMM_F32_PANEL_ROWS_MIN
           : rows > QK_GEMM_F32_PANEL_ROWS_MAX ? QK_GEMM_F32_PANEL_ROWS_MAX
                                               : rows;
}

size_t qk_gemm_f32_scratch_floats(int level) {
    (void)level;
    return 16 + PANEL_FLOATS + XT_FLOATS + TMP_FLOATS;
}

int qk_gemm_f32(int level, qk_type wtype, const void *w, size_t w_row, int64_t n, int64_t k, const float *x,
                size_t ldx, int64_t m, float *y, size_t ldy, float *scratch) {
    qk_gemm_f32_kernels ks;
    const qk_type_traits *tt = qk_type_get(wtype);
    if (!tt || !tt->to_float || kernels(level, &ks)) return -1;
    const int S = ks.strip, N = ks.tokens;
    float *panel = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *xt = panel + PANEL_FLOATS, *tmp = xt + XT_FLOATS;
    const uint8_t *wb = (const uint8_t *)w;

    const int64_t pr = qk_gemm_f32_panel_rows(k);
    for (int64_t r0 = 0; r0 < n; r0 += pr) {
        const int64_t rn = n - r0 < pr ? n - r0 : pr;
        for (int64_t kb = 0; kb < k; kb += QK_GEMM_F32_KC) {
            const int kc = (int)(k - kb < QK_GEMM_F32_KC ? k - kb : QK_GEMM_F32_KC);
            for (int64_t s = 0; s < rn; s += S) {
                const int nr = (int)(rn - s < S ? rn - s : S);
                ks.pack(tt, wtype, wb + (size_t)(r0 + s) * w_row, w_row, nr, kb, kc, panel + (size_t)s * (size_t)kc, tmp);
            }
            for (int64_t c0 = 0; c0 < m; c0 += N) {
                const int nt = (int)(m - c0 < N ? m - c0 : N);
                const float *xb = x + (size_t)c0 * ldx + kb;
                size_t lx = ldx;
                qk_gemm_f32_kern_fn kern = ks.kern;
                int width = N;
                for (int i = 0; i < ks.n_tail; i++)
                    if (nt <= ks.tail_tokens[i]) {
                        kern = ks.tail[i];
                        width = ks.tail_tokens[i];
                    }
                if (nt < width) {
                    /* last, partial group: its rows and width - nt rows of zeros */
                    memset(xt, 0, sizeof(float) * (size_t)width * (size_t)kc);
                    for (int t = 0; t < nt; t++) memcpy(xt + (size_t)t * kc, xb + (size_t)t * ldx, sizeof(float) * (size_t)kc);
                    xb = xt;
                    lx = (size_t)kc;
                }
                float *yb = y + (size_t)c0 * ldy + r0;
                for (int64_t s = 0; s < rn; s += S) {
                    const int nr = (int)(rn - s < S ? rn - s : S);
                    kern(kc, panel + (size_t)s * (size_t)kc, xb, lx, yb + s, ldy, nr, nt, kb > 0);
                }
            }
        }
    }
    return 0;
}
