/*
 * report_table.c — results.csv and results.md of the case study. Columns, units and
 * rounding: report_table.h.
 */
#include "report_table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)
#define DASH "\xe2\x80\x94" /* — */
#define PM "\xc2\xb1"       /* ± */

const char qk_report_csv_header[] =
    "label,model_file,model_type,base,size_bytes,size_mib,n_params,bpw,"
    "pp_tokens,pp_threads,pp_ts,pp_ts_sd,tg_tokens,tg_threads,tg_ts,tg_ts_sd,"
    "ppl,ppl_unc,n_ctx,n_chunks,n_tokens_scored,quality_source,ppl_ratio,ppl_ratio_unc,"
    "ppl_ratio_m1_pct,ppl_ratio_m1_pct_unc,cor_ln_ppl_pct,mean_kld,mean_kld_unc,"
    "same_top_pct,same_top_pct_unc,imatrix,bits_per_byte,word_perplexity";

/* ---- CSV -------------------------------------------------------------------------------- */

static void csv_text(qk_sb *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        qk_sb_puts(out, s);
        return;
    }
    qk_sb_append(out, "\"", 1);
    for (; *s; s++) {
        if (*s == '"') qk_sb_append(out, "\"", 1);
        qk_sb_append(out, s, 1);
    }
    qk_sb_append(out, "\"", 1);
}

static void csv_num(qk_sb *out, bool have, double v) {
    qk_sb_append(out, ",", 1);
    if (have && isfinite(v)) qk_sb_printf(out, "%.10g", v);
}

void qk_report_render_csv(qk_sb *out, const qk_report *r) {
    qk_sb_printf(out, "%s\n", qk_report_csv_header);
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        bool q = w->has_kld;
        csv_text(out, w->label);
        qk_sb_append(out, ",", 1);
        csv_text(out, w->model);
        qk_sb_append(out, ",", 1);
        csv_text(out, w->model_type);
        qk_sb_printf(out, ",%d", w->is_base ? 1 : 0);
        csv_num(out, w->size_bytes > 0, (double)w->size_bytes);
        csv_num(out, w->size_bytes > 0, (double)w->size_bytes / MIB);
        csv_num(out, w->n_params > 0, (double)w->n_params);
        csv_num(out, qk_report_bpw(w) > 0, qk_report_bpw(w));
        csv_num(out, w->has_pp, w->pp_tokens);
        csv_num(out, w->has_pp, w->pp_threads);
        csv_num(out, w->has_pp, w->pp_ts);
        csv_num(out, w->has_pp, w->pp_ts_sd);
        csv_num(out, w->has_tg, w->tg_tokens);
        csv_num(out, w->has_tg, w->tg_threads);
        csv_num(out, w->has_tg, w->tg_ts);
        csv_num(out, w->has_tg, w->tg_ts_sd);
        csv_num(out, w->has_ppl, w->ppl);
        csv_num(out, w->has_ppl, w->ppl_unc);
        csv_num(out, w->has_ppl && w->n_ctx > 0, w->n_ctx);
        csv_num(out, w->has_ppl && w->n_chunks > 0, w->n_chunks);
        csv_num(out, w->has_ppl && w->n_tokens_scored > 0, (double)w->n_tokens_scored);
        qk_sb_append(out, ",", 1);
        if (q) qk_sb_puts(out, w->quality_src);
        csv_num(out, q, w->ppl_ratio);
        csv_num(out, q, w->ppl_ratio_unc);
        csv_num(out, q, (w->ppl_ratio - 1.0) * 100.0);
        csv_num(out, q, w->ppl_ratio_unc * 100.0);
        csv_num(out, q, w->cor_ln_ppl * 100.0);
        csv_num(out, q, w->mean_kld);
        csv_num(out, q, w->mean_kld_unc);
        csv_num(out, q && w->has_same_top, w->same_top * 100.0);
        csv_num(out, q && w->has_same_top, w->same_top_unc * 100.0);
        qk_sb_printf(out, ",%d", qk_report_is_imatrix(w) ? 1 : 0);
        csv_num(out, w->has_bpb, w->bits_per_byte);
        csv_num(out, w->has_bpb, w->word_ppl);
        qk_sb_puts(out, "\n");
    }
}

/* ---- markdown --------------------------------------------------------------------------- */

/* "%.*f ± %.*f", or — */
static void md_pm(qk_sb *out, bool have, double v, double u, int dec) {
    if (!have || !isfinite(v)) {
        qk_sb_puts(out, " " DASH " |");
        return;
    }
    qk_sb_printf(out, " %.*f " PM " %.*f |", dec, v, dec, isfinite(u) ? u : 0.0);
}

static void md_num(qk_sb *out, bool have, double v, int dec) {
    if (!have || !isfinite(v)) qk_sb_puts(out, " " DASH " |");
    else qk_sb_printf(out, " %.*f |", dec, v);
}

static void md_kld(qk_sb *out, bool have, double v, double u) {
    if (!have || !isfinite(v)) {
        qk_sb_puts(out, " " DASH " |");
    } else if (v > 0 && v < 1e-3) {
        qk_sb_printf(out, " %.3e " PM " %.1e |", v, u);
    } else {
        qk_sb_printf(out, " %.5f " PM " %.5f |", v, u);
    }
}

/* The common value of an int field over the rows that have it, or -1 when they differ
 * (0 when none has it). */
static int common_int(const qk_report *r, int which) {
    int v = 0;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        int x = which == 0 ? (w->has_pp ? w->pp_tokens : 0)
              : which == 1 ? (w->has_tg ? w->tg_tokens : 0)
              : which == 2 ? (w->has_pp ? w->pp_threads : w->has_tg ? w->tg_threads : 0)
              : (w->has_ppl ? w->n_chunks : 0);
        if (x == 0) continue;
        if (v == 0) v = x;
        else if (v != x) return -1;
    }
    return v;
}

void qk_report_render_md(qk_sb *out, const qk_report *r, const char *title, const char *note) {
    int pp = common_int(r, 0), tg = common_int(r, 1);
    bool bpb = false;
    for (int i = 0; i < r->n; i++) bpb |= r->rows[i].has_bpb;
    qk_sb_printf(out, "# %s\n\n", title ? title : "Effect of quantization");
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].is_base && r->rows[i].model[0]) {
            const char *slash = strrchr(r->rows[i].model, '/');
            qk_sb_printf(out, "Base model: `%s`.\n\n", slash ? slash + 1 : r->rows[i].model);
            break;
        }
    if (note && *note) qk_sb_printf(out, "%s\n\n", note);
    qk_sb_puts(out, "| model | type | size (MiB) | bpw |");
    if (pp > 0) qk_sb_printf(out, " pp%d t/s |", pp);
    else qk_sb_puts(out, " prompt t/s |");
    if (tg > 0) qk_sb_printf(out, " tg%d t/s |", tg);
    else qk_sb_puts(out, " generation t/s |");
    qk_sb_puts(out, bpb ? " PPL | bits/byte | word PPL |" : " PPL |");
    qk_sb_puts(out, " PPL ratio \xe2\x88\x92 1 (%) | Cor(ln PPL) (%) | mean KLD | same top (%) |\n");
    qk_sb_puts(out, bpb ? "|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n" : "|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    int n_exact = 0, n_kld = 0;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        const char *ft = qk_report_ftype(w);
        qk_sb_printf(out, "| %s%s | %s |", w->label,
                     w->is_base && strcmp(w->label, "base") != 0 ? " (base)" : "", *ft ? ft : DASH);
        double mib = (double)w->size_bytes / MIB;
        md_num(out, w->size_bytes > 0, mib, mib < 10.0 ? 3 : 1);
        md_num(out, qk_report_bpw(w) > 0, qk_report_bpw(w), 2);
        md_pm(out, w->has_pp, w->pp_ts, w->pp_ts_sd, 2);
        md_pm(out, w->has_tg, w->tg_ts, w->tg_ts_sd, 2);
        md_pm(out, w->has_ppl, w->ppl, w->ppl_unc, 4);
        if (bpb) {
            md_num(out, w->has_bpb, w->bits_per_byte, 4);
            md_num(out, w->has_bpb, w->word_ppl, 2);
        }
        bool q = w->has_kld;
        md_pm(out, q, (w->ppl_ratio - 1.0) * 100.0, w->ppl_ratio_unc * 100.0, 3);
        md_num(out, q, w->cor_ln_ppl * 100.0, 2);
        md_kld(out, q, w->mean_kld, w->mean_kld_unc);
        md_pm(out, q && w->has_same_top, w->same_top * 100.0, w->same_top_unc * 100.0, 2);
        qk_sb_puts(out, "\n");
        if (q && !strcmp(w->quality_src, "exact")) n_exact++;
        else if (q) n_kld++;
    }

    qk_sb_puts(out, "\nNotes:\n\n");
    int threads = common_int(r, 2), chunks = common_int(r, 3);
    if (pp != 0 || tg != 0) {
        qk_sb_puts(out, "- Speed: qk-bench (llama-bench protocol)");
        if (threads > 0) qk_sb_printf(out, ", %d thread%s", threads, threads == 1 ? "" : "s");
        qk_sb_puts(out, ", mean " PM " sample standard deviation over the repetitions.\n");
    }
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->has_ppl) continue;
        qk_sb_printf(out, "- PPL: qk-perplexity over %d chunk%s of %d tokens (%lld tokens scored)"
                          " per model; " PM " is the standard error.\n",
                     chunks > 0 ? chunks : w->n_chunks, (chunks > 0 ? chunks : w->n_chunks) == 1 ? "" : "s",
                     w->n_ctx, w->n_tokens_scored);
        break;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *src = pass == 0 ? "exact" : "kld";
        if ((pass == 0 ? n_exact : n_kld) == 0) continue;
        qk_sb_puts(out, "- PPL ratio and Cor(ln PPL) of ");
        bool first = true;
        for (int i = 0; i < r->n; i++) {
            const qk_report_row *w = &r->rows[i];
            if (!w->has_kld || strcmp(w->quality_src, src) != 0) continue;
            qk_sb_printf(out, "%s%s", first ? "" : ", ", w->label);
            first = false;
        }
        if (pass == 0)
            qk_sb_puts(out, ": from the base model's exact per-token NLLs (\"exact\").\n");
        else
            qk_sb_puts(out, ": from llama.cpp's 16-bit base logits (\"kld\"), where PPL(base) is "
                            "clipped at 16 nats below the top logit, which overstates the ratio "
                            "for weak models.\n");
    }
    if (n_exact + n_kld > 0)
        qk_sb_puts(out, "- Mean KLD and same top: KL divergence from the base's token "
                        "distribution and the rate at which both models rank the same token "
                        "first (llama.cpp's --kl-divergence statistics).\n");
    for (int i = 0; i < r->n; i++)
        if (qk_report_is_imatrix(&r->rows[i])) {
            qk_sb_puts(out, "- TYPE" QK_REPORT_IMAT_SUFFIX ": TYPE quantized with an importance matrix (qk-quantize "
                            "--imatrix), beside TYPE quantized without one.\n");
            break;
        }
    if (bpb)
        qk_sb_puts(out, "- bits/byte = total NLL / (ln 2 \xc3\x97 bytes), word PPL = exp(total NLL / words), "
                        "over the text the scored tokens cover (their pieces; words split on whitespace): "
                        "figures that do not depend on the tokenizer (lm-evaluation-harness's definitions).\n");
    qk_sb_puts(out, "- size: tensor data in MiB; bpw = 8 \xc3\x97 bytes / parameters.\n");
}

int qk_report_write_csv(const qk_report *r, const char *path, qk_err *err) {
    qk_sb sb = {0};
    qk_report_render_csv(&sb, r);
    return qk_sb_write_file(&sb, path, err);
}

int qk_report_write_md(const qk_report *r, const char *path, const char *title, const char *note, qk_err *err) {
    qk_sb sb = {0};
    qk_report_render_md(&sb, r, title, note);
    return qk_sb_write_file(&sb, path, err);
}
