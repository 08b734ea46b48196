/*
 * bench_membw.c — qk-bench's memory read-bandwidth probe: a large buffer summed by the
 * engine's worker pool with AVX2 (or scalar) loads, best of several timed passes, with a
 * self-check of the sum. Method and units: bench_membw.h.
 */
#include "bench_membw.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QK_MEMBW_X86 1
#endif

#include "clock.h"
#include "cpu.h"
#include "threads.h"

#define MIB ((size_t)1 << 20)
#define PAGE ((size_t)4096)
#define BLOCK_WORDS 16          /* 128 bytes: the unit a thread's slice is cut in */
#define FILL_MUL 0x9e3779b97f4a7c15ULL

/* ---- buffer size policy --------------------------------------------------------------- */

/* Largest "size" of the cache levels of cpu0 in bytes (0 when unknown). */
static size_t llc_bytes(void) {
    size_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[128], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            unsigned long long v = strtoull(buf, &end, 10);
            if (*end == 'K') v <<= 10;
            else if (*end == 'M') v <<= 20;
            else if (*end == 'G') v <<= 30;
            if (v > best) best = (size_t)v;
        }
        fclose(f);
    }
    return best;
}

/* MemAvailable from /proc/meminfo in bytes (0 when unknown). */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t v = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            v = (size_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

size_t qk_membw_default_bytes(void) {
    size_t bytes = 1024 * MIB;
    size_t llc = llc_bytes();
    if (llc > 0 && 2 * llc > bytes) bytes = 2 * llc;
    size_t avail = mem_available();
    if (avail > 0 && bytes > avail / 2) bytes = avail / 2;
    if (bytes < 64 * MIB) bytes = 64 * MIB;
    return bytes / PAGE * PAGE;
}

/* ---- kernels -------------------------------------------------------------------------- */

/* Sum of n 64-bit words (n a multiple of BLOCK_WORDS), wrapping mod 2^64. */
static uint64_t sum_scalar(const uint64_t *p, size_t n) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n; i += 4) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

#ifdef QK_MEMBW_X86
/* The same sum with 256-bit loads: 4 x 32 bytes per step into four accumulators. */
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += BLOCK_WORDS) {
        const __m256i *v = (const __m256i *)(p + i);
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(v));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + 3));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a0);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

/* ---- the pool job --------------------------------------------------------------------- */

typedef struct padded_sum {
    uint64_t v;
    char pad[56]; /* one cache line per thread: no false sharing */
} padded_sum;

typedef struct membw_job {
    uint64_t *buf;
    size_t n_words;
    bool fill;     /* fill pass instead of a sum pass */
    bool use_avx2;
    padded_sum *sums;
} membw_job;

static void membw_task(void *arg, int ith, int nth) {
    membw_job *j = arg;
    size_t nb = j->n_words / BLOCK_WORDS;
    size_t b0 = nb * (size_t)ith / (size_t)nth, b1 = nb * (size_t)(ith + 1) / (size_t)nth;
    size_t w0 = b0 * BLOCK_WORDS, w1 = b1 * BLOCK_WORDS;
    if (j->fill) {
        for (size_t i = w0; i < w1; i++) j->buf[i] = (uint64_t)i * FILL_MUL;
        return;
    }
    uint64_t s;
#ifdef QK_MEMBW_X86
    if (j->use_avx2) s = sum_avx2(j->buf + w0, w1 - w0);
    else
#endif
        s = sum_scalar(j->buf + w0, w1 - w0);
    j->sums[ith].v = s;
}

/* Sum of i * FILL_MUL for i in [0, n), mod 2^64. */
static uint64_t expected_sum(size_t n) {
    uint64_t a = n, b = n - 1;
    if (a % 2 == 0) a /= 2;
    else b /= 2;
    return a * b * FILL_MUL;
}

int qk_membw_measure(const int *threads, int n_counts, size_t bytes, int passes,
                     qk_membw_progress_fn progress, void *user, qk_membw_result *out,
                     qk_err *err) {
    if (n_counts < 1 || !threads) return qk_errf(err, "membw: no thread count given");
    if (passes < 1) return qk_errf(err, "membw: passes must be >= 1, got %d", passes);
    bytes = bytes / PAGE * PAGE;
    if (bytes < MIB) return qk_errf(err, "membw: buffer of %zu bytes is too small (>= 1 MiB)", bytes);
    int max_threads = 1;
    for (int i = 0; i < n_counts; i++) {
        if (threads[i] < 1) return qk_errf(err, "membw: thread count %d must be >= 1", threads[i]);
        if (threads[i] > max_threads) max_threads = threads[i];
    }

    uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return qk_errf(err, "membw: cannot allocate a %.0f MiB buffer — use a smaller --membw-mib",
                       (double)bytes / (double)MIB);
#ifdef MADV_HUGEPAGE
    madvise(buf, bytes, MADV_HUGEPAGE); /* fewer TLB misses; a hint, failure is harmless */
#endif
    padded_sum *sums = aligned_alloc(64, sizeof(padded_sum) * (size_t)max_threads);
    if (!sums) {
        munmap(buf, bytes);
        return qk_errf(err, "membw: out of memory");
    }
    membw_job job = {buf, bytes / sizeof(uint64_t), true, false, sums};
#ifdef QK_MEMBW_X86
    job.use_avx2 = qk_cpu_has_avx2();
#endif
    const uint64_t expect = expected_sum(job.n_words);
    int rc = 0;

    /* fill with the threads that read most (first touch) */
    qk_pool *pool = qk_pool_new(max_threads);
    if (!pool) {
        rc = qk_errf(err, "membw: cannot start %d threads", max_threads);
        goto done;
    }
    qk_pool_run(pool, membw_task, &job);
    qk_pool_free(pool);
    job.fill = false;

    for (int c = 0; c < n_counts && rc == 0; c++) {
        int nt = threads[c];
        if (progress) progress(user, nt, bytes, passes);
        pool = qk_pool_new(nt);
        if (!pool) {
            rc = qk_errf(err, "membw: cannot start %d threads", nt);
            break;
        }
        qk_membw_result *r = &out[c];
        memset(r, 0, sizeof *r);
        r->n_threads = nt;
        r->buffer_bytes = bytes;
        r->passes = passes;
        r->kernel = job.use_avx2 ? "AVX2" : "scalar";
        r->best_ns = UINT64_MAX;
        double sum_gbs = 0;
        /* one untimed pass first: wakes the threads, settles the pages */
        for (int p = -1; p < passes; p++) {
            for (int t = 0; t < nt; t++) sums[t].v = 0;
            uint64_t t0 = qk_now_ns();
            qk_pool_run(pool, membw_task, &job);
            uint64_t dt = qk_now_ns() - t0;
            if (dt == 0) dt = 1;
            uint64_t total = 0;
            for (int t = 0; t < nt; t++) total += sums[t].v;
            if (total != expect) {
                rc = qk_errf(err, "membw: self-check failed (sum %016llx, expected %016llx)",
                             (unsigned long long)total, (unsigned long long)expect);
                break;
            }
            if (p < 0) continue;
            if (dt < r->best_ns) r->best_ns = dt;
            sum_gbs += (double)bytes / (double)dt;
        }
        qk_pool_free(pool);
        if (rc == 0) {
            r->best_gbs = (double)bytes / (double)r->best_ns;
            r->mean_gbs = sum_gbs / passes;
        }
    }
done:
    free(sums);
    munmap(buf, bytes);
    return rc;
}
