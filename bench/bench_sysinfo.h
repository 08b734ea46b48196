/*
 * bench_sysinfo.h — facts about the machine and the build that qk-bench records with
 * every result (llama-bench's build_commit, cpu_info, default thread count, test_time).
 */
#ifndef QK_BENCH_SYSINFO_H
#define QK_BENCH_SYSINFO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The build's commit: `git describe --always --dirty` at build time (the generated
 * qk_build_commit.h), or "unknown" outside a git checkout — what llama-bench records
 * when it is built outside one. */
const char *qk_bench_build_commit(void);

/* CPU description: the first "model name" value of /proc/cpuinfo (what llama.cpp's CPU
 * backend reports on Linux), "" when unavailable. Writes at most cap bytes. */
void qk_bench_cpu_info(char *buf, size_t cap);

/* llama-bench's default -t: the number of physical cores (cpu_get_num_math()), counted as
 * distinct (physical id, core id) pairs in /proc/cpuinfo; falls back to the number of
 * online CPUs when those fields are missing. Always >= 1. */
int qk_bench_default_threads(void);

/* UTC time in RFC 3339 form "%Y-%m-%dT%H:%M:%SZ" (llama-bench's test_time). buf >= 21. */
void qk_bench_rfc3339(time_t t, char *buf, size_t cap);

/* Peak resident memory of this process since the last reset, in bytes: VmHWM of
 * /proc/self/status (Linux); 0 when unknown. The reset writes "5" to /proc/self/clear_refs
 * (Linux >= 4.0: the high-water mark starts again from the current RSS); without it the
 * peak is the process's since it started, which is never below the test's. */
void qk_bench_peak_rss_reset(void);
uint64_t qk_bench_peak_rss_bytes(void);

#endif
