/*
 * bench_regress.c — pairing BASE and NEW results, the per-test interval and verdict, the
 * markdown report, the --fail-above gate and the ratio chart. Rules: bench_regress.h.
 */
#include "bench_regress.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plot.h"

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool same_shape(const qk_bench_cmp_rec *a, const qk_bench_cmp_rec *b) {
    return a->n_prompt == b->n_prompt && a->n_gen == b->n_gen && a->n_depth == b->n_depth &&
           a->n_threads == b->n_threads && (a->n_batch == 0 || b->n_batch == 0 || a->n_batch == b->n_batch) &&
           (a->n_ubatch == 0 || b->n_ubatch == 0 || a->n_ubatch == b->n_ubatch);
}

/* Index of the unused BASE record paired with r, or -1. */
static int find_pair(const qk_bench_cmp_set *base, const bool *used, const qk_bench_cmp_rec *r) {
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < base->n; i++) {
            const qk_bench_cmp_rec *g = &base->v[i];
            if (used[i] || !same_shape(g, r)) continue;
            bool hit = pass == 0 ? !strcmp(base_name(g->model_filename), base_name(r->model_filename))
                                 : r->model_n_params > 0 && g->model_n_params == r->model_n_params &&
                                       !strcmp(g->model_type, r->model_type);
            if (hit) return i;
        }
    return -1;
}

/* Mean and sample sd of the log rates of one side, and its count; false: no usable rate. */
static bool side_logs(const qk_bench_cmp_rec *r, int assume_reps, double *mean, double *sd, int *n, bool *summary) {
    if (r->samples_ts && r->n_samples > 0) {
        double s = 0, ss = 0;
        for (int k = 0; k < r->n_samples; k++) s += log(r->samples_ts[k]);
        *mean = s / r->n_samples;
        for (int k = 0; k < r->n_samples; k++) ss += (log(r->samples_ts[k]) - *mean) * (log(r->samples_ts[k]) - *mean);
        *sd = r->n_samples > 1 ? sqrt(ss / (r->n_samples - 1)) : 0;
        *n = r->n_samples;
        return true;
    }
    if (!(r->avg_ts > 0)) return false;
    *summary = true;
    *mean = log(r->avg_ts);
    *sd = r->stddev_ts / r->avg_ts;
    *n = assume_reps;
    return true;
}

static int compute(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence, int assume_reps,
                   bool by_index, qk_bench_regress *out, qk_err *err);

int qk_bench_regress_compute(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence,
                             int assume_reps, qk_bench_regress *out, qk_err *err) {
    return compute(base, new_, confidence, assume_reps, false, out, err);
}

int qk_bench_regress_compute_paired(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence,
                                    qk_bench_regress *out, qk_err *err) {
    if (base->n != new_->n) return qk_errf(err, "paired sets of %d and %d records", base->n, new_->n);
    return compute(base, new_, confidence, 2, true, out, err);
}

static int compute(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence, int assume_reps,
                   bool by_index, qk_bench_regress *out, qk_err *err) {
    memset(out, 0, sizeof *out);
    out->confidence = confidence;
    bool *used = calloc((size_t)base->n + 1, sizeof *used);
    out->rows = calloc((size_t)new_->n + 1, sizeof *out->rows);
    if (!used || !out->rows) {
        free(used);
        qk_bench_regress_free(out);
        return qk_errf(err, "out of memory");
    }
    for (int j = 0; j < new_->n; j++) {
        const qk_bench_cmp_rec *r = &new_->v[j];
        int i = by_index ? j : find_pair(base, used, r);
        if (i < 0) {
            out->n_unpaired_new++;
            continue;
        }
        used[i] = true;
        qk_bench_regress_row *row = &out->rows[out->n++];
        row->base = i;
        row->new_ = j;
        double ma, sa, mb, sb;
        int na, nb;
        if (side_logs(&base->v[i], assume_reps, &ma, &sa, &na, &row->summary) &&
            side_logs(r, assume_reps, &mb, &sb, &nb, &row->summary))
            row->ab = qk_bench_ab_from_logs(ma, sa, na, mb, sb, nb, confidence);
        else row->ab = (qk_bench_ab){QK_BENCH_UNTESTED, 0, 0, 0, 1, 0};
        out->counts[row->ab.verdict]++;
    }
    for (int i = 0; i < base->n; i++) out->n_unpaired_base += !used[i];
    free(used);
    if (out->n == 0) {
        char test[96];
        qk_bench_cmp_test_name(&new_->v[0], test, sizeof test);
        qk_bench_regress_free(out);
        return qk_errf(err, "no test of NEW has a counterpart in BASE (first: %s %s t=%d)",
                       base_name(new_->v[0].model_filename), test, new_->v[0].n_threads);
    }
    return 0;
}

void qk_bench_regress_free(qk_bench_regress *r) {
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

static bool row_fails(const qk_bench_regress_row *row, double pct) {
    return pct >= 0 && row->ab.verdict == QK_BENCH_SLOWER && row->ab.ratio < 1.0 - pct / 100.0;
}

int qk_bench_regress_failures(const qk_bench_regress *r, double fail_above_pct) {
    int n = 0;
    for (int k = 0; k < r->n; k++) n += row_fails(&r->rows[k], fail_above_pct);
    return n;
}

static void side_line(qk_sb *out, const char *label, const char *name, const qk_bench_cmp_set *s) {
    qk_sb_printf(out, "- %s: %s (build %s, %s)\n", label, name, s->build_commit[0] ? s->build_commit : "unknown",
                 s->cpu_info[0] ? s->cpu_info : "unknown CPU");
}

void qk_bench_regress_render_md(qk_sb *out, const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_,
                                const qk_bench_regress *r, const char *base_name_, const char *new_name,
                                double fail_above_pct) {
    const double cpct = r->confidence * 100.0;
    char label[1024], test[96];
    qk_sb_puts(out, "# Benchmark comparison: new vs base\n\n");
    side_line(out, "base", base_name_, base);
    side_line(out, "new", new_name, new_);
    qk_sb_printf(out, "\nnew / base is the ratio of the geometric mean rates; the interval is Welch's t "
                      "interval on the log rates of the %s at %g %% confidence. A test is faster or "
                      "slower only when its whole interval lies above or below 1.\n\n",
                 r->per_run ? "runs (each run's geometric mean rate is one sample)" : "repetitions", cpct);
    qk_sb_printf(out, "| model | test | threads | base t/s | new t/s | new / base | %g %% CI | p | verdict |\n"
                      "| ----- | ---- | ------: | -------: | ------: | ---------: | :----: | -: | ------- |\n",
                 cpct);
    bool any_summary = false;
    for (int k = 0; k < r->n; k++) {
        const qk_bench_regress_row *row = &r->rows[k];
        const qk_bench_cmp_rec *a = &base->v[row->base], *b = &new_->v[row->new_];
        qk_bench_cmp_label(b, label, sizeof label);
        qk_bench_cmp_test_name(b, test, sizeof test);
        qk_sb_printf(out, "| %s | %s | %d | %.2f ± %.2f | %.2f ± %.2f | %.3f | %.3f – %.3f | %.3g | %s%s%s%s |\n",
                     label, test, b->n_threads, a->avg_ts, a->stddev_ts, b->avg_ts, b->stddev_ts, row->ab.ratio,
                     row->ab.lo, row->ab.hi, row->ab.p, row->ab.verdict == QK_BENCH_SLOWER ? "**" : "",
                     qk_bench_verdict_name(row->ab.verdict), row->ab.verdict == QK_BENCH_SLOWER ? "**" : "",
                     row->summary ? " (summary)" : "");
        any_summary |= row->summary;
    }
    qk_sb_printf(out, "\n- %d test%s compared: %d faster, %d slower, %d no significant change", r->n,
                 r->n == 1 ? "" : "s", r->counts[QK_BENCH_FASTER], r->counts[QK_BENCH_SLOWER],
                 r->counts[QK_BENCH_SAME]);
    if (r->counts[QK_BENCH_UNTESTED])
        qk_sb_printf(out, ", %d untested (fewer than 2 repetitions)", r->counts[QK_BENCH_UNTESTED]);
    qk_sb_puts(out, "\n");
    if (r->n_unpaired_base || r->n_unpaired_new)
        qk_sb_printf(out, "- unpaired: %d test%s only in base, %d only in new\n", r->n_unpaired_base,
                     r->n_unpaired_base == 1 ? "" : "s", r->n_unpaired_new);
    if (any_summary)
        qk_sb_puts(out, "- (summary): a side without per-repetition rates (llama-bench CSV): its mean ± sd and "
                        "an assumed repetition count stand in for the samples\n");
    if (fail_above_pct >= 0) {
        const int nf = qk_bench_regress_failures(r, fail_above_pct);
        if (nf == 0) {
            qk_sb_printf(out, "- gate (--fail-above %g): pass — no test is significantly slower by more than %g %%\n",
                         fail_above_pct, fail_above_pct);
        } else {
            qk_sb_printf(out, "- gate (--fail-above %g): **FAIL** — %d test%s significantly slower by more than %g %%:",
                         fail_above_pct, nf, nf == 1 ? "" : "s", fail_above_pct);
            for (int k = 0; k < r->n; k++) {
                const qk_bench_regress_row *row = &r->rows[k];
                if (!row_fails(row, fail_above_pct)) continue;
                qk_bench_cmp_test_name(&new_->v[row->new_], test, sizeof test);
                qk_bench_cmp_label(&new_->v[row->new_], label, sizeof label);
                qk_sb_printf(out, " %s %s t=%d (%+.1f %%)", label, test, new_->v[row->new_].n_threads,
                             (row->ab.ratio - 1.0) * 100.0);
            }
            qk_sb_puts(out, "\n");
        }
    }
}

bool qk_bench_regress_render_gp(qk_sb *out, const char *name, const qk_bench_cmp_set *new_,
                                const qk_bench_regress *r, double fail_above_pct) {
    if (r->n == 0) return false;
    char label[1024], test[96], title[1200];
    qk_plot_gp_preamble(out, name, "new / base per test with its confidence interval", 900, 160 + 28 * r->n);
    qk_sb_puts(out, "$d << EOD\n");
    for (int k = 0; k < r->n; k++) {
        const qk_bench_regress_row *row = &r->rows[k];
        const qk_bench_cmp_rec *b = &new_->v[row->new_];
        qk_bench_cmp_label(b, label, sizeof label);
        qk_bench_cmp_test_name(b, test, sizeof test);
        snprintf(title, sizeof title, "%s %s t=%d", label, test, b->n_threads);
        qk_sb_printf(out, "%d %.6f %.6f %.6f ", k, row->ab.ratio, row->ab.lo, row->ab.hi);
        qk_plot_gp_string(out, title);
        qk_sb_puts(out, "\n");
    }
    qk_sb_puts(out, "EOD\n");
    qk_sb_printf(out, "set title \"new / base (%g %% confidence intervals)\"\n", r->confidence * 100.0);
    qk_sb_printf(out, "set yrange [-1:%d]\nset ytics scale 0\nset grid xtics\nunset key\n", r->n);
    qk_sb_puts(out, "set xlabel \"new / base t/s\"\nset arrow from 1, graph 0 to 1, graph 1 nohead lw 2\n");
    if (fail_above_pct >= 0)
        qk_sb_printf(out, "set arrow from %.6f, graph 0 to %.6f, graph 1 nohead dt 2 lc rgb \"red\"\n",
                     1.0 - fail_above_pct / 100.0, 1.0 - fail_above_pct / 100.0);
    qk_sb_puts(out, "plot $d using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1.2\n");
    return true;
}

/* avg_ts and stddev_ts of a record from its samples. */
static void resummarize(qk_bench_cmp_rec *g) {
    double m = 0, ss = 0;
    for (int k = 0; k < g->n_samples; k++) m += g->samples_ts[k];
    m /= g->n_samples;
    for (int k = 0; k < g->n_samples; k++) ss += (g->samples_ts[k] - m) * (g->samples_ts[k] - m);
    g->avg_ts = m;
    g->stddev_ts = g->n_samples > 1 ? sqrt(ss / (g->n_samples - 1)) : 0;
}

int qk_bench_regress_pool(qk_bench_cmp_set *s, bool run_means, qk_err *err) {
    for (int i = 0; run_means && i < s->n; i++) {
        qk_bench_cmp_rec *r = &s->v[i];
        if (!r->samples_ts || r->n_samples < 1) continue;
        double l = 0;
        for (int k = 0; k < r->n_samples; k++) l += log(r->samples_ts[k]);
        r->samples_ts[0] = exp(l / r->n_samples);
        r->n_samples = 1;
        resummarize(r);
    }
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        qk_bench_cmp_rec *r = &s->v[i];
        int into = -1;
        for (int k = 0; r->samples_ts && k < n && into < 0; k++) {
            const qk_bench_cmp_rec *g = &s->v[k];
            if (g->samples_ts && g->n_prompt == r->n_prompt && g->n_gen == r->n_gen && g->n_depth == r->n_depth &&
                g->n_threads == r->n_threads && g->n_batch == r->n_batch && g->n_ubatch == r->n_ubatch &&
                !strcmp(base_name(g->model_filename), base_name(r->model_filename)))
                into = k;
        }
        if (into < 0) {
            if (n != i) s->v[n] = *r;
            n++;
            continue;
        }
        qk_bench_cmp_rec *g = &s->v[into];
        double *nv = realloc(g->samples_ts, sizeof(double) * (size_t)(g->n_samples + r->n_samples));
        if (!nv) {
            for (int k = i; k < s->n; k++) free(s->v[k].samples_ts);
            s->n = n;
            return qk_errf(err, "out of memory");
        }
        memcpy(nv + g->n_samples, r->samples_ts, sizeof(double) * (size_t)r->n_samples);
        g->samples_ts = nv;
        g->n_samples += r->n_samples;
        free(r->samples_ts);
        resummarize(g);
    }
    s->n = n;
    return 0;
}

void qk_bench_regress_render_cijson(qk_sb *out, const qk_bench_cmp_set *new_, const qk_bench_regress *r) {
    char label[1024], test[96], name[1200], range[64], extra[256];
    qk_sb_puts(out, "[\n");
    for (int k = 0; k < r->n; k++) {
        const qk_bench_regress_row *row = &r->rows[k];
        const qk_bench_cmp_rec *b = &new_->v[row->new_];
        qk_bench_cmp_label(b, label, sizeof label);
        qk_bench_cmp_test_name(b, test, sizeof test);
        snprintf(name, sizeof name, "%s %s t=%d", label, test, b->n_threads);
        snprintf(range, sizeof range, "\xc2\xb1 %.2f", b->stddev_ts);
        snprintf(extra, sizeof extra, "new / base %.3f (%g %% CI %.3f\xe2\x80\x93%.3f): %s", row->ab.ratio,
                 r->confidence * 100.0, row->ab.lo, row->ab.hi, qk_bench_verdict_name(row->ab.verdict));
        cJSON *o = cJSON_CreateObject();
        bool ok = o && cJSON_AddStringToObject(o, "name", name) && cJSON_AddStringToObject(o, "unit", "t/s") &&
                  cJSON_AddNumberToObject(o, "value", b->avg_ts) && cJSON_AddStringToObject(o, "range", range) &&
                  cJSON_AddStringToObject(o, "extra", extra);
        char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
        if (!text) out->oom = true;
        else qk_sb_printf(out, "%s%s", text, k + 1 < r->n ? ",\n" : "\n");
        free(text);
        cJSON_Delete(o);
    }
    qk_sb_puts(out, "]\n");
}
