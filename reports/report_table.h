/*
 * report_table.h — the case study's results table, as CSV (every figure at full precision,
 * for other programs) and as markdown (rounded, for people).
 *
 * Columns (one row per model, base first; see report_data.h):
 *   model label, ftype, size (MiB = 2^20 bytes of tensor data), bits per weight
 *   (8 * bytes / parameters), prompt t/s (ppN), generation t/s (tgN), PPL ± its
 *   uncertainty, PPL ratio − 1 in % ± (100·ratio_unc), Cor(ln PPL) in %, mean KLD ±,
 *   same-top-token rate in % ±; when any row has them, bits per byte and word perplexity
 *   (of the text the scored tokens cover) follow PPL. The CSV ends with "imatrix": 1 for a model quantized with an
 *   importance matrix (label suffix QK_REPORT_IMAT_SUFFIX), else 0, then bits_per_byte and
 *   word_perplexity (empty when unknown).
 * Markdown rounding: size 1 decimal (3 below 10 MiB), bpw 2, t/s 2 ("mean ± sd"), PPL 4, ratio − 1 3,
 *   bits/byte 4, word PPL 2, correlation 2, KLD 5 (values below 0.001 and above 0 in %.3e), same top 2.
 *   Missing values print as "—" (markdown) or an empty field (CSV). The base row shows
 *   "—" for the figures relative to itself.
 * CSV: RFC 4180, header line first, text fields quoted when they contain ',', '"' or a
 *   line break; numbers with %.10g.
 */
#ifndef QK_REPORT_TABLE_H
#define QK_REPORT_TABLE_H

#include "report_data.h"
#include "fileio.h"

/* Column names of results.csv, in order, comma-separated (the header line without "\n"). */
extern const char qk_report_csv_header[];

void qk_report_render_csv(qk_sb *out, const qk_report *r);
/* The markdown report: title (NULL: "Effect of quantization"), a line naming the base
 * model's file, note (NULL or "": none) as a paragraph under it, the table, the notes. */
void qk_report_render_md(qk_sb *out, const qk_report *r, const char *title, const char *note);

/* Render and write atomically. */
int qk_report_write_csv(const qk_report *r, const char *path, qk_err *err);
int qk_report_write_md(const qk_report *r, const char *path, const char *title, const char *note, qk_err *err);

#endif
