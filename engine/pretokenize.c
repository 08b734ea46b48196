/*
 * pretokenize.c — UTF-8 decoding and the BPE pre-tokenizers (splitting text into words
 * before merging), written as hand-made matchers over code points. No regex engine.
 *
 * Unicode classes come from utf8proc (general categories L* = letter, N* = number) plus the
 * Unicode White_Space property (hard-coded list below, what \s means in these regexes).
 * Source of the behaviour: llama.cpp src/unicode.cpp (unicode_regex_split_custom_gpt2,
 * unicode_regex_split_custom_llama3, unicode_cpts_from_utf8) and the regexes in
 * src/llama-vocab.cpp / llama-cpp-reference.md §3.4:
 *
 *   gpt-2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *           | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2:  the llama3 regex with \p{N} (one digit at a time) instead of \p{N}{1,3}.
 *
 * Alternatives are tried in order at each position (leftmost-first, as in the regex
 * engines); the text between matches cannot be empty because every code point is matched
 * by some alternative. The splitter only depends on a per-code-point class (letter,
 * number, whitespace, other) and on the literal characters ' \r \n and ASCII letters.
 */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <utf8proc.h>

enum {
    F_L = 1,  /* \p{L} */
    F_N = 2,  /* \p{N} */
    F_WS = 4, /* \s (White_Space) */
    F_IN = 8, /* inside the text (any code point); 0 past the end */
};

size_t qk_utf8_decode(const char *s, size_t len, uint32_t *cpts) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned c = p[i];
        uint32_t cp;
        size_t k;
        if (c < 0x80) {
            cpts[n++] = c;
            i++;
            continue;
        } else if (!(c & 0x40)) {
            k = 0; /* stray continuation byte */
        } else if (!(c & 0x20)) {
            k = 2;
        } else if (!(c & 0x10)) {
            k = 3;
        } else if (!(c & 0x08)) {
            k = 4;
        } else {
            k = 0;
        }
        bool ok = k != 0 && i + k <= len;
        for (size_t j = 1; ok && j < k; j++) ok = (p[i + j] & 0xC0) == 0x80;
        if (!ok) {
            cpts[n++] = 0xFFFD;
            i++;
            continue;
        }
        if (k == 2) cp = (c & 0x1Fu) << 6 | (p[i + 1] & 0x3Fu);
        else if (k == 3) cp = (c & 0x0Fu) << 12 | (p[i + 1] & 0x3Fu) << 6 | (p[i + 2] & 0x3Fu);
        else cp = (c & 0x07u) << 18 | (p[i + 1] & 0x3Fu) << 12 | (p[i + 2] & 0x3Fu) << 6 | (p[i + 3] & 0x3Fu);
        cpts[n++] = cp > 0x10FFFF ? 0xFFFD : cp;
        i += k;
    }
    return n;
}

size_t qk_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode White_Space property (PropList.txt): the code points \s matches. */
static bool is_white_space(uint32_t c) {
    switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

static uint8_t cpt_class(uint32_t c) {
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return F_IN | F_L;
        if (c >= '0' && c <= '9') return F_IN | F_N;
        if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return F_IN | F_WS;
        return F_IN;
    }
    if (is_white_space(c)) return F_IN | F_WS;
    if (c > 0x10FFFF) return F_IN;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return F_IN | F_L;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return F_IN | F_N;
    default:
        return F_IN;
    }
}

/* Splitter state: the text, its classes, and the pieces written so far. */
typedef struct split {
    const uint32_t *c;
    const uint8_t *f;
    size_t n;
    uint32_t *lens;
    size_t n_pieces;
    size_t prev_end;
} split;

static inline uint8_t F(const split *s, size_t pos) { return pos < s->n ? s->f[pos] : 0; }
static inline uint32_t C(const split *s, size_t pos) { return pos < s->n ? s->c[pos] : 0xFFFFFFFFu; }
static inline uint32_t lower_ascii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Close the piece ending at `end` (no-op if empty). */
static inline void emit(split *s, size_t end) {
    if (end > s->prev_end) s->lens[s->n_pieces++] = (uint32_t)(end - s->prev_end);
    s->prev_end = end;
}

/* 's 't 're 've 'm 'll 'd at pos; returns the match length or 0. */
static size_t contraction(const split *s, size_t pos, bool ci) {
    if (s->c[pos] != '\'' || pos + 1 >= s->n) return 0;
    uint32_t a = s->c[pos + 1];
    if (ci) a = lower_ascii(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= s->n) return 0;
    uint32_t b = s->c[pos + 2];
    if (ci) b = lower_ascii(b);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* Where the whitespace alternatives of both patterns end for the nws (>= 0) white spaces
 * starting at pos: \s+(?!\S) leaves the last space of a run to the word that follows it,
 * \s+ takes a run that ends the text (or a single space), and anything else is one
 * character on its own. */
static size_t whitespace_end(const split *s, size_t pos, size_t nws) {
    if (nws > 1 && pos + nws < s->n) return pos + nws - 1; /* \s+(?!\S) */
    if (nws > 0) return pos + nws;                          /* \s+ */
    return pos + 1;
}

#define WLN (F_WS | F_L | F_N)

static void split_gpt2(split *s) {
    size_t pos = 0;
    while (pos < s->n) {
        const uint32_t c = s->c[pos];
        size_t k = contraction(s, pos, false);
        if (k) {
            pos += k;
            emit(s, pos);
            continue;
        }
        /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional leading space */
        const uint8_t f2 = c == ' ' ? F(s, pos + 1) : s->f[pos];
        if (f2 & F_L) {
            pos += c == ' ';
            while (F(s, pos) & F_L) pos++;
            emit(s, pos);
            continue;
        }
        if (f2 & F_N) {
            pos += c == ' ';
            while (F(s, pos) & F_N) pos++;
            emit(s, pos);
            continue;
        }
        if (!(f2 & WLN) && (f2 & F_IN)) {
            pos += c == ' ';
            while (!(F(s, pos) & WLN) && (F(s, pos) & F_IN)) pos++;
            emit(s, pos);
            continue;
        }
        size_t nws = 0;
        while (F(s, pos + nws) & F_WS) nws++;
        pos = whitespace_end(s, pos, nws);
        emit(s, pos);
    }
}

/* llama3 (max_digits 3) and qwen2 (max_digits 1). */
static void split_llama3(split *s, size_t max_digits) {
    size_t pos = 0;
    while (pos < s->n) {
        const uint32_t c = s->c[pos];
        const uint8_t f = s->f[pos];
        size_t k = contraction(s, pos, true);
        if (k) {
            pos += k;
            emit(s, pos);
            continue;
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!(c == '\r' || c == '\n' || (f & F_N)) && ((f & F_L) || (F(s, pos + 1) & F_L))) {
            pos++;
            while (F(s, pos) & F_L) pos++;
            emit(s, pos);
            continue;
        }
        /* \p{N}{1,max_digits} */
        if (f & F_N) {
            size_t ini = pos;
            while ((F(s, pos) & F_N) && pos - ini < max_digits) pos++;
            emit(s, pos);
            continue;
        }
        /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
        const uint8_t f2 = c == ' ' ? F(s, pos + 1) : f;
        if (!(f2 & WLN)) {
            pos += c == ' ';
            while (!(F(s, pos) & WLN) && (F(s, pos) & F_IN)) pos++;
            while (C(s, pos) == '\r' || C(s, pos) == '\n') pos++;
            emit(s, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (F(s, pos + nws) & F_WS) {
            uint32_t c2 = s->c[pos + nws];
            if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
            nws++;
        }
        pos = last_rn > 0 ? last_rn /* \s*[\r\n]+ */ : whitespace_end(s, pos, nws);
        emit(s, pos);
    }
}

size_t qk_pretokenize(qk_pre_kind kind, const uint32_t *cpts, size_t n, uint32_t *lens) {
    if (n == 0) return 0;
    uint8_t *f = malloc(n);
    if (!f) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) f[i] = cpt_class(cpts[i]);
    split s = {.c = cpts, .f = f, .n = n, .lens = lens, .n_pieces = 0, .prev_end = 0};
    switch (kind) {
    case QK_PRE_GPT2: split_gpt2(&s); break;
    case QK_PRE_LLAMA3: split_llama3(&s, 3); break;
    case QK_PRE_QWEN2: split_llama3(&s, 1); break;
    default: lens[s.n_pieces++] = (uint32_t)n; break;
    }
    free(f);
    return s.n_pieces;
}
