/*
 * bench_peak.c — qk-bench's arithmetic-ceiling probe (FP32 FMA and int8 multiply-add
 * loops per instruction set, best of several timed passes on the worker pool, every
 * accumulator checked) and the compute ceiling of ppN tests. Method, counting and
 * formulas: bench_peak.h.
 */
#include "bench_peak.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QK_PEAK_X86 1
#endif

#include "clock.h"
#include "cpu.h"
#include "threads.h"
#include "types.h"

#define CHAINS 12      /* FP32 and VNNI accumulator chains */
#define INT_CHAINS 8   /* scalar int8 chains */
#define FP_X 0.5f      /* acc = acc * FP_X + FP_Y converges to FP_Y / (1 - FP_X) = 2 */
#define FP_Y 1.0f
#define FP_LIMIT 2.0f

/* ---- checks --------------------------------------------------------------------------- */

/* Lanes of out[0..n) that did not converge to the recurrence's fixed point. */
static int fp32_bad(const float *out, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) bad += !(fabsf(out[i] - FP_LIMIT) <= 1e-3f * FP_LIMIT);
    return bad;
}

/* Start value of FP32 lane i: distinct values in [0, 1), so no two chains are alike. */
static float fp32_start(int i) { return (float)i / 1024.0f; }

/* Operand bytes: a (unsigned) and b (signed, shifted by the run-time v), small enough
 * that no pair sum saturates int16. */
static uint8_t op_a(int j, int c) { return (uint8_t)(1 + (j + 3 * c) % 11); }
static int8_t op_b(int j, int v) { return (int8_t)(j % 7 - v); }

/* ---- scalar fallback ------------------------------------------------------------------ */

static int fp32_scalar(uint64_t iters, float x, float y) {
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = fp32_start(c);
    for (uint64_t i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * x + y;
    return fp32_bad(acc, CHAINS);
}

static int int8_scalar(uint64_t iters, int v) {
    int32_t a[INT_CHAINS];
    uint32_t acc[INT_CHAINS];
    int32_t b = op_b(1, v);
    for (int c = 0; c < INT_CHAINS; c++) {
        a[c] = op_a(c, c) * (v - 2); /* v is 3 at run time: not a constant to strength-reduce */
        acc[c] = (uint32_t)c;
    }
    for (uint64_t i = 0; i < iters; i++) {
        __asm__("" : "+r"(b)); /* b may change: the products cannot be hoisted */
        for (int c = 0; c < INT_CHAINS; c++) acc[c] += (uint32_t)(a[c] * b);
    }
    int bad = 0;
    for (int c = 0; c < INT_CHAINS; c++)
        bad += acc[c] != (uint32_t)c + (uint32_t)iters * (uint32_t)(a[c] * b);
    return bad;
}

/* ---- AVX2 ----------------------------------------------------------------------------- */

#ifdef QK_PEAK_X86
#define PEAK_AVX2 __attribute__((target("avx2,fma")))
#define PEAK_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

PEAK_AVX2 static int fp32_avx2(uint64_t iters, float x, float y) {
    float st[CHAINS * 8];
    for (int i = 0; i < CHAINS * 8; i++) st[i] = fp32_start(i);
    __m256 a0 = _mm256_loadu_ps(st), a1 = _mm256_loadu_ps(st + 8), a2 = _mm256_loadu_ps(st + 16),
           a3 = _mm256_loadu_ps(st + 24), a4 = _mm256_loadu_ps(st + 32), a5 = _mm256_loadu_ps(st + 40),
           a6 = _mm256_loadu_ps(st + 48), a7 = _mm256_loadu_ps(st + 56), a8 = _mm256_loadu_ps(st + 64),
           a9 = _mm256_loadu_ps(st + 72), a10 = _mm256_loadu_ps(st + 80), a11 = _mm256_loadu_ps(st + 88);
    const __m256 vx = _mm256_set1_ps(x), vy = _mm256_set1_ps(y);
    for (uint64_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, vx, vy);
        a1 = _mm256_fmadd_ps(a1, vx, vy);
        a2 = _mm256_fmadd_ps(a2, vx, vy);
        a3 = _mm256_fmadd_ps(a3, vx, vy);
        a4 = _mm256_fmadd_ps(a4, vx, vy);
        a5 = _mm256_fmadd_ps(a5, vx, vy);
        a6 = _mm256_fmadd_ps(a6, vx, vy);
        a7 = _mm256_fmadd_ps(a7, vx, vy);
        a8 = _mm256_fmadd_ps(a8, vx, vy);
        a9 = _mm256_fmadd_ps(a9, vx, vy);
        a10 = _mm256_fmadd_ps(a10, vx, vy);
        a11 = _mm256_fmadd_ps(a11, vx, vy);
    }
    const __m256 all[CHAINS] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int c = 0; c < CHAINS; c++) _mm256_storeu_ps(st + 8 * c, all[c]);
    return fp32_bad(st, CHAINS * 8);
}

/* 12 chains s = vpmaddubsw(s, b): each result, read as unsigned bytes, is the next
 * multiplicand (a chain, like the FMA's). b holds the byte pairs (v - 2, 0) = (1, 0), so
 * every 16-bit lane becomes its low byte after the first step and stays there: the check
 * is that fixed point. The multiplier does the full work whatever the values. */
PEAK_AVX2 static int int8_avx2(uint64_t iters, int v) {
    int16_t st[CHAINS * 16];
    int8_t bb[32];
    for (int j = 0; j < 32; j++) bb[j] = (int8_t)(j % 2 == 0 ? v - 2 : 0);
    for (int i = 0; i < CHAINS * 16; i++) st[i] = (int16_t)(i * 37 + 11);
    const __m256i b = _mm256_loadu_si256((const __m256i *)bb);
    __m256i s0 = _mm256_loadu_si256((const __m256i *)(st + 0)), s1 = _mm256_loadu_si256((const __m256i *)(st + 16)),
            s2 = _mm256_loadu_si256((const __m256i *)(st + 32)), s3 = _mm256_loadu_si256((const __m256i *)(st + 48)),
            s4 = _mm256_loadu_si256((const __m256i *)(st + 64)), s5 = _mm256_loadu_si256((const __m256i *)(st + 80)),
            s6 = _mm256_loadu_si256((const __m256i *)(st + 96)), s7 = _mm256_loadu_si256((const __m256i *)(st + 112)),
            s8 = _mm256_loadu_si256((const __m256i *)(st + 128)), s9 = _mm256_loadu_si256((const __m256i *)(st + 144)),
            s10 = _mm256_loadu_si256((const __m256i *)(st + 160)), s11 = _mm256_loadu_si256((const __m256i *)(st + 176));
    for (uint64_t i = 0; i < iters; i++) {
        s0 = _mm256_maddubs_epi16(s0, b);
        s1 = _mm256_maddubs_epi16(s1, b);
        s2 = _mm256_maddubs_epi16(s2, b);
        s3 = _mm256_maddubs_epi16(s3, b);
        s4 = _mm256_maddubs_epi16(s4, b);
        s5 = _mm256_maddubs_epi16(s5, b);
        s6 = _mm256_maddubs_epi16(s6, b);
        s7 = _mm256_maddubs_epi16(s7, b);
        s8 = _mm256_maddubs_epi16(s8, b);
        s9 = _mm256_maddubs_epi16(s9, b);
        s10 = _mm256_maddubs_epi16(s10, b);
        s11 = _mm256_maddubs_epi16(s11, b);
    }
    const __m256i all[CHAINS] = {s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11};
    int16_t got[CHAINS * 16];
    for (int c = 0; c < CHAINS; c++) _mm256_storeu_si256((__m256i *)(got + 16 * c), all[c]);
    int bad = 0;
    for (int i = 0; i < CHAINS * 16; i++) bad += got[i] != (int16_t)((uint16_t)st[i] & 0xff);
    return bad;
}

/* ---- AVX-VNNI (VEX-encoded VPDPBUSD on ymm, e.g. Alder Lake, Zen 5) ---------------------- */

#define PEAK_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))

/* 12 chains a = vpdpbusd(a, u, b) with fixed u, b: each lane grows by the same dot
 * product per step, so the check is a + iters·dot (int32 wrap-around included). */
PEAK_AVXVNNI static int int8_avxvnni(uint64_t iters, int v) {
    uint8_t ab[32];
    int8_t bb[32];
    for (int j = 0; j < 32; j++) {
        ab[j] = op_a(j, 0);
        bb[j] = op_b(j, v);
    }
    const __m256i u = _mm256_loadu_si256((const __m256i *)ab), b = _mm256_loadu_si256((const __m256i *)bb);
    __m256i a0 = _mm256_set1_epi32(0), a1 = _mm256_set1_epi32(1), a2 = _mm256_set1_epi32(2),
            a3 = _mm256_set1_epi32(3), a4 = _mm256_set1_epi32(4), a5 = _mm256_set1_epi32(5),
            a6 = _mm256_set1_epi32(6), a7 = _mm256_set1_epi32(7), a8 = _mm256_set1_epi32(8),
            a9 = _mm256_set1_epi32(9), a10 = _mm256_set1_epi32(10), a11 = _mm256_set1_epi32(11);
    for (uint64_t i = 0; i < iters; i++) {
        a0 = _mm256_dpbusd_avx_epi32(a0, u, b);
        a1 = _mm256_dpbusd_avx_epi32(a1, u, b);
        a2 = _mm256_dpbusd_avx_epi32(a2, u, b);
        a3 = _mm256_dpbusd_avx_epi32(a3, u, b);
        a4 = _mm256_dpbusd_avx_epi32(a4, u, b);
        a5 = _mm256_dpbusd_avx_epi32(a5, u, b);
        a6 = _mm256_dpbusd_avx_epi32(a6, u, b);
        a7 = _mm256_dpbusd_avx_epi32(a7, u, b);
        a8 = _mm256_dpbusd_avx_epi32(a8, u, b);
        a9 = _mm256_dpbusd_avx_epi32(a9, u, b);
        a10 = _mm256_dpbusd_avx_epi32(a10, u, b);
        a11 = _mm256_dpbusd_avx_epi32(a11, u, b);
    }
    const __m256i all[CHAINS] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    int bad = 0;
    for (int c = 0; c < CHAINS; c++) {
        uint32_t got[8];
        _mm256_storeu_si256((__m256i *)got, all[c]);
        for (int l = 0; l < 8; l++) {
            int32_t dot = 0;
            for (int k = 0; k < 4; k++) dot += ab[4 * l + k] * bb[4 * l + k];
            bad += got[l] != (uint32_t)c + (uint32_t)iters * (uint32_t)dot;
        }
    }
    return bad;
}

/* ---- AVX-512 -------------------------------------------------------------------------- */

PEAK_AVX512 static int fp32_avx512(uint64_t iters, float x, float y) {
    float st[CHAINS * 16];
    for (int i = 0; i < CHAINS * 16; i++) st[i] = fp32_start(i);
    __m512 a[CHAINS];
    for (int c = 0; c < CHAINS; c++) a[c] = _mm512_loadu_ps(st + 16 * c);
    __m512 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7],
           a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11];
    const __m512 vx = _mm512_set1_ps(x), vy = _mm512_set1_ps(y);
    for (uint64_t i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, vx, vy);
        a1 = _mm512_fmadd_ps(a1, vx, vy);
        a2 = _mm512_fmadd_ps(a2, vx, vy);
        a3 = _mm512_fmadd_ps(a3, vx, vy);
        a4 = _mm512_fmadd_ps(a4, vx, vy);
        a5 = _mm512_fmadd_ps(a5, vx, vy);
        a6 = _mm512_fmadd_ps(a6, vx, vy);
        a7 = _mm512_fmadd_ps(a7, vx, vy);
        a8 = _mm512_fmadd_ps(a8, vx, vy);
        a9 = _mm512_fmadd_ps(a9, vx, vy);
        a10 = _mm512_fmadd_ps(a10, vx, vy);
        a11 = _mm512_fmadd_ps(a11, vx, vy);
    }
    const __m512 all[CHAINS] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int c = 0; c < CHAINS; c++) _mm512_storeu_ps(st + 16 * c, all[c]);
    return fp32_bad(st, CHAINS * 16);
}

PEAK_AVX512 static int int8_avx512(uint64_t iters, int v) {
    uint8_t ab[64];
    int8_t bb[64];
    for (int j = 0; j < 64; j++) {
        ab[j] = op_a(j, 0);
        bb[j] = op_b(j, v);
    }
    const __m512i u = _mm512_loadu_si512(ab), b = _mm512_loadu_si512(bb);
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2),
            a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5),
            a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8),
            a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
    for (uint64_t i = 0; i < iters; i++) {
        a0 = _mm512_dpbusd_epi32(a0, u, b);
        a1 = _mm512_dpbusd_epi32(a1, u, b);
        a2 = _mm512_dpbusd_epi32(a2, u, b);
        a3 = _mm512_dpbusd_epi32(a3, u, b);
        a4 = _mm512_dpbusd_epi32(a4, u, b);
        a5 = _mm512_dpbusd_epi32(a5, u, b);
        a6 = _mm512_dpbusd_epi32(a6, u, b);
        a7 = _mm512_dpbusd_epi32(a7, u, b);
        a8 = _mm512_dpbusd_epi32(a8, u, b);
        a9 = _mm512_dpbusd_epi32(a9, u, b);
        a10 = _mm512_dpbusd_epi32(a10, u, b);
        a11 = _mm512_dpbusd_epi32(a11, u, b);
    }
    const __m512i all[CHAINS] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    int bad = 0;
    for (int c = 0; c < CHAINS; c++) {
        uint32_t got[16];
        _mm512_storeu_si512(got, all[c]);
        for (int l = 0; l < 16; l++) {
            int32_t dot = 0;
            for (int k = 0; k < 4; k++) dot += ab[4 * l + k] * bb[4 * l + k];
            bad += got[l] != (uint32_t)c + (uint32_t)iters * (uint32_t)dot;
        }
    }
    return bad;
}
#endif

/* ---- instruction sets ----------------------------------------------------------------- */

typedef struct isa_desc {
    const char *name;
    int bits;
    const char *fp32_name, *int8_name;
    double fp32_ops, int8_ops; /* per iteration of one thread */
    int (*fp32)(uint64_t iters, float x, float y);
    int (*int8)(uint64_t iters, int v);
} isa_desc;

static const isa_desc SCALAR = {"scalar", 32, "C mul+add", "C int32 mul+add", CHAINS * 2.0,
                                INT_CHAINS * 2.0, fp32_scalar, int8_scalar};
#ifdef QK_PEAK_X86
static const isa_desc AVX2 = {"AVX2", 256, "vfmadd231ps ymm", "vpmaddubsw ymm", CHAINS * 16.0,
                              CHAINS * 64.0, fp32_avx2, int8_avx2};
static const isa_desc AVXVNNI = {"AVX-VNNI", 256, "vfmadd231ps ymm", "vpdpbusd ymm", CHAINS * 16.0,
                                 CHAINS * 64.0, fp32_avx2, int8_avxvnni};
static const isa_desc AVX512 = {"AVX512", 512, "vfmadd231ps zmm", "vpdpbusd zmm", CHAINS * 32.0,
                                CHAINS * 128.0, fp32_avx512, int8_avx512};
#endif

/* The instruction sets to probe, widest last. */
static int isa_list(const isa_desc *list[QK_PEAK_MAX_ISAS]) {
    int n = 0;
#ifdef QK_PEAK_X86
    if (qk_cpu_has_avx2()) list[n++] = &AVX2;
    if (qk_cpu_has_avxvnni()) list[n++] = &AVXVNNI;
    if (qk_cpu_has_avx512vnni()) list[n++] = &AVX512;
#endif
    if (n == 0) list[n++] = &SCALAR;
    return n;
}

int qk_peak_n_isas(void) {
    const isa_desc *list[QK_PEAK_MAX_ISAS];
    return isa_list(list);
}

/* ---- the pool job --------------------------------------------------------------------- */

typedef struct padded_bad {
    int v;
    char pad[60]; /* one cache line per thread */
} padded_bad;

typedef struct peak_job {
    const isa_desc *isa;
    qk_peak_kind kind;
    uint64_t iters;
    float x, y; /* FP32 operands */
    int v;      /* int8 operand shift */
    padded_bad *bad;
} peak_job;

static void peak_task(void *arg, int ith, int nth) {
    (void)nth;
    peak_job *j = arg;
    j->bad[ith].v = j->kind == QK_PEAK_FP32 ? j->isa->fp32(j->iters, j->x, j->y) : j->isa->int8(j->iters, j->v);
}

/* Time `passes` passes (after an untimed one) of one kernel; fills best_ns and the rates. */
static int time_kernel(qk_pool *pool, peak_job *job, int nt, int passes, double ops, uint64_t *best_ns,
                       double *best, double *mean, qk_err *err) {
    *best_ns = UINT64_MAX;
    double sum = 0;
    for (int p = -1; p < passes; p++) {
        for (int t = 0; t < nt; t++) job->bad[t].v = -1;
        uint64_t t0 = qk_now_ns();
        qk_pool_run(pool, peak_task, job);
        uint64_t dt = qk_now_ns() - t0;
        if (dt == 0) dt = 1;
        for (int t = 0; t < nt; t++)
            if (job->bad[t].v != 0)
                return qk_errf(err, "peak: self-check failed (%s %s kernel, thread %d: %d wrong lanes)",
                               job->isa->name, job->kind == QK_PEAK_FP32 ? "FP32" : "int8", t, job->bad[t].v);
        if (p < 0) continue;
        if (dt < *best_ns) *best_ns = dt;
        sum += ops / (double)dt;
    }
    *best = ops / (double)*best_ns;
    *mean = sum / passes;
    return 0;
}

int qk_peak_measure(const int *threads, int n_counts, uint64_t iters, int passes,
                    qk_peak_progress_fn progress, void *user, qk_peak_result *out, qk_err *err) {
    if (n_counts < 1 || !threads) return qk_errf(err, "peak: no thread count given");
    if (passes < 1) return qk_errf(err, "peak: passes must be >= 1, got %d", passes);
    if (iters < 64) return qk_errf(err, "peak: iterations must be >= 64, got %llu", (unsigned long long)iters);
    int max_threads = 1;
    for (int i = 0; i < n_counts; i++) {
        if (threads[i] < 1) return qk_errf(err, "peak: thread count %d must be >= 1", threads[i]);
        if (threads[i] > max_threads) max_threads = threads[i];
    }
    const isa_desc *list[QK_PEAK_MAX_ISAS];
    const int n_isas = isa_list(list);
    padded_bad *bad = aligned_alloc(64, sizeof(padded_bad) * (size_t)max_threads);
    if (!bad) return qk_errf(err, "peak: out of memory");
    volatile float vx = FP_X, vy = FP_Y; /* run-time operands */
    volatile int vv = 3;
    peak_job job = {NULL, QK_PEAK_FP32, iters, vx, vy, vv, bad};
    int rc = 0;
    for (int c = 0; c < n_counts && rc == 0; c++) {
        const int nt = threads[c];
        qk_pool *pool = qk_pool_new(nt);
        if (!pool) {
            rc = qk_errf(err, "peak: cannot start %d threads", nt);
            break;
        }
        for (int k = 0; k < n_isas && rc == 0; k++) {
            const isa_desc *d = list[k];
            if (progress) progress(user, nt, d->name, passes);
            qk_peak_result *r = &out[c * n_isas + k];
            memset(r, 0, sizeof *r);
            r->n_threads = nt;
            r->isa = d->name;
            r->vector_bits = d->bits;
            r->fp32_kernel = d->fp32_name;
            r->int8_kernel = d->int8_name;
            r->passes = passes;
            r->iters = iters;
            r->fp32_ops = d->fp32_ops * (double)iters * nt;
            r->int8_ops = d->int8_ops * (double)iters * nt;
            job.isa = d;
            job.kind = QK_PEAK_FP32;
            rc = time_kernel(pool, &job, nt, passes, r->fp32_ops, &r->fp32_best_ns, &r->fp32_gflops,
                             &r->fp32_mean_gflops, err);
            job.kind = QK_PEAK_INT8;
            if (rc == 0)
                rc = time_kernel(pool, &job, nt, passes, r->int8_ops, &r->int8_best_ns, &r->int8_gops,
                                 &r->int8_mean_gops, err);
        }
        qk_pool_free(pool);
    }
    free(bad);
    return rc;
}

double qk_peak_ceiling(const qk_peak_result *res, int n, int n_threads, qk_peak_kind kind,
                       const char **isa) {
    double v = 0;
    for (int i = 0; i < n; i++) { /* widest last: the last match wins */
        if (res[i].n_threads != n_threads) continue;
        v = kind == QK_PEAK_FP32 ? res[i].fp32_gflops : res[i].int8_gops;
        if (isa) *isa = res[i].isa;
    }
    return v;
}

/* ---- the compute ceiling of ppN tests ------------------------------------------------- */

static uint64_t elems(const gguf_tensor *t) { return t ? (uint64_t)t->ne[0] * (uint64_t)t->ne[1] : 0; }

static bool quantized(const gguf_tensor *t) {
    const qk_type_traits *tr = t ? qk_type_get(t->type) : NULL;
    return tr && tr->is_quantized;
}

uint64_t qk_peak_layer_matmul_elems(const qk_model *m, uint64_t *quant) {
    uint64_t all = 0, q = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        const qk_layer *L = &m->layers[l];
        const gguf_tensor *ts[] = {L->wq, L->wk, L->wv, L->wo, L->ffn_gate, L->ffn_up, L->ffn_down};
        for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) {
            all += elems(ts[k]);
            if (quantized(ts[k])) q += elems(ts[k]);
        }
    }
    if (quant) *quant = q;
    return all;
}

uint64_t qk_peak_output_elems(const qk_model *m) { return elems(m->output); }

qk_peak_kind qk_peak_model_kind(const qk_model *m) {
    uint64_t q;
    uint64_t all = qk_peak_layer_matmul_elems(m, &q) + qk_peak_output_elems(m);
    if (quantized(m->output)) q += qk_peak_output_elems(m);
    return 2 * q > all ? QK_PEAK_INT8 : QK_PEAK_FP32;
}

double qk_peak_weight_flops(uint64_t layer_elems, uint64_t output_elems, int n_tokens, int n_batch) {
    if (n_tokens <= 0 || n_batch <= 0) return 0.0;
    const double calls = (double)((n_tokens + n_batch - 1) / n_batch);
    return 2.0 * (double)layer_elems + 2.0 * (double)output_elems * calls / (double)n_tokens;
}

double qk_peak_attn_flops(int n_layer, int n_head, int head_dim, int n_past, int n_tokens) {
    if (n_layer <= 0 || n_head <= 0 || head_dim <= 0 || n_tokens <= 0 || n_past < 0) return 0.0;
    return 4.0 * n_layer * (double)n_head * head_dim * ((double)n_past + ((double)n_tokens + 1.0) / 2.0);
}

double qk_peak_weight_flops_model(const qk_model *m, int n_tokens, int n_batch) {
    return qk_peak_weight_flops(qk_peak_layer_matmul_elems(m, NULL), qk_peak_output_elems(m), n_tokens, n_batch);
}

double qk_peak_attn_flops_model(const qk_model *m, int n_tokens) {
    return qk_peak_attn_flops(m->hp.n_layer, m->hp.n_head, m->hp.head_dim, 0, n_tokens);
}

int qk_pp_ceiling_compute(double weight_flops, double attn_flops, qk_peak_kind kind,
                          const char *isa, double peak_gops, double measured_ts,
                          qk_pp_ceiling *out, qk_err *err) {
    memset(out, 0, sizeof *out);
    const double total = weight_flops + attn_flops;
    if (!(weight_flops >= 0) || !(attn_flops >= 0) || !(total > 0) || !isfinite(total))
        return qk_errf(err, "peak: FLOPs per token must be > 0 (weights %g, attention %g)", weight_flops,
                       attn_flops);
    if (!(peak_gops > 0) || !isfinite(peak_gops))
        return qk_errf(err, "peak: the ceiling must be > 0 G op/s, got %g", peak_gops);
    if (!(measured_ts >= 0) || !isfinite(measured_ts))
        return qk_errf(err, "peak: measured t/s must be >= 0, got %g", measured_ts);
    out->kind = kind;
    out->isa = isa ? isa : "";
    out->weight_flops = weight_flops;
    out->attn_flops = attn_flops;
    out->flops_per_token = total;
    out->peak_gops = peak_gops;
    out->max_ts = peak_gops * 1e9 / total;
    out->measured_ts = measured_ts;
    out->fraction = measured_ts / out->max_ts;
    return 0;
}
