/*
 * tokenizer_impl.h — internals shared by the tokenizer files (not a public header).
 *
 *   tokenizer.c      vocab loading from GGUF metadata, token hash table, special-token
 *                    splitting, qk_tokenize dispatch, token_to_piece, detokenize
 *   tokenizer_buf.c  the id list and the span cache the two tokenizers share
 *   strtab.c         (not tokenizer-specific) the keyed string -> index hash table
 *   tokenizer_spm.c  SentencePiece-style merging by score (llm_tokenizer_spm)
 *   tokenizer_bpe.c  byte-level BPE: merge table, GPT-2 byte mapping, rank merging
 *   pretokenize.c    UTF-8 decoding as llama.cpp does it and the gpt-2 / llama3 / qwen2
 *                    pre-tokenizer splitters (hand-written, utf8proc categories)
 *
 * Invariants of a loaded qk_vocab: every token has a non-empty text (llama.cpp renames
 * empty ones "[EMPTY_<id>]"), texts are unique, the hash table maps every text to its id,
 * and special_ids lists the control / user-defined / unknown tokens, longest text first.
 */
#ifndef QK_TOKENIZER_IMPL_H
#define QK_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strtab.h"
#include "tokenizer.h"

/* llama_token_type values as stored in tokenizer.ggml.token_type */
enum {
    QK_TOKTYPE_UNDEFINED = 0,
    QK_TOKTYPE_NORMAL = 1,
    QK_TOKTYPE_UNKNOWN = 2,
    QK_TOKTYPE_CONTROL = 3,
    QK_TOKTYPE_USER_DEFINED = 4,
    QK_TOKTYPE_UNUSED = 5,
    QK_TOKTYPE_BYTE = 6,
};

/* Pre-tokenizer selected by tokenizer.ggml.pre (llama_vocab_pre_type). */
typedef enum qk_pre_kind {
    QK_PRE_NONE = 0, /* SPM: no pre-tokenization */
    QK_PRE_GPT2,     /* "gpt-2" */
    QK_PRE_LLAMA3,   /* "llama-bpe", "llama3", "llama-v3" */
    QK_PRE_QWEN2,    /* "qwen2" */
} qk_pre_kind;

/* Merge table entry: (left id, right id) -> rank and id of the merged text. */
typedef struct qk_merge_slot {
    uint64_t key;      /* (uint64)left << 32 | right; UINT64_MAX = empty */
    int32_t rank;
    int32_t merged;    /* id of left+right in the vocab, -1 if absent */
} qk_merge_slot;

struct qk_vocab {
    qk_vocab_kind kind;
    qk_pre_kind pre;
    int32_t n_tokens;

    char *pool;          /* all token texts, each NUL-terminated */
    const char **text;   /* text[id] points into pool */
    uint32_t *len;       /* byte length of text[id] */
    float *score;        /* SPM merge scores (0 when absent) */
    uint8_t *type;       /* QK_TOKTYPE_* */
    qk_strtab tab;       /* text -> id */
    size_t max_token_len;

    int32_t bos, eos, unk, pad; /* -1 when none */
    bool add_bos, add_eos, add_space_prefix, ignore_merges, clean_spaces;

    int32_t *special_ids; /* control / user-defined / unknown ids, longest text first */
    int32_t n_special;

    /* SPM: id of "<0xXX>" (else of the 1-byte text), -1 if neither exists */
    int32_t spm_byte_id[256];
    /* SPM: no token has U+2581 after a byte other than U+2581's last, so the text can be
     * cut before such a "▁" (tokenizer_spm.c) */
    bool spm_split;

    /* BPE */
    uint8_t bpe_enc[256][2];    /* GPT-2 bytes_to_unicode, as UTF-8 (1 or 2 bytes) */
    uint8_t bpe_enc_len[256];
    int32_t bpe_char_id[256];   /* id of the encoded 1-char text of each byte, -1 if absent */
    int32_t bpe_rawbyte_id[256];/* id of the raw 1-byte text (llama.cpp's last resort) */
    qk_merge_slot *merges;      /* pair table, capacity merge_mask + 1 */
    uint64_t merge_mask;
    int64_t n_merges;
    /* merges whose left or right side is not a vocab token: "L R" strings, by text */
    char **xmerge_text;
    uint32_t *xmerge_len;
    int32_t *xmerge_rank;
    int32_t n_xmerges;
    qk_strtab xmerge_tab;
};

/* Growable list of token ids. */
typedef struct qk_ids {
    int32_t *v;
    size_t n, cap;
} qk_ids;

/* Longest run, in UTF-8 characters, that is merged as one piece: a pre-tokenizer word
 * (BPE) or an SPM segment that no exact cut splits. A longer run (a megabyte of one letter
 * or of spaces; no natural text has one: wiki.test.raw's longest run without a space is 33 bytes) is
 * merged in consecutive pieces of this many characters. llama.cpp merges it whole, so only
 * tokens at the joins of such a run can differ from llama.cpp; in exchange the merge state
 * stays bounded (about 60 bytes per character of the piece: symbols, queue, encodings)
 * instead of growing with the run. */
#define QK_TOK_MAX_RUN ((size_t)1 << 20)

/* ---- tokenizer_buf.c ---- */
int qk_ids_push(qk_ids *ids, int32_t id);

/* Span cache for one tokenize call: a byte span of a stable buffer (`base`) that was seen
 * before yields the same tokens, copied from where they were first written into the output
 * list. Nothing is copied on insert: entries hold offsets into base and into the output. */
typedef struct qk_span_entry {
    uint32_t hash, key_len; /* key_len == 0: empty slot */
    uint32_t out_n;
    size_t key_off, out_off;
} qk_span_entry;

typedef struct qk_span_cache {
    const char *base;
    qk_span_entry *e;
    size_t mask, n;
} qk_span_cache;

int qk_span_cache_init(qk_span_cache *c, const char *base);
void qk_span_cache_free(qk_span_cache *c);
/* The entry for span [off, off+len) of base (len >= 1): key_len != 0 if it was filled
 * before, otherwise an empty slot reserved for it. */
qk_span_entry *qk_span_cache_slot(qk_span_cache *c, size_t off, uint32_t len);
/* Append a filled entry's tokens to out. */
int qk_span_cache_copy(const qk_span_entry *e, qk_ids *out);
/* Record that the span of slot e produced out->v[from, to); may grow the table. */
int qk_span_cache_fill(qk_span_cache *c, qk_span_entry *e, size_t from, size_t to);

/* Vocab id of a text, -1 if absent (llama_vocab::text_to_token). Inline: the tokenizers
 * below call it, and tokenizer.c calls them. */
static inline int32_t qk_vocab_find(const qk_vocab *v, const char *s, size_t len) {
    return qk_strtab_find(&v->tab, (const char *const *)v->text, v->len, s, len);
}

/* ---- tokenizer_spm.c ---- */
/* True if every U+2581 inside a token (not at offset 0) directly follows another U+2581:
 * then no token can span a cut (a "▁" that follows something else), and a fragment can be
 * merged segment by segment (sets qk_vocab.spm_split at load). */
bool qk_spm_can_split(const qk_vocab *v);
/* Tokenize one raw-text fragment (llm_tokenizer_spm_session::tokenize after the caller's
 * prefix/escape step is folded in: add_prefix prepends ' '; spaces become U+2581). */
int qk_spm_tokenize(const qk_vocab *v, const char *text, size_t len, bool add_prefix,
                    qk_ids *out, qk_err *err);

/* ---- tokenizer_bpe.c ---- */
/* Build the GPT-2 byte tables and the merge table from tokenizer.ggml.merges (the n
 * strings "left right", rank = index). Needs v->text/len/tab filled. */
int qk_bpe_init(qk_vocab *v, const char *const *merges, const uint32_t *merge_lens, uint64_t n,
                qk_err *err);
void qk_bpe_free(qk_vocab *v);
/* Tokenize one raw-text fragment (llm_tokenizer_bpe_session::tokenize). */
int qk_bpe_tokenize(const qk_vocab *v, const char *text, size_t len, qk_ids *out, qk_err *err);
/* Append the GPT-2 byte decoding of a token text (llama_decode_text). Returns bytes written
 * into buf (up to cap) and the full length in *full. */
size_t qk_bpe_decode_text(const char *text, size_t len, char *buf, size_t cap, size_t *full);

/* ---- pretokenize.c ---- */
/* UTF-8 -> code points exactly as llama.cpp's unicode_cpts_from_utf8: a malformed lead or
 * missing continuation byte becomes U+FFFD and consumes one byte; overlong forms and
 * surrogates are accepted as decoded. Values above U+10FFFF (which llama.cpp cannot
 * re-encode and throws on) also become U+FFFD. cpts must hold len entries. Returns count. */
size_t qk_utf8_decode(const char *s, size_t len, uint32_t *cpts);
/* Length of the UTF-8 sequence announced by a lead byte (unicode_len_utf8): 1,1,..,2,3,4 by
 * the high nibble. */
static inline size_t qk_utf8_len(unsigned char c) {
    static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[c >> 4];
}
/* Encode one code point (<= 0x10FFFF, surrogates encoded as 3 bytes). Returns bytes (1..4). */
size_t qk_utf8_encode(uint32_t cp, char *out);
/* Split n code points into pre-tokens: writes each piece's length in code points to lens
 * (capacity n) and returns the number of pieces. Returns SIZE_MAX on allocation failure. */
size_t qk_pretokenize(qk_pre_kind kind, const uint32_t *cpts, size_t n, uint32_t *lens);

#endif
