/*
 * tokenizer_bpe.c — byte-level BPE as llama.cpp's llm_tokenizer_bpe_session does it
 * (src/llama-vocab.cpp; llama-cpp-reference.md §3.4), for tokenizer.ggml.model = "gpt2".
 *
 * Per raw-text fragment:
 *   1. decode UTF-8 to code points (malformed bytes -> U+FFFD) and split into words with the
 *      pre-tokenizer named by tokenizer.ggml.pre (pretokenize.c);
 *   2. re-encode each word to UTF-8 and map every byte through GPT-2's bytes_to_unicode
 *      table; each mapped byte starts as one symbol;
 *   3. (llama-bpe only, "ignore_merges") a word whose whole encoded text is a token is
 *      emitted as that token;
 *   4. every adjacent symbol pair listed in tokenizer.ggml.merges goes into a min-heap keyed
 *      by (rank = index in the merge list, left position); pop, skip stale pairs, merge,
 *      push the two new neighbour pairs; repeat until the heap is empty;
 *   5. each final symbol is looked up in the vocab; a missing one is emitted byte by byte
 *      as the tokens whose text is that single (encoded) byte, skipping bytes with none.
 *
 * Speed: merges are looked up by (left id, right id) in an open-addressing table that
 * also stores the merged token's id, so merging never hashes strings. Merges whose sides
 * are not vocab tokens (none in real vocabs) go to a second, string-keyed table so the
 * result stays exactly llama.cpp's string-pair semantics. Ties: a pair already in the
 * table keeps its first (lowest) rank, like std::unordered_map::emplace. Loading hashes
 * and prefetches merges in blocks. Within one call, a word seen before is not merged again:
 * its tokens are copied from its first occurrence (qk_span_cache; exact, since a word's
 * tokens depend on its bytes only).
 */
#include "tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 bytes (0x00-0x20,
 * 0x7F-0xA0, 0xAD) to U+0100.. in byte order. */
static bool byte_is_identity(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

static uint32_t byte_to_cpt(int b) {
    if (byte_is_identity(b)) return (uint32_t)b;
    if (b <= 0x20) return 256 + (uint32_t)b;                  /* 0x00-0x20 -> U+0100.. */
    if (b <= 0xA0) return 256 + 33 + (uint32_t)(b - 0x7F);    /* 0x7F-0xA0 -> U+0121.. */
    return 256 + 67;                                          /* 0xAD -> U+0143 */
}

/* Inverse of byte_to_cpt; -1 when a code point is not the image of a byte. */
static int cpt_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_identity((int)cp) ? (int)cp : -1;
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 67) return (int)(cp - 256 - 33 + 0x7F);
    if (cp == 256 + 67) return 0xAD;
    return -1;
}

static uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

/* splitmix64's finalizer: every key bit reaches the low bits used as the slot */
static uint64_t pair_slot(uint64_t key, uint64_t mask) {
    uint64_t h = key;
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDull;
    h = (h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return (h ^ (h >> 33)) & mask;
}

static const qk_merge_slot *merge_find(const qk_vocab *v, int32_t l, int32_t r) {
    uint64_t key = pair_key(l, r);
    for (uint64_t i = pair_slot(key, v->merge_mask);; i = (i + 1) & v->merge_mask) {
        const qk_merge_slot *s = &v->merges[i];
        if (s->key == key) return s;
        if (s->key == UINT64_MAX) return NULL;
    }
}

int qk_bpe_init(qk_vocab *v, const char *const *merges, const uint32_t *merge_lens, uint64_t n,
                qk_err *err) {
    for (int b = 0; b < 256; b++) {
        char tmp[4];
        size_t k = qk_utf8_encode(byte_to_cpt(b), tmp);
        memcpy(v->bpe_enc[b], tmp, k);
        v->bpe_enc_len[b] = (uint8_t)k;
        v->bpe_char_id[b] = qk_vocab_find(v, tmp, k);
        char raw = (char)b;
        v->bpe_rawbyte_id[b] = qk_vocab_find(v, &raw, 1);
    }
    if (n > (uint64_t)INT32_MAX) return qk_errf(err, "tokenizer.ggml.merges has too many entries (%llu)", (unsigned long long)n);

    uint64_t cap = 16;
    while (cap < n + n / 2) cap <<= 1; /* load factor <= 2/3 */
    v->merges = malloc(cap * sizeof *v->merges);
    v->xmerge_text = malloc((n ? n : 1) * sizeof *v->xmerge_text);
    v->xmerge_len = malloc((n ? n : 1) * sizeof *v->xmerge_len);
    v->xmerge_rank = malloc((n ? n : 1) * sizeof *v->xmerge_rank);
    if (!v->merges || !v->xmerge_text || !v->xmerge_len || !v->xmerge_rank)
        return qk_errf(err, "out of memory loading %llu BPE merges", (unsigned long long)n);
    for (uint64_t i = 0; i < cap; i++) v->merges[i].key = UINT64_MAX;
    v->merge_mask = cap - 1;
    v->n_merges = (int64_t)n;

    /* Blocks of B merges: split and hash all, prefetch their vocab slots, resolve the ids,
     * prefetch the pair slots, then insert in rank order (first occurrence wins). The
     * tables are larger than the cache; batching overlaps the misses. */
    enum { B = 32 };
    struct pend {
        const char *s;
        uint32_t ll, rl, hl, hr, hm;
        int32_t l, r, m;
        bool ok;
    } pd[B];
    size_t catw = v->max_token_len * 2 + 1;
    char *cat = malloc(catw * B);
    if (!cat) return qk_errf(err, "out of memory loading BPE merges");
    const qk_strtab *tab = &v->tab;
    for (uint64_t base = 0; base < n; base += B) {
        size_t nb = n - base < B ? (size_t)(n - base) : B;
        for (size_t k = 0; k < nb; k++) {
            struct pend *q = &pd[k];
            const char *s = merges[base + k];
            size_t len = merge_lens[base + k];
            /* llama.cpp splits at the first space after position 0; without one it keys the
             * merge as ("", ""), which never matches a symbol */
            const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
            q->ok = sp != NULL;
            if (!q->ok) continue;
            q->s = s;
            q->ll = (uint32_t)(sp - s);
            q->rl = (uint32_t)(len - q->ll - 1);
            q->hl = qk_str_hash(s, q->ll);
            q->hr = qk_str_hash(sp + 1, q->rl);
            __builtin_prefetch(&tab->slot[q->hl & tab->mask]);
            __builtin_prefetch(&tab->slot[q->hr & tab->mask]);
            if (q->ll + q->rl <= catw) {
                memcpy(cat + k * catw, s, q->ll);
                memcpy(cat + k * catw + q->ll, sp + 1, q->rl);
                q->hm = qk_str_hash(cat + k * catw, q->ll + q->rl);
                __builtin_prefetch(&tab->slot[q->hm & tab->mask]);
            }
        }
        for (size_t k = 0; k < nb; k++) {
            struct pend *q = &pd[k];
            if (!q->ok) continue;
            q->l = qk_strtab_find_h(tab, v->text, v->len, q->s, q->ll, q->hl);
            q->r = qk_strtab_find_h(tab, v->text, v->len, q->s + q->ll + 1, q->rl, q->hr);
            q->m = -1;
            if (q->l >= 0 && q->r >= 0) {
                /* both sides are tokens, so the concatenation fitted in cat */
                q->m = qk_strtab_find_h(tab, v->text, v->len, cat + k * catw, q->ll + q->rl, q->hm);
                __builtin_prefetch(&v->merges[pair_slot(pair_key(q->l, q->r), v->merge_mask)]);
            }
        }
        for (size_t k = 0; k < nb; k++) {
            struct pend *q = &pd[k];
            if (!q->ok) continue;
            uint64_t i = base + k;
            if (q->l >= 0 && q->r >= 0) {
                uint64_t key = pair_key(q->l, q->r);
                uint64_t j = pair_slot(key, v->merge_mask);
                while (v->merges[j].key != UINT64_MAX && v->merges[j].key != key) j = (j + 1) & v->merge_mask;
                if (v->merges[j].key == key) continue; /* first occurrence keeps its rank */
                v->merges[j].key = key;
                v->merges[j].rank = (int32_t)i;
                v->merges[j].merged = q->m;
            } else {
                int32_t x = v->n_xmerges;
                v->xmerge_text[x] = (char *)q->s; /* points into the GGUF map until copied below */
                v->xmerge_len[x] = merge_lens[i];
                v->xmerge_rank[x] = (int32_t)i;
                v->n_xmerges++;
            }
        }
    }
    free(cat);

    /* keep no pointer into the GGUF map: copy the (rare) string-keyed merges */
    for (int32_t k = 0; k < v->n_xmerges; k++) {
        char *c = malloc(v->xmerge_len[k] + 1);
        if (!c) {
            v->n_xmerges = k; /* entries from k on still point into the map: not ours */
            return qk_errf(err, "out of memory loading BPE merges");
        }
        memcpy(c, v->xmerge_text[k], v->xmerge_len[k]);
        c[v->xmerge_len[k]] = 0;
        v->xmerge_text[k] = c;
    }
    if (qk_strtab_init(&v->xmerge_tab, (size_t)v->n_xmerges))
        return qk_errf(err, "out of memory loading BPE merges");
    for (int32_t k = 0; k < v->n_xmerges; k++) {
        int32_t prev = qk_strtab_insert(&v->xmerge_tab, (const char *const *)v->xmerge_text, v->xmerge_len, k);
        if (prev >= 0 && v->xmerge_rank[k] < v->xmerge_rank[prev]) v->xmerge_rank[prev] = v->xmerge_rank[k];
    }
    return 0;
}

void qk_bpe_free(qk_vocab *v) {
    if (v->xmerge_text)
        for (int32_t k = 0; k < v->n_xmerges; k++) free(v->xmerge_text[k]);
    free(v->xmerge_text);
    free(v->xmerge_len);
    free(v->xmerge_rank);
    free(v->merges);
    qk_strtab_free(&v->xmerge_tab);
}

/* ------------------------------------------------------------ per-word merging --------- */

typedef struct sym {
    int32_t prev, next;
    uint32_t off, n; /* span of the encoded word; n == 0 once merged into its left */
    int32_t id;      /* vocab id of the span's text, -1 if none */
} sym;

typedef struct bigram {
    int32_t rank, left, right;
    uint32_t size;   /* byte length of left+right when queued (stale check) */
    int32_t merged;  /* id of the merged text; -2 = look it up when merging */
} bigram;

typedef struct session {
    const qk_vocab *v;
    char *enc;
    size_t enc_cap;
    sym *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    char *tmp;
    size_t tmp_cap;
} session;

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static inline bool before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(session *s, bigram b) {
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
}

static bigram heap_pop(session *s) {
    bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Queue the pair (l, r) if it is a merge (llm_tokenizer_bpe_session::add_new_bigram). */
static bool add_bigram(session *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return true;
    const qk_vocab *v = s->v;
    const sym *L = &s->syms[l], *R = &s->syms[r];
    bigram b = {.left = l, .right = r, .size = L->n + R->n};
    if (L->id >= 0 && R->id >= 0) {
        const qk_merge_slot *m = merge_find(v, L->id, R->id);
        if (!m) return true;
        b.rank = m->rank;
        b.merged = m->merged;
    } else {
        if (v->n_xmerges == 0) return true;
        size_t need = (size_t)L->n + R->n + 1;
        if (!grow((void **)&s->tmp, &s->tmp_cap, need, 1)) return false;
        memcpy(s->tmp, s->enc + L->off, L->n);
        s->tmp[L->n] = ' ';
        memcpy(s->tmp + L->n + 1, s->enc + R->off, R->n);
        int32_t k = qk_strtab_find(&v->xmerge_tab, (const char *const *)v->xmerge_text, v->xmerge_len, s->tmp, need);
        if (k < 0) return true;
        b.rank = v->xmerge_rank[k];
        b.merged = -2;
    }
    if (!grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(bigram))) return false;
    heap_push(s, b);
    return true;
}

/* Merge one byte-encoded word of n_bytes source bytes (already in s->enc) and append ids. */
static int bpe_word(session *s, const unsigned char *src, size_t n_bytes, size_t enc_len, qk_ids *out) {
    const qk_vocab *v = s->v;
    if (v->ignore_merges) {
        int32_t id = qk_vocab_find(v, s->enc, enc_len);
        if (id >= 0) return qk_ids_push(out, id);
    }
    if (!grow((void **)&s->syms, &s->syms_cap, n_bytes, sizeof(sym))) return -1;
    uint32_t off = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        sym *y = &s->syms[i];
        y->prev = (int32_t)i - 1;
        y->next = i + 1 == n_bytes ? -1 : (int32_t)i + 1;
        y->off = off;
        y->n = v->bpe_enc_len[src[i]];
        y->id = v->bpe_char_id[src[i]];
        off += y->n;
    }
    s->heap_n = 0;
    for (size_t i = 1; i < n_bytes; i++)
        if (!add_bigram(s, (int32_t)i - 1, (int32_t)i)) return -1;
    while (s->heap_n > 0) {
        bigram b = heap_pop(s);
        sym *L = &s->syms[b.left], *R = &s->syms[b.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size) continue; /* stale */
        L->n += R->n;
        R->n = 0;
        L->id = b.merged != -2 ? b.merged : qk_vocab_find(v, s->enc + L->off, L->n);
        L->next = R->next;
        if (R->next >= 0) s->syms[R->next].prev = b.left;
        if (!add_bigram(s, L->prev, b.left) || !add_bigram(s, b.left, L->next)) return -1;
    }
    for (int32_t i = 0; i != -1; i = s->syms[i].next) {
        const sym *y = &s->syms[i];
        if (y->id >= 0) {
            if (qk_ids_push(out, y->id)) return -1;
            continue;
        }
        /* not a token: emit the 1-byte tokens of the encoded text, skipping missing ones */
        for (uint32_t j = 0; j < y->n; j++) {
            int32_t id = v->bpe_rawbyte_id[(unsigned char)s->enc[y->off + j]];
            if (id >= 0 && qk_ids_push(out, id)) return -1;
        }
    }
    return 0;
}

#define CACHE_MAX_CPTS 64 /* longer words are rare and not worth caching */

int qk_bpe_tokenize(const qk_vocab *v, const char *text, size_t len, qk_ids *out, qk_err *err) {
    if (len == 0) return 0;
    int rc = -1;
    session s = {.v = v};
    unsigned char *word = NULL;
    size_t word_cap = 0;
    uint32_t *cpts = malloc(len * sizeof *cpts);
    uint32_t *lens = malloc(len * sizeof *lens);
    if (!cpts || !lens) goto oom;
    size_t n = qk_utf8_decode(text, len, cpts);
    size_t n_words = qk_pretokenize(v->pre, cpts, n, lens);
    if (n_words == SIZE_MAX) goto oom;

    /* a word seen before in this call yields the same tokens: copy them (qk_span_cache) */
    qk_span_cache cache;
    if (qk_span_cache_init(&cache, (const char *)cpts)) goto oom;
    size_t at = 0;
    for (size_t w = 0; w < n_words; w++) {
        const uint32_t *c = cpts + at;
        size_t wl = lens[w];
        at += wl;
        qk_span_entry *ce = NULL;
        if (wl <= CACHE_MAX_CPTS) {
            ce = qk_span_cache_slot(&cache, (size_t)(c - cpts) * sizeof *c, (uint32_t)(wl * sizeof *c));
            if (ce->key_len) {
                if (qk_span_cache_copy(ce, out)) goto oom_cache;
                continue;
            }
        }
        size_t out_before = out->n;
        /* a word longer than QK_TOK_MAX_RUN characters is merged piece by piece */
        for (size_t p0 = 0; p0 < wl; p0 += QK_TOK_MAX_RUN) {
            const size_t pl = wl - p0 < QK_TOK_MAX_RUN ? wl - p0 : QK_TOK_MAX_RUN;
            if (!grow((void **)&word, &word_cap, pl * 4, 1) || !grow((void **)&s.enc, &s.enc_cap, pl * 8, 1))
                goto oom_cache;
            size_t nb = 0;
            for (size_t i = 0; i < pl; i++) nb += qk_utf8_encode(c[p0 + i], (char *)word + nb);
            size_t ne = 0;
            for (size_t i = 0; i < nb; i++) {
                const uint8_t *e = v->bpe_enc[word[i]];
                s.enc[ne++] = (char)e[0];
                if (v->bpe_enc_len[word[i]] == 2) s.enc[ne++] = (char)e[1];
            }
            if (bpe_word(&s, word, nb, ne, out)) goto oom_cache;
        }
        if (ce && qk_span_cache_fill(&cache, ce, out_before, out->n)) goto oom_cache;
    }
    qk_span_cache_free(&cache);
    rc = 0;
    goto done;
oom_cache:
    qk_span_cache_free(&cache);
oom:
    qk_errf(err, "out of memory tokenizing %zu bytes", len);
done:
    free(cpts);
    free(lens);
    free(word);
    free(s.enc);
    free(s.syms);
    free(s.heap);
    free(s.tmp);
    return rc;
}

size_t qk_bpe_decode_text(const char *text, size_t len, char *buf, size_t cap, size_t *full) {
    size_t n = 0;
    uint32_t cp_stack[64];
    uint32_t *cp = len <= 64 ? cp_stack : malloc(len * sizeof *cp);
    if (!cp) {
        *full = 0;
        return 0;
    }
    size_t ncp = qk_utf8_decode(text, len, cp);
    for (size_t i = 0; i < ncp; i++) {
        int b = cpt_to_byte(cp[i]);
        if (b >= 0) {
            if (n < cap) buf[n] = (char)b;
            n++;
            continue;
        }
        /* llama_decode_text: "[UNK_BYTE_0x<utf-8 hex of the code point><token text>]" */
        char u[4], hex[16];
        size_t k = qk_utf8_encode(cp[i], u), h = 0;
        for (size_t j = 0; j < k; j++) h += (size_t)snprintf(hex + h, sizeof hex - h, "%02x", (unsigned char)u[j]);
        const char *parts[4] = {"[UNK_BYTE_0x", hex, text, "]"};
        size_t plen[4] = {12, h, len, 1};
        for (int p = 0; p < 4; p++)
            for (size_t j = 0; j < plen[p]; j++, n++)
                if (n < cap) buf[n] = parts[p][j];
    }
    if (cp != cp_stack) free(cp);
    *full = n;
    return n < cap ? n : cap;
}
