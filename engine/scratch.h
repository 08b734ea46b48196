/*
 * scratch.h — internal: the engine's grow-only scratch buffers (matmul and attention).
 */
#ifndef QK_SCRATCH_H
#define QK_SCRATCH_H

#include <stdlib.h>

/* Makes *p hold at least need bytes; *bytes is its size. The contents are not kept (the
 * buffers are rewritten by every call that uses them), so a larger buffer replaces the old
 * one without a copy. Returns 0, or -1 when out of memory (then *p is NULL, *bytes 0). */
static inline int qk_scratch_grow(void **p, size_t *bytes, size_t need) {
    if (need <= *bytes) return 0;
    free(*p);
    *p = malloc(need);
    *bytes = *p ? need : 0;
    return *p ? 0 : -1;
}

#endif
