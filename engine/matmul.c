/*
 * matmul.c — weight × activation products (see matmul.h): path choice per type and
 * token count, activation conversion, the vec_dot and dequantize + sgemm paths.
 *
 * One call is one pool job: (1) the activations are converted to vec_dot_type — for a
 * few tokens every thread converts all of them into its own buffer (no barrier at all),
 * else the threads share the work and meet at qk_pool_barrier; a call with same_x whose
 * layout matches the last shared conversion skips this step; (2) vec_dot path: thread
 * ith computes the contiguous output rows [n·ith/nth, n·(ith+1)/nth) — measured faster
 * than handing out chunks of rows from a shared counter (each chunk restarts the hardware
 * prefetcher: 3–9% slower at m = 1); sgemm path: the rows are cut into equal tiles that
 * the threads take from a shared counter (a tile is milliseconds of work, so taking one
 * costs nothing); with qkit's GEMM (gemm_f32.h) the tiles are whole strips of rows, the
 * same number per thread, and with several threads the last nth tiles are each taken as
 * two halves of the tokens, so that the threads finish within about half a tile of each
 * other (both halves pack the tile's weights); gemm path: each thread packs a tile of
 * rows and multiplies it with every token, the tiles shrinking towards the end
 * (next_gemm_rows).
 *
 * Invariants: the weight bytes are never modified; converted activations are read only
 * after the barrier (or only by the thread that wrote them); every output element is
 * written by exactly one thread. On the vec_dot path each element is one vec_dot call on
 * the same bytes whatever the thread count (or a vec_dot4 call for four rows at once,
 * which gives the same bits), so results do not depend on it.
 */
#include "matmul.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "gemm_f32.h"
#include "scratch.h"

/* Up to this many activation elements (m·k), every thread converts all of them into its
 * own buffer: well under a microsecond of duplicated work instead of a barrier. */
#define PRIVATE_CONVERT_MAX (8 * 1024)

/* Token count from which the sgemm path wins, per weight type (0: the default below).
 * Measured with `qk-matmul-bench --clock cpu -r 7 --min-ms 5 -t 1` on the development
 * machine (2-core Xeon VM with AVX-512, qkit's AVX2 kernels, OpenBLAS 0.3.21 SKYLAKEX
 * sgemm, 4 Mi-float tiles), Qwen2.5-0.5B FFN shapes (896x4864 and 4864x896; K-quants
 * 4864x896 only). vec_dot runs at a flat GFLOP/s rate from m = 2 on (its kernels are
 * compute-bound: each weight row stays in L1, the activations in L2), while sgemm gains
 * ~2.6 GFLOP/s per token up to m ≈ 64 (dequantizing and packing the tile is paid once
 * per call) and reaches 120–160 GFLOP/s at m = 512. The switch is the first measured m
 * (steps of 4) at which sgemm is at least as fast, so it lands where the type's vec_dot
 * rate (GFLOP/s, in brackets) is met:
 *   F32 [26] 8, BF16 [28] 12, F16 [39] 16, Q5_0 [40] 16, Q5_1 [37] 16, Q4_0 [48] 20,
 *   Q4_1 [51] 24, Q8_0 [56] 24, IQ4_NL [51] 24, Q3_K [55] 28, Q5_K [54] 28,
 *   Q6_K [60] 28, Q2_K [77] 40, Q4_K [74] 48.
 * Two threads split both paths' rows alike, so the same points are used for any count.
 * On AVX2 machines the sgemm path now runs qkit's own GEMM (gemm_f32.h), which is faster
 * than that sgemm at small m too (F16, m = 8: about 1.5x vec_dot), so these points are
 * conservative there; they are kept until remeasured on a quiet machine. */
#define BLAS_MIN_M_DEFAULT 32
static const int64_t blas_min_m[QK_TYPE_COUNT] = {
    [QK_TYPE_F32] = 8,     [QK_TYPE_BF16] = 12,   [QK_TYPE_F16] = 16,  [QK_TYPE_Q5_0] = 16,
    [QK_TYPE_Q5_1] = 16,   [QK_TYPE_Q4_0] = 20,   [QK_TYPE_Q4_1] = 24, [QK_TYPE_Q8_0] = 24,
    [QK_TYPE_IQ4_NL] = 24, [QK_TYPE_Q3_K] = 28,   [QK_TYPE_Q5_K] = 28, [QK_TYPE_Q6_K] = 28,
    [QK_TYPE_Q2_K] = 40,   [QK_TYPE_Q4_K] = 48,
};

int64_t qk_matmul_blas_min_m(qk_type t) {
    if ((unsigned)t >= QK_TYPE_COUNT) return INT64_MAX;
    return blas_min_m[t] ? blas_min_m[t] : BLAS_MIN_M_DEFAULT;
}

/* Token count from which the integer gemm path wins over vec_dot (types with a gemm
 * kernel). Measured with `qk-matmul-bench --clock cpu -t 1` (2-core AMD EPYC with AVX-512
 * VNNI, VNNI gemm kernels, AVX2 packers): K-quants on 4864x896, gemm faster than vec_dot
 * from m = 4 for every K-quant (Q4_K 75.9 vs 65.1 GFLOP/s at m = 4, 50.5 vs 74.3 at m = 2;
 * at m = 3 it wins for Q2_K/Q5_K/Q6_K only); the 32-element types on 896x4864 and
 * 4864x896, gemm faster from m = 3 for all six (at m = 2 it loses for Q4_0, Q5_0, Q8_0). */
#define GEMM_MIN_M_K 4
#define GEMM_MIN_M_LEGACY 3
/* K-quants on the AVX-512 VNNI 16-row layout (gemm_k_vnni.c), same measurement: its
 * packing (decode + interleave of 16 rows) is paid per call, so it overtakes vec_dot later
 * (m = 8: Q4_K 55 vs 63 GFLOP/s; m = 12: Q4_K 78 vs 62, Q6_K 94 vs 58, Q2_K 120 vs 89) and
 * runs 2x the row kernels' rate at m = 512. */
#define GEMM_MIN_M_K16 12

int64_t qk_matmul_gemm_min_m(qk_type t) {
    const qk_type_traits *tt = qk_type_get(t);
    if (!tt || !tt->gemm) return INT64_MAX;
    if (tt->blck_size == 32) return GEMM_MIN_M_LEGACY;
    return tt->gemm_pack_rows > 1 ? GEMM_MIN_M_K16 : GEMM_MIN_M_K;
}

qk_matmul_path qk_matmul_choose(qk_type t, int64_t m, int64_t k) {
    if (k < QK_MATMUL_SGEMM_MIN_K) return QK_MATMUL_VEC_DOT;
    const int64_t gm = qk_matmul_gemm_min_m(t);
    if (gm != INT64_MAX) return m >= gm ? QK_MATMUL_GEMM : QK_MATMUL_VEC_DOT;
    return m >= qk_matmul_blas_min_m(t) ? QK_MATMUL_SGEMM : QK_MATMUL_VEC_DOT;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef struct mm_job {
    qk_pool *pool;
    const qk_type_traits *tt; /* weight type */
    const qk_type_traits *vt; /* its vec_dot_type */
    const uint8_t *w;
    size_t w_row;            /* bytes per weight row */
    const float *x;          /* [m][k] */
    int64_t k, n, m;
    uint8_t *xq;             /* [m][xq_row] converted activations (not written when xf_only) */
    size_t xq_row;           /* 0: no conversion (F32 activations as they are) */
    int private_xq;          /* thread ith converts all rows into xq + ith·m·xq_row */
    int reuse_xq;            /* xq already holds this call's activations (same_x) */
    const float *xa;         /* [m][k] F32 activations for sgemm (xf, or x when no conversion); NULL: vec_dot */
    float *xf;               /* [m][k] written during the conversion (from xq, or by round_act); NULL: not needed */
    int xf_only;             /* xf written by vt->round_act straight from x; xq not written */
    float *wf;               /* tile_rows·k floats per thread; NULL: W used in place (F32) */
    qk_type wtype;
    int own;                 /* sgemm path with qkit's GEMM: its kernel set (gemm_f32.h), wf its
                              * per-thread scratch; 0: cblas_sgemm */
    int gemm_act;            /* xq rows are in the type's gemm_act layout (gemm path) */
    uint8_t *wp;             /* gemm path: wp_tile bytes per thread (64-aligned); NULL: other paths */
    size_t wp_group;         /* bytes of one packed group of gemm_pack_rows weight rows */
    size_t wp_tile;          /* bytes of one packed tile */
    int64_t tile_rows;       /* sgemm and gemm paths: output rows per tile (gemm: the most) */
    int64_t n_tiles;         /* sgemm path */
    int64_t n_whole;         /* sgemm path: tiles taken with all tokens; each later one is two
                              * units, tokens [0, m_half) and [m_half, m) */
    int64_t m_half;
    atomic_llong next_tile;  /* sgemm path: the next unit (a whole tile, or the half of one);
                              * units below nth are taken by thread ith at the start */
    int64_t step;            /* gemm path: tiles are a multiple of this many rows */
    atomic_llong next_row;   /* gemm path: the first row no thread has taken yet */
    float *y;                /* [m][n] */
} mm_job;

/* Blocks per step of the gemm_act conversion (through a stack buffer). */
#define ACT_CHUNK 64

/* Activation rows [i0, i1), blocks [b0, b1) of each, in gemm_act layout into xq:
 * quantize_act into a stack buffer, then gemm_act. */
static void convert_part_gemm(const mm_job *j, uint8_t *xq, int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
    _Alignas(64) uint8_t tmp[ACT_CHUNK * 64];
    const int64_t k = j->k, bs = j->vt->blck_size;
    if (j->vt->type_size > 64) abort(); /* no vec_dot_type with a gemm_act has larger blocks */
    for (int64_t i = i0; i < i1; i++)
        for (int64_t c = b0; c < b1; c += ACT_CHUNK) {
            const int64_t e = c + ACT_CHUNK < b1 ? c + ACT_CHUNK : b1;
            j->vt->quantize_act(j->x + i * k + c * bs, tmp, (e - c) * bs);
            j->tt->gemm_act(tmp, xq + (size_t)i * j->xq_row + (size_t)c * j->tt->gemm_act_bsize, (e - c) * bs);
        }
}

/* Convert activation rows [i0, i1), blocks [b0, b1) of each, into xq (and xf). The
 * converters work block by block, so a block range gives the bytes of a whole row. */
static void convert_part(const mm_job *j, uint8_t *xq, int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
    const int64_t k = j->k, bs = j->vt->blck_size;
    if (j->gemm_act) {
        convert_part_gemm(j, xq, i0, i1, b0, b1);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        if (j->xf_only) {
            j->vt->round_act(j->x + i * k + b0 * bs, j->xf + i * k + b0 * bs, (b1 - b0) * bs);
            continue;
        }
        uint8_t *q = xq + (size_t)i * j->xq_row + (size_t)b0 * j->vt->type_size;
        j->vt->quantize_act(j->x + i * k + b0 * bs, q, (b1 - b0) * bs);
        if (j->xf) j->vt->to_float(q, j->xf + i * k + b0 * bs, (b1 - b0) * bs);
    }
}

/* Returns the activation bytes this thread reads. */
static const uint8_t *convert(mm_job *j, int ith, int nth) {
    const int64_t nb = j->k / j->vt->blck_size;
    if (j->private_xq) {
        uint8_t *xq = j->xq + (size_t)ith * (size_t)j->m * j->xq_row;
        convert_part(j, xq, 0, j->m, 0, nb);
        return xq;
    }
    if (j->m >= nth) convert_part(j, j->xq, j->m * ith / nth, j->m * (ith + 1) / nth, 0, nb);
    else if (nb * ith / nth < nb * (ith + 1) / nth) convert_part(j, j->xq, 0, j->m, nb * ith / nth, nb * (ith + 1) / nth);
    qk_pool_barrier(j->pool);
    return j->xq;
}

/* vec_dot path: rows [r0, r1), every token; each weight row is read from memory once
 * and stays in L1 while the m activation rows (L1/L2) stream past it. */
static void dot_rows(const mm_job *j, const uint8_t *xq, size_t xrow, int64_t r0, int64_t r1) {
    const qk_vec_dot_fn dot = j->tt->vec_dot;
    const qk_vec_dot4_fn dot4 = j->tt->vec_dot4;
    const int k = (int)j->k;
    const int64_t m = j->m, n = j->n;
    int64_t r = r0;
    if (dot4)
        for (; r + 4 <= r1; r += 4) {
            const uint8_t *wr = j->w + (size_t)r * j->w_row;
            for (int64_t i = 0; i < m; i++) dot4(k, &j->y[i * n + r], wr, j->w_row, xq + (size_t)i * xrow);
        }
    for (; r < r1; r++) {
        const uint8_t *wr = j->w + (size_t)r * j->w_row;
        for (int64_t i = 0; i < m; i++) dot(k, &j->y[i * n + r], wr, xq + (size_t)i * xrow);
    }
}

/* sgemm path: rows [r0, r1) as one tile, dequantized into wf (W in place for F32), or
 * tokens [t0, t1) of it by qkit's GEMM with wf as its scratch. */
static void gemm_rows(const mm_job *j, float *wf, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
    const int64_t k = j->k, t = r1 - r0;
    if (j->own) {
        qk_gemm_f32(j->own, j->wtype, j->w + (size_t)r0 * j->w_row, j->w_row, t, k, j->xa + t0 * k, (size_t)k,
                    t1 - t0, j->y + t0 * j->n + r0, (size_t)j->n, wf);
        return;
    }
    const float *wt = (const float *)j->w + r0 * k;
    if (wf) {
        for (int64_t i = 0; i < t; i++) j->tt->to_float(j->w + (size_t)(r0 + i) * j->w_row, wf + i * k, k);
        wt = wf;
    }
    /* Y[:, r0:r1] = Xf · Wtᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->m, (int)t, (int)k, 1.0f, j->xa, (int)k, wt, (int)k,
                0.0f, j->y + r0, (int)j->n);
}

/* gemm path: the next rows [*r0, *r1) for a thread to take; 0 when none are left.
 * Guided: with several threads a tile is a share of the rows left (their half split
 * among the threads, in whole steps, at most tile_rows), so the last tiles are small and
 * the threads finish within one step's work of each other, even on cores of unequal
 * speed. A row's result does not depend on its tile. */
static int next_gemm_rows(mm_job *j, int nth, int64_t *r0, int64_t *r1) {
    long long cur = atomic_load_explicit(&j->next_row, memory_order_relaxed);
    for (;;) {
        const int64_t left = j->n - cur;
        if (left <= 0) return 0;
        int64_t t = nth > 1 ? cdiv(left, 2 * nth * j->step) * j->step : j->tile_rows;
        if (t > j->tile_rows) t = j->tile_rows;
        if (atomic_compare_exchange_weak_explicit(&j->next_row, &cur, cur + t, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *r0 = cur;
            *r1 = cur + t < j->n ? cur + t : j->n;
            return 1;
        }
    }
}

/* gemm path: rows [r0, r1) packed into wp, then multiplied with every token. */
static void int_gemm_rows(const mm_job *j, uint8_t *wp, const uint8_t *xq, int64_t r0, int64_t r1) {
    j->tt->gemm_pack(j->w + (size_t)r0 * j->w_row, j->w_row, (int)(r1 - r0), wp, j->k);
    j->tt->gemm((int)j->k, (int)(r1 - r0), (int)j->m, j->y + r0, (size_t)j->n, wp, j->wp_group, xq, j->xq_row);
}

static void mm_task(void *arg, int ith, int nth) {
    mm_job *j = arg;
    const uint8_t *xq = (const uint8_t *)j->x;
    size_t xrow = (size_t)j->k * sizeof(float);
    if (j->xq_row) {
        xq = j->reuse_xq ? j->xq : convert(j, ith, nth);
        xrow = j->xq_row;
    }
    if (j->wp) {
        uint8_t *wp = j->wp + (size_t)ith * j->wp_tile;
        int64_t r0, r1;
        while (next_gemm_rows(j, nth, &r0, &r1)) int_gemm_rows(j, wp, xq, r0, r1);
        return;
    }
    if (!j->xa) {
        dot_rows(j, xq, xrow, j->n * ith / nth, j->n * (ith + 1) / nth);
        return;
    }
    if (j->own) {
        /* tile c: strips [ns·c/n_tiles, ns·(c+1)/n_tiles) of tile_rows (the strip width)
         * rows each, so that the threads get equal numbers of strips */
        float *wf = j->wf + (size_t)ith * qk_gemm_f32_scratch_floats(j->own);
        const int64_t ns = cdiv(j->n, j->tile_rows), n_units = j->n_whole + 2 * (j->n_tiles - j->n_whole);
        for (int64_t u = ith; u < n_units; u = atomic_fetch_add_explicit(&j->next_tile, 1, memory_order_relaxed)) {
            const int64_t c = u < j->n_whole ? u : j->n_whole + (u - j->n_whole) / 2;
            const int64_t r0 = ns * c / j->n_tiles * j->tile_rows, e = ns * (c + 1) / j->n_tiles * j->tile_rows;
            if (r0 >= e) continue;
            const int64_t r1 = e < j->n ? e : j->n;
            if (u < j->n_whole)
                gemm_rows(j, wf, r0, r1, 0, j->m);
            else if ((u - j->n_whole) % 2 == 0)
                gemm_rows(j, wf, r0, r1, 0, j->m_half);
            else
                gemm_rows(j, wf, r0, r1, j->m_half, j->m);
        }
        return;
    }
    float *wf = j->wf ? j->wf + (size_t)ith * (size_t)(j->tile_rows * j->k) : NULL;
    for (int64_t c = ith; c < j->n_tiles; c = atomic_fetch_add_explicit(&j->next_tile, 1, memory_order_relaxed)) {
        const int64_t r0 = c * j->tile_rows, r1 = r0 + j->tile_rows < j->n ? r0 + j->tile_rows : j->n;
        gemm_rows(j, wf, r0, r1, 0, j->m);
    }
}

/* OpenBLAS runs single-threaded in this process: the pool provides the parallelism. Set on
 * the first matmul whatever path it takes, since attention.c's sgemm calls (made on pool
 * threads) need it too: with every matmul of a model on the vec_dot or gemm path, an
 * OpenBLAS left at its default thread count oversubscribes the cores inside attention
 * (20x slower attention at pp512 with 2 threads). */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_threaded(void) { openblas_set_num_threads(1); }

int qk_matmul(qk_pool *pool, qk_matmul_scratch *s, qk_type wtype, const void *w, int64_t k, int64_t n,
              const float *x, int64_t m, float *y) {
    const qk_type_traits *tt = qk_type_get(wtype);
    const int nth = qk_pool_size(pool);
    pthread_once(&blas_once, blas_single_threaded);
    int path = s->force_path ? s->force_path : (int)qk_matmul_choose(wtype, m, k);
    if (path == QK_MATMUL_GEMM && !tt->gemm) path = QK_MATMUL_VEC_DOT;
    mm_job job = {0}, *j = &job;
    j->pool = pool;
    j->tt = tt;
    j->vt = qk_type_get(tt->vec_dot_type);
    j->w = w;
    j->w_row = qk_row_size(wtype, k);
    j->x = x;
    j->k = k;
    j->n = n;
    j->m = m;
    j->y = y;
    j->wtype = wtype;
    /* what xq will hold (xq_key), set when the call is about to run: a call that fails
     * leaves no key behind */
    int key_valid = 0, key_xq = 0, key_xf = 0;
    qk_gemm_act_fn act = NULL;
    if (tt->vec_dot_type != QK_TYPE_F32) {
        j->gemm_act = path == QK_MATMUL_GEMM && tt->gemm_act;
        j->xq_row = j->gemm_act ? (size_t)(k / tt->blck_size) * tt->gemm_act_bsize : qk_row_size(tt->vec_dot_type, k);
        j->private_xq = nth > 1 && path == QK_MATMUL_VEC_DOT && m * k <= PRIVATE_CONVERT_MAX;
        /* the previous call's conversion, when X and the wanted layout are the same (xq
         * and xf keep their sizes then, so they are not reallocated); the sgemm path also
         * needs xf */
        act = j->gemm_act ? tt->gemm_act : NULL;
        j->reuse_xq = s->same_x && s->xq_key.valid && !j->private_xq &&
                      (path == QK_MATMUL_SGEMM ? s->xq_key.xf : s->xq_key.xq) && s->xq_key.vt == tt->vec_dot_type &&
                      s->xq_key.act == act && s->xq_key.m == m && s->xq_key.k == k;
        /* the sgemm path reads only xf: where the type rounds in one pass, xq is skipped */
        j->xf_only = path == QK_MATMUL_SGEMM && !j->reuse_xq && j->vt->round_act;
        key_valid = !j->private_xq;
        key_xq = j->reuse_xq ? s->xq_key.xq : !j->xf_only;
        key_xf = j->reuse_xq ? s->xq_key.xf : path == QK_MATMUL_SGEMM;
    }
    s->xq_key.valid = 0;
    if (j->xq_row) {
        if (!j->reuse_xq && !j->xf_only &&
            qk_scratch_grow(&s->xq, &s->xq_size, j->xq_row * (size_t)m * (size_t)(j->private_xq ? nth : 1)))
            return -1;
        j->xq = s->xq;
    }
    if (path == QK_MATMUL_SGEMM) {
        if (j->xq_row) {
            if (!j->reuse_xq) {
                if (qk_scratch_grow((void **)&s->xf, &s->xf_size, sizeof(float) * (size_t)(m * k))) return -1;
                j->xf = s->xf;
            }
            j->xa = s->xf;
        } else {
            j->xa = x;
        }
        j->own = qk_gemm_f32_level();
    }
    if (path == QK_MATMUL_SGEMM && j->own) {
        /* qkit's GEMM: tiles of whole strips, at most about one panel's rows
         * (or tile_floats / k when set), the same number per thread */
        const int64_t strip = qk_gemm_f32_strip(j->own), ns = cdiv(n, strip);
        int64_t per = qk_gemm_f32_panel_rows(k) / strip;
        if (s->tile_floats > 0) per = s->tile_floats / k / strip > 1 ? s->tile_floats / k / strip : 1;
        j->tile_rows = strip;
        j->n_tiles = cdiv(cdiv(ns, per), nth) * nth;
        if (j->n_tiles > ns) j->n_tiles = ns;
        /* the last nth tiles in token halves, split at a whole kernel group, where both
         * halves have at least one group */
        const int64_t g = qk_gemm_f32_tokens(j->own);
        j->m_half = cdiv(cdiv(m, g), 2) * g;
        j->n_whole = j->n_tiles;
        if (nth > 1 && j->m_half < m) j->n_whole = j->n_tiles > nth ? j->n_tiles - nth : 0;
        const size_t need = sizeof(float) * qk_gemm_f32_scratch_floats(j->own) * (size_t)nth;
        if (qk_scratch_grow((void **)&s->wf, &s->wf_size, need)) return -1;
        j->wf = s->wf;
    } else if (path == QK_MATMUL_SGEMM) {
        /* tiles of at most about tile_floats floats (at least 16 rows), the same number
         * per thread; F32 weights need no tile: one sgemm per thread */
        const int64_t tf = s->tile_floats > 0 ? s->tile_floats : QK_MATMUL_TILE_FLOATS;
        int64_t nt = wtype == QK_TYPE_F32 ? 1 : cdiv(n, tf / k > 16 ? tf / k : 16);
        nt = cdiv(nt, nth) * nth;
        j->tile_rows = cdiv(n, nt);
        j->n_tiles = cdiv(n, j->tile_rows);
        if (wtype != QK_TYPE_F32) {
            size_t need = sizeof(float) * (size_t)(j->tile_rows * k) * (size_t)nth;
            if (qk_scratch_grow((void **)&s->wf, &s->wf_size, need)) return -1;
            j->wf = s->wf;
        }
    }
    if (path == QK_MATMUL_GEMM) {
        /* tiles of at most QK_MATMUL_GEMM_TILE_BYTES packed bytes (or two packed groups), a
         * multiple of 4 rows and of two packed groups (the AVX-512 kernels' widest tile),
         * and at least 4 tiles per thread where n allows (next_gemm_rows hands them out) */
        const int64_t g = tt->gemm_pack_rows, step = g > 4 ? 2 * g : 4;
        j->wp_group = (size_t)(k / tt->blck_size) * tt->gemm_pack_bsize;
        int64_t tr = (int64_t)(QK_MATMUL_GEMM_TILE_BYTES / j->wp_group) * g;
        const int64_t per = cdiv(n, 4 * (int64_t)nth);
        if (tr > per) tr = per;
        tr = tr < step ? step : tr / step * step;
        j->tile_rows = tr;
        j->step = step;
        j->wp_tile = (size_t)cdiv(tr, g) * j->wp_group;
        const size_t need = j->wp_tile * (size_t)nth + 64;
        if (qk_scratch_grow(&s->wp, &s->wp_size, need)) return -1;
        j->wp = (uint8_t *)(((uintptr_t)s->wp + 63) & ~(uintptr_t)63);
    }
    s->xq_key.valid = key_valid;
    s->xq_key.xq = key_xq;
    s->xq_key.xf = key_xf;
    s->xq_key.vt = tt->vec_dot_type;
    s->xq_key.act = act;
    s->xq_key.m = m;
    s->xq_key.k = k;
    atomic_init(&j->next_tile, nth);
    atomic_init(&j->next_row, 0);
    qk_pool_run(pool, mm_task, j);
    return 0;
}

void qk_matmul_scratch_free(qk_matmul_scratch *s) {
    free(s->xq);
    free(s->xf);
    free(s->wf);
    free(s->wp);
    *s = (qk_matmul_scratch){0};
}
