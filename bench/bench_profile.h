/*
 * bench_profile.h — qk-bench --profile: where a tgN test's decode time goes, from the
 * engine's qk_profile (forward.h) summed over the timed repetitions.
 *
 * One row per weight type the matmuls used ("Q5_0"), then "attention" and "other" (what
 * the matmuls and the attention leave of qk_decode: norms, RoPE, SwiGLU, residual adds,
 * the embedding lookup, the activation conversions outside the matmuls), then "total".
 * Per row: calls and milliseconds per generated token, the share of the decode time, and
 * for the matmul rows the rate the weights streamed at, GB/s = weight bytes / time
 * (1e9 bytes/s, as the roofline's bandwidth: a type far below the machine's bandwidth is
 * compute-bound there).
 */
#ifndef QK_BENCH_PROFILE_H
#define QK_BENCH_PROFILE_H

#include "forward.h"
#include "fileio.h"

typedef struct qk_bench_profile_row {
    char op[32];            /* ggml type name, "attention", "other" or "total" */
    double calls_per_token; /* 0 for "other" */
    double ms_per_token;
    double share;           /* of the decode time, 0..1 */
    double gbs;             /* weight bytes / time for matmul rows, else 0 */
} qk_bench_profile_row;

/* Max rows qk_bench_profile_rows() fills. */
#define QK_BENCH_PROFILE_MAX_ROWS (QK_TYPE_COUNT + 3)

/* Fill rows (capacity QK_BENCH_PROFILE_MAX_ROWS) from p; returns the row count, 0 when p
 * holds no decoded token. Matmul rows come in ggml type id order. */
int qk_bench_profile_rows(const qk_profile *p, qk_bench_profile_row *rows);

/* A markdown table of the rows under the heading line `title`. */
void qk_bench_print_profile_md(qk_sb *out, const char *title, const qk_bench_profile_row *rows, int n);

#endif
