/*
 * clock.h — the monotonic wall clock every timing in qkit reads (decode profile,
 * qk-bench repetitions, the bandwidth probe, perplexity progress).
 */
#ifndef QK_CLOCK_H
#define QK_CLOCK_H

#include <stdint.h>

/* Nanoseconds of CLOCK_MONOTONIC (POSIX clock_gettime): differences are elapsed wall
 * time, unaffected by changes of the system clock; the origin is unspecified. */
uint64_t qk_now_ns(void);

#endif
