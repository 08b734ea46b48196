/*
 * qk-info.c — print what a GGUF file holds: header facts, every metadata pair (arrays
 * summarised as `arr[str,32000] = ["<unk>", "<s>", ...]`, the way llama.cpp's model loader
 * dumps them), the tensor table (name, ggml type, shape ne[0..], data offset, bytes), and
 * totals: parameters, tensor-data bytes, bits per weight, tensors per type.
 *
 *   qk-info [--json] FILE.gguf
 *
 * The file is read with the validating reader (engine/gguf.c); any problem is one line on
 * stderr and exit status 1. --json prints the same facts as one JSON object instead.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "gguf.h"
#include "model.h"
#include "tool.h"

#define MAX_SHOWN 4    /* array elements shown in the human listing */
#define MAX_STR 48     /* bytes of a string value shown before "..." */
#define JSON_HEAD 16   /* array elements given in the JSON listing */

static void usage(FILE *f) {
    fprintf(f,
            "usage: qk-info [options] FILE.gguf\n"
            "\n"
            "Print a GGUF file's metadata (arrays summarised), its tensor table (name, type, shape,\n"
            "offset, bytes) and totals (parameters, bits per weight).\n"
            "\n"
            "options:\n"
            "  --json      print one JSON object instead of the human listing (default: human)\n"
            "  -h, --help  this help\n");
}

/* s[0..len) for a terminal: control characters (C0, DEL, and C1 as UTF-8 U+0080..U+009F,
 * which some terminals obey) and backslashes escaped, '"' too when quote, cut at max bytes
 * of input ("..." marks the cut). A hostile file's names cannot drive the terminal. */
static const char *esc(char *out, size_t cap, const char *s, uint64_t len, uint64_t max, int quote) {
    size_t o = 0;
    const uint64_t n = len > max ? max : len;
#define PUT(...) (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__))
    if (quote) PUT("\"");
    for (uint64_t i = 0; i < n && o < cap; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '\n') PUT("\\n");
        else if (c == '\t') PUT("\\t");
        else if (c == '\r') PUT("\\r");
        else if (c == '"' && quote) PUT("\\\"");
        else if (c == '\\') PUT("\\\\");
        else if (c < 0x20 || c == 0x7f) PUT("\\x%02x", c);
        else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            PUT("\\u%04x", (unsigned char)s[++i]);
        else PUT("%c", c);
    }
    if (len > n) PUT("...");
    if (quote) PUT("\"");
#undef PUT
    if (o >= cap && cap >= 4) memcpy(out + cap - 4, "...", 4); /* out of room: cut visibly */
    return out;
}

/* A string value, escaped and cut at MAX_STR bytes. */
static void put_str(FILE *f, const char *s, uint64_t len, int quote) {
    char buf[8 * MAX_STR + 16];
    fputs(esc(buf, sizeof buf, s, len, MAX_STR, quote), f);
}

static void put_num(FILE *f, gguf_vtype t, const void *p) {
    double v = gguf_scalar_as_double(t, p);
    if (t == GGUF_TYPE_BOOL) {
        fputs(v != 0 ? "true" : "false", f);
    } else if (t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64) {
        fprintf(f, "%g", v);
    } else if (t == GGUF_TYPE_UINT64) {
        uint64_t u;
        memcpy(&u, p, 8);
        fprintf(f, "%llu", (unsigned long long)u);
    } else if (t == GGUF_TYPE_INT64) {
        int64_t i;
        memcpy(&i, p, 8);
        fprintf(f, "%lld", (long long)i);
    } else {
        fprintf(f, "%.0f", v);
    }
}

static void print_kv(FILE *f, uint64_t idx, const gguf_kv *kv) {
    char tname[48];
    if (kv->type == GGUF_TYPE_ARRAY)
        snprintf(tname, sizeof tname, "arr[%s,%llu]", gguf_vtype_name(kv->arr_type), (unsigned long long)kv->n);
    else
        snprintf(tname, sizeof tname, "%s", gguf_vtype_name(kv->type));
    char key[1024];
    fprintf(f, "  [%3llu] %-42s %-16s = ", (unsigned long long)idx, esc(key, sizeof key, kv->key, strlen(kv->key), 200, 0),
            tname);
    if (kv->type == GGUF_TYPE_STRING) {
        put_str(f, kv->strs[0].ptr, kv->strs[0].len, 0);
    } else if (kv->type == GGUF_TYPE_ARRAY) {
        fputc('[', f);
        uint64_t shown = kv->n < MAX_SHOWN ? kv->n : MAX_SHOWN;
        size_t es = gguf_vtype_size(kv->arr_type);
        if (kv->arr_type != GGUF_TYPE_STRING && es == 0) shown = 0; /* nested arrays: count only */
        for (uint64_t i = 0; i < shown; i++) {
            if (i) fputs(", ", f);
            if (kv->arr_type == GGUF_TYPE_STRING) put_str(f, kv->strs[i].ptr, kv->strs[i].len, 1);
            else put_num(f, kv->arr_type, (const uint8_t *)kv->data + i * es);
        }
        if (kv->n > shown) fputs(shown ? ", ..." : "...", f);
        fputc(']', f);
    } else {
        put_num(f, kv->type, kv->data);
    }
    if (strcmp(kv->key, "general.file_type") == 0 && kv->type != GGUF_TYPE_ARRAY)
        fprintf(f, " (%s)", qk_ftype_name((uint32_t)gguf_scalar_as_double(kv->type, kv->data)));
    fputc('\n', f);
}

static void shape_str(const gguf_tensor *t, char *buf, size_t cap) {
    size_t o = snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += snprintf(buf + o, cap - o, d ? ", %lld" : "%lld", (long long)t->ne[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

typedef struct totals {
    uint64_t params, bytes;
    uint64_t per_type_n[QK_TYPE_COUNT], per_type_bytes[QK_TYPE_COUNT];
} totals;

static void sum_up(const gguf_ctx *g, totals *T) {
    memset(T, 0, sizeof *T);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        T->params += (uint64_t)gguf_tensor_nelements(t);
        T->bytes += t->nbytes;
        T->per_type_n[t->type]++;
        T->per_type_bytes[t->type] += t->nbytes;
    }
}

static void print_human(const gguf_ctx *g, long long file_size) {
    totals T;
    sum_up(g, &T);
    printf("%s: GGUF v%u, %llu metadata pairs, %llu tensors, alignment %u, tensor data at byte %zu, %lld bytes\n",
           g->path, g->version, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, g->alignment,
           g->data_offset, file_size);
    printf("\nmetadata:\n");
    for (uint64_t i = 0; i < g->n_kv; i++) print_kv(stdout, i, &g->kv[i]);

    int w = 4;
    char name[8 * GGUF_MAX_NAME + 16];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const char *t = g->tensors[i].name;
        int l = (int)strlen(esc(name, sizeof name, t, strlen(t), GGUF_MAX_NAME, 0));
        if (l > w) w = l;
    }
    printf("\ntensors (offset from the start of the tensor data):\n");
    printf("  %5s  %-*s  %-6s  %-24s  %12s  %12s\n", "#", w, "name", "type", "shape (ne)", "offset", "bytes");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        char sh[96];
        shape_str(t, sh, sizeof sh);
        printf("  %5llu  %-*s  %-6s  %-24s  %12llu  %12zu\n", (unsigned long long)i, w,
               esc(name, sizeof name, t->name, strlen(t->name), GGUF_MAX_NAME, 0),
               qk_type_name(t->type), sh, (unsigned long long)t->offset, t->nbytes);
    }
    printf("\ntotal: %llu tensors, %llu parameters (%.2f M), %llu bytes of tensor data (%.2f MiB), %.2f bpw\n",
           (unsigned long long)g->n_tensors, (unsigned long long)T.params, T.params / 1e6,
           (unsigned long long)T.bytes, T.bytes / (1024.0 * 1024.0),
           T.params ? 8.0 * (double)T.bytes / (double)T.params : 0.0);
    printf("types:");
    for (int t = 0; t < QK_TYPE_COUNT; t++)
        if (T.per_type_n[t])
            printf(" %s %llu (%.2f MiB)", qk_type_name((uint32_t)t), (unsigned long long)T.per_type_n[t],
                   T.per_type_bytes[t] / (1024.0 * 1024.0));
    printf("\n");
}

static cJSON *json_scalar(gguf_vtype t, const void *p) {
    if (t == GGUF_TYPE_BOOL) return cJSON_CreateBool(*(const uint8_t *)p != 0);
    return cJSON_CreateNumber(gguf_scalar_as_double(t, p));
}

static cJSON *json_str(gguf_str s) {
    char *tmp = malloc(s.len + 1);
    if (!tmp) return cJSON_CreateNull();
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    cJSON *j = cJSON_CreateString(tmp);
    free(tmp);
    return j;
}

static void print_json(const gguf_ctx *g, long long file_size) {
    totals T;
    sum_up(g, &T);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "path", g->path);
    cJSON_AddNumberToObject(root, "version", g->version);
    cJSON_AddNumberToObject(root, "alignment", g->alignment);
    cJSON_AddNumberToObject(root, "data_offset", (double)g->data_offset);
    cJSON_AddNumberToObject(root, "file_bytes", (double)file_size);
    cJSON *md = cJSON_AddArrayToObject(root, "metadata");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", kv->key);
        cJSON_AddStringToObject(o, "type", gguf_vtype_name(kv->type));
        if (kv->type == GGUF_TYPE_STRING) {
            cJSON_AddItemToObject(o, "value", json_str(kv->strs[0]));
        } else if (kv->type == GGUF_TYPE_ARRAY) {
            cJSON_AddStringToObject(o, "elem_type", gguf_vtype_name(kv->arr_type));
            cJSON_AddNumberToObject(o, "n", (double)kv->n);
            cJSON *head = cJSON_AddArrayToObject(o, "head");
            size_t es = gguf_vtype_size(kv->arr_type);
            for (uint64_t k = 0; k < kv->n && k < JSON_HEAD; k++) {
                if (kv->arr_type == GGUF_TYPE_STRING) cJSON_AddItemToArray(head, json_str(kv->strs[k]));
                else if (es) cJSON_AddItemToArray(head, json_scalar(kv->arr_type, (const uint8_t *)kv->data + k * es));
            }
        } else {
            cJSON_AddItemToObject(o, "value", json_scalar(kv->type, kv->data));
        }
        cJSON_AddItemToArray(md, o);
    }
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", qk_type_name(t->type));
        cJSON *ne = cJSON_AddArrayToObject(o, "ne");
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddItemToArray(ts, o);
    }
    cJSON_AddNumberToObject(root, "n_params", (double)T.params);
    cJSON_AddNumberToObject(root, "tensor_bytes", (double)T.bytes);
    cJSON_AddNumberToObject(root, "bpw", T.params ? 8.0 * (double)T.bytes / (double)T.params : 0.0);
    char *txt = cJSON_Print(root);
    if (txt) printf("%s\n", txt);
    free(txt);
    cJSON_Delete(root);
}

typedef struct opts {
    const char *path;
    bool json;
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    enum { OPT_JSON = 256 };
    static const struct option LONG[] = {{"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;
    while ((c = qk_cli_next(argc, argv, ":h", LONG)) != -1) {
        switch (c) {
        case OPT_JSON: o->json = true; break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    if (optind == argc) return qk_cli_error("no file given — usage: qk-info [--json] FILE.gguf");
    if (argc - optind > 1)
        return qk_cli_error("more than one file given ('%s') — qk-info takes one GGUF file", argv[optind + 1]);
    o->path = argv[optind];
    return QK_CLI_RUN;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-info");
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(o.path, &err);
    if (!g) return qk_fail("%s", err.msg);
    struct stat st;
    long long size = stat(o.path, &st) == 0 ? (long long)st.st_size : -1;
    if (o.json) print_json(g, size);
    else print_human(g, size);
    gguf_close(g);
    return 0;
}
