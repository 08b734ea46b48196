/* cpu.c — CPU feature detection (see cpu.h). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* Low half of XCR0: which register states the OS saves (call only when CPUID.1 reports
 * OSXSAVE). */
static unsigned xcr0(void) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return lo;
}

static bool detect_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(fma && osxsave && avx && f16c)) return false;
    if ((xcr0() & 6) != 6) return false; /* OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 5); /* AVX2 */
}

/* AVX512F, BW, VL and VNNI, with the OS saving the opmask and ZMM state (XCR0 bits 5-7):
 * the kernels use EVEX instructions on 256-bit registers and mask registers. Called only
 * after detect_avx2() succeeded (so OSXSAVE is set). */
static bool detect_avx512vnni(void) {
    unsigned a, b, c, d;
    if ((xcr0() & 0xE6) != 0xE6) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool f = b & (1u << 16), bw = b & (1u << 30), vl = b & (1u << 31), vnni = c & (1u << 11);
    return f && bw && vl && vnni;
}

/* AVX-VNNI (VEX-encoded VPDPBUSD on xmm/ymm): CPUID.(7,1).EAX bit 4, with the OS saving
 * the YMM state (checked by detect_avx2(), after which this is called). */
static bool detect_avxvnni(void) {
    unsigned a, b, c, d;
    if ((xcr0() & 6) != 6) return false;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return a & (1u << 4);
}
#else
static bool detect_avx2(void) { return false; }
static bool detect_avxvnni(void) { return false; }
static bool detect_avx512vnni(void) { return false; }
#endif

static bool env_set(const char *name) {
    const char *f = getenv(name);
    return f && *f && strcmp(f, "0") != 0;
}

bool qk_cpu_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        cached = env_set("QK_FORCE_SCALAR") ? 0 : detect_avx2();
    }
    return cached;
}

bool qk_cpu_has_avx512vnni(void) {
    static int cached = -1;
    if (cached < 0) cached = qk_cpu_has_avx2() && !env_set("QK_NO_AVX512") && detect_avx512vnni();
    return cached;
}

bool qk_cpu_has_avxvnni(void) {
    static int cached = -1;
    if (cached < 0) cached = qk_cpu_has_avx2() && !env_set("QK_NO_AVXVNNI") && detect_avxvnni();
    return cached;
}

const char *qk_cpu_kernels(void) {
    if (qk_cpu_has_avx512vnni()) return "AVX2+AVX512VNNI";
    if (qk_cpu_has_avx2()) return qk_cpu_has_avxvnni() ? "AVX2+AVXVNNI" : "AVX2";
    return "scalar";
}
