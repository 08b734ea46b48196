/*
 * bench_sysinfo.c — build commit, CPU model name, physical core count and RFC 3339 time
 * for qk-bench's records. See bench_sysinfo.h.
 */
#include "bench_sysinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qk_build_commit.h" /* generated at build time: cmake/build_commit.cmake */
#include "threads.h"

const char *qk_bench_build_commit(void) { return QK_BUILD_COMMIT; }

/* Value of a "key<tabs>: value" line of /proc/cpuinfo, trimmed; NULL if the line is not
 * for that key. */
static const char *cpuinfo_value(char *line, const char *key) {
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) != 0) return NULL;
    char *p = line + kl;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t')) p[--n] = 0;
    return p;
}

void qk_bench_cpu_info(char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *v = cpuinfo_value(line, "model name");
        if (v) {
            snprintf(buf, cap, "%s", v);
            break;
        }
    }
    fclose(f);
}

int qk_bench_default_threads(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    int n_pairs = 0;
    if (f) {
        enum { MAX_CORES = 4096 };
        long pairs[MAX_CORES];
        long phys = -1;
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            const char *v;
            if ((v = cpuinfo_value(line, "physical id"))) {
                phys = strtol(v, NULL, 10);
            } else if ((v = cpuinfo_value(line, "core id"))) {
                long key = (phys < 0 ? 0 : phys) * 1000000L + strtol(v, NULL, 10);
                int seen = 0;
                for (int i = 0; i < n_pairs; i++)
                    if (pairs[i] == key) seen = 1;
                if (!seen && n_pairs < MAX_CORES) pairs[n_pairs++] = key;
            }
        }
        fclose(f);
    }
    int online = qk_cpu_count();
    if (n_pairs <= 0 || n_pairs > online) return online >= 1 ? online : 1;
    return n_pairs;
}

void qk_bench_rfc3339(time_t t, char *buf, size_t cap) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (cap) buf[0] = 0;
    }
}

void qk_bench_peak_rss_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

uint64_t qk_bench_peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
    fclose(f);
    return (uint64_t)kib * 1024u;
}
