/*
 * ppl_tool.c — the steps qk-perplexity and qk-imatrix share (ppl_tool.h).
 */
#include "ppl_tool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "afile.h"
#include "cli.h"
#include "clock.h"
#include "fileio.h"
#include "tokenizer.h"
#include "tool.h"

int ppl_tool_check_input(const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0) return qk_fail("cannot open %s %s: %s", what, path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return qk_fail("%s %s is a directory", what, path);
    if (S_ISREG(st.st_mode) && st.st_size == 0) return qk_fail("%s %s is empty", what, path);
    return 0;
}

char *ppl_tool_read_text(const char *path, const char *what, bool drop_newline, size_t *len) {
    qk_err err = {{0}};
    char *buf = qk_file_read(path, len, &err);
    if (!buf) {
        qk_fail("%s: %s", what, err.msg);
        return NULL;
    }
    if (drop_newline && *len > 0 && buf[*len - 1] == '\n') (*len)--;
    if (*len == 0) {
        free(buf);
        qk_fail("%s %s is empty", what, path);
        return NULL;
    }
    return buf;
}

qk_model *ppl_tool_load_model(const char *path, int32_t n_ctx, bool warn_ctx, bool show_tied, bool use_mmap) {
    qk_err err = {{0}};
    qk_model *m = qk_model_open(path, use_mmap, &err);
    if (!m) {
        qk_fail("cannot load model %s: %s", path, err.msg);
        return NULL;
    }
    if (!m->vocab) {
        qk_model_free(m);
        qk_fail("model %s has no tokenizer", path);
        return NULL;
    }
    fprintf(stderr, "%s: model %s: n_vocab %d, %.2f M params, %.2f MiB%s\n", qk_tool_prog(), path, m->hp.n_vocab,
            m->n_params / 1e6, m->n_bytes / 1048576.0,
            show_tied && m->tied_output ? ", lm_head tied to token_embd" : "");
    if (warn_ctx && n_ctx > m->hp.n_ctx_train)
        fprintf(stderr, "%s: warning: n_ctx %d is larger than the model's training context %d\n", qk_tool_prog(),
                n_ctx, m->hp.n_ctx_train);
    return m;
}

int ppl_tool_tokenize(const qk_model *m, const char *path, const char *text, size_t len, int32_t **tokens,
                      size_t *n_tokens) {
    fprintf(stderr, "%s: tokenizing the input ..\n", qk_tool_prog());
    const uint64_t t0 = qk_now_ns();
    qk_err err = {{0}};
    if (qk_tokenize(m->vocab, text, len, true, false, tokens, n_tokens, &err))
        return qk_fail("tokenizing %s failed: %s", path, err.msg);
    fprintf(stderr, "%s: tokenization took %g ms (%zu tokens)\n", qk_tool_prog(), (double)(qk_now_ns() - t0) / 1e6,
            *n_tokens);
    return 0;
}

void ppl_tool_jnum(cJSON *j, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(j, key, v);
    else cJSON_AddNullToObject(j, key);
}

int ppl_tool_write_json(const char *path, const cJSON *j) {
    char *txt = cJSON_Print(j);
    if (!txt) return qk_fail("out of memory formatting JSON");
    qk_err err = {{0}};
    qk_afile *a = qk_afile_create(path, &err);
    int rc = 0;
    if (!a || qk_afile_write(a, txt, strlen(txt), &err) || qk_afile_write(a, "\n", 1, &err)) {
        qk_afile_abort(a);
        rc = qk_fail("%s", err.msg);
    } else if (qk_afile_commit(a, &err)) {
        rc = qk_fail("%s", err.msg);
    }
    free(txt);
    return rc;
}
