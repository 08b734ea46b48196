/*
 * bench_cijson.c — qk-bench --ci-json FILE: the results as input for
 * github-action-benchmark's "customBiggerIsBetter" tool (github.com/benchmark-action/
 * github-action-benchmark, README "Examples" / custom benchmarks): a JSON array of
 * {"name", "unit", "value"} objects with the optional "range" and "extra" strings, so a
 * workflow can chart t/s per commit and alert on drops. Layout: bench_output.h.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench_output.h"
#include "bench_stats.h"

void qk_bench_cijson_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r, int index) {
    (void)e;
    const int n_tokens = r->test.n_prompt + r->test.n_gen;
    const qk_bench_summary su = qk_bench_summarize(r->samples_ns, r->n_samples, n_tokens);
    char model[512], test[96], name[700], range[64], extra[256];
    const char *slash = strrchr(r->test.model, '/');
    snprintf(model, sizeof model, "%s", slash ? slash + 1 : r->test.model);
    size_t n = strlen(model);
    if (n > 5 && !strcasecmp(model + n - 5, ".gguf")) model[n - 5] = 0;
    qk_bench_test_name(&r->test, test, sizeof test);
    snprintf(name, sizeof name, "%s %s t=%d", model, test, r->test.n_threads);
    snprintf(range, sizeof range, "\xc2\xb1 %.2f", su.stddev_ts);
    snprintf(extra, sizeof extra, "%d repetitions; %s; n_batch %d", r->n_samples, r->model_type, r->test.n_batch);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "name", name) && cJSON_AddStringToObject(o, "unit", "t/s") &&
              cJSON_AddNumberToObject(o, "value", su.avg_ts) && cJSON_AddStringToObject(o, "range", range) &&
              cJSON_AddStringToObject(o, "extra", extra);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    if (!text) {
        out->oom = true;
    } else {
        if (index > 0) qk_sb_puts(out, ",\n");
        qk_sb_puts(out, text);
    }
    free(text);
    cJSON_Delete(o);
}
