/*
 * attention.c — causal attention over the F16 KV cache (see attention.h).
 *
 * Work is split into (sequence, head) tasks. A task gathers the batch tokens of its
 * sequence and computes S = Q·Kᵀ over the cached rows 0..L-1 (L = 1 + the largest
 * position among those tokens), the masked softmax and O = P·V. With many tokens of the
 * sequence in the batch, the head's K and V rows are expanded to F32 and both products
 * are OpenBLAS sgemm calls; with a few (generation), S comes from the F16 dot product of
 * each cache row with Q in F16 (the type table's vec_dot, as ggml's batch-1 mul_mat) and
 * O from multiply-adds of the F16 V rows (pv_f16), with nothing expanded: measured on
 * Qwen2.5-0.5B-shaped tg128, 61 -> 20 us per layer at 2 threads. Keys beyond a token's
 * own position are masked out (never read).
 */
#include "attention.h"

#include "cpu.h"
#include "types.h"
#include "vexp.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quants_avx2_common.h"
#endif

/* pv_f16 rounds each product and each sum: no contraction into FMA (the engine is built
 * with -ffp-contract=off, CMakeLists.txt). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_MIN_TOKENS 8

/* y = x rounded to F16 and back (n elements; y may equal x). */
static void round_f16(const qk_type_traits *f16, const float *x, float *y, int n, qk_half *tmp) {
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
#endif

/* The version for this CPU (chosen once per task, not per row). */
static pv_f16_fn pv_f16_pick(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (qk_cpu_has_avx2()) return pv_f16_avx2;
#endif
    return pv_f16_scalar;
}

typedef struct attn_job {
    const qk_attn_args *a;
    qk_attn_scratch *s;
    int n_seqs;             /* distinct sequences in the batch */
    const int32_t *seq_ids; /* [n_seqs] */
    const int32_t *order;   /* batch indices grouped by sequence */
    const int32_t *start;   /* [n_seqs + 1] offsets into order */
} attn_job;

static void attn_task(void *arg, int ith, int nth) {
    attn_job *j = arg;
    const qk_attn_args *a = j->a;
    const int hd = a->head_dim, n_kv = a->n_head_kv * hd, n_q = a->n_head * hd;
    const int group = a->n_head / a->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    float *work = j->s->buf + (size_t)ith * j->s->per_thread;
    const qk_type_traits *f16 = qk_type_get(QK_TYPE_F16);
    const pv_f16_fn pv_f16 = pv_f16_pick();
    int tasks = j->n_seqs * a->n_head;
    for (int task = ith; task < tasks; task += nth) {
        int si = task / a->n_head, h = task % a->n_head, kvh = h / group;
        const int32_t *idx = j->order + j->start[si];
        int m = j->start[si + 1] - j->start[si];
        int L = 0;
        for (int i = 0; i < m; i++)
            if (a->pos[idx[i]] + 1 > L) L = a->pos[idx[i]] + 1;
        const qk_half *kc = a->k_cache + (size_t)j->seq_ids[si] * a->seq_stride + (size_t)kvh * hd;
        const qk_half *vc = a->v_cache + (size_t)j->seq_ids[si] * a->seq_stride + (size_t)kvh * hd;
        const int gemm = m >= GEMM_MIN_TOKENS;
        float *K = work, *V = K + (size_t)L * hd, *Q = V + (size_t)L * hd, *S = Q + (size_t)m * hd;
        float *O = S + (size_t)m * L;
        qk_half *tmp16 = (qk_half *)(O + (size_t)m * hd); /* max(L, m·hd) halves */
        for (int t = 0; gemm && t < L; t++) {
            f16->to_float(kc + (size_t)t * n_kv, K + (size_t)t * hd, hd);
            f16->to_float(vc + (size_t)t * n_kv, V + (size_t)t * hd, hd);
        }
        /* S = Q·Kᵀ: sgemm on F32 copies, or (a few tokens) the F16 dot product on the cache
         * rows and Q in F16, as ggml's batch-1 mul_mat (vec_dot_f16) */
        if (gemm) {
            for (int i = 0; i < m; i++)
                round_f16(f16, a->q + (size_t)idx[i] * n_q + (size_t)h * hd, Q + (size_t)i * hd, hd, tmp16);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, L, hd, 1.0f, Q, hd, K, hd, 0.0f, S, L);
        } else {
            for (int i = 0; i < m; i++) {
                qk_half *q16 = tmp16 + (size_t)i * hd;
                f16->from_float(a->q + (size_t)idx[i] * n_q + (size_t)h * hd, q16, hd);
                for (int t = 0; t <= a->pos[idx[i]]; t++) f16->vec_dot(hd, &S[(size_t)i * L + t], kc + (size_t)t * n_kv, q16);
            }
        }
        /* P = softmax(S·scale) over t <= pos (masked beyond), rounded to F16 */
        for (int i = 0; i < m; i++) {
            float *row = S + (size_t)i * L;
            int p = a->pos[idx[i]];
            float max = -INFINITY;
            for (int t = 0; t <= p; t++) {
                row[t] *= scale;
                if (row[t] > max) max = row[t];
            }
            const double sum = qk_vec_exp_sub(p + 1, row, row, max); /* ggml's vector exp */
            const float inv = (float)(1.0 / sum);
            for (int t = 0; t <= p; t++) row[t] *= inv;
            round_f16(f16, row, row, p + 1, tmp16);
            for (int t = p + 1; t < L; t++) row[t] = 0.0f;
        }
        /* O = P·V */
        if (gemm) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, L, 1.0f, S, L, V, hd, 0.0f, O, hd);
        } else {
            for (int i = 0; i < m; i++) pv_f16(hd, a->pos[idx[i]] + 1, O + (size_t)i * hd, vc, (size_t)n_kv, S + (size_t)i * L);
        }
        for (int i = 0; i < m; i++)
            memcpy(a->out + (size_t)idx[i] * n_q + (size_t)h * hd, O + (size_t)i * hd, sizeof(float) * hd);
    }
}

int qk_attention(qk_pool *pool, qk_attn_scratch *s, const qk_attn_args *a) {
    /* group batch indices by sequence (stable, so positions stay in batch order) */
    int32_t *buf = malloc(sizeof(int32_t) * (size_t)(3 * a->n + 1));
    if (!buf) return -1;
    int32_t *seq_ids = buf, *order = buf + a->n, *start = buf + 2 * a->n;
    int n_seqs = 0, max_m = 0, max_L = 0;
    for (int i = 0; i < a->n; i++) {
        int known = 0;
        for (int si = 0; si < n_seqs; si++) known |= seq_ids[si] == a->seq[i];
        if (!known) seq_ids[n_seqs++] = a->seq[i];
        if (a->pos[i] + 1 > max_L) max_L = a->pos[i] + 1;
    }
    int at = 0;
    for (int si = 0; si < n_seqs; si++) {
        start[si] = at;
        for (int i = 0; i < a->n; i++)
            if (a->seq[i] == seq_ids[si]) order[at++] = i;
        if (at - start[si] > max_m) max_m = at - start[si];
    }
    start[n_seqs] = at;
    int nth = qk_pool_size(pool);
    size_t hd = (size_t)a->head_dim;
    const size_t halves = (size_t)max_L > (size_t)max_m * hd ? (size_t)max_L : (size_t)max_m * hd;
    size_t need = 2 * (size_t)max_L * hd + 2 * (size_t)max_m * hd + (size_t)max_m * (size_t)max_L + halves / 2 + 1;
    if (need > s->per_thread || nth > s->n_threads) {
        free(s->buf);
        s->buf = malloc(sizeof(float) * need * (size_t)nth);
        if (!s->buf) {
            *s = (qk_attn_scratch){0};
            free(buf);
            return -1;
        }
        s->per_thread = need;
        s->n_threads = nth;
    }
    attn_job j = {a, s, n_seqs, seq_ids, order, start};
    qk_pool_run(pool, attn_task, &j);
    free(buf);
    return 0;
}

void qk_attn_scratch_free(qk_attn_scratch *s) {
    free(s->buf);
    *s = (qk_attn_scratch){0};
}
