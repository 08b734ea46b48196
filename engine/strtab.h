/*
 * strtab.h — a hash table from byte strings to entry numbers, for names that come from
 * untrusted files: GGUF metadata keys and tensor names, vocabulary texts, spans of the
 * text being tokenized.
 *
 * The keys live outside the table: entry i's key is keys[i] (lens[i] bytes), in arrays
 * the caller owns and passes to every call (so they may be reallocated between calls).
 * A slot holds an entry number and its key's 32-bit hash; open addressing with linear
 * probing, capacity a power of two, load factor at most 2/3.
 *
 * Hostile keys: qk_str_hash is SipHash-1-3 (J.-P. Aumasson and D. J. Bernstein, "SipHash:
 * a fast short-input PRF", INDOCRYPT 2012; 1 compression and 3 finalization rounds)
 * keyed with 128 random bits drawn once per process (getrandom), so a file cannot choose
 * names whose hashes collide: inserts and lookups take O(1) expected probes whatever the
 * names. The key changes only the probe order, never a result.
 */
#ifndef QK_STRTAB_H
#define QK_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct qk_strtab_slot {
    int32_t idx;   /* entry number, or -1: empty */
    uint32_t hash; /* qk_str_hash of that entry's key */
} qk_strtab_slot;

typedef struct qk_strtab {
    uint32_t mask; /* capacity − 1 */
    uint32_t n;    /* entries inserted */
    qk_strtab_slot *slot;
} qk_strtab;

/* Keyed hash of s[0..len) (see above), folded to 32 bits. Thread-safe. */
uint32_t qk_str_hash(const char *s, size_t len);

/* An empty table sized for n_entries (0 is allowed: qk_strtab_add grows it). Returns 0,
 * or -1 when out of memory. */
int qk_strtab_init(qk_strtab *t, size_t n_entries);
void qk_strtab_free(qk_strtab *t);

/* Insert entry idx (keys[idx] of lens[idx] bytes) into a table sized for it
 * (qk_strtab_init's n_entries). Returns the entry already holding an equal key (idx is then
 * not inserted), or -1 when idx was inserted. _h: with the key's qk_str_hash given. */
int32_t qk_strtab_insert(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx);
int32_t qk_strtab_insert_h(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx, uint32_t h);

/* The same, growing the table first when it is 2/3 full, so that its memory follows the
 * entries added. Returns as qk_strtab_insert, or -2 when out of memory (nothing changed). */
int32_t qk_strtab_add(qk_strtab *t, const char *const *keys, const uint32_t *lens, int32_t idx);

/* The entry whose key equals s[0..len), or -1. _h: with qk_str_hash(s, len) given. */
int32_t qk_strtab_find(const qk_strtab *t, const char *const *keys, const uint32_t *lens, const char *s, size_t len);
int32_t qk_strtab_find_h(const qk_strtab *t, const char *const *keys, const uint32_t *lens, const char *s, size_t len,
                         uint32_t h);

/* Longest probe sequence an insert or lookup of a present key walks (slots visited). For
 * tests: with the keyed hash it stays small whatever the keys. */
uint32_t qk_strtab_max_probe(const qk_strtab *t);

#endif
