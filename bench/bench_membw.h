/*
 * bench_membw.h — a memory read-bandwidth probe for qk-bench (--membw), the denominator of
 * the generation roofline (bench_roofline.h).
 *
 * Method: a buffer much larger than the last-level cache is filled once (by the threads
 * that will read it, so pages land where they are used), then summed as 64-bit integers
 * `passes` times by n_threads threads of the engine's worker pool (threads.h), each thread
 * summing one contiguous slice. Every pass is timed on the calling thread (CLOCK_MONOTONIC)
 * from the start of the pool job to its end; bandwidth = buffer bytes / pass time. The
 * best pass is the figure reported (the machine's attainable read bandwidth, least
 * disturbed by other load), the mean is reported next to it. The sum of every pass is
 * checked against the sum of the fill pattern, so the loads cannot be optimised away and
 * a broken probe is an error rather than a wrong number.
 *
 * Units: GB/s = 1e9 bytes per second (what STREAM and vendors quote), not GiB/s.
 * Kernel: AVX2 256-bit loads (four independent accumulators) when the CPU has AVX2
 * (qk_cpu_has_avx2), else a scalar loop with four accumulators.
 */
#ifndef QK_BENCH_MEMBW_H
#define QK_BENCH_MEMBW_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct qk_membw_result {
    int n_threads;
    size_t buffer_bytes; /* bytes read per pass */
    int passes;          /* timed passes */
    uint64_t best_ns;    /* fastest pass */
    double best_gbs;     /* buffer_bytes / best_ns (1e9 bytes/s) */
    double mean_gbs;     /* mean over passes of buffer_bytes / pass_ns */
    const char *kernel;  /* "AVX2" or "scalar" (static string) */
} qk_membw_result;

/* Default buffer size: 1 GiB, or 2x the last-level cache when that is larger (read from
 * /sys/devices/system/cpu/cpu0/cache/index*), capped at half of MemAvailable
 * (/proc/meminfo) and never below 64 MiB. A multiple of 4 KiB. */
size_t qk_membw_default_bytes(void);

/* Called before each thread count is measured (may be NULL). */
typedef void (*qk_membw_progress_fn)(void *user, int n_threads, size_t bytes, int passes);

/* Measure the read bandwidth with each of n_counts thread counts (threads[i] >= 1), using
 * one buffer of `bytes` (>= 1 MiB; rounded down to a multiple of 4 KiB) and `passes` >= 1
 * timed passes per count. out[i] receives the result for threads[i].
 * Errors: bad arguments, the buffer cannot be allocated (names the size: use a smaller
 * one), a worker pool cannot start, the self-check sum is wrong. */
int qk_membw_measure(const int *threads, int n_counts, size_t bytes, int passes,
                     qk_membw_progress_fn progress, void *user, qk_membw_result *out,
                     qk_err *err);

#endif
