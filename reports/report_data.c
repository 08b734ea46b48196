/*
 * report_data.c — reading qk-perplexity and qk-bench JSON files into one row per model,
 * choosing the base row and ordering the rows. Field names and rules: report_data.h.
 */
#include "report_data.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* label from a file name: drop the directory and the extension */
static void stem(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", base_name(path));
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

static bool get_num(const cJSON *o, const char *key, double *v) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return false;
    *v = it->valuedouble;
    return true;
}

static double num_or(const cJSON *o, const char *key, double dflt) {
    double v;
    return get_num(o, key, &v) ? v : dflt;
}

/* A count: a whole number in [0, max], or dflt (values outside an integer type's range
 * must not be converted to it: undefined behaviour). */
static double count_or(const cJSON *o, const char *key, double max, double dflt) {
    double v;
    return get_num(o, key, &v) && v >= 0 && v <= max && v == floor(v) ? v : dflt;
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static cJSON *parse_file(const char *path, qk_err *err) {
    qk_err e;
    char *text = qk_file_read(path, NULL, &e);
    if (!text) {
        qk_errf(err, "%s", e.msg);
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        const char *where = cJSON_GetErrorPtr();
        long off = where && where >= text ? (long)(where - text) : -1;
        qk_errf(err, "'%s' is not valid JSON (near byte %ld)", path, off);
    }
    free(text);
    return j;
}

static qk_report_row *find_row(qk_report *r, const char *model) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].model, model)) return &r->rows[i];
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].model[0] && !strcmp(base_name(r->rows[i].model), base_name(model)))
            return &r->rows[i];
    return NULL;
}

static qk_report_row *new_row(qk_report *r, qk_err *err) {
    if (r->n == r->cap) {
        int nc = r->cap ? r->cap * 2 : 8;
        qk_report_row *nr = realloc(r->rows, sizeof(qk_report_row) * (size_t)nc);
        if (!nr) {
            qk_errf(err, "out of memory");
            return NULL;
        }
        r->rows = nr;
        r->cap = nc;
    }
    qk_report_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    return row;
}

/* ---- perplexity files ------------------------------------------------------------------- */

int qk_report_add_ppl(qk_report *r, const char *path, qk_err *err) {
    cJSON *j = parse_file(path, err);
    if (!j) return -1;
    int rc = -1;
    if (!cJSON_IsObject(j)) {
        qk_errf(err, "'%s' is not a qk-perplexity JSON object", path);
        goto done;
    }
    double ppl;
    if (!get_num(j, "ppl", &ppl)) {
        qk_errf(err, "'%s' has no numeric \"ppl\" (is it qk-perplexity --json output?)", path);
        goto done;
    }
    const char *model = get_str(j, "model");
    char label[128];
    stem(path, label, sizeof label);
    qk_report_row *row = model ? find_row(r, model) : NULL;
    if (row && row->has_ppl) {
        qk_errf(err, "'%s': model '%s' already has perplexity results (from another file)", path,
                model);
        goto done;
    }
    if (!row && !(row = new_row(r, err))) goto done;
    snprintf(row->label, sizeof row->label, "%s", label);
    if (model) snprintf(row->model, sizeof row->model, "%s", model);
    row->has_ppl = true;
    row->ppl = ppl;
    row->ppl_unc = num_or(j, "ppl_unc", 0.0);
    row->n_ctx = (int)count_or(j, "n_ctx", INT_MAX, 0);
    row->n_chunks = (int)count_or(j, "n_chunks", INT_MAX, 0);
    row->n_tokens_scored = (long long)count_or(j, "n_tokens_scored", 0x1p53, 0);
    row->size_bytes = (uint64_t)count_or(j, "model_size_bytes", 0x1p53, 0);
    row->n_params = (uint64_t)count_or(j, "n_params", 0x1p53, 0);
    row->has_bpb = get_num(j, "bits_per_byte", &row->bits_per_byte);
    row->word_ppl = num_or(j, "word_perplexity", NAN);

    const cJSON *kld = cJSON_GetObjectItemCaseSensitive(j, "kld");
    const cJSON *exact = cJSON_GetObjectItemCaseSensitive(j, "exact");
    if (cJSON_IsObject(kld)) {
        if (!get_num(kld, "mean_kld", &row->mean_kld)) {
            qk_errf(err, "'%s': \"kld\" has no numeric \"mean_kld\"", path);
            goto done;
        }
        row->has_kld = true;
        row->mean_kld_unc = num_or(kld, "mean_kld_unc", 0.0);
        row->has_same_top = get_num(kld, "same_top", &row->same_top);
        row->same_top_unc = num_or(kld, "same_top_unc", 0.0);
        const cJSON *src = kld;
        row->quality_src = "kld";
        double v;
        if (cJSON_IsObject(exact) && get_num(exact, "ppl_ratio", &v)) {
            src = exact;
            row->quality_src = "exact";
        }
        row->ppl_ratio = num_or(src, "ppl_ratio", NAN);
        row->ppl_ratio_unc = num_or(src, "ppl_ratio_unc", 0.0);
        row->cor_ln_ppl = num_or(src, "cor_ln_ppl", NAN);
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* ---- bench files ------------------------------------------------------------------------ */

/* bench-only rows: "model-Q4_K_M.gguf" -> "Q4_K_M", "model-Q4_K_M-imat.gguf" -> "Q4_K_M-imat" */
static void label_from_model(const char *model, char *out, size_t cap) {
    char s[256];
    stem(model, s, sizeof s);
    const char *dash = strrchr(s, '-');
    if (dash && dash > s && !strcmp(dash, QK_REPORT_IMAT_SUFFIX)) {
        const char *d2 = dash - 1;
        while (d2 > s && *d2 != '-') d2--;
        if (*d2 == '-') dash = d2;
    }
    const char *l = dash && dash[1] ? dash + 1 : s;
    size_t n = strlen(l);
    if (n >= cap) n = cap - 1;
    memcpy(out, l, n);
    out[n] = 0;
}

int qk_report_add_bench(qk_report *r, const char *path, qk_err *err) {
    cJSON *j = parse_file(path, err);
    if (!j) return -1;
    int rc = -1;
    if (!cJSON_IsArray(j)) {
        qk_errf(err, "'%s' is not a JSON array (is it qk-bench -o json output?)", path);
        goto done;
    }
    int idx = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, j) {
        idx++;
        const char *model = get_str(t, "model_filename");
        double ts;
        const double n_prompt = count_or(t, "n_prompt", INT_MAX, -1), n_gen = count_or(t, "n_gen", INT_MAX, -1),
                     n_threads = count_or(t, "n_threads", INT_MAX, -1);
        if (!cJSON_IsObject(t) || !model || n_prompt < 0 || n_gen < 0 || !get_num(t, "avg_ts", &ts) || n_threads < 0) {
            qk_errf(err, "'%s': record %d lacks model_filename/n_prompt/n_gen/n_threads/avg_ts (or a count is not a whole number)",
                    path, idx);
            goto done;
        }
        qk_report_row *row = find_row(r, model);
        if (!row) {
            if (!(row = new_row(r, err))) goto done;
            snprintf(row->model, sizeof row->model, "%s", model);
            label_from_model(model, row->label, sizeof row->label);
        }
        const char *mt = get_str(t, "model_type");
        if (mt) snprintf(row->model_type, sizeof row->model_type, "%s", mt);
        if (!row->size_bytes) row->size_bytes = (uint64_t)count_or(t, "model_size", 0x1p53, 0);
        if (!row->n_params) row->n_params = (uint64_t)count_or(t, "model_n_params", 0x1p53, 0);
        double sd = num_or(t, "stddev_ts", 0.0);
        if (n_prompt > 0 && n_gen == 0 && (!row->has_pp || n_threads >= row->pp_threads)) {
            row->has_pp = true;
            row->pp_tokens = (int)n_prompt;
            row->pp_threads = (int)n_threads;
            row->pp_ts = ts;
            row->pp_ts_sd = sd;
        } else if (n_gen > 0 && n_prompt == 0 && (!row->has_tg || n_threads >= row->tg_threads)) {
            row->has_tg = true;
            row->tg_tokens = (int)n_gen;
            row->tg_threads = (int)n_threads;
            row->tg_ts = ts;
            row->tg_ts_sd = sd;
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* ---- directory -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Call add() on every DIR/SUB/<name>.json in name order; *count receives how many. */
static int add_all(qk_report *r, const char *dir, const char *sub,
                   int (*add)(qk_report *, const char *, qk_err *), int *count, qk_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    *count = 0;
    DIR *d = opendir(path);
    if (!d) return 0; /* a missing folder is not an error by itself */
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, sizeof(char *) * (size_t)cap);
            if (!nn) { rc = qk_errf(err, "out of memory"); break; }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) { rc = qk_errf(err, "out of memory"); break; }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0) qsort(names, (size_t)n, sizeof(char *), cmp_str); /* names is NULL when n is 0 */
    for (int i = 0; rc == 0 && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, names[i]);
        rc = add(r, path, err);
        if (rc == 0) (*count)++;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int qk_report_load_dir(qk_report *r, const char *dir, qk_err *err) {
    int n_ppl = 0, n_bench = 0;
    if (add_all(r, dir, "ppl", qk_report_add_ppl, &n_ppl, err) != 0) return -1;
    if (add_all(r, dir, "bench", qk_report_add_bench, &n_bench, err) != 0) return -1;
    if (n_ppl + n_bench == 0)
        return qk_errf(err, "no results in '%s' (expected %s/ppl/*.json and %s/bench/*.json)", dir,
                       dir, dir);
    return 0;
}

/* ---- base, order, derived values -------------------------------------------------------- */

int qk_report_set_base(qk_report *r, const char *label, qk_err *err) {
    int found = -1;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].label, label)) found = i;
    if (found < 0) return qk_errf(err, "no model labelled '%s'", label);
    for (int i = 0; i < r->n; i++) r->rows[i].is_base = i == found;
    return 0;
}

static int cmp_rows(const void *a, const void *b) {
    const qk_report_row *x = a, *y = b;
    if (x->is_base != y->is_base) return x->is_base ? -1 : 1;
    if (x->size_bytes != y->size_bytes) return x->size_bytes > y->size_bytes ? -1 : 1;
    return strcmp(x->label, y->label);
}

void qk_report_finish(qk_report *r) {
    bool any_base = false, any_kld = false;
    int n_plain = 0, plain = -1;
    for (int i = 0; i < r->n; i++) {
        any_base |= r->rows[i].is_base;
        any_kld |= r->rows[i].has_kld;
        if (r->rows[i].has_ppl && !r->rows[i].has_kld) {
            n_plain++;
            plain = i;
        }
    }
    if (!any_base && any_kld && n_plain == 1) r->rows[plain].is_base = true;
    if (r->n > 1) qsort(r->rows, (size_t)r->n, sizeof *r->rows, cmp_rows);
}

bool qk_report_is_imatrix(const qk_report_row *row) {
    const size_t n = strlen(row->label), k = strlen(QK_REPORT_IMAT_SUFFIX);
    return n > k && !strcmp(row->label + n - k, QK_REPORT_IMAT_SUFFIX);
}

double qk_report_bpw(const qk_report_row *row) {
    if (!row->size_bytes || !row->n_params) return 0.0;
    return 8.0 * (double)row->size_bytes / (double)row->n_params;
}

const char *qk_report_ftype(const qk_report_row *row) {
    const char *s = row->model_type;
    for (int k = 0; k < 2; k++) {
        const char *sp = strchr(s, ' ');
        if (!sp) return "";
        s = sp + 1;
    }
    return s;
}

void qk_report_free(qk_report *r) {
    free(r->rows);
    r->rows = NULL;
    r->n = r->cap = 0;
}
