/*
 * bench_compare.c — reading llama-bench CSV/JSON results and qk-bench --membw files,
 * pairing qkit's tests with the reference's, and rendering compare.md.
 * Formats, pairing rules and report layout: bench_compare.h.
 */
#include "bench_compare.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a record's fields, from a CSV row or a JSON object ------------------------------- */

typedef struct field_src {
    char **names, **vals; /* CSV: header and row, n each */
    int n;
    const cJSON *obj;     /* JSON object (names/vals unused) */
} field_src;

/* The field's text (JSON numbers printed with %.17g, booleans as 0/1), or NULL. */
static const char *src_get(const field_src *f, const char *key, char *tmp, size_t cap) {
    if (f->obj) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(f->obj, key);
        if (cJSON_IsString(it)) return it->valuestring;
        if (cJSON_IsNumber(it)) {
            snprintf(tmp, cap, "%.17g", it->valuedouble);
            return tmp;
        }
        if (cJSON_IsBool(it)) return cJSON_IsTrue(it) ? "1" : "0";
        return NULL;
    }
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], key)) return f->vals[i];
    return NULL;
}

static int get_num(const field_src *f, const char *key, bool required, double *v,
                   const char *what, int rec, qk_err *err) {
    char tmp[64];
    const char *s = src_get(f, key, tmp, sizeof tmp);
    if (!s) {
        if (!required) return 1;
        return qk_errf(err, "%s: record %d has no '%s' field", what, rec + 1, key);
    }
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x))
        return qk_errf(err, "%s: record %d: '%s' is not a number: '%.60s'", what, rec + 1, key, s);
    *v = x;
    return 0;
}

static int get_int(const field_src *f, const char *key, int *v, const char *what, int rec,
                   qk_err *err) {
    double x = 0;
    if (get_num(f, key, true, &x, what, rec, err) != 0) return -1;
    if (x < 0 || x > 1e9 || x != floor(x))
        return qk_errf(err, "%s: record %d: '%s' is not a count: %g", what, rec + 1, key, x);
    *v = (int)x;
    return 0;
}

/* An optional count: 0 when absent. */
static int get_opt_int(const field_src *f, const char *key, int *v, const char *what, int rec, qk_err *err) {
    char tmp[64];
    *v = 0;
    if (!src_get(f, key, tmp, sizeof tmp)) return 0;
    return get_int(f, key, v, what, rec, err);
}

/* "samples_ts" of a JSON record (an array of positive numbers) into r; absent: NULL. */
static int get_samples(const field_src *f, qk_bench_cmp_rec *r, const char *what, int rec, qk_err *err) {
    const cJSON *a = f->obj ? cJSON_GetObjectItemCaseSensitive(f->obj, "samples_ts") : NULL;
    if (!a) return 0;
    const int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n == 0)
        return qk_errf(err, "%s: record %d: 'samples_ts' is not an array of rates", what, rec + 1);
    r->samples_ts = malloc(sizeof(double) * (size_t)n);
    if (!r->samples_ts) return qk_errf(err, "out of memory");
    const cJSON *x;
    int k = 0;
    cJSON_ArrayForEach(x, a) {
        if (!cJSON_IsNumber(x) || !(x->valuedouble > 0) || !isfinite(x->valuedouble)) {
            free(r->samples_ts);
            r->samples_ts = NULL;
            return qk_errf(err, "%s: record %d: 'samples_ts' holds a value that is not a rate > 0", what, rec + 1);
        }
        r->samples_ts[k++] = x->valuedouble;
    }
    r->n_samples = n;
    return 0;
}

static int add_record(qk_bench_cmp_set *s, const field_src *f, const char *what, int rec,
                      qk_err *err) {
    qk_bench_cmp_rec r;
    memset(&r, 0, sizeof r);
    char tmp[64];
    const char *mf = src_get(f, "model_filename", tmp, sizeof tmp);
    if (!mf) return qk_errf(err, "%s: record %d has no 'model_filename' field", what, rec + 1);
    snprintf(r.model_filename, sizeof r.model_filename, "%s", mf);
    const char *mt = src_get(f, "model_type", tmp, sizeof tmp);
    if (!mt) return qk_errf(err, "%s: record %d has no 'model_type' field", what, rec + 1);
    snprintf(r.model_type, sizeof r.model_type, "%s", mt);
    double x;
    /* sizes outside [0, 2^53] are no count: left 0 (a cast of them would be undefined) */
    if (get_num(f, "model_size", false, &x, what, rec, err) == 0 && x >= 0 && x <= 0x1p53) r.model_size = (uint64_t)x;
    if (get_num(f, "model_n_params", false, &x, what, rec, err) == 0 && x >= 0 && x <= 0x1p53)
        r.model_n_params = (uint64_t)x;
    if (get_int(f, "n_threads", &r.n_threads, what, rec, err) != 0 ||
        get_int(f, "n_prompt", &r.n_prompt, what, rec, err) != 0 ||
        get_int(f, "n_gen", &r.n_gen, what, rec, err) != 0 ||
        get_num(f, "avg_ts", true, &r.avg_ts, what, rec, err) != 0 ||
        get_num(f, "stddev_ts", true, &r.stddev_ts, what, rec, err) != 0)
        return -1;
    double g, b, m, fr;
    if (get_num(f, "membw_gbs", false, &g, what, rec, err) == 0 &&
        get_num(f, "roofline_bytes_per_token", false, &b, what, rec, err) == 0 &&
        get_num(f, "roofline_max_ts", false, &m, what, rec, err) == 0 &&
        get_num(f, "roofline_fraction", false, &fr, what, rec, err) == 0) {
        r.has_roofline = true;
        r.membw_gbs = g;
        r.bytes_per_token = b;
        r.roofline_max_ts = m;
        r.roofline_fraction = fr;
    }
    if (get_opt_int(f, "n_depth", &r.n_depth, what, rec, err) != 0 ||
        get_opt_int(f, "n_batch", &r.n_batch, what, rec, err) != 0 ||
        get_opt_int(f, "n_ubatch", &r.n_ubatch, what, rec, err) != 0 || get_samples(f, &r, what, rec, err) != 0)
        return -1;
    const char *ci = src_get(f, "cpu_info", tmp, sizeof tmp);
    if (ci && !s->cpu_info[0]) snprintf(s->cpu_info, sizeof s->cpu_info, "%s", ci);
    const char *bc = src_get(f, "build_commit", tmp, sizeof tmp);
    if (bc && !s->build_commit[0]) snprintf(s->build_commit, sizeof s->build_commit, "%s", bc);
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        qk_bench_cmp_rec *nv = realloc(s->v, sizeof *nv * (size_t)nc);
        if (!nv) {
            free(r.samples_ts);
            return qk_errf(err, "out of memory");
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = r;
    return 0;
}

/* ---- CSV ------------------------------------------------------------------------------ */

static void free_fields(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Parse one RFC 4180 line at *p into a malloc'd array of malloc'd fields; advances *p past
 * the line end. Returns the field count, 0 at the end of the text, -1 on error. */
static int csv_line(const char **p, char ***out, qk_err *err) {
    const char *s = *p;
    while (*s == '\r' || *s == '\n') s++; /* blank lines */
    if (!*s) {
        *p = s;
        return 0;
    }
    char **v = NULL;
    int n = 0;
    qk_sb f = {0};
    for (;;) {
        f.len = 0;
        qk_sb_append(&f, "", 0);
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) {
                    qk_sb_free(&f);
                    free_fields(v, n);
                    return qk_errf(err, "unterminated quoted field");
                }
                if (*s == '"' && s[1] == '"') {
                    qk_sb_append(&f, "\"", 1);
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    qk_sb_append(&f, s++, 1);
                }
            }
        } else {
            size_t k = strcspn(s, ",\r\n");
            qk_sb_append(&f, s, k);
            s += k;
        }
        char **nv = realloc(v, sizeof *nv * (size_t)(n + 1));
        char *dup = strdup(qk_sb_str(&f));
        if (!nv || !dup || !qk_sb_ok(&f)) {
            free(dup);
            free_fields(nv ? nv : v, n);
            qk_sb_free(&f);
            return qk_errf(err, "out of memory");
        }
        v = nv;
        v[n++] = dup;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\r') s++;
        if (*s == '\n') s++;
        else if (*s) {
            qk_sb_free(&f);
            free_fields(v, n);
            return qk_errf(err, "unexpected character after a quoted field");
        }
        break;
    }
    qk_sb_free(&f);
    *p = s;
    *out = v;
    return n;
}

/* Calls fn(user, &src, row_index) for each data row of a CSV text. */
typedef int (*row_fn)(void *user, const field_src *f, int rec, qk_err *err);

static int csv_each(const char *text, const char *what, row_fn fn, void *user, qk_err *err) {
    const char *p = text;
    char **hdr = NULL, **row = NULL;
    qk_err e;
    int nh = csv_line(&p, &hdr, &e);
    if (nh <= 0) return qk_errf(err, "%s: %s", what, nh == 0 ? "empty file" : e.msg);
    int rec = 0, rc = 0;
    for (;;) {
        int n = csv_line(&p, &row, &e);
        if (n == 0) break;
        if (n < 0) {
            rc = qk_errf(err, "%s: line %d: %s", what, rec + 2, e.msg);
            break;
        }
        if (n != nh) {
            free_fields(row, n);
            rc = qk_errf(err, "%s: line %d has %d fields, the header %d", what, rec + 2, n, nh);
            break;
        }
        field_src f = {hdr, row, n, NULL};
        rc = fn(user, &f, rec, err);
        free_fields(row, n);
        if (rc != 0) break;
        rec++;
    }
    free_fields(hdr, nh);
    if (rc == 0 && rec == 0) rc = qk_errf(err, "%s: no records", what);
    return rc;
}

static int json_each(const char *text, const char *what, row_fn fn, void *user, qk_err *err) {
    cJSON *j = cJSON_Parse(text);
    if (!j) return qk_errf(err, "%s: not valid JSON", what);
    int rc = 0, rec = 0;
    if (!cJSON_IsArray(j)) rc = qk_errf(err, "%s: expected a JSON array of records", what);
    const cJSON *o;
    cJSON_ArrayForEach(o, j) {
        if (rc != 0) break;
        if (!cJSON_IsObject(o)) {
            rc = qk_errf(err, "%s: record %d is not an object", what, rec + 1);
            break;
        }
        field_src f = {NULL, NULL, 0, o};
        rc = fn(user, &f, rec++, err);
    }
    if (rc == 0 && rec == 0) rc = qk_errf(err, "%s: no records", what);
    cJSON_Delete(j);
    return rc;
}

static bool looks_json(const char *text) {
    while (isspace((unsigned char)*text)) text++;
    return *text == '[';
}

static bool looks_jsonl(const char *text) {
    while (isspace((unsigned char)*text)) text++;
    return *text == '{';
}

/* JSON Lines: one object per non-blank line. */
static int jsonl_each(const char *text, const char *what, row_fn fn, void *user, qk_err *err) {
    int rc = 0, rec = 0, line = 0;
    const char *p = text;
    while (*p && rc == 0) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        const char *q = p;
        while (q < p + len && isspace((unsigned char)*q)) q++;
        if (q < p + len) {
            cJSON *o = cJSON_ParseWithLength(p, len);
            if (!o || !cJSON_IsObject(o)) rc = qk_errf(err, "%s: line %d is not a JSON object", what, line);
            else {
                field_src f = {NULL, NULL, 0, o};
                rc = fn(user, &f, rec++, err);
            }
            cJSON_Delete(o);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (rc == 0 && rec == 0) rc = qk_errf(err, "%s: no records", what);
    return rc;
}

typedef struct rec_ctx {
    qk_bench_cmp_set *s;
    const char *what;
} rec_ctx;

static int rec_cb(void *user, const field_src *f, int rec, qk_err *err) {
    rec_ctx *c = user;
    return add_record(c->s, f, c->what, rec, err);
}

int qk_bench_cmp_load_text(qk_bench_cmp_set *s, const char *text, const char *what, qk_err *err) {
    rec_ctx c = {s, what};
    int n0 = s->n;
    int rc = looks_json(text)    ? json_each(text, what, rec_cb, &c, err)
             : looks_jsonl(text) ? jsonl_each(text, what, rec_cb, &c, err)
                                 : csv_each(text, what, rec_cb, &c, err);
    if (rc != 0) {
        for (int i = n0; i < s->n; i++) free(s->v[i].samples_ts);
        s->n = n0;
    }
    return rc;
}

int qk_bench_cmp_load(qk_bench_cmp_set *s, const char *path, qk_err *err) {
    qk_err e;
    char *text = qk_file_read(path, NULL, &e);
    if (!text) return qk_errf(err, "%s", e.msg);
    int rc = qk_bench_cmp_load_text(s, text, path, err);
    free(text);
    return rc;
}

void qk_bench_cmp_free(qk_bench_cmp_set *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i].samples_ts);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- membw ---------------------------------------------------------------------------- */

typedef struct membw_ctx {
    qk_bench_cmp_membw *v;
    int n;
    const char *what;
} membw_ctx;

static int membw_cb(void *user, const field_src *f, int rec, qk_err *err) {
    membw_ctx *c = user;
    qk_bench_cmp_membw m = {0, 0, 0, 0};
    if (get_int(f, "n_threads", &m.n_threads, c->what, rec, err) != 0 ||
        get_num(f, "best_gbs", true, &m.best_gbs, c->what, rec, err) != 0)
        return -1;
    if (get_num(f, "mean_gbs", false, &m.mean_gbs, c->what, rec, err) < 0 ||
        get_num(f, "buffer_bytes", false, &m.buffer_bytes, c->what, rec, err) < 0)
        return -1;
    qk_bench_cmp_membw *nv = realloc(c->v, sizeof *nv * (size_t)(c->n + 1));
    if (!nv) return qk_errf(err, "out of memory");
    c->v = nv;
    c->v[c->n++] = m;
    return 0;
}

int qk_bench_cmp_load_membw(const char *path, qk_bench_cmp_membw **out, int *n, qk_err *err) {
    *out = NULL;
    *n = 0;
    qk_err e;
    char *text = qk_file_read(path, NULL, &e);
    if (!text) return qk_errf(err, "%s", e.msg);
    membw_ctx c = {NULL, 0, path};
    int rc = looks_json(text) ? json_each(text, path, membw_cb, &c, err)
                              : csv_each(text, path, membw_cb, &c, err);
    free(text);
    if (rc != 0) {
        free(c.v);
        return -1;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

int qk_bench_cmp_parse_membw_list(const char *list, qk_bench_cmp_membw **out, int *n, qk_err *err) {
    *out = NULL;
    *n = 0;
    int cap = 1;
    for (const char *c = list; *c; c++) cap += *c == ',';
    qk_bench_cmp_membw *v = calloc((size_t)cap, sizeof *v);
    if (!v) return qk_errf(err, "out of memory");
    const char *p = list;
    for (;;) {
        char *end;
        long t = strtol(p, &end, 10);
        double gbs = 0;
        bool ok = end != p && *end == ':' && t >= 1 && t <= 4096;
        if (ok) {
            const char *q = end + 1;
            gbs = strtod(q, &end);
            ok = end != q && (*end == ',' || *end == 0) && gbs > 0 && isfinite(gbs);
        }
        for (int i = 0; ok && i < *n; i++) ok = v[i].n_threads != (int)t;
        if (!ok) {
            free(v);
            *n = 0;
            return qk_errf(err, "bad bandwidth list '%s': want THREADS:GBS[,THREADS:GBS...], e.g. 2:35, "
                                "threads 1..4096 each at most once, GB/s > 0", list);
        }
        v[*n] = (qk_bench_cmp_membw){(int)t, gbs, gbs, 0};
        (*n)++;
        if (*end == 0) break;
        p = end + 1;
    }
    *out = v;
    return 0;
}

/* ---- pairing -------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool same_test(const qk_bench_cmp_rec *a, const qk_bench_cmp_rec *b) {
    return a->n_prompt == b->n_prompt && a->n_gen == b->n_gen && a->n_threads == b->n_threads &&
           a->n_depth == b->n_depth;
}

int qk_bench_cmp_find(const qk_bench_cmp_set *ref, const qk_bench_cmp_rec *r) {
    const char *bn = base_name(r->model_filename);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < ref->n; i++) {
            const qk_bench_cmp_rec *g = &ref->v[i];
            if (!same_test(g, r)) continue;
            bool hit = pass == 0   ? !strcmp(base_name(g->model_filename), bn)
                       : pass == 1 ? !strcasecmp(base_name(g->model_filename), bn)
                                   : (r->model_n_params > 0 && g->model_n_params == r->model_n_params &&
                                      !strcmp(g->model_type, r->model_type));
            if (hit) return i;
        }
    }
    return -1;
}

void qk_bench_cmp_test_name(const qk_bench_cmp_rec *r, char *buf, size_t cap) {
    if (r->n_prompt > 0 && r->n_gen > 0) snprintf(buf, cap, "pp%d+tg%d", r->n_prompt, r->n_gen);
    else if (r->n_prompt > 0) snprintf(buf, cap, "pp%d", r->n_prompt);
    else snprintf(buf, cap, "tg%d", r->n_gen);
    size_t n = strlen(buf);
    if (r->n_depth > 0 && n < cap) snprintf(buf + n, cap - n, " @ d%d", r->n_depth);
}

void qk_bench_cmp_label(const qk_bench_cmp_rec *r, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", base_name(r->model_filename));
    size_t n = strlen(buf);
    if (n > 5 && !strcasecmp(buf + n - 5, ".gguf")) buf[n - 5] = 0;
}

static void family(const qk_bench_cmp_rec *r, char *buf, size_t cap) {
    qk_bench_cmp_label(r, buf, cap);
    char *dash = strrchr(buf, '-');
    if (dash && dash != buf) *dash = 0;
}

static bool is_base_type(const char *model_type) {
    size_t n = strlen(model_type);
    const char *ends[] = {" F16", " BF16", " all F32"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(ends[i]);
        if (n >= k && !strcmp(model_type + n - k, ends[i])) return true;
    }
    return false;
}

/* Index in s of the record of family fam with a base type and the same test as r. */
static int find_base(const qk_bench_cmp_set *s, const char *fam, const qk_bench_cmp_rec *r) {
    char f[1024];
    for (int i = 0; i < s->n; i++) {
        if (!same_test(&s->v[i], r) || !is_base_type(s->v[i].model_type)) continue;
        family(&s->v[i], f, sizeof f);
        if (!strcmp(f, fam)) return i;
    }
    return -1;
}

/* Index in s of the record with the same model file and test as r but n_threads = t. */
static int find_threads(const qk_bench_cmp_set *s, const qk_bench_cmp_rec *r, int t) {
    for (int i = 0; i < s->n; i++) {
        const qk_bench_cmp_rec *g = &s->v[i];
        if (g->n_prompt == r->n_prompt && g->n_gen == r->n_gen && g->n_threads == t &&
            !strcmp(g->model_filename, r->model_filename))
            return i;
    }
    return -1;
}

/* ---- compare.md ----------------------------------------------------------------------- */

static void ratio_cell(qk_sb *out, double num, double den) {
    if (num > 0 && den > 0) qk_sb_printf(out, " %.2f |", num / den);
    else qk_sb_puts(out, " — |");
}

/* The reference machine's read bandwidth at n_threads (GB/s), or 0 when not given. */
static double ref_gbs_at(const qk_bench_cmp_membw *ref_membw, int n_ref_membw, int n_threads) {
    for (int i = 0; i < n_ref_membw; i++)
        if (ref_membw[i].n_threads == n_threads) return ref_membw[i].best_gbs;
    return 0;
}

/* "Generation at equal bandwidth": per tg test with a roofline, a paired reference and the
 * reference machine's bandwidth at that thread count, each tool's share of its own
 * machine's roofline and their ratio; tests where either share exceeds 100 % (the model
 * sits in a cache, where the roofline does not bound t/s) are counted, not shown. Nothing
 * when no test qualifies. */
static void render_equal_bandwidth(qk_sb *out, const qk_bench_cmp_set *ours, const qk_bench_cmp_set *ref,
                                   const qk_bench_cmp_membw *ref_membw, int n_ref_membw,
                                   const char *ref_name) {
    char label[1024], test[64];
    double log_sum = 0;
    int n = 0, n_cached = 0;
    for (int i = 0; i < ours->n; i++) {
        const qk_bench_cmp_rec *r = &ours->v[i];
        int j = qk_bench_cmp_find(ref, r);
        double gbs = ref_gbs_at(ref_membw, n_ref_membw, r->n_threads);
        if (r->n_prompt != 0 || !r->has_roofline || !(r->roofline_fraction > 0) || !(r->bytes_per_token > 0) ||
            j < 0 || !(gbs > 0) || !(ref->v[j].avg_ts > 0))
            continue;
        double ref_frac = ref->v[j].avg_ts * r->bytes_per_token / (gbs * 1e9);
        if (r->roofline_fraction > 1.0 || ref_frac > 1.0) {
            n_cached++;
            continue;
        }
        if (n == 0)
            qk_sb_printf(out, "## Generation at equal bandwidth\n\n"
                              "Each tool's tg as a share of its own machine's roofline (bytes read "
                              "per token x t/s / read bandwidth), which carries across machines with "
                              "different memory; %s's bandwidth is the given figure, not measured "
                              "here.\n\n"
                              "| model | test | threads | qkit %% of roofline | %s GB/s | %s %% of "
                              "roofline | qkit / %s at equal bandwidth |\n"
                              "| ----- | ---- | ------: | ------: | ------: | ------: | ------: |\n",
                         ref_name, ref_name, ref_name, ref_name);
        qk_bench_cmp_label(r, label, sizeof label);
        qk_bench_cmp_test_name(r, test, sizeof test);
        qk_sb_printf(out, "| %s | %s | %d | %.1f %% | %.2f | %.1f %% | %.2f |\n", label, test, r->n_threads,
                     r->roofline_fraction * 100.0, gbs, ref_frac * 100.0, r->roofline_fraction / ref_frac);
        log_sum += log(r->roofline_fraction / ref_frac);
        n++;
    }
    if (n > 0)
        qk_sb_printf(out, "\n- geometric mean of qkit / %s at equal bandwidth over %d tests: %.3f\n", ref_name, n,
                     exp(log_sum / n));
    if (n > 0 && n_cached > 0)
        qk_sb_printf(out, "- left out: %d test%s above 100 %% of a roofline (the model fits in a cache)\n",
                     n_cached, n_cached == 1 ? "" : "s");
    if (n > 0) qk_sb_puts(out, "\n");
}

void qk_bench_cmp_render_md(qk_sb *out, const qk_bench_cmp_set *ours, const qk_bench_cmp_set *ref,
                            const qk_bench_cmp_membw *membw, int n_membw, const qk_bench_cmp_membw *ref_membw,
                            int n_ref_membw, const char *ref_name, const char *note) {
    char label[1024], test[64];
    qk_sb_printf(out, "# qkit vs %s: prompt processing and generation speed\n\n", ref_name);
    qk_sb_printf(out, "- qkit: %s (build %s)\n", ours->cpu_info[0] ? ours->cpu_info : "unknown CPU",
                 ours->build_commit[0] ? ours->build_commit : "unknown");
    qk_sb_printf(out, "- %s: %s (build %s)\n\n", ref_name,
                 ref->cpu_info[0] ? ref->cpu_info : "unknown CPU",
                 ref->build_commit[0] ? ref->build_commit : "unknown");
    qk_sb_puts(out, "t/s is the mean of the per-repetition rates ± their sample standard deviation "
                    "(llama-bench's protocol). When the two columns were measured on different "
                    "machines, the qkit / reference ratio is indicative only; the ratios within "
                    "one machine (thread scaling, quantized vs F16, the roofline fraction) are "
                    "the comparable figures.\n\n");

    if (n_membw > 0) {
        qk_sb_puts(out, "## Memory read bandwidth (qk-bench --membw)\n\n"
                        "| threads | GB/s (best) | GB/s (mean) | buffer |\n"
                        "| ------: | ----------: | ----------: | -----: |\n");
        for (int i = 0; i < n_membw; i++)
            qk_sb_printf(out, "| %d | %.2f | %.2f | %.0f MiB |\n", membw[i].n_threads,
                         membw[i].best_gbs, membw[i].mean_gbs,
                         membw[i].buffer_bytes / (1024.0 * 1024.0));
        qk_sb_puts(out, "\n");
    }

    qk_sb_printf(out, "## Speed\n\n"
                      "| model | type | test | threads | qkit t/s | %s t/s | qkit / %s | "
                      "roofline max t/s | qkit %% of roofline |\n"
                      "| ----- | ---- | ---- | ------: | -------: | ------: | ------: | ------: | ------: |\n",
                 ref_name, ref_name);
    double log_sum[2] = {0, 0};
    int log_n[2] = {0, 0};
    for (int i = 0; i < ours->n; i++) {
        const qk_bench_cmp_rec *r = &ours->v[i];
        int j = qk_bench_cmp_find(ref, r);
        qk_bench_cmp_label(r, label, sizeof label);
        qk_bench_cmp_test_name(r, test, sizeof test);
        qk_sb_printf(out, "| %s | %s | %s | %d | %.2f ± %.2f |", label, r->model_type, test,
                     r->n_threads, r->avg_ts, r->stddev_ts);
        if (j >= 0) qk_sb_printf(out, " %.2f ± %.2f |", ref->v[j].avg_ts, ref->v[j].stddev_ts);
        else qk_sb_puts(out, " — |");
        ratio_cell(out, r->avg_ts, j >= 0 ? ref->v[j].avg_ts : 0);
        if (r->has_roofline)
            qk_sb_printf(out, " %.2f | %.1f %% |\n", r->roofline_max_ts, r->roofline_fraction * 100.0);
        else qk_sb_puts(out, " | |\n");
        int kind = r->n_gen == 0 ? 0 : r->n_prompt == 0 ? 1 : -1;
        if (kind >= 0 && j >= 0 && r->avg_ts > 0 && ref->v[j].avg_ts > 0) {
            log_sum[kind] += log(r->avg_ts / ref->v[j].avg_ts);
            log_n[kind]++;
        }
    }
    qk_sb_puts(out, "\n");
    const char *kinds[2] = {"prompt processing (ppN)", "generation (tgN)"};
    for (int k = 0; k < 2; k++)
        if (log_n[k] > 0)
            qk_sb_printf(out, "- %s: geometric mean of qkit / %s over %d paired tests: %.3f\n",
                         kinds[k], ref_name, log_n[k], exp(log_sum[k] / log_n[k]));
    qk_sb_puts(out, "- roofline: batch-1 generation reads every weight once per token, so max t/s "
                    "= this machine's read bandwidth (at the test's thread count) / bytes read per "
                    "token (qk-bench --help). A model that fits in the last-level cache can exceed "
                    "100 %.\n\n");
    render_equal_bandwidth(out, ours, ref, ref_membw, n_ref_membw, ref_name);

    /* thread scaling */
    int tmin = 1 << 30, tmax = 0;
    for (int i = 0; i < ours->n; i++) {
        if (ours->v[i].n_threads < tmin) tmin = ours->v[i].n_threads;
        if (ours->v[i].n_threads > tmax) tmax = ours->v[i].n_threads;
    }
    if (tmax > tmin) {
        qk_sb_printf(out, "## Thread scaling (t/s at %d threads / at %d)\n\n"
                          "| model | test | qkit | %s |\n| ----- | ---- | ---: | ---: |\n",
                     tmax, tmin, ref_name);
        for (int i = 0; i < ours->n; i++) {
            const qk_bench_cmp_rec *hi = &ours->v[i];
            if (hi->n_threads != tmax) continue;
            int lo = find_threads(ours, hi, tmin);
            if (lo < 0) continue;
            qk_bench_cmp_label(hi, label, sizeof label);
            qk_bench_cmp_test_name(hi, test, sizeof test);
            qk_sb_printf(out, "| %s | %s |", label, test);
            ratio_cell(out, hi->avg_ts, ours->v[lo].avg_ts);
            int rh = qk_bench_cmp_find(ref, hi), rl = qk_bench_cmp_find(ref, &ours->v[lo]);
            ratio_cell(out, rh >= 0 ? ref->v[rh].avg_ts : 0, rl >= 0 ? ref->v[rl].avg_ts : 0);
            qk_sb_puts(out, "\n");
        }
        qk_sb_puts(out, "\n");
    }

    /* quantized vs F16 */
    bool header = false;
    for (int i = 0; i < ours->n; i++) {
        const qk_bench_cmp_rec *r = &ours->v[i];
        if (is_base_type(r->model_type)) continue;
        char fam[1024];
        family(r, fam, sizeof fam);
        int b = find_base(ours, fam, r);
        if (b < 0) continue;
        if (!header) {
            qk_sb_printf(out, "## Quantized vs 16-bit base (t/s of the type / t/s of the base, "
                              "same test and threads)\n\n"
                              "| model | test | threads | qkit | %s |\n"
                              "| ----- | ---- | ------: | ---: | ---: |\n", ref_name);
            header = true;
        }
        qk_bench_cmp_label(r, label, sizeof label);
        qk_bench_cmp_test_name(r, test, sizeof test);
        qk_sb_printf(out, "| %s | %s | %d |", label, test, r->n_threads);
        ratio_cell(out, r->avg_ts, ours->v[b].avg_ts);
        int rq = qk_bench_cmp_find(ref, r), rb = qk_bench_cmp_find(ref, &ours->v[b]);
        ratio_cell(out, rq >= 0 ? ref->v[rq].avg_ts : 0, rb >= 0 ? ref->v[rb].avg_ts : 0);
        qk_sb_puts(out, "\n");
    }
    if (header) qk_sb_puts(out, "\n");
    if (note && *note) qk_sb_printf(out, "%s\n", note);
}
