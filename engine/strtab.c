/* strtab.c — keyed string hash and the string -> entry table (see strtab.h). */
#include "strtab.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- SipHash-1-3 ------------------------------------------------------------------------ */

static uint64_t g_k0, g_k1;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

/* 128 random key bits; should getrandom fail (a very old kernel), a mix of the clock, the
 * process id and an address, which a file cannot predict either. */
static void make_key(void) {
    uint64_t k[2];
    if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
        k[1] = (uint64_t)getpid() * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)(uintptr_t)&ts;
    }
    g_k0 = k[0];
    g_k1 = k[1];
}

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND                                                                                                      \
    do {                                                                                                              \
        v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                                                      \
        v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                                                         \
        v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                                                         \
        v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                                                      \
    } while (0)

uint32_t qk_str_hash(const char *s, size_t len) {
    pthread_once(&g_key_once, make_key);
    uint64_t v0 = g_k0 ^ 0x736f6d6570736575ull, v1 = g_k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = g_k0 ^ 0x6c7967656e657261ull, v3 = g_k1 ^ 0x7465646279746573ull;
    const size_t n = len;
    for (; len >= 8; s += 8, len -= 8) {
        uint64_t m;
        memcpy(&m, s, 8); /* little-endian words on x86-64, as the reference */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)n << 56;
    for (size_t i = 0; i < len; i++) last |= (uint64_t)(uint8_t)s[i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    const uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- the table --------------------------------------------------------------------------- */

static size_t capacity_for(size_t n) {
    size_t cap = 16;
    while (cap < n + n / 2 + 1) cap <<= 1; /* load factor <= 2/3 */
    return cap;
}

int qk_strtab_init(qk_strtab *t, size_t n_entries) {
    const size_t cap = capacity_for(n_entries);
    if (cap > (size_t)UINT32_MAX + 1) return -1;
    t->slot = malloc(cap * sizeof *t->slot);
    if (!t->slot) return -1;
    memset(t->slot, 0xFF, cap * sizeof *t->slot); /* idx -1 */
    t->mask = (uint32_t)(cap - 1);
    t->n = 0;
    return 0;
}

void qk_strtab_free(qk_strtab *t) {
    free(t->slot);
    t->slot = NULL;
    t->n = 0;
}

static int same_key(const char *const *keys, const uint32_t *lens, int32_t e, const char *s, size_t len) {
    return lens[e] == len && memcmp(keys[e], s, len) == 0;
}

int32_t qk_strtab_insert_h(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx, uint32_t h) {
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const int32_t e = t->slot[i].idx;
        if (e < 0) {
            t->slot[i].idx = idx;
            t->slot[i].hash = h;
            t->n++;
            return -1;
        }
        if (t->slot[i].hash == h && same_key(keys, lens, e, keys[idx], lens[idx])) return e;
    }
}

int32_t qk_strtab_insert(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx) {
    return qk_strtab_insert_h(t, keys, lens, idx, qk_str_hash(keys[idx], lens[idx]));
}

/* Double the capacity, moving the slots by their stored hashes (no key is read). */
static int grow(qk_strtab *t) {
    const size_t cap = ((size_t)t->mask + 1) * 2;
    if (cap > (size_t)UINT32_MAX + 1) return -1;
    qk_strtab_slot *ns = malloc(cap * sizeof *ns);
    if (!ns) return -1;
    memset(ns, 0xFF, cap * sizeof *ns);
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slot[i].idx < 0) continue;
        size_t j = t->slot[i].hash & (cap - 1);
        while (ns[j].idx >= 0) j = (j + 1) & (cap - 1);
        ns[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = ns;
    t->mask = (uint32_t)(cap - 1);
    return 0;
}

int32_t qk_strtab_add(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx) {
    const uint32_t h = qk_str_hash(keys[idx], lens[idx]);
    if (((size_t)t->n + 1) * 3 > ((size_t)t->mask + 1) * 2) {
        /* grow only for a new key: a duplicate must not cost memory */
        const int32_t e = qk_strtab_find_h(t, keys, lens, keys[idx], lens[idx], h);
        if (e >= 0) return e;
        if (grow(t)) return -2;
    }
    return qk_strtab_insert_h(t, keys, lens, idx, h);
}

int32_t qk_strtab_find_h(const qk_strtab *t, const char *const *keys, const uint32_t *lens, const char *s, size_t len,
                         uint32_t h) {
    if (!t->slot) return -1;
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const int32_t e = t->slot[i].idx;
        if (e < 0) return -1;
        if (t->slot[i].hash == h && same_key(keys, lens, e, s, len)) return e;
    }
}

int32_t qk_strtab_find(const qk_strtab *t, const char *const *keys, const uint32_t *lens, const char *s, size_t len) {
    return qk_strtab_find_h(t, keys, lens, s, len, qk_str_hash(s, len));
}

uint32_t qk_strtab_max_probe(const qk_strtab *t) {
    uint32_t worst = 0;
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
        if (t->slot[i].idx < 0) continue;
        const uint32_t home = t->slot[i].hash & t->mask;
        const uint32_t d = ((uint32_t)i - home) & t->mask;
        if (d + 1 > worst) worst = d + 1;
    }
    return worst;
}
