/*
 * tokenizer_spm.c — SentencePiece-style BPE over scores, as llama.cpp's
 * llm_tokenizer_spm_session does it (src/llama-vocab.cpp), for
 * tokenizer.ggml.model = "llama".
 *
 * Per raw-text fragment:
 *   1. prepend ' ' when asked (add_space_prefix and the fragment starts the text or follows
 *      a special token), then replace every ' ' with U+2581 ("▁");
 *   2. one symbol per UTF-8 character, its length taken from the lead byte (a truncated
 *      sequence at the end is shortened; no validation, like llama.cpp);
 *   3. every adjacent pair whose concatenated text is a vocab token is queued with that
 *      token's score; the highest score is merged first, ties to the leftmost pair; stale
 *      pairs (a side already merged) are skipped; the merged symbol queues its two new
 *      neighbour pairs;
 *   4. each final symbol is emitted as its token, or, if its text is not a token, as one
 *      byte token per byte ("<0xXX>", else the 1-byte text).
 * llama.cpp's resegment() also consults a "rev_merge" map for symbols that are not tokens;
 * a merged symbol is always a token (pairs are only queued when their text is one), so
 * that path never fires and is not reproduced.
 *
 * Speed: llama.cpp runs one queue over the whole fragment (wiki.test.raw: 1.3 M symbols).
 * Here the fragment is cut into independent segments first, and each gets its own small
 * queue. A cut is made before a "▁" symbol whose preceding 3 bytes are not "▁", and only
 * when the vocabulary has no token with "▁" after a non-"▁" byte (qk_vocab.spm_split;
 * true for Llama's vocabulary). Then no token, hence no merge, can span a cut, and the
 * merges inside a segment happen in the same relative order as in the single global
 * queue (same scores, same left-to-right tie order), so the output is identical.
 * Segments repeat (words), so each segment's tokens are cached for the call
 * (qk_span_cache). Every lookup hashes a span of the escaped text in place. A segment
 * that no cut ends within QK_TOK_MAX_RUN characters is merged in pieces of that size
 * (tokenizer_impl.h: the one place where the output can differ from llama.cpp's).
 */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_BYTES 256 /* longer segments are rare and not worth caching */

typedef struct sym {
    int32_t prev, next;
    uint32_t off, n; /* span of the escaped text; n == 0 once merged into its left */
} sym;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t size; /* byte length of left+right when queued (stale check) */
} bigram;

typedef struct heap {
    bigram *a;
    size_t n, cap;
} heap;

/* Higher score first, then the leftmost pair (llm_bigram_spm::comparator). */
static inline bool before(const bigram *x, const bigram *y) {
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static bool heap_push(heap *h, bigram b) {
    if (h->n == h->cap) {
        size_t c = h->cap ? h->cap * 2 : 256;
        bigram *a = realloc(h->a, c * sizeof *a);
        if (!a) return false;
        h->a = a;
        h->cap = c;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = b;
    return true;
}

static bigram heap_pop(heap *h) {
    bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h->a[c + 1], &h->a[c])) c++;
        if (!before(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n) h->a[i] = last;
    return top;
}

/* llm_tokenizer_spm_session::try_add_bigram */
static bool try_add(const qk_vocab *v, const char *text, const sym *s, heap *h, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return true;
    uint32_t size = s[l].n + s[r].n;
    int32_t id = qk_vocab_find(v, text + s[l].off, size);
    if (id < 0) return true;
    bigram b = {.score = v->score[id], .left = l, .right = r, .size = size};
    return heap_push(h, b);
}

static const char SP[3] = {'\xE2', '\x96', '\x81'}; /* U+2581 "▁" */

/* A cut goes before a "▁" at byte off of the escaped text e whose preceding 3 bytes are
 * not "▁" (used only when v->spm_split). */
static bool is_cut(const char *e, size_t elen, size_t off) {
    return off + 3 <= elen && memcmp(e + off, SP, 3) == 0 && (off < 3 || memcmp(e + off - 3, SP, 3) != 0);
}

bool qk_spm_can_split(const qk_vocab *v) {
    for (int32_t i = 0; i < v->n_tokens; i++)
        for (size_t k = 1; k < v->len[i]; k++)
            if (is_cut(v->text[i], v->len[i], k)) return false;
    return true;
}

int qk_spm_tokenize(const qk_vocab *v, const char *text, size_t len, bool add_prefix,
                    qk_ids *out, qk_err *err) {
    size_t n_sp = add_prefix;
    for (size_t i = 0; i < len; i++) n_sp += text[i] == ' ';
    size_t elen = len + 2 * n_sp + add_prefix;
    if (elen == 0) return 0;
    if (elen > UINT32_MAX / 2) return qk_errf(err, "text too long to tokenize (%zu bytes)", len);

    int rc = -1;
    heap h = {0};
    qk_span_cache cache = {0};
    sym *s = NULL;
    size_t s_cap = 0;
    char *e = malloc(elen);
    if (!e) goto oom;

    /* 1. prefix and escape */
    size_t k = 0;
    if (add_prefix) {
        memcpy(e, SP, 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(e + k, SP, 3);
            k += 3;
        } else {
            e[k++] = text[i];
        }
    }

    /* 2-4, per independent segment [seg_off, seg_end) of e, at most QK_TOK_MAX_RUN
     * characters (symbols exist for one segment at a time) */
    if (qk_span_cache_init(&cache, e)) goto oom;
    for (size_t seg_off = 0, seg_end; seg_off < elen; seg_off = seg_end) {
        int32_t n = 0;
        seg_end = seg_off;
        do {
            size_t cl = qk_utf8_len((unsigned char)e[seg_end]);
            seg_end += cl < elen - seg_end ? cl : elen - seg_end;
            n++;
        } while (seg_end < elen && (size_t)n < QK_TOK_MAX_RUN && !(v->spm_split && is_cut(e, elen, seg_end)));

        /* a segment seen before in this fragment gives the same tokens (exact: its merges
         * depend on its bytes only) */
        qk_span_entry *ce = NULL;
        if (v->spm_split && seg_end - seg_off <= CACHE_MAX_BYTES) {
            ce = qk_span_cache_slot(&cache, seg_off, (uint32_t)(seg_end - seg_off));
            if (ce->key_len) {
                if (qk_span_cache_copy(ce, out)) goto oom;
                continue;
            }
        }
        size_t out_before = out->n;

        /* 2. one symbol per UTF-8 character */
        if ((size_t)n > s_cap) {
            sym *ns = realloc(s, (size_t)n * sizeof *s);
            if (!ns) goto oom;
            s = ns;
            s_cap = (size_t)n;
        }
        uint32_t o = (uint32_t)seg_off;
        for (int32_t i = 0; i < n; i++) {
            size_t cl = qk_utf8_len((unsigned char)e[o]);
            if (cl > elen - o) cl = elen - o;
            s[i] = (sym){.prev = i - 1, .next = i + 1 == n ? -1 : i + 1, .off = o, .n = (uint32_t)cl};
            o += (uint32_t)cl;
        }

        /* 3. merge by score */
        h.n = 0;
        for (int32_t i = 1; i < n; i++)
            if (!try_add(v, e, s, &h, i - 1, i)) goto oom;
        while (h.n > 0) {
            bigram bg = heap_pop(&h);
            sym *L = &s[bg.left], *R = &s[bg.right];
            if (L->n == 0 || R->n == 0 || L->n + R->n != bg.size) continue;
            L->n += R->n;
            R->n = 0;
            L->next = R->next;
            if (R->next >= 0) s[R->next].prev = bg.left;
            if (!try_add(v, e, s, &h, L->prev, bg.left) || !try_add(v, e, s, &h, bg.left, L->next)) goto oom;
        }

        /* 4. emit tokens, byte tokens for unknown pieces */
        for (int32_t i = 0; i != -1; i = s[i].next) {
            int32_t id = qk_vocab_find(v, e + s[i].off, s[i].n);
            if (id >= 0) {
                if (qk_ids_push(out, id)) goto oom;
                continue;
            }
            for (uint32_t j = 0; j < s[i].n; j++) {
                unsigned char byte = (unsigned char)e[s[i].off + j];
                int32_t bid = v->spm_byte_id[byte];
                if (bid < 0) {
                    qk_errf(err, "the vocabulary has no byte token <0x%02X> for a character it cannot spell", byte);
                    goto done;
                }
                if (qk_ids_push(out, bid)) goto oom;
            }
        }
        if (ce && qk_span_cache_fill(&cache, ce, out_before, out->n)) goto oom;
    }
    rc = 0;
    goto done;
oom:
    qk_errf(err, "out of memory tokenizing %zu bytes", len);
done:
    free(e);
    free(s);
    free(h.a);
    qk_span_cache_free(&cache);
    return rc;
}
