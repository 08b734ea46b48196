/*
 * quants_k_pack.h — internal: the K-quants' bit layouts, codes <-> bytes, shared by the
 * reference quantizers and dequantizers (quants_k.c) and the importance-weighted
 * quantizers (quants_k_imat.c). The single statement of each layout (ggml-common.h's
 * block_q2_K ... block_q6_K; llama-cpp-reference.md §2.1). Not part of the engine API.
 */
#ifndef QK_QUANTS_K_PACK_H
#define QK_QUANTS_K_PACK_H

#include <stdint.h>
#include <string.h>

#include "quants.h"

/* 2-bit codes (Q2_K, low bits of Q3_K): for each half of 128 elements, byte l of the
 * half's 32 bytes holds elements l, l+32, l+64, l+96 at bit shifts 0, 2, 4, 6. */
static inline void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < QK_K; h += 128)
        for (int l = 0; l < 32; l++)
            qs[h / 4 + l] = (uint8_t)(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) |
                                      (L[h + l + 96] << 6));
}

static inline void unpack_2bit(const uint8_t *qs, uint8_t *L) {
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, r = e % 128;
        L[e] = (qs[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
    }
}

/* 4-bit codes (Q4_K, low nibbles of Q5_K): each 64 elements use 32 bytes, low nibble =
 * element l, high nibble = element l+32. */
static inline void pack_4bit(const uint8_t *L, uint8_t *qs) {
    for (int c = 0; c < QK_K; c += 64)
        for (int l = 0; l < 32; l++) qs[c / 2 + l] = (uint8_t)((L[c + l] & 0xF) | (L[c + l + 32] << 4));
}

static inline void unpack_4bit(const uint8_t *qs, uint8_t *L) {
    for (int e = 0; e < QK_K; e++) {
        int c = e / 64, r = e % 64;
        uint8_t b = qs[c * 32 + r % 32];
        L[e] = r < 32 ? (b & 0xF) : (b >> 4);
    }
}

/* Q3_K codes 0..7: low 2 bits as pack_2bit, high bit of element e in bit e/32 of
 * hmask[e%32]. */
static inline void pack_q3_K(const uint8_t *L, uint8_t *hmask, uint8_t *qs) {
    uint8_t low[QK_K];
    memset(hmask, 0, QK_K / 8);
    for (int e = 0; e < QK_K; e++) { /* branch-free: the codes are data */
        hmask[e % 32] |= (uint8_t)((unsigned)(L[e] > 3) << (e / 32));
        low[e] = L[e] & 3;
    }
    pack_2bit(low, qs);
}

static inline void unpack_q3_K(const block_q3_K *b, uint8_t *L) {
    unpack_2bit(b->qs, L);
    for (int e = 0; e < QK_K; e++)
        if (b->hmask[e % 32] & (1u << (e / 32))) L[e] |= 4;
}

/* Q5_K codes 0..31: low nibbles as pack_4bit, 5th bit of element 64c+l in bit 2c of qh[l]
 * and of element 64c+32+l in bit 2c+1. */
static inline void pack_q5_K(const uint8_t *L, uint8_t *qh, uint8_t *qs) {
    memset(qh, 0, QK_K / 8);
    for (int e = 0; e < QK_K; e++) qh[e % 32] |= (uint8_t)((unsigned)(L[e] > 15) << (e / 32));
    pack_4bit(L, qs); /* pack_4bit keeps only the low nibble */
}

static inline void unpack_q5_K(const block_q5_K *b, uint8_t *L) {
    unpack_4bit(b->qs, L);
    for (int e = 0; e < QK_K; e++)
        if (b->qh[e % 32] & (1u << (e / 32))) L[e] |= 16;
}

/* Q6_K codes 0..63: per 128 elements, ql[l] holds the low nibbles of l (low) and l+64
 * (high), ql[l+32] those of l+32 and l+96; qh[l] the top 2 bits of l, l+32, l+64, l+96
 * at shifts 0, 2, 4, 6. */
static inline void pack_q6_K(const uint8_t *L, uint8_t *ql, uint8_t *qh) {
    for (int h = 0; h < QK_K; h += 128) {
        uint8_t *ql_h = ql + h / 2, *qh_h = qh + h / 4;
        for (int l = 0; l < 32; l++) {
            const uint8_t *p = L + h + l;
            ql_h[l] = (uint8_t)((p[0] & 0xF) | ((p[64] & 0xF) << 4));
            ql_h[l + 32] = (uint8_t)((p[32] & 0xF) | ((p[96] & 0xF) << 4));
            qh_h[l] = (uint8_t)((p[0] >> 4) | ((p[32] >> 4) << 2) | ((p[64] >> 4) << 4) |
                                ((p[96] >> 4) << 6));
        }
    }
}

static inline void unpack_q6_K(const block_q6_K *b, uint8_t *L) {
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
        uint8_t lo = b->ql[h * 64 + l + (quarter & 1) * 32];
        lo = (quarter < 2) ? (lo & 0xF) : (lo >> 4);
        uint8_t hi = (b->qh[h * 32 + l] >> (2 * quarter)) & 3;
        L[e] = (uint8_t)(lo | (hi << 4));
    }
}

#endif
