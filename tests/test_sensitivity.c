/*
 * test_sensitivity.c — qk-sensitivity (quantize/sensitivity.h) and quantizing to a size
 * budget (quantize/budget.h, qk-quantize --target-bpw / --target-size).
 *
 *  - the knapsack on a small case worked out by hand (below), infeasibility, and that the
 *    grid never lets a plan exceed its budget;
 *  - qk-sensitivity on stories260K (tiny): the JSON fields, KLD >= 0 up to the 16-bit
 *    rounding of the stored base log-probs, Q8_0 cheaper than Q4_0, --resume takes a
 *    journal's entries as they are, --mode scaled's one measurement per tensor, and the
 *    error cases;
 *  - qk-quantize --target-size: the plan's tensor bytes stay within several budgets and
 *    its summed cost does not rise as the budget grows; --plan-out given back through
 *    --tensor-type-file gives the same per-tensor types (and bytes); the error cases.
 * Measured KLDs are compared with margins, never exactly (SIMD paths differ in rounding).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "budget.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define CALIB "data/calibration/wiki.test.tail.raw"

/*
 * Three tensors, options (bytes, cost):
 *   A: (10, 5.0) (20, 1.0) (40, 0.0)
 *   B: (10, 4.0) (30, 0.5)
 *   C: ( 5, 3.0) (15, 2.0) (25, 0.0)
 * Smallest total 10+10+5 = 25. By hand, every combination within the budget:
 *   budget 50: A10 B10 C5 = 25 / 12.0; A10 B10 C15 = 35 / 11.0; A10 B10 C25 = 45 / 9.0;
 *              A10 B30 C5 = 45 / 8.5;  A20 B10 C5 = 35 / 8.0;   A20 B10 C15 = 45 / 7.0;
 *              (every other one is over 50)           -> A20 B10 C15, 45 bytes, cost 7.0
 *   budget 60: adds A20 B10 C25 = 55 / 5.0; A20 B30 C5 = 55 / 4.5; A10 B30 C15 = 55 / 7.5;
 *              A40 B10 C5 = 55 / 7.0                  -> A20 B30 C5, 55 bytes, cost 4.5
 *   budget 24: infeasible, smallest 25.
 *   budget 95: everything at its largest, cost 0.
 */
static const qk_knap_opt OA[] = {{10, 5.0}, {20, 1.0}, {40, 0.0}};
static const qk_knap_opt OB[] = {{10, 4.0}, {30, 0.5}};
static const qk_knap_opt OC[] = {{5, 3.0}, {15, 2.0}, {25, 0.0}};

START_TEST(knapsack_by_hand) {
    const qk_knap_item items[3] = {{OA, 3}, {OB, 2}, {OC, 3}};
    size_t ch[3];
    uint64_t mb = 0;
    qk_err err = {{0}};
    ck_assert_int_eq(qk_knapsack(items, 3, 50, ch, &mb, &err), 0);
    ck_assert_uint_eq(ch[0], 1);
    ck_assert_uint_eq(ch[1], 0);
    ck_assert_uint_eq(ch[2], 1);
    ck_assert_int_eq(qk_knapsack(items, 3, 60, ch, &mb, &err), 0);
    ck_assert_uint_eq(ch[0], 1);
    ck_assert_uint_eq(ch[1], 1);
    ck_assert_uint_eq(ch[2], 0);
    ck_assert_int_eq(qk_knapsack(items, 3, 95, ch, &mb, &err), 0);
    ck_assert_uint_eq(ch[0], 2);
    ck_assert_uint_eq(ch[1], 1);
    ck_assert_uint_eq(ch[2], 2);
    ck_assert_int_eq(qk_knapsack(items, 3, 24, ch, &mb, &err), -1);
    ck_assert_uint_eq(mb, 25);
}
END_TEST

/* Many items with sizes far above the grid (unit > 1): every plan fits its budget and the
 * cost never rises with the budget. */
START_TEST(knapsack_grid_bound) {
    enum { N = 200, K = 6 };
    static qk_knap_opt opt[N][K];
    qk_knap_item items[N];
    uint64_t total_max = 0, total_min = 0;
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        uint64_t base = 100000 + (seed = seed * 1103515245u + 12345u) % 5000000;
        for (int k = 0; k < K; k++) {
            opt[i][k].bytes = base * (uint64_t)(k + 2) / 4 + (seed = seed * 1103515245u + 12345u) % 977;
            opt[i][k].cost = (double)((seed = seed * 1103515245u + 12345u) % 1000) / (k + 1) / (k + 1);
        }
        total_min += opt[i][0].bytes;
        total_max += opt[i][K - 1].bytes;
        items[i] = (qk_knap_item){opt[i], K};
    }
    static size_t ch[N];
    double prev = INFINITY;
    for (int s = 0; s <= 10; s++) {
        uint64_t budget = total_min + (total_max - total_min) * (uint64_t)s / 10;
        qk_err err = {{0}};
        ck_assert_int_eq(qk_knapsack(items, N, budget, ch, NULL, &err), 0);
        uint64_t used = 0;
        double cost = 0;
        for (int i = 0; i < N; i++) {
            used += opt[i][ch[i]].bytes;
            cost += opt[i][ch[i]].cost;
        }
        ck_assert_msg(used <= budget, "budget %llu: plan has %llu bytes", (unsigned long long)budget,
                      (unsigned long long)used);
        ck_assert_msg(cost <= prev + 1e-9, "budget %llu: cost %g after %g", (unsigned long long)budget, cost, prev);
        prev = cost;
    }
}
END_TEST

START_TEST(parse_size) {
    uint64_t b;
    ck_assert_int_eq(qk_budget_parse_size("123456", &b), 0);
    ck_assert_uint_eq(b, 123456);
    ck_assert_int_eq(qk_budget_parse_size("2K", &b), 0);
    ck_assert_uint_eq(b, 2048);
    ck_assert_int_eq(qk_budget_parse_size("1.5MiB", &b), 0);
    ck_assert_uint_eq(b, 1572864);
    ck_assert_int_eq(qk_budget_parse_size("1g", &b), 0);
    ck_assert_uint_eq(b, 1073741824ull);
    ck_assert_int_eq(qk_budget_parse_size("-3", &b), -1);
    ck_assert_int_eq(qk_budget_parse_size("12Q", &b), -1);
    ck_assert_int_eq(qk_budget_parse_size("", &b), -1);
}
END_TEST

/* Spearman: a monotone relation gives 1, a reversed one -1; ties take their mean rank:
 * x = 1 2 2 3 -> ranks 1 2.5 2.5 4, y = 1 2 3 4 -> ranks 1 2 3 4; centred (mean 2.5):
 * x' = -1.5 0 0 1.5, y' = -1.5 -0.5 0.5 1.5; Σx'y' = 4.5, Σx'² = 4.5, Σy'² = 5,
 * rho = 4.5 / sqrt(4.5·5) = 0.948683. */
START_TEST(spearman) {
    const double x[] = {1, 4, 9, 16, 25}, y[] = {1, 2, 3, 4, 5}, r[] = {5, 4, 3, 2, 1};
    ck_assert_double_eq_tol(qk_sens_spearman(x, y, 5), 1.0, 1e-12);
    ck_assert_double_eq_tol(qk_sens_spearman(x, r, 5), -1.0, 1e-12);
    const double xt[] = {1, 2, 2, 3}, yt[] = {1, 2, 3, 4};
    ck_assert_double_eq_tol(qk_sens_spearman(xt, yt, 4), 4.5 / sqrt(22.5), 1e-12);
    ck_assert(isnan(qk_sens_spearman(x, y, 1)));
}
END_TEST

/* The default chunk count, worked by hand from QK_SENS_AUTO_WORK = 3e13:
 * 0.5B shape, scaled: 169 x 256 x 494,032,768 = 2.137e13 per chunk -> 1;
 * wiki-qwen2-13m, scaled: 43 x 256 x 12,916,992 = 1.422e11 -> 210, capped at 8;
 * the same in kld mode (473 passes): 1.564e12 -> 19, capped at 8;
 * a model 4x the 0.5B: 8.5e13 -> 0, raised to 1; 7.5e12 per chunk -> exactly 4. */
START_TEST(auto_chunks) {
    ck_assert_int_eq(qk_sens_auto_chunks(169, 256, 494032768ull), 1);
    ck_assert_int_eq(qk_sens_auto_chunks(43, 256, 12916992ull), 8);
    ck_assert_int_eq(qk_sens_auto_chunks(473, 256, 12916992ull), 8);
    ck_assert_int_eq(qk_sens_auto_chunks(169, 256, 4 * 494032768ull), 1);
    ck_assert_int_eq(qk_sens_auto_chunks(100, 250, 300000000ull), 4);
    ck_assert_int_eq(qk_sens_auto_chunks(0, 256, 1000), 8);
}
END_TEST

/* ------------------------------------------------------------ the tools ------------ */

static char *g_sens; /* the kld-mode JSON made once for the tool tests */


/* Run qk-sensitivity in kld mode on stories260K (2 chunks of 128 tokens) into out. */
static int run_sens(const char *out, const char *extra, char **log) {
    char *model = qk_test_shared_dup(STORIES);
    char *calib = qk_test_shared_dup(CALIB);
    int rc = qk_test_run_tool(log, "qk-sensitivity", "-m %s -f %s --mode kld -c 128 --chunks 2 -t 2 -o %s %s", model,
                              calib, out, extra);
    free(model);
    free(calib);
    return rc;
}

/* Unchecked fixture: runs once in the parent process (Check forks each test), so every
 * test reads the same file. */
static void make_sens_file(void) {
    char *path = qk_test_tmp_path("stories.sens.json");
    char *log = NULL;
    if (run_sens(path, "", &log) == 0) {
        g_sens = path;
    } else {
        fprintf(stderr, "qk-sensitivity failed:\n%s\n", log ? log : "");
        free(path);
    }
    free(log);
}

static const char *sens_file(void) {
    ck_assert_msg(g_sens != NULL, "the sensitivity file could not be made (see above)");
    return g_sens;
}

static const cJSON *cand_of(const cJSON *t, const char *type) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(t, "candidates")) {
        if (strcmp(cJSON_GetObjectItem(c, "type")->valuestring, type) == 0) return c;
    }
    return NULL;
}

START_TEST(sensitivity_json) {
    cJSON *j = qk_test_read_json(sens_file());
    ck_assert_int_eq(cJSON_GetObjectItem(j, "qkit_sensitivity")->valueint, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "kld");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "n_ctx")->valueint, 128);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "n_chunks")->valueint, 2);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "imatrix")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "model")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "calibration")));
    const double floor = cJSON_GetObjectItem(j, "base_mean_kld")->valuedouble;
    ck_assert(fabs(floor) < 1e-4);
    const cJSON *ts = cJSON_GetObjectItem(j, "tensors"), *t;
    /* stories260K: 5 layers x 7 matrices + token_embd + output */
    ck_assert_int_eq(cJSON_GetArraySize(ts), 37);
    int n_pairs = 0, n_q8_better = 0;
    cJSON_ArrayForEach(t, ts) {
        const char *name = cJSON_GetObjectItem(t, "name")->valuestring;
        const cJSON *layer = cJSON_GetObjectItem(t, "layer");
        ck_assert(cJSON_IsNumber(layer));
        ck_assert_int_eq(layer->valueint, strncmp(name, "blk.", 4) == 0 ? atoi(name + 4) : -1);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(t, "kind")));
        ck_assert(cJSON_GetObjectItem(t, "n_elements")->valuedouble > 0);
        const cJSON *c;
        int n_cand = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(t, "candidates")) {
            n_cand++;
            const char *ty = cJSON_GetObjectItem(c, "type")->valuestring;
            ck_assert(cJSON_GetObjectItem(c, "bytes")->valuedouble > 0);
            const cJSON *kld = cJSON_GetObjectItem(c, "kld");
            ck_assert_msg(cJSON_IsNumber(kld), "%s %s: kld not measured", name, ty);
            /* >= 0 up to the 16-bit rounding of the base log-probs (the floor) */
            ck_assert_msg(kld->valuedouble >= -1e-4, "%s %s: kld %g", name, ty, kld->valuedouble);
            ck_assert(cJSON_GetObjectItem(c, "proxy")->valuedouble >= 0);
            ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(c, "kld_unc")));
        }
        ck_assert_int_ge(n_cand, 2); /* at least F16 and the base F32 */
        /* no K-quant fits stories260K's rows (64, 172): Q8_0 against Q4_0 where both fit */
        const cJSON *q8 = cand_of(t, "Q8_0"), *q4 = cand_of(t, "Q4_0");
        ck_assert(cand_of(t, "F32") != NULL);
        if (q8 && q4) {
            n_pairs++;
            n_q8_better += cJSON_GetObjectItem(q8, "kld")->valuedouble < cJSON_GetObjectItem(q4, "kld")->valuedouble;
            ck_assert(cJSON_GetObjectItem(q8, "proxy")->valuedouble < cJSON_GetObjectItem(q4, "proxy")->valuedouble);
        }
    }
    ck_assert_int_ge(n_pairs, 20);
    ck_assert_msg(n_q8_better >= n_pairs * 9 / 10, "Q8_0 cheaper than Q4_0 for %d of %d", n_q8_better, n_pairs);
    cJSON_Delete(j);
    /* the journal and the base log-probs are gone */
    char p[4096];
    snprintf(p, sizeof p, "%s.journal", sens_file());
    ck_assert(!qk_test_exists(p));
    snprintf(p, sizeof p, "%s.base.logits", sens_file());
    ck_assert(!qk_test_exists(p));
}
END_TEST

/* --resume takes a journal entry as it is: a made-up KLD of 0.125 for token_embd Q8_0 must
 * come out in the JSON. A journal of other settings is refused. */
START_TEST(sensitivity_resume) {
    char *out = qk_test_tmp_path("resume.json");
    char *model = qk_test_shared_dup(STORIES);
    char *calib = qk_test_shared_dup(CALIB);
    char jpath[4096];
    snprintf(jpath, sizeof jpath, "%s.journal", out);
    FILE *f = fopen(jpath, "w");
    ck_assert(f != NULL);
    fprintf(f, "qkit-sensitivity-journal 1\tkld\t128\t2\t%s\t%s\t-\n", model, calib);
    fprintf(f, "E\ttoken_embd.weight\tQ8_0\t34816\t%a\t%a\t%a\t%a\n", 0.125, 0.01, 7.0, 7.0);
    fprintf(f, "E\ttoken_embd.weight\tQ4_0\t184"); /* cut short by a kill: ignored */
    fclose(f);
    char *log = NULL;
    ck_assert_msg(run_sens(out, "--resume", &log) == 0, "%s", log);
    ck_assert_msg(strstr(log, "resuming: 1 finished entries") != NULL, "%s", log);
    free(log);
    cJSON *j = qk_test_read_json(out);
    const cJSON *t;
    int seen = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
        if (strcmp(cJSON_GetObjectItem(t, "name")->valuestring, "token_embd.weight") != 0) continue;
        const cJSON *q8 = cand_of(t, "Q8_0"), *q4 = cand_of(t, "Q4_0");
        ck_assert(q8 && q4);
        ck_assert(cJSON_GetObjectItem(q8, "kld")->valuedouble == 0.125);
        ck_assert(cJSON_GetObjectItem(q8, "proxy")->valuedouble == 7.0);
        ck_assert(cJSON_GetObjectItem(q4, "kld")->valuedouble < 0.1); /* measured anew */
        seen = 1;
    }
    ck_assert(seen);
    cJSON_Delete(j);
    ck_assert(!qk_test_exists(jpath));
    /* other settings: refused, naming the journal */
    f = fopen(jpath, "w");
    ck_assert(f != NULL);
    fprintf(f, "qkit-sensitivity-journal 1\tkld\t256\t8\t%s\t%s\t-\n", model, calib);
    fclose(f);
    qk_test_expect_tool_error("qk-sensitivity", "other settings", NULL, NULL,
                              "-m %s -f %s --mode kld -c 128 --chunks 2 -o %s --resume", model, calib, out);
    free(out);
    free(model);
    free(calib);
}
END_TEST

/* --mode scaled: one measured KLD per tensor (Q4_0 here: no K-quant fits stories260K's
 * rows), the other types get kld_est in proportion to the proxy, and kld_est equals the
 * floor-corrected measured KLD at the reference type. */
START_TEST(sensitivity_scaled) {
    char *out = qk_test_tmp_path("scaled.json");
    char *model = qk_test_shared_dup(STORIES);
    char *calib = qk_test_shared_dup(CALIB);
    char *log = NULL;
    ck_assert_msg(qk_test_run_tool(&log, "qk-sensitivity", "-m %s -f %s --mode scaled -c 128 --chunks 2 -t 2 -o %s",
                                   model, calib, out) == 0,
                  "%s", log);
    free(log);
    cJSON *j = qk_test_read_json(out);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "scaled");
    const double floor = cJSON_GetObjectItem(j, "base_mean_kld")->valuedouble;
    const cJSON *t;
    int n_ref = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
        const cJSON *c, *ref = cand_of(t, "Q4_0");
        int n_measured = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(t, "candidates")) {
            const char *ty = cJSON_GetObjectItem(c, "type")->valuestring;
            if (strcmp(ty, "F32") == 0) continue;
            n_measured += cJSON_IsNumber(cJSON_GetObjectItem(c, "kld"));
            ck_assert_msg(cJSON_IsNumber(cJSON_GetObjectItem(c, "kld_est")), "%s: no kld_est", ty);
            ck_assert(cJSON_GetObjectItem(c, "kld_est")->valuedouble > 0);
        }
        ck_assert_int_eq(n_measured, 1);
        if (ref) {
            double k = cJSON_GetObjectItem(ref, "kld")->valuedouble - floor;
            double e = cJSON_GetObjectItem(ref, "kld_est")->valuedouble;
            ck_assert(fabs(e - (k > 1e-9 ? k : 1e-9)) <= 1e-12 + 1e-9 * fabs(e));
            n_ref++;
        }
    }
    ck_assert_int_ge(n_ref, 20);
    cJSON_Delete(j);
    free(out);
    free(model);
    free(calib);
}
END_TEST

START_TEST(sensitivity_errors) {
    char *model = qk_test_shared_dup(STORIES);
    char *calib = qk_test_shared_dup(CALIB);
    qk_test_expect_tool_error("qk-sensitivity", "--mode expects", NULL, NULL, "-m %s --mode fast", model);
    qk_test_expect_tool_error("qk-sensitivity", "give -m", NULL, NULL, "--mode proxy");
    qk_test_expect_tool_error("qk-sensitivity", "is the input", NULL, NULL, "-m %s -f %s --mode kld -o %s", model, calib,
                              calib);
    qk_test_expect_tool_error("qk-sensitivity", "cannot read", NULL, NULL, "-m %s/none.gguf", qk_test_tmpdir());
    free(model);
    free(calib);
}
END_TEST

/* Run qk-quantize --target-size B on stories260K; returns the exit code, *cost the plan's
 * summed cost, *bytes the output's tensor bytes (--json). */
static int run_target(uint64_t budget, const char *plan, const char *json, double *cost, double *bytes) {
    char *model = qk_test_shared_dup(STORIES);
    char *out = qk_test_tmp_path("target.gguf");
    char *log = NULL;
    int rc = qk_test_run_tool(&log, "qk-quantize", "--target-size %llu --sensitivity %s --plan-out %s --json %s %s %s Q4_K_M 2",
                              (unsigned long long)budget, sens_file(), plan, json, model, out);
    if (rc == 0) {
        *cost = qk_test_number_after(log, "summed cost");
        cJSON *j = qk_test_read_json(json);
        *bytes = cJSON_GetObjectItem(j, "quant_bytes")->valuedouble;
        cJSON_Delete(j);
    }
    free(log);
    free(model);
    free(out);
    return rc;
}

START_TEST(target_size_bound) {
    char *plan = qk_test_tmp_path("plan.txt"), *json = qk_test_tmp_path("target.json");
    /* stories260K: smallest feasible ~246 KB (F32 ffn_down, rows of 172 fit nothing else
     * but F16), largest 366 KB (everything F32) */
    const uint64_t budgets[] = {250000, 262624, 289696, 320000, 366000};
    double prev = INFINITY;
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        double cost = 0, bytes = 0;
        ck_assert_int_eq(run_target(budgets[i], plan, json, &cost, &bytes), 0);
        ck_assert_msg(bytes <= (double)budgets[i], "budget %llu: %g bytes", (unsigned long long)budgets[i], bytes);
        ck_assert_msg(cost <= prev * (1 + 1e-9), "budget %llu: cost %g after %g", (unsigned long long)budgets[i], cost,
                      prev);
        prev = cost;
    }
    free(plan);
    free(json);
}
END_TEST

/* The plan file given back through --tensor-type-file gives the same tensors, types, bytes. */
START_TEST(plan_round_trip) {
    char *plan = qk_test_tmp_path("rt.plan"), *json = qk_test_tmp_path("rt.json");
    char *json2 = qk_test_tmp_path("rt2.json"), *out2 = qk_test_tmp_path("rt2.gguf");
    char *model = qk_test_shared_dup(STORIES);
    double cost, bytes;
    ck_assert_int_eq(run_target(280000, plan, json, &cost, &bytes), 0);
    ck_assert_int_eq(qk_test_run_tool(NULL, "qk-quantize", "--tensor-type-file %s --json %s %s %s Q4_K_M 2", plan,
                                      json2, model, out2),
                     0);
    cJSON *a = qk_test_read_json(json), *b = qk_test_read_json(json2);
    const cJSON *ta = cJSON_GetObjectItem(a, "tensors"), *tb = cJSON_GetObjectItem(b, "tensors");
    ck_assert_int_eq(cJSON_GetArraySize(ta), cJSON_GetArraySize(tb));
    int n_q4_0 = 0;
    for (int i = 0; i < cJSON_GetArraySize(ta); i++) {
        const cJSON *x = cJSON_GetArrayItem(ta, i), *y = cJSON_GetArrayItem(tb, i);
        ck_assert_str_eq(cJSON_GetObjectItem(x, "name")->valuestring, cJSON_GetObjectItem(y, "name")->valuestring);
        ck_assert_str_eq(cJSON_GetObjectItem(x, "type")->valuestring, cJSON_GetObjectItem(y, "type")->valuestring);
        ck_assert(cJSON_GetObjectItem(x, "bytes")->valuedouble == cJSON_GetObjectItem(y, "bytes")->valuedouble);
        n_q4_0 += strcmp(cJSON_GetObjectItem(x, "type")->valuestring, "F32") != 0;
    }
    ck_assert_int_gt(n_q4_0, 0);
    ck_assert(cJSON_GetObjectItem(a, "quant_bytes")->valuedouble == cJSON_GetObjectItem(b, "quant_bytes")->valuedouble);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(plan);
    free(json);
    free(json2);
    free(out2);
    free(model);
}
END_TEST

START_TEST(target_errors) {
    char *model = qk_test_shared_dup(STORIES);
    char *out = qk_test_tmp_path("err.gguf");
    qk_test_expect_tool_error("qk-quantize", "needs --sensitivity", out, NULL, "--target-bpw 5 %s %s Q4_K_M", model,
                              out);
    qk_test_expect_tool_error("qk-quantize", "smallest feasible size is", out, NULL,
                              "--target-size 10K --sensitivity %s %s %s Q4_K_M", sens_file(), model, out);
    qk_test_expect_tool_error("qk-quantize", "cannot be combined", out, NULL,
                              "--target-size 300K --sensitivity %s --pure %s %s Q4_K_M", sens_file(), model, out);
    qk_test_expect_tool_error("qk-quantize", "--target-size expects", out, NULL,
                              "--target-size 3X --sensitivity %s %s %s Q4_K_M", sens_file(), model, out);
    qk_test_expect_tool_error("qk-quantize", "quantized TYPE", out, NULL, "--target-size 300K --sensitivity %s %s %s F16",
                              sens_file(), model, out);
    qk_test_expect_tool_error("qk-quantize", "only with --target", out, NULL, "--sensitivity %s %s %s Q4_K_M",
                              sens_file(), model, out);
    free(model);
    free(out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sensitivity");
    TCase *tc = tcase_create("sensitivity");
    tcase_set_timeout(tc, 900);
    tcase_add_unchecked_fixture(tc, make_sens_file, NULL);
    tcase_add_test(tc, knapsack_by_hand);
    tcase_add_test(tc, knapsack_grid_bound);
    tcase_add_test(tc, parse_size);
    tcase_add_test(tc, spearman);
    tcase_add_test(tc, auto_chunks);
    tcase_add_test(tc, sensitivity_json);
    tcase_add_test(tc, sensitivity_resume);
    tcase_add_test(tc, sensitivity_scaled);
    tcase_add_test(tc, sensitivity_errors);
    tcase_add_test(tc, target_size_bound);
    tcase_add_test(tc, plan_round_trip);
    tcase_add_test(tc, target_errors);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
