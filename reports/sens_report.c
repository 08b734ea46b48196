/*
 * sens_report.c — the per-tensor sensitivity tables and heat map (contents: sens_report.h).
 */
#include "sens_report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "plot.h"

#define PM "\xc2\xb1" /* ± */

/* ---- reading ------------------------------------------------------------------------------ */

static double jnum(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) && isfinite(it->valuedouble) ? it->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* The index of name in list (n entries of cap bytes each), appending it when new; -1 when full. */
static int intern(char *list, size_t cap, int *n, int max, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(list + (size_t)i * cap, name)) return i;
    if (*n == max) return -1;
    snprintf(list + (size_t)*n * cap, cap, "%s", name);
    return (*n)++;
}

static int load_tensor(qk_sensrep_data *d, const cJSON *jt, int i, const char *path, qk_err *err) {
    qk_sensrep_tensor *t = &d->t[i];
    const char *name = jstr(jt, "name"), *kind = jstr(jt, "kind");
    const double layer = jnum(jt, "layer");
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(jt, "candidates");
    if (!name || !isfinite(layer) || layer < -1 || layer > 100000 || layer != floor(layer) || !cJSON_IsArray(cands))
        return qk_errf(err, "'%s': tensor %d lacks a name, a whole \"layer\" >= -1 or a \"candidates\" array", path, i + 1);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->kind, sizeof t->kind, "%s", kind ? kind : name);
    t->layer = (int)layer;
    if (t->layer > d->max_layer) d->max_layer = t->layer;
    const double ne = jnum(jt, "n_elements");
    t->n_elements = ne > 0 && ne < 0x1p53 ? (uint64_t)ne : 0;
    if ((t->kind_idx = intern(&d->kinds[0][0], sizeof d->kinds[0], &d->n_kinds, QK_SENSREP_MAX_KINDS, t->kind)) < 0)
        return qk_errf(err, "'%s': more than %d tensor kinds", path, QK_SENSREP_MAX_KINDS);
    for (int k = 0; k < QK_SENSREP_MAX_TYPES; k++) t->cell[k] = (qk_sensrep_cell){NAN, NAN, NAN, NAN, NAN, 0, false};
    const cJSON *c;
    cJSON_ArrayForEach(c, cands) {
        const char *type = jstr(c, "type");
        if (!type) return qk_errf(err, "'%s': a candidate of %s has no \"type\"", path, t->name);
        const int ty = intern(&d->types[0][0], sizeof d->types[0], &d->n_types, QK_SENSREP_MAX_TYPES, type);
        if (ty < 0) return qk_errf(err, "'%s': more than %d candidate types", path, QK_SENSREP_MAX_TYPES);
        const double bytes = jnum(c, "bytes");
        t->cell[ty] = (qk_sensrep_cell){jnum(c, "kld"), jnum(c, "kld_unc"), jnum(c, "proxy"), jnum(c, "kld_est"), NAN,
                                     bytes > 0 && bytes < 0x1p53 ? (uint64_t)bytes : 0, true};
    }
    return 0;
}

int qk_sensrep_load(qk_sensrep_data *d, const char *path, qk_err *err) {
    memset(d, 0, sizeof *d);
    d->max_layer = -1;
    qk_err e;
    char *text = qk_file_read(path, NULL, &e);
    if (!text) return qk_errf(err, "%s", e.msg);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) return qk_errf(err, "'%s' is not valid JSON", path);
    int rc = -1;
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(j, "tensors");
    if (jnum(j, "qkit_sensitivity") != 1 || !cJSON_IsArray(tensors)) {
        qk_errf(err, "'%s' is not a qk-sensitivity file (\"qkit_sensitivity\": 1 and \"tensors\" expected)", path);
        goto done;
    }
    snprintf(d->model, sizeof d->model, "%s", jstr(j, "model") ? jstr(j, "model") : "");
    snprintf(d->mode, sizeof d->mode, "%s", jstr(j, "mode") ? jstr(j, "mode") : "");
    const int n = cJSON_GetArraySize(tensors);
    if (!(d->t = calloc((size_t)n + 1, sizeof *d->t))) {
        qk_errf(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++, d->n++)
        if (load_tensor(d, cJSON_GetArrayItem(tensors, i), i, path, err) != 0) goto done;
    /* per type: the KLD when every tensor that has the type has one, else the KLD or its
     * estimate when every tensor has one of them, else the proxy */
    for (int ty = 0; ty < d->n_types; ty++) {
        bool all_kld = true, all_est = true, any = false;
        for (int i = 0; i < d->n; i++) {
            const qk_sensrep_cell *c = &d->t[i].cell[ty];
            if (!c->has) continue;
            any = true;
            all_kld &= isfinite(c->kld);
            all_est &= isfinite(c->kld) || isfinite(c->kld_est);
        }
        d->type_kld[ty] = any && all_est;
        d->type_est[ty] = any && all_est && !all_kld;
        for (int i = 0; i < d->n; i++) {
            qk_sensrep_cell *c = &d->t[i].cell[ty];
            if (!c->has) continue;
            c->cost = !d->type_kld[ty] ? c->proxy : isfinite(c->kld) ? c->kld : c->kld_est;
            if (c->cost > 0) d->type_shown[ty] = true;
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    if (rc) qk_sensrep_free(d);
    return rc;
}

void qk_sensrep_free(qk_sensrep_data *d) {
    free(d->t);
    d->t = NULL;
    d->n = 0;
}

int qk_sensrep_rank(const qk_sensrep_data *d, int ty, int *idx) {
    int m = 0;
    for (int i = 0; i < d->n; i++) {
        const double c = d->t[i].cell[ty].cost;
        if (!isfinite(c)) continue;
        int p = m++; /* insertion by cost descending, stable */
        while (p > 0 && d->t[idx[p - 1]].cell[ty].cost < c) idx[p] = idx[p - 1], p--;
        idx[p] = i;
    }
    return m;
}

/* ---- tables ------------------------------------------------------------------------------- */

static void csv_num(qk_sb *out, double v) {
    qk_sb_puts(out, ",");
    if (isfinite(v)) qk_sb_printf(out, "%.10g", v);
}

void qk_sensrep_render_csv(qk_sb *out, const qk_sensrep_data *d) {
    qk_sb_puts(out, "type,rank,tensor,layer,kind,n_elements,bytes,bpw,cost,kld,kld_unc,proxy,kld_est\n");
    int *idx = malloc(sizeof *idx * ((size_t)d->n + 1));
    if (!idx) return;
    for (int ty = 0; ty < d->n_types; ty++) {
        if (!d->type_shown[ty]) continue;
        const int m = qk_sensrep_rank(d, ty, idx);
        for (int r = 0; r < m; r++) {
            const qk_sensrep_tensor *t = &d->t[idx[r]];
            const qk_sensrep_cell *c = &t->cell[ty];
            qk_sb_printf(out, "%s,%d,%s,%d,%s,%llu,%llu", d->types[ty], r + 1, t->name, t->layer, t->kind,
                         (unsigned long long)t->n_elements, (unsigned long long)c->bytes);
            csv_num(out, t->n_elements && c->bytes ? 8.0 * (double)c->bytes / (double)t->n_elements : NAN);
            csv_num(out, c->cost);
            csv_num(out, c->kld);
            csv_num(out, c->kld_unc);
            csv_num(out, c->proxy);
            csv_num(out, c->kld_est);
            qk_sb_puts(out, "\n");
        }
    }
    free(idx);
}

/* The cost, with its ± when measured, marked '*' when estimated (kld_est). */
static void md_cost(qk_sb *out, const qk_sensrep_cell *c, bool measured, bool estimated) {
    if (measured && isfinite(c->kld_unc)) qk_sb_printf(out, " %.4g " PM " %.2g |", c->cost, c->kld_unc);
    else qk_sb_printf(out, " %.4g%s |", c->cost, estimated ? "*" : "");
}

void qk_sensrep_render_md(qk_sb *out, const qk_sensrep_data *d, int top) {
    const char *slash = strrchr(d->model, '/');
    qk_sb_printf(out, "# Per-tensor sensitivity\n\nModel: `%s`; each tensor quantized alone to each type, the "
                      "rest kept as in the base model.\n",
                 slash ? slash + 1 : d->model);
    int *idx = malloc(sizeof *idx * ((size_t)d->n + 1));
    if (!idx) return;
    for (int ty = 0; ty < d->n_types; ty++) {
        if (!d->type_shown[ty]) continue;
        const int m = qk_sensrep_rank(d, ty, idx);
        const bool kld = d->type_kld[ty];
        qk_sb_printf(out, "\n## %s: the %d costliest tensors (of %d)\n\n| rank | tensor | layer | kind | bpw | %s |\n"
                          "|--:|:--|--:|:--|--:|--:|\n",
                     d->types[ty], m < top ? m : top, m,
                     !kld ? "proxy (imatrix-weighted squared error)"
                          : d->type_est[ty] ? "mean KLD (nats; * estimated)" : "mean KLD (nats)");
        for (int r = 0; r < m && r < top; r++) {
            const qk_sensrep_tensor *t = &d->t[idx[r]];
            const qk_sensrep_cell *c = &t->cell[ty];
            qk_sb_printf(out, "| %d | %s | ", r + 1, t->name);
            if (t->layer >= 0) qk_sb_printf(out, "%d |", t->layer);
            else qk_sb_puts(out, "\xe2\x80\x94 |");
            qk_sb_printf(out, " %s |", t->kind);
            if (t->n_elements && c->bytes) qk_sb_printf(out, " %.2f |", 8.0 * (double)c->bytes / (double)t->n_elements);
            else qk_sb_puts(out, " \xe2\x80\x94 |");
            md_cost(out, c, kld && isfinite(c->kld), kld && !isfinite(c->kld));
            qk_sb_puts(out, "\n");
        }
    }
    qk_sb_puts(out, "\nNotes:\n\n- mean KLD: of the model with only that tensor quantized, against the base model on "
                    "the calibration text (" PM " standard error); proxy: \xce\xa3 imatrix-weighted squared "
                    "error of the weights (no forward pass), where no KLD was measured; * estimated: "
                    "qk-sensitivity --mode scaled's kld_est (one measured type per tensor, carried to the others "
                    "in proportion to the proxy).\n"
                    "- bpw: 8 \xc3\x97 the tensor's bytes at that type / its elements.\n");
    free(idx);
}

/* ---- heat map ----------------------------------------------------------------------------- */

bool qk_sensrep_render_gp(qk_sb *out, const qk_sensrep_data *d) {
    /* one colour range per measure (KLD, proxy), shared by the panels of that measure */
    int shown = 0;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {0, 0};
    for (int ty = 0; ty < d->n_types; ty++) {
        if (!d->type_shown[ty]) continue;
        shown++;
        const int g = d->type_kld[ty];
        for (int i = 0; i < d->n; i++) {
            const double c = d->t[i].cell[ty].cost;
            if (c > 0 && isfinite(c)) lo[g] = fmin(lo[g], c), hi[g] = fmax(hi[g], c);
        }
    }
    if (shown == 0) return false;
    for (int g = 0; g < 2; g++)
        if (!(hi[g] > lo[g])) hi[g] = lo[g] * 10; /* one value: a decade of scale */
    const int cols = (int)ceil(sqrt((double)shown)), rows = (shown + cols - 1) / cols;
    const int n_rows_y = d->max_layer + 2; /* layers 0..max, and "other" at -1 */
    const int ph = 140 + 14 * (n_rows_y < 12 ? 12 : n_rows_y), pw = 120 + 34 * (d->n_kinds < 8 ? 8 : d->n_kinds);
    qk_plot_gp_preamble(out, "sensitivity", "per-tensor cost of quantizing one tensor alone, per type: heat maps",
                        cols * pw, rows * ph + 40);
    qk_sb_puts(out, "# columns: kind index, layer (-1: not in a layer), cost\n");
    for (int ty = 0; ty < d->n_types; ty++) {
        if (!d->type_shown[ty]) continue;
        qk_sb_printf(out, "$t%d << EOD\n", ty);
        for (int i = 0; i < d->n; i++) {
            const double c = d->t[i].cell[ty].cost;
            if (c > 0 && isfinite(c)) qk_sb_printf(out, "%d %d %.6g\n", d->t[i].kind_idx, d->t[i].layer, c);
        }
        qk_sb_puts(out, "EOD\n");
    }
    bool any_kld = false, any_proxy = false;
    for (int ty = 0; ty < d->n_types; ty++)
        if (d->type_shown[ty]) any_kld |= d->type_kld[ty], any_proxy |= !d->type_kld[ty];
    qk_sb_printf(out, "set multiplot layout %d,%d title \"Cost of quantizing one tensor alone (%s; log colour scale, "
                      "blank: none or <= 0)\"\n",
                 rows, cols, any_kld && any_proxy ? "mean KLD, else proxy" : any_kld ? "mean KLD, nats" : "proxy");
    qk_sb_printf(out, "set logscale cb\nset format cb \"%%.0e\"\n"
                      "set palette defined (0 \"#fff5eb\", 1 \"#fdae6b\", 2 \"#e6550d\", 3 \"#7f2704\")\n"
                      "set xrange [-0.5:%d.5]\nset yrange [-1.5:%d.5]\n"
                      "set xtics rotate by 45 right font \",9\"\nset ytics font \",9\"\nset tics out nomirror\n"
                      "set ylabel \"layer\"\nset key off\n",
                 d->n_kinds - 1, d->max_layer < 0 ? 0 : d->max_layer);
    qk_sb_puts(out, "set xtics (");
    for (int k = 0; k < d->n_kinds; k++) {
        qk_sb_printf(out, "%s", k ? ", " : "");
        qk_plot_gp_string(out, d->kinds[k]);
        qk_sb_printf(out, " %d", k);
    }
    qk_sb_puts(out, ")\nset ytics (\"other\" -1");
    const int step = d->max_layer >= 24 ? 4 : d->max_layer >= 12 ? 2 : 1;
    for (int l = 0; l <= d->max_layer; l += step) qk_sb_printf(out, ", \"%d\" %d", l, l);
    qk_sb_puts(out, ")\n");
    for (int ty = 0; ty < d->n_types; ty++) {
        if (!d->type_shown[ty]) continue;
        const int g = d->type_kld[ty];
        char title[96];
        snprintf(title, sizeof title, "%s: %s", d->types[ty],
                 !g ? "proxy" : d->type_est[ty] ? "mean KLD (nats, part estimated)" : "mean KLD (nats)");
        qk_sb_puts(out, "set title ");
        qk_plot_gp_string(out, title);
        qk_sb_printf(out, "\nset cbrange [%.6g:%.6g]\n", lo[g], hi[g]);
        /* one filled unit box per cell: the data are sparse (not every kind in every layer) */
        qk_sb_printf(out, "plot $t%d using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder lc palette\n", ty);
    }
    qk_sb_puts(out, "unset multiplot\n");
    return true;
}

/* ---- files -------------------------------------------------------------------------------- */

static int write_sb(const char *dir, const char *name, qk_sb *sb, qk_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return qk_sb_write_file(sb, path, err);
}

int qk_sensrep_write(const qk_sensrep_data *d, const char *dir, int top, bool run_gnuplot, bool *png, qk_err *err) {
    *png = false;
    qk_sb csv = {0}, md = {0}, gp = {0};
    qk_sensrep_render_csv(&csv, d);
    qk_sensrep_render_md(&md, d, top);
    const bool have = qk_sensrep_render_gp(&gp, d);
    int rc = write_sb(dir, "sensitivity.csv", &csv, err);
    if (!rc) rc = write_sb(dir, "sensitivity.md", &md, err);
    else qk_sb_free(&md);
    if (!rc && have) rc = write_sb(dir, "sensitivity.gp", &gp, err);
    else qk_sb_free(&gp);
    char gnuplot[4096];
    if (!rc && have && run_gnuplot && qk_plot_find_gnuplot(gnuplot, sizeof gnuplot)) {
        rc = qk_plot_run_gnuplot(gnuplot, dir, "sensitivity", err);
        *png = rc == 0;
    }
    return rc;
}
