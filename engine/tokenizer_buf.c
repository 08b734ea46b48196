/*
 * tokenizer_buf.c — the growable id list and the span cache that the SPM and BPE
 * tokenizers share (declared in tokenizer_impl.h). They depend on nothing but strtab.h's
 * keyed hash, so tokenizer.c -> tokenizer_{spm,bpe}.c -> this file has no cycle.
 */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

int qk_ids_push(qk_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t c = ids->cap ? ids->cap * 2 : 256;
        int32_t *p = realloc(ids->v, c * sizeof *p);
        if (!p) return -1;
        ids->v = p;
        ids->cap = c;
    }
    ids->v[ids->n++] = id;
    return 0;
}

int qk_span_cache_init(qk_span_cache *c, const char *base) {
    c->base = base;
    c->n = 0;
    c->mask = 4096 - 1;
    c->e = calloc(c->mask + 1, sizeof *c->e);
    return c->e ? 0 : -1;
}

void qk_span_cache_free(qk_span_cache *c) {
    free(c->e);
    c->e = NULL;
}

/* key_off of a reserved slot holds the probe's span until qk_span_cache_fill */
qk_span_entry *qk_span_cache_slot(qk_span_cache *c, size_t off, uint32_t len) {
    uint32_t h = qk_str_hash(c->base + off, len);
    for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
        qk_span_entry *e = &c->e[i];
        if (e->key_len == 0) {
            e->hash = h;
            e->key_off = off;
            e->out_n = len; /* pending key length, see qk_span_cache_fill */
            return e;
        }
        if (e->hash == h && e->key_len == len && memcmp(c->base + e->key_off, c->base + off, len) == 0) return e;
    }
}

int qk_span_cache_copy(const qk_span_entry *e, qk_ids *out) {
    for (uint32_t i = 0; i < e->out_n; i++)
        if (qk_ids_push(out, out->v[e->out_off + i])) return -1;
    return 0;
}

int qk_span_cache_fill(qk_span_cache *c, qk_span_entry *e, size_t from, size_t to) {
    if (to - from > UINT32_MAX) return 0; /* not cached */
    e->key_len = e->out_n;
    e->out_n = (uint32_t)(to - from);
    e->out_off = from;
    if (++c->n * 2 <= c->mask) return 0;
    size_t cap = (c->mask + 1) * 2;
    qk_span_entry *ne = calloc(cap, sizeof *ne);
    if (!ne) return -1;
    for (size_t i = 0; i <= c->mask; i++) {
        if (c->e[i].key_len == 0) continue;
        size_t j = c->e[i].hash & (cap - 1);
        while (ne[j].key_len) j = (j + 1) & (cap - 1);
        ne[j] = c->e[i];
    }
    free(c->e);
    c->e = ne;
    c->mask = cap - 1;
    return 0;
}
