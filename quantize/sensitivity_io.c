/*
 * sensitivity_io.c — the journal (sensitivity_io.h) and the JSON file (sensitivity.h) of
 * the sensitivity pass. The JSON is written with cJSON through engine/afile.h, so a
 * reader sees a complete file or none; non-finite numbers are written as null.
 */
#include "sensitivity_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "fileio.h"

/* ------------------------------------------------------------------ journal -------- */

static char *settings_line(const qk_sens *s) {
    qk_sb sb = {0};
    qk_sb_printf(&sb, "qkit-sensitivity-journal 1\t%s\t%d\t%d\t%s\t%s\t%s\n", qk_sens_mode_name(s->mode), s->n_ctx,
                 s->n_chunks, s->model, s->calibration ? s->calibration : "-", s->imatrix ? s->imatrix : "-");
    char *line = qk_sb_ok(&sb) ? strdup(qk_sb_str(&sb)) : NULL;
    qk_sb_free(&sb);
    return line;
}

static int push(qk_sens_journal *j, const qk_sens_jentry *e) {
    if (j->n_entries == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 256;
        qk_sens_jentry *v = realloc(j->v, cap * sizeof *v);
        if (!v) return -1;
        j->v = v;
        j->cap = cap;
    }
    j->v[j->n_entries++] = *e;
    return 0;
}

/* One "E\t..." line into e; -1 when it does not parse. */
static int parse_entry(char *line, qk_sens_jentry *e) {
    char *f[8];
    int n = 0;
    for (char *tok = strtok(line, "\t\n"); tok && n < 8; tok = strtok(NULL, "\t\n")) f[n++] = tok;
    if (n != 8 || strcmp(f[0], "E") != 0 || strlen(f[1]) >= sizeof e->name) return -1;
    snprintf(e->name, sizeof e->name, "%s", f[1]);
    if (qk_type_from_name(f[2], &e->c.type)) return -1;
    e->c.bytes = strtoull(f[3], NULL, 10);
    e->c.kld = strtod(f[4], NULL);
    e->c.kld_unc = strtod(f[5], NULL);
    e->c.proxy = strtod(f[6], NULL);
    e->c.sq_err = strtod(f[7], NULL);
    e->c.kld_est = NAN;
    return 0;
}

int qk_sens_journal_open(qk_sens_journal *j, const qk_sens *s, const char *out_path, bool resume, qk_err *err) {
    memset(j, 0, sizeof *j);
    size_t pl = strlen(out_path) + 16;
    char *hdr = settings_line(s);
    if (!(j->path = malloc(pl)) || !hdr) {
        free(hdr);
        return qk_errf(err, "out of memory");
    }
    snprintf(j->path, pl, "%s.journal", out_path);
    FILE *in = resume ? fopen(j->path, "r") : NULL;
    if (in) {
        char line[8192];
        if (!fgets(line, sizeof line, in) || strcmp(line, hdr) != 0) {
            fclose(in);
            free(hdr);
            return qk_errf(err, "journal %s was written with other settings (model, text, imatrix, mode, -c or "
                           "--chunks) — run with the same ones, or without --resume to start anew", j->path);
        }
        while (fgets(line, sizeof line, in)) {
            size_t l = strlen(line);
            if (l == 0 || line[l - 1] != '\n') break; /* a record cut short by a kill */
            qk_sens_jentry e;
            if (parse_entry(line, &e) == 0 && push(j, &e) != 0) {
                fclose(in);
                free(hdr);
                return qk_errf(err, "out of memory");
            }
        }
        fclose(in);
        /* rewrite it whole, so that a cut last line is not followed by new records */
        j->f = fopen(j->path, "w");
        if (j->f) {
            fputs(hdr, j->f);
            for (size_t i = 0; i < j->n_entries; i++) {
                const qk_sens_cand *c = &j->v[i].c;
                fprintf(j->f, "E\t%s\t%s\t%llu\t%a\t%a\t%a\t%a\n", j->v[i].name, qk_type_name(c->type),
                        (unsigned long long)c->bytes, c->kld, c->kld_unc, c->proxy, c->sq_err);
            }
        }
    } else {
        if ((j->f = fopen(j->path, "w"))) fputs(hdr, j->f);
    }
    free(hdr);
    if (!j->f || fflush(j->f) != 0)
        return qk_errf(err, "cannot write the journal %s: %s — check the output directory", j->path, strerror(errno));
    return 0;
}

bool qk_sens_journal_lookup(const qk_sens_journal *j, const char *name, qk_sens_cand *c) {
    for (size_t i = 0; i < j->n_entries; i++)
        if (j->v[i].c.type == c->type && strcmp(j->v[i].name, name) == 0) {
            *c = j->v[i].c;
            return true;
        }
    return false;
}

int qk_sens_journal_add(qk_sens_journal *j, const char *name, const qk_sens_cand *c, qk_err *err) {
    fprintf(j->f, "E\t%s\t%s\t%llu\t%a\t%a\t%a\t%a\n", name, qk_type_name(c->type), (unsigned long long)c->bytes,
            c->kld, c->kld_unc, c->proxy, c->sq_err);
    if (fflush(j->f) != 0) return qk_errf(err, "cannot write the journal %s: %s", j->path, strerror(errno));
    return 0;
}

void qk_sens_journal_close(qk_sens_journal *j) {
    if (j->f) fclose(j->f);
    free(j->path);
    free(j->v);
    memset(j, 0, sizeof *j);
}

void qk_sens_journal_remove(qk_sens_journal *j) {
    if (j->f) fclose(j->f);
    j->f = NULL;
    if (j->path) unlink(j->path);
}

/* --------------------------------------------------------------------- JSON -------- */

static void jnum(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static void jstr(cJSON *o, const char *k, const char *v) {
    if (v) cJSON_AddStringToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

int qk_sens_write_json(const qk_sens *s, const char *path, qk_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "qkit_sensitivity", 1);
    jstr(root, "model", s->model);
    jstr(root, "calibration", s->calibration);
    cJSON_AddNumberToObject(root, "n_ctx", s->n_ctx);
    cJSON_AddNumberToObject(root, "n_chunks", s->n_chunks);
    jstr(root, "imatrix", s->imatrix);
    cJSON_AddStringToObject(root, "mode", qk_sens_mode_name(s->mode));
    jnum(root, "base_mean_kld", s->base_mean_kld);
    cJSON *arr = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; i < s->n_tensors; i++) {
        const qk_sens_tensor *t = &s->tensors[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddNumberToObject(o, "layer", t->layer);
        cJSON_AddStringToObject(o, "kind", t->kind);
        cJSON_AddNumberToObject(o, "n_elements", (double)t->n_elements);
        cJSON *ne = cJSON_AddArrayToObject(o, "ne");
        for (int d = 0; d < 4; d++) cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddStringToObject(o, "base_type", qk_type_name(t->base_type));
        cJSON *ca = cJSON_AddArrayToObject(o, "candidates");
        for (size_t c = 0; c < t->n_cand; c++) {
            const qk_sens_cand *cd = &t->cand[c];
            cJSON *co = cJSON_CreateObject();
            cJSON_AddStringToObject(co, "type", qk_type_name(cd->type));
            cJSON_AddNumberToObject(co, "bytes", (double)cd->bytes);
            jnum(co, "kld", cd->kld);
            jnum(co, "kld_unc", cd->kld_unc);
            jnum(co, "proxy", cd->proxy);
            jnum(co, "sq_err", cd->sq_err);
            if (s->mode == QK_SENS_SCALED) jnum(co, "kld_est", cd->kld_est);
            cJSON_AddItemToArray(ca, co);
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return qk_errf(err, "out of memory formatting JSON");
    size_t n = strlen(txt);
    txt[n] = '\n'; /* cJSON_Print's NUL becomes the final newline */
    int rc = qk_afile_write_all(path, txt, n + 1, err);
    free(txt);
    return rc;
}

static double num_or_nan(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static char *str_or_null(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

int qk_sens_read_json(const char *path, qk_sens *s, qk_err *err) {
    memset(s, 0, sizeof *s);
    size_t len;
    char *txt = qk_file_read(path, &len, err);
    if (!txt) return -1;
    cJSON *root = cJSON_ParseWithLength(txt, len);
    free(txt);
    int rc = -1;
    if (!root) return qk_errf(err, "%s is not JSON — give the file qk-sensitivity wrote", path);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "qkit_sensitivity");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    if (!cJSON_IsNumber(ver) || ver->valueint != 1 || !cJSON_IsArray(arr)) {
        qk_errf(err, "%s is not a qk-sensitivity file (no \"qkit_sensitivity\": 1 or no \"tensors\")", path);
        goto done;
    }
    s->model = str_or_null(root, "model");
    s->calibration = str_or_null(root, "calibration");
    s->imatrix = str_or_null(root, "imatrix");
    s->n_ctx = (int32_t)num_or_nan(root, "n_ctx");
    s->n_chunks = (int32_t)num_or_nan(root, "n_chunks");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    s->mode = !cJSON_IsString(mode) ? QK_SENS_PROXY
              : strcmp(mode->valuestring, "kld") == 0 ? QK_SENS_KLD
              : strcmp(mode->valuestring, "scaled") == 0 ? QK_SENS_SCALED
                                                         : QK_SENS_PROXY;
    s->base_mean_kld = num_or_nan(root, "base_mean_kld");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (!(s->tensors = calloc(n ? n : 1, sizeof *s->tensors))) {
        qk_errf(err, "out of memory");
        goto done;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        qk_sens_tensor *st = &s->tensors[s->n_tensors];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *cands = cJSON_GetObjectItemCaseSensitive(t, "candidates");
        const cJSON *bt = cJSON_GetObjectItemCaseSensitive(t, "base_type");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof st->name || !cJSON_IsArray(cands)) {
            qk_errf(err, "%s: tensor %zu has no name or no candidates", path, s->n_tensors);
            goto done;
        }
        snprintf(st->name, sizeof st->name, "%s", name->valuestring);
        st->layer = (int32_t)num_or_nan(t, "layer");
        char *kind = str_or_null(t, "kind");
        snprintf(st->kind, sizeof st->kind, "%s", kind ? kind : "");
        free(kind);
        st->n_elements = (uint64_t)num_or_nan(t, "n_elements");
        if (!cJSON_IsString(bt) || qk_type_from_name(bt->valuestring, &st->base_type)) st->base_type = QK_TYPE_F16;
        const cJSON *c;
        cJSON_ArrayForEach(c, cands) {
            if (st->n_cand == QK_SENS_MAX_CAND) break;
            qk_sens_cand *cd = &st->cand[st->n_cand];
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(c, "type");
            if (!cJSON_IsString(ty) || qk_type_from_name(ty->valuestring, &cd->type)) {
                qk_errf(err, "%s: tensor %s has a candidate with an unknown type", path, st->name);
                goto done;
            }
            double b = num_or_nan(c, "bytes");
            if (!(b >= 0)) {
                qk_errf(err, "%s: tensor %s, %s: no \"bytes\"", path, st->name, ty->valuestring);
                goto done;
            }
            cd->bytes = (uint64_t)b;
            cd->kld = num_or_nan(c, "kld");
            cd->kld_unc = num_or_nan(c, "kld_unc");
            cd->proxy = num_or_nan(c, "proxy");
            cd->sq_err = num_or_nan(c, "sq_err");
            cd->kld_est = num_or_nan(c, "kld_est");
            st->n_cand++;
        }
        s->n_tensors++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) qk_sens_free(s);
    return rc;
}

void qk_sens_free(qk_sens *s) {
    free(s->model);
    free(s->calibration);
    free(s->imatrix);
    free(s->tensors);
    memset(s, 0, sizeof *s);
}
