/*
 * attention.c — causal attention over the F16 KV cache (see attention.h).
 *
 * Work is split into tasks of one head of one sequence. With few batch tokens of the
 * sequence (generation), a task takes them all: S comes from the F16 dot product of each
 * cache row with Q in F16 (the type table's vec_dot, as ggml's batch-1 mul_mat) and
 * O = P·V from multiply-adds of the F16 V rows (pv_f16), with nothing expanded: measured
 * on Qwen2.5-0.5B-shaped tg128, 61 -> 20 us per layer at 2 threads. With many (prompt
 * processing), the threads first expand the sequence's K and V rows to F32 once per kv
 * head (the heads of a GQA group share them), then each task takes a block of tokens and
 * several heads of one group, stacked as the rows of Q, and computes S = Q·Kᵀ and O = P·V
 * with qkit's FP32 GEMM (gemm_f32.h; OpenBLAS sgemm without AVX2) over the positions
 * 0..L-1 up to the block's largest one only: causal masking leaves the rest zero, so a
 * prompt costs about half of the full square. Every row's products run in the same order
 * whatever the stacking, so the results do not depend on it. Tasks are taken from a
 * counter, largest L first. Keys beyond a token's own position are masked out (never read).
 */
#include "attention.h"

#include "cpu.h"
#include "gemm_f32.h"
#include "scratch.h"
#include "types.h"
#include "vexp.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quants_avx2_common.h"
#include "transpose_avx2.h"
#endif

/* pv_f16 rounds each product and each sum: no contraction into FMA (the engine is built
 * with -ffp-contract=off, CMakeLists.txt). */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_MIN_TOKENS 8

/* y = x rounded to F16 and back (n elements; y may equal x; tmp: n halves). */
static void round_f16(const qk_type_traits *f16, const float *x, float *y, int n, qk_half *tmp) {
    if (f16->round_act) {
        f16->round_act(x, y, n);
        return;
    }
    f16->from_float(x, tmp, n);
    f16->to_float(tmp, y, n);
}

/* o[d] = Σ_t p[t] · v_t[d] over t = 0..n_t-1 for d < hd, v_t = F16 row t (v_stride
 * halves apart): each product and each sum rounded separately, the sum in t order from
 * 0 (so the AVX2 and scalar versions give the same bits). The AVX2 version keeps 32
 * outputs in registers across all rows instead of loading and storing o per row. */
typedef void (*pv_f16_fn)(int hd, int n_t, float *o, const qk_half *v, size_t v_stride, const float *p);

static void pv_f16_scalar(int hd, int n_t, float *o, const qk_half *v, size_t v_stride, const float *p) {
    for (int d = 0; d < hd; d++) {
        float acc = 0.0f;
        for (int t = 0; t < n_t; t++) acc += p[t] * qk_half_to_float(v[(size_t)t * v_stride + d]);
        o[d] = acc;
    }
}

#if defined(__x86_64__) || defined(__i386__)
QK_AVX2 static inline __m256 mad8(__m256 acc, __m256 pt, const qk_half *x) {
    return _mm256_add_ps(acc, _mm256_mul_ps(pt, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x))));
}

QK_AVX2 static void pv_f16_avx2(int hd, int n_t, float *o, const qk_half *v, size_t v_stride, const float *p) {
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < n_t; t++) {
            const __m256 pt = _mm256_set1_ps(p[t]);
            const qk_half *x = v + (size_t)t * v_stride + d;
            a0 = mad8(a0, pt, x);
            a1 = mad8(a1, pt, x + 8);
            a2 = mad8(a2, pt, x + 16);
            a3 = mad8(a3, pt, x + 24);
        }
        _mm256_storeu_ps(o + d, a0);
        _mm256_storeu_ps(o + d + 8, a1);
        _mm256_storeu_ps(o + d + 16, a2);
        _mm256_storeu_ps(o + d + 24, a3);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int t = 0; t < n_t; t++) a0 = mad8(a0, _mm256_set1_ps(p[t]), v + (size_t)t * v_stride + d);
        _mm256_storeu_ps(o + d, a0);
    }
    if (d < hd) pv_f16_scalar(hd - d, n_t, o + d, v + d, v_stride, p);
}

/* row[t] *= scale for t < n; returns the largest product (-inf for n = 0). The same bits
 * as the scalar loop: each product is one rounding, and the maximum does not depend on
 * the order it is taken in (no NaN reaches the softmax: the engine checks the logits). */
QK_AVX2 static float scale_max_avx2(float *row, int n, float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + t), vs);
        _mm256_storeu_ps(row + t, v);
        vm = _mm256_max_ps(vm, v);
    }
    float lanes[8], max = -INFINITY;
    _mm256_storeu_ps(lanes, vm);
    for (int l = 0; l < 8; l++) max = lanes[l] > max ? lanes[l] : max;
    for (; t < n; t++) {
        row[t] *= scale;
        if (row[t] > max) max = row[t];
    }
    return max;
}

/* row[t] = F16 rounding of row[t]·f for t < n, in one pass: the bits of scale_row and then
 * round_f16 (F16C's round-to-nearest-even; the probabilities are finite). */
QK_AVX2 static void scale_round_f16_avx2(float *row, int n, float f) {
    const __m256 vf = _mm256_set1_ps(f);
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(row + t), vf), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(row + t, _mm256_cvtph_ps(h));
    }
    for (; t < n; t++) row[t] = qk_half_to_float(qk_float_to_half(row[t] * f));
}

/* scale_max_avx2's operations on 16 lanes, the last group masked (the same bits). */
QK_AVX512F static float scale_max_avx512(float *row, int n, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vm = _mm512_set1_ps(-INFINITY);
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = n - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - t)) - 1);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + t), vs);
        _mm512_mask_storeu_ps(row + t, k, v);
        vm = _mm512_mask_max_ps(vm, k, vm, v);
    }
    return _mm512_reduce_max_ps(vm);
}

/* scale_round_f16_avx2's operations on 16 lanes, the last group masked (the same bits). */
QK_AVX512F static void scale_round_f16_avx512(float *row, int n, float f) {
    const __m512 vf = _mm512_set1_ps(f);
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = n - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - t)) - 1);
        const __m256i h = _mm512_cvtps_ph(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + t), vf), _MM_FROUND_TO_NEAREST_INT);
        _mm512_mask_storeu_ps(row + t, k, _mm512_cvtph_ps(h));
    }
}
#endif

static float scale_max(float *row, int n, float scale) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx512vnni()) return scale_max_avx512(row, n, scale);
    if (qk_cpu_has_avx2()) return scale_max_avx2(row, n, scale);
#endif
    float max = -INFINITY;
    for (int t = 0; t < n; t++) {
        row[t] *= scale;
        if (row[t] > max) max = row[t];
    }
    return max;
}

/* row[t] = row[t]·f rounded to F16 and back, t < n (tmp: n halves). */
static void scale_round_f16(const qk_type_traits *f16, float *row, int n, float f, qk_half *tmp) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx512vnni()) {
        scale_round_f16_avx512(row, n, f);
        return;
    }
    if (qk_cpu_has_avx2()) {
        scale_round_f16_avx2(row, n, f);
        return;
    }
#endif
    for (int t = 0; t < n; t++) row[t] *= f;
    round_f16(f16, row, row, n, tmp);
}

/* The version for this CPU (chosen once per task, not per row). */
static pv_f16_fn pv_f16_pick(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx2()) return pv_f16_avx2;
#endif
    return pv_f16_scalar;
}

/* Batch-path tasks take the heads of a GQA group together, so that the group's K and V
 * are packed once for all of them (qkit's GEMM packs its weight operand per call) and the
 * products see nh·m query rows: up to Q_ROWS rows (S is Q_ROWS x L floats, 512 KiB at
 * L = 512), at most Q_BLOCK tokens, and fewer heads per task where the tasks would be too
 * few for the threads. */
#define Q_ROWS 256
#define Q_BLOCK 64

/* One task: heads [h0, h0 + nh) (one kv head's) of sequence si, the sequence's batch
 * tokens [i0, i1) (indices into its slice of order), whose largest position is L - 1. */
typedef struct attn_unit {
    int32_t si, h0, nh, i0, i1, L;
} attn_unit;

typedef struct attn_job {
    qk_pool *pool;
    const qk_attn_args *a;
    qk_attn_scratch *s;
    int n_seqs;             /* distinct sequences in the batch */
    const int32_t *seq_ids; /* [n_seqs] */
    const int32_t *order;   /* batch indices grouped by sequence */
    const int32_t *start;   /* [n_seqs + 1] offsets into order */
    const int32_t *L;       /* [n_seqs] 1 + the largest position of the sequence's tokens */
    const size_t *kv_off;   /* [n_seqs] offset of the sequence's F32 K/V copies in s->kv, or SIZE_MAX
                             * (few tokens: the cache rows are used in place) */
    int any_gemm;
    int gemm_level;         /* gemm_f32.h kernel set of the batch path's products */
    int rows;               /* the most query rows of a task (Q, S and O are sized for them) */
    size_t halves;          /* F16 scratch per thread (after O); qkit's GEMM scratch follows */
    const attn_unit *units; /* largest L first */
    int n_units;
    atomic_int next;        /* units below nth are taken by thread ith at the start */
} attn_job;

/* The F32 copy of kv head kvh of sequence si: K [L][hd], then V transposed, Vt [hd][L]
 * (so that both products read their weight operand by rows: S = Q·Kᵀ, O = P·Vtᵀ). */
static float *kv_copy(const attn_job *j, int si, int kvh) {
    return j->s->kv + j->kv_off[si] + (size_t)kvh * 2 * (size_t)j->L[si] * (size_t)j->a->head_dim;
}

/* Vt[d·ldv + t] = F32 of v[t·v_stride + d] for t < n_t, d < hd: V rows (F16) into the
 * transposed copy. The AVX2 version converts 8 × 8 blocks and transposes them in registers
 * (the conversion is exact either way). */
static void expand_vt_scalar(int hd, int n_t, const qk_half *v, size_t v_stride, float *vt, size_t ldv) {
    for (int t = 0; t < n_t; t++)
        for (int d = 0; d < hd; d++)
            vt[(size_t)d * ldv + (size_t)t] = qk_half_to_float(v[(size_t)t * v_stride + (size_t)d]);
}

#if defined(__x86_64__) || defined(__i386__)
QK_AVX2 static void expand_vt_avx2(int hd, int n_t, const qk_half *v, size_t v_stride, float *vt, size_t ldv) {
    const int t8 = n_t / 8 * 8, d8 = hd / 8 * 8;
    for (int t = 0; t < t8; t += 8)
        for (int d = 0; d < d8; d += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + (size_t)(t + k) * v_stride + (size_t)d)));
            qk_transpose8_ps(r);
            for (int j = 0; j < 8; j++) _mm256_storeu_ps(vt + (size_t)(d + j) * ldv + (size_t)t, r[j]);
        }
    if (d8 < hd) expand_vt_scalar(hd - d8, t8, v + d8, v_stride, vt + (size_t)d8 * ldv, ldv);
    if (t8 < n_t) expand_vt_scalar(hd, n_t - t8, v + (size_t)t8 * v_stride, v_stride, vt + t8, ldv);
}
#endif

static void expand_vt(int hd, int n_t, const qk_half *v, size_t v_stride, float *vt, size_t ldv) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx2()) {
        expand_vt_avx2(hd, n_t, v, v_stride, vt, ldv);
        return;
    }
#endif
    expand_vt_scalar(hd, n_t, v, v_stride, vt, ldv);
}

/* Expand the cache rows of every batch-path sequence to F32, once per kv head (the heads
 * of a GQA group share them); rows are split evenly between the threads. */
static void expand_kv(const attn_job *j, int ith, int nth) {
    const qk_attn_args *a = j->a;
    const int hd = a->head_dim, n_kv = a->n_head_kv * hd;
    const qk_type_traits *f16 = qk_type_get(QK_TYPE_F16);
    int64_t total = 0;
    for (int si = 0; si < j->n_seqs; si++)
        if (j->kv_off[si] != SIZE_MAX) total += (int64_t)a->n_head_kv * j->L[si];
    const int64_t lo = total * ith / nth, hi = total * (ith + 1) / nth;
    int64_t u = 0;
    for (int si = 0; si < j->n_seqs && u < hi; si++) {
        if (j->kv_off[si] == SIZE_MAX) continue;
        const size_t base = (size_t)j->seq_ids[si] * a->seq_stride;
        for (int kvh = 0; kvh < a->n_head_kv && u < hi; kvh++, u += j->L[si]) {
            const int64_t t0 = lo > u ? lo - u : 0, t1 = hi - u < j->L[si] ? hi - u : j->L[si];
            const size_t L = (size_t)j->L[si];
            float *K = kv_copy(j, si, kvh), *Vt = K + L * hd;
            if (t1 <= t0) continue;
            const size_t c0 = base + (size_t)t0 * n_kv + (size_t)kvh * hd;
            for (int64_t t = t0; t < t1; t++)
                f16->to_float(a->k_cache + c0 + (size_t)(t - t0) * n_kv, K + (size_t)t * hd, hd);
            expand_vt(hd, (int)(t1 - t0), a->v_cache + c0, (size_t)n_kv, Vt + t0, L);
        }
    }
}

/* One product of the batch path: Y[c·ldy + r] = Σ_l W[r·ldw + l]·X[c·ldx + l] for r < n,
 * c < m, l < k, with qkit's GEMM where the CPU has one (gemm_f32.h), else OpenBLAS. */
static void product(int level, float *scratch, const float *w, int ldw, int n, int k, const float *x, int ldx, int m,
                    float *y, int ldy) {
    if (level != QK_GEMM_F32_NONE &&
        qk_gemm_f32(level, QK_TYPE_F32, w, sizeof(float) * (size_t)ldw, n, k, x, (size_t)ldx, m, y, (size_t)ldy,
                    scratch) == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, ldx, w, ldw, 0.0f, y, ldy);
}

/* Rows of a task: r = hh·m + i for head h0 + hh and the task's token i. */
static void attn_unit_run(const attn_job *j, const attn_unit *u, float *work, pv_f16_fn pv_f16) {
    const qk_attn_args *a = j->a;
    const int hd = a->head_dim, n_kv = a->n_head_kv * hd, n_q = a->n_head * hd;
    const int kvh = u->h0 / (a->n_head / a->n_head_kv), L = u->L;
    const float scale = 1.0f / sqrtf((float)hd);
    const qk_type_traits *f16 = qk_type_get(QK_TYPE_F16);
    const int32_t *idx = j->order + j->start[u->si] + u->i0;
    const int m = u->i1 - u->i0, rows = u->nh * m;
    const int gemm = j->kv_off[u->si] != SIZE_MAX;
    float *Q = work, *S = Q + (size_t)j->rows * hd, *O = S + (size_t)j->rows * L;
    qk_half *tmp16 = (qk_half *)(O + (size_t)j->rows * hd); /* j->halves */
    /* S = Q·Kᵀ over positions 0..L-1: a GEMM on the F32 copies, or (a few tokens, one head)
     * the F16 dot product on the cache rows and Q in F16, as ggml's batch-1 mul_mat
     * (vec_dot_f16) */
    const float *K = NULL, *Vt = NULL;
    float *gemm_scratch = (float *)(tmp16 + j->halves);
    const qk_half *kc = NULL, *vc = NULL;
    if (gemm) {
        K = kv_copy(j, u->si, kvh);
        Vt = K + (size_t)j->L[u->si] * hd;
        for (int r = 0; r < rows; r++)
            round_f16(f16, a->q + (size_t)idx[r % m] * n_q + (size_t)(u->h0 + r / m) * hd, Q + (size_t)r * hd, hd,
                      tmp16);
        product(j->gemm_level, gemm_scratch, K, hd, L, hd, Q, hd, rows, S, L);
    } else {
        kc = a->k_cache + (size_t)j->seq_ids[u->si] * a->seq_stride + (size_t)kvh * hd;
        vc = a->v_cache + (size_t)j->seq_ids[u->si] * a->seq_stride + (size_t)kvh * hd;
        for (int i = 0; i < m; i++) {
            qk_half *q16 = tmp16 + (size_t)i * hd;
            f16->from_float(a->q + (size_t)idx[i] * n_q + (size_t)u->h0 * hd, q16, hd);
#if defined(__x86_64__) || defined(__i386__)
            if (qk_cpu_has_avx2()) {
                qk_vec_dot_f16_rows_avx2(hd, a->pos[idx[i]] + 1, S + (size_t)i * L, kc, (size_t)n_kv, q16);
                continue;
            }
#endif
            for (int t = 0; t <= a->pos[idx[i]]; t++) f16->vec_dot(hd, &S[(size_t)i * L + t], kc + (size_t)t * n_kv, q16);
        }
    }
    /* P = softmax(S·scale) over t <= pos (masked beyond), rounded to F16 */
    for (int r = 0; r < rows; r++) {
        float *row = S + (size_t)r * L;
        int p = a->pos[idx[r % m]];
        const float max = scale_max(row, p + 1, scale);
        const double sum = qk_vec_exp_sub(p + 1, row, row, max); /* ggml's vector exp */
        scale_round_f16(f16, row, p + 1, (float)(1.0 / sum), tmp16);
        for (int t = p + 1; t < L; t++) row[t] = 0.0f;
    }
    /* O = P·V */
    if (gemm) {
        product(j->gemm_level, gemm_scratch, Vt, j->L[u->si], hd, L, S, L, rows, O, hd);
    } else {
        for (int i = 0; i < m; i++) pv_f16(hd, a->pos[idx[i]] + 1, O + (size_t)i * hd, vc, (size_t)n_kv, S + (size_t)i * L);
    }
    for (int r = 0; r < rows; r++) {
        float *out = a->out + (size_t)idx[r % m] * n_q + (size_t)(u->h0 + r / m) * hd;
        memcpy(out, O + (size_t)r * hd, sizeof(float) * hd);
    }
}

static void attn_task(void *arg, int ith, int nth) {
    attn_job *j = arg;
    if (j->any_gemm) {
        expand_kv(j, ith, nth);
        qk_pool_barrier(j->pool);
    }
    float *work = j->s->buf + (size_t)ith * j->s->per_thread;
    const pv_f16_fn pv_f16 = pv_f16_pick();
    for (int t = ith; t < j->n_units; t = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed))
        attn_unit_run(j, &j->units[t], work, pv_f16);
}

/* Largest L first (the most work first, for balance), then in a fixed order. */
static int unit_cmp(const void *x, const void *y) {
    const attn_unit *u = x, *v = y;
    if (u->L != v->L) return u->L > v->L ? -1 : 1;
    if (u->si != v->si) return u->si < v->si ? -1 : 1;
    if (u->i0 != v->i0) return u->i0 < v->i0 ? -1 : 1;
    return (u->h0 > v->h0) - (u->h0 < v->h0);
}

/* The tasks of one call with nh heads per batch-path task, in order of sequence, token
 * block and head, written to units (NULL: only counted); returns their number and sets
 * *rows to the most query rows of one. Batch-path
 * sequences (GEMM_MIN_TOKENS tokens or more): blocks of up to Q_ROWS / nh tokens (within
 * [GEMM_MIN_TOKENS, Q_BLOCK]), chunks of nh heads of one kv head's group; the others: one
 * task per head, all their tokens. */
static int plan_units(const qk_attn_args *a, int n_seqs, const int32_t *order, const int32_t *start, int nh,
                      attn_unit *units, int *rows) {
    const int G = a->n_head / a->n_head_kv;
    const int tok = Q_ROWS / nh < GEMM_MIN_TOKENS ? GEMM_MIN_TOKENS : Q_ROWS / nh < Q_BLOCK ? Q_ROWS / nh : Q_BLOCK;
    int nu = 0;
    *rows = 1;
    for (int si = 0; si < n_seqs; si++) {
        const int m = start[si + 1] - start[si], gemm = m >= GEMM_MIN_TOKENS, step = gemm ? tok : m;
        for (int i0 = 0; i0 < m; i0 += step) {
            const int i1 = i0 + step < m ? i0 + step : m;
            int Lb = 0;
            for (int i = i0; i < i1; i++)
                if (a->pos[order[start[si] + i]] + 1 > Lb) Lb = a->pos[order[start[si] + i]] + 1;
            for (int h = 0; h < a->n_head;) {
                /* a chunk of at most nh heads, within one kv head's group */
                const int end = gemm ? (h / G + 1) * G : h + 1, c = gemm && end - h > nh ? nh : end - h;
                if (units) units[nu] = (attn_unit){si, h, c, i0, i1, Lb};
                nu++;
                if (c * (i1 - i0) > *rows) *rows = c * (i1 - i0);
                h += c;
            }
        }
    }
    return nu;
}

int qk_attention(qk_pool *pool, qk_attn_scratch *s, const qk_attn_args *a) {
    const int n = a->n, hd = a->head_dim;
    /* group batch indices by sequence (stable, so positions stay in batch order) */
    int32_t *buf = malloc(sizeof(int32_t) * (size_t)(4 * n + 1));
    size_t *kv_off = malloc(sizeof(size_t) * (size_t)(n > 0 ? n : 1));
    attn_unit *units = NULL;
    int rc = -1;
    if (!buf || !kv_off) goto done;
    int32_t *seq_ids = buf, *order = buf + n, *start = buf + 2 * n, *L = buf + 3 * n + 1;
    int n_seqs = 0, max_L = 0, any_gemm = 0;
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (int si = 0; si < n_seqs; si++) known |= seq_ids[si] == a->seq[i];
        if (!known) seq_ids[n_seqs++] = a->seq[i];
    }
    int at = 0;
    size_t kv_floats = 0;
    for (int si = 0; si < n_seqs; si++) {
        start[si] = at;
        L[si] = 0;
        for (int i = 0; i < n; i++)
            if (a->seq[i] == seq_ids[si]) {
                order[at++] = i;
                if (a->pos[i] + 1 > L[si]) L[si] = a->pos[i] + 1;
            }
        if (L[si] > max_L) max_L = L[si];
        const int m = at - start[si];
        kv_off[si] = SIZE_MAX;
        if (m >= GEMM_MIN_TOKENS) {
            kv_off[si] = kv_floats;
            kv_floats += (size_t)a->n_head_kv * 2 * (size_t)L[si] * (size_t)hd;
            any_gemm = 1;
        }
    }
    start[n_seqs] = at;
    /* batch path: nh heads of a group per task, halved until there are 4 tasks per thread
     * (or one head) */
    const int nth = qk_pool_size(pool);
    int nh = a->n_head / a->n_head_kv, rows = 1, nu = plan_units(a, n_seqs, order, start, nh, NULL, &rows);
    while (nh > 1 && nu < 4 * nth) {
        nh = (nh + 1) / 2;
        nu = plan_units(a, n_seqs, order, start, nh, NULL, &rows);
    }
    units = malloc(sizeof(attn_unit) * (size_t)(nu > 0 ? nu : 1));
    if (!units) goto done;
    plan_units(a, n_seqs, order, start, nh, units, &rows);
    qsort(units, (size_t)nu, sizeof *units, unit_cmp);
    const size_t halves = (size_t)max_L > (size_t)rows * hd ? (size_t)max_L : (size_t)rows * hd;
    const int level = any_gemm ? qk_gemm_f32_level() : QK_GEMM_F32_NONE;
    const size_t need = 2 * (size_t)rows * hd + (size_t)rows * (size_t)max_L + (halves + 1) / 2 +
                        (level != QK_GEMM_F32_NONE ? qk_gemm_f32_scratch_floats(level) : 0);
    if (qk_scratch_grow((void **)&s->buf, &s->buf_bytes, sizeof(float) * need * (size_t)nth) ||
        qk_scratch_grow((void **)&s->kv, &s->kv_bytes, sizeof(float) * kv_floats))
        goto done;
    s->per_thread = need;
    attn_job j = {.pool = pool, .a = a, .s = s, .n_seqs = n_seqs, .seq_ids = seq_ids, .order = order,
                  .start = start, .L = L, .kv_off = kv_off, .any_gemm = any_gemm, .gemm_level = level,
                  .rows = rows, .halves = halves + (halves & 1), .units = units,
                  .n_units = nu};
    atomic_init(&j.next, nth);
    qk_pool_run(pool, attn_task, &j);
    rc = 0;
done:
    free(units);
    free(kv_off);
    free(buf);
    return rc;
}

void qk_attn_scratch_free(qk_attn_scratch *s) {
    free(s->buf);
    free(s->kv);
    *s = (qk_attn_scratch){0};
}
