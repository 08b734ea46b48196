/*
 * bench_profile.c — the --profile rows and table of qk-bench (see bench_profile.h).
 */
#include "bench_profile.h"

#include <stdio.h>
#include <string.h>

static void set_row(qk_bench_profile_row *r, const char *op, double calls, double ns, const qk_profile *p,
                    double bytes) {
    snprintf(r->op, sizeof r->op, "%s", op);
    const double tokens = (double)p->n_tokens;
    r->calls_per_token = calls / tokens;
    r->ms_per_token = ns / 1e6 / tokens;
    r->share = p->decode_ns ? ns / (double)p->decode_ns : 0.0;
    r->gbs = bytes > 0 && ns > 0 ? bytes / ns : 0.0;
}

int qk_bench_profile_rows(const qk_profile *p, qk_bench_profile_row *rows) {
    if (!p->n_tokens) return 0;
    int n = 0;
    double accounted = (double)p->attn_ns;
    for (int t = 0; t < QK_TYPE_COUNT; t++) {
        if (!p->matmul_calls[t]) continue;
        set_row(&rows[n++], qk_type_name((uint32_t)t), (double)p->matmul_calls[t], (double)p->matmul_ns[t], p,
                p->matmul_bytes[t]);
        accounted += (double)p->matmul_ns[t];
    }
    set_row(&rows[n++], "attention", (double)p->attn_calls, (double)p->attn_ns, p, 0);
    const double other = (double)p->decode_ns > accounted ? (double)p->decode_ns - accounted : 0.0;
    set_row(&rows[n++], "other", 0, other, p, 0);
    set_row(&rows[n++], "total", (double)p->n_decode, (double)p->decode_ns, p, 0);
    return n;
}

void qk_bench_print_profile_md(qk_sb *out, const char *title, const qk_bench_profile_row *rows, int n) {
    qk_sb_printf(out, "\n%s\n\n", title);
    qk_sb_puts(out, "| op         | calls/token | ms/token |  share |  GB/s |\n"
                    "| ---------- | ----------: | -------: | -----: | ----: |\n");
    for (int i = 0; i < n; i++) {
        const qk_bench_profile_row *r = &rows[i];
        char gbs[16] = "";
        if (r->gbs > 0) snprintf(gbs, sizeof gbs, "%.1f", r->gbs);
        qk_sb_printf(out, "| %-10s | %11.1f | %8.3f | %5.1f%% | %5s |\n", r->op, r->calls_per_token,
                     r->ms_per_token, r->share * 100.0, gbs);
    }
}
