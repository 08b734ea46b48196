/* cpu.c — CPU feature detection (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static bool detect_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(fma && osxsave && avx && f16c)) return false;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return false; /* OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 5); /* AVX2 */
}
#else
static bool detect_avx2(void) { return false; }
#endif

bool qk_cpu_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *f = getenv("QK_FORCE_SCALAR");
        cached = (f && *f && strcmp(f, "0") != 0) ? 0 : detect_avx2();
    }
    return cached;
}

const char *qk_cpu_kernels(void) { return qk_cpu_has_avx2() ? "AVX2" : "scalar"; }
