/*
 * bench_sql.c — qk-bench -o sql: the results as SQL statements for sqlite3, in the layout
 * of llama-bench's sql printer (examples/llama-bench/llama-bench.cpp [U], sql_printer;
 * llama-cpp-reference.md §1c): table llama_bench, llama-bench's field names as columns,
 * typed INTEGER (integers and booleans), REAL (floats) or TEXT, and one INSERT per test
 * with every value a quoted string (sqlite converts it by the column's affinity). Layout:
 * bench_output.h.
 *
 *   qk-bench -m model.gguf -o sql | sqlite3 results.db
 */
#include <stdio.h>
#include <string.h>

#include "bench_output.h"

/* The CSV fields, then n_depth (a later llama-bench field that the CSV leaves out). */
static const char *sql_type(int field) {
    if (field == QK_BENCH_N_FIELDS) return "INTEGER"; /* n_depth */
    switch (qk_bench_field_type_of(field)) {
    case QK_BENCH_INT: case QK_BENCH_BOOL: return "INTEGER";
    case QK_BENCH_FLOAT: return "REAL";
    default: return "TEXT";
    }
}

static const char *sql_name(int field) { return field == QK_BENCH_N_FIELDS ? "n_depth" : qk_bench_fields[field]; }

void qk_bench_sql_header(qk_sb *out) {
    qk_sb_puts(out, "CREATE TABLE IF NOT EXISTS llama_bench (\n");
    for (int i = 0; i <= QK_BENCH_N_FIELDS; i++)
        qk_sb_printf(out, "  %s %s%s\n", sql_name(i), sql_type(i), i < QK_BENCH_N_FIELDS ? "," : "");
    qk_sb_puts(out, ");\n\n");
}

/* 'value' with every ' doubled (SQL string literal). */
static void sql_quote(qk_sb *out, const char *s) {
    qk_sb_append(out, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') qk_sb_append(out, "'", 1);
        qk_sb_append(out, p, 1);
    }
    qk_sb_append(out, "'", 1);
}

void qk_bench_sql_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r) {
    qk_sb_puts(out, "INSERT INTO llama_bench (");
    for (int i = 0; i <= QK_BENCH_N_FIELDS; i++) qk_sb_printf(out, "%s%s", i ? ", " : "", sql_name(i));
    qk_sb_puts(out, ") VALUES (");
    qk_sb v = {0};
    for (int i = 0; i <= QK_BENCH_N_FIELDS; i++) {
        v.len = 0;
        qk_sb_append(&v, "", 0);
        if (i == QK_BENCH_N_FIELDS) qk_sb_printf(&v, "%d", r->test.n_depth);
        else qk_bench_field_value(&v, r, e, i);
        if (i) qk_sb_puts(out, ", ");
        sql_quote(out, qk_sb_str(&v));
    }
    qk_sb_puts(out, ");\n");
    if (!qk_sb_ok(&v)) out->oom = true;
    qk_sb_free(&v);
}
