/*
 * budget.c — the multiple-choice knapsack of budget.h (exact DP on a byte grid, then a
 * greedy fill of the rounding slack), the plan over a sensitivity file, its rules file,
 * and the size syntax of --target-size.
 */
#include "budget.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int qk_knapsack(const qk_knap_item *items, size_t n, uint64_t budget, size_t *choice, uint64_t *min_bytes,
                qk_err *err) {
    uint64_t min_total = 0, max_total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t k = 0; k < items[i].n_opt; k++) {
            if (items[i].opt[k].bytes < lo) lo = items[i].opt[k].bytes;
            if (items[i].opt[k].bytes > hi) hi = items[i].opt[k].bytes;
        }
        min_total += lo;
        max_total += hi;
    }
    if (min_bytes) *min_bytes = min_total;
    if (min_total > budget) return qk_errf(err, "infeasible budget");
    const uint64_t unit = max_total > QK_BUDGET_GRID ? (max_total + QK_BUDGET_GRID - 1) / QK_BUDGET_GRID : 1;
    uint64_t cap64 = budget / unit;
    if (cap64 > max_total / unit + 1) cap64 = max_total / unit + 1;
    const size_t cap = (size_t)cap64;
    double *prev = malloc((cap + 1) * sizeof *prev), *cur = malloc((cap + 1) * sizeof *cur);
    uint8_t *pick = malloc(n * (cap + 1));
    int rc = -1;
    if (!prev || !cur || !pick) {
        qk_errf(err, "out of memory for the knapsack (%zu tensors x %zu cells)", n, cap + 1);
        goto done;
    }
    for (size_t c = 0; c <= cap; c++) prev[c] = 0.0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *pk = pick + i * (cap + 1);
        for (size_t c = 0; c <= cap; c++) {
            double best = INFINITY;
            uint8_t bk = 0xff;
            for (size_t k = 0; k < items[i].n_opt; k++) {
                uint64_t w = (items[i].opt[k].bytes + unit - 1) / unit;
                if (w > c) continue;
                double v = prev[c - w] + items[i].opt[k].cost;
                if (v < best) {
                    best = v;
                    bk = (uint8_t)k;
                }
            }
            cur[c] = best;
            pk[c] = bk;
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    if (!isfinite(prev[cap])) { /* feasible in bytes, not on the grid: take the smallest */
        for (size_t i = 0; i < n; i++) {
            size_t b = 0;
            for (size_t k = 1; k < items[i].n_opt; k++)
                if (items[i].opt[k].bytes < items[i].opt[b].bytes) b = k;
            choice[i] = b;
        }
    } else {
        size_t c = cap;
        for (size_t i = n; i-- > 0;) {
            size_t k = pick[i * (cap + 1) + c];
            choice[i] = k;
            c -= (size_t)((items[i].opt[k].bytes + unit - 1) / unit);
        }
    }
    /* greedy fill of the slack the rounding left */
    uint64_t used = 0;
    for (size_t i = 0; i < n; i++) used += items[i].opt[choice[i]].bytes;
    for (;;) {
        double best_drop = 0;
        size_t bi = 0, bk = 0;
        for (size_t i = 0; i < n; i++) {
            const qk_knap_opt *o = items[i].opt, *cur_o = &o[choice[i]];
            for (size_t k = 0; k < items[i].n_opt; k++) {
                double drop = cur_o->cost - o[k].cost;
                if (drop <= best_drop) continue;
                if (o[k].bytes > cur_o->bytes && o[k].bytes - cur_o->bytes > budget - used) continue;
                best_drop = drop;
                bi = i;
                bk = k;
            }
        }
        if (best_drop <= 0) break;
        used = used - items[bi].opt[choice[bi]].bytes + items[bi].opt[bk].bytes;
        choice[bi] = bk;
    }
    rc = 0;
done:
    free(prev);
    free(cur);
    free(pick);
    return rc;
}

void qk_budget_plan_free(qk_budget_plan *plan) {
    free(plan->choice);
    plan->choice = NULL;
}

int qk_budget_solve(const qk_sens *s, uint64_t fixed_bytes, uint64_t n_params, uint64_t budget,
                    qk_budget_plan *plan, qk_err *err) {
    memset(plan, 0, sizeof *plan);
    plan->n = s->n_tensors;
    plan->fixed_bytes = fixed_bytes;
    plan->n_params = n_params;
    qk_knap_item *items = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *items);
    qk_knap_opt *opts = calloc(s->n_tensors * QK_SENS_MAX_CAND + 1, sizeof *opts);
    plan->choice = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *plan->choice);
    int rc = -1;
    if (!items || !opts || !plan->choice) {
        qk_errf(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->n_tensors; i++) {
        const qk_sens_tensor *t = &s->tensors[i];
        qk_knap_opt *o = opts + i * QK_SENS_MAX_CAND;
        for (size_t k = 0; k < t->n_cand; k++) {
            double c = qk_sens_cost(s, &t->cand[k]);
            o[k] = (qk_knap_opt){t->cand[k].bytes, isfinite(c) && c > 0 ? c : 0.0};
        }
        items[i] = (qk_knap_item){o, t->n_cand};
        if (t->n_cand == 0) {
            qk_errf(err, "tensor %s has no candidate type in the sensitivity file", t->name);
            goto done;
        }
    }
    uint64_t min_bytes = 0;
    if (budget < fixed_bytes ||
        qk_knapsack(items, s->n_tensors, budget - fixed_bytes, plan->choice, &min_bytes, err) != 0) {
        if (budget >= fixed_bytes && min_bytes <= budget - fixed_bytes) goto done; /* out of memory */
        uint64_t mb = min_bytes + fixed_bytes;
        qk_errf(err, "the budget of %llu tensor bytes (%.4f bpw) is infeasible: the smallest feasible size is %llu "
                "bytes (%.4f bpw) — ask for at least that", (unsigned long long)budget,
                n_params ? 8.0 * budget / n_params : 0.0, (unsigned long long)mb, n_params ? 8.0 * mb / n_params : 0.0);
        goto done;
    }
    plan->bytes = fixed_bytes;
    for (size_t i = 0; i < s->n_tensors; i++) {
        plan->bytes += opts[i * QK_SENS_MAX_CAND + plan->choice[i]].bytes;
        plan->cost += opts[i * QK_SENS_MAX_CAND + plan->choice[i]].cost;
    }
    rc = 0;
done:
    free(items);
    free(opts);
    if (rc) qk_budget_plan_free(plan);
    return rc;
}

int qk_budget_write_rules(const qk_sens *s, const qk_budget_plan *plan, FILE *f) {
    fprintf(f, "# qk-quantize --tensor-type-file: the plan for %llu tensor bytes (%.4f bpw), summed cost %.6g\n",
            (unsigned long long)plan->bytes, plan->n_params ? 8.0 * plan->bytes / plan->n_params : 0.0, plan->cost);
    fprintf(f, "# sensitivity: mode %s, model %s\n", qk_sens_mode_name(s->mode), s->model ? s->model : "?");
    for (size_t i = 0; i < plan->n; i++) {
        const qk_sens_tensor *t = &s->tensors[i];
        fputc('^', f);
        for (const char *p = t->name; *p; p++) {
            if (strchr(".[]()*+?{}|^$\\", *p)) fputc('\\', f);
            fputc(tolower((unsigned char)*p), f);
        }
        char ty[16];
        const char *tn = qk_type_name(t->cand[plan->choice[i]].type);
        size_t l = 0;
        for (; tn[l] && l < sizeof ty - 1; l++) ty[l] = (char)tolower((unsigned char)tn[l]);
        ty[l] = 0;
        fprintf(f, "$=%s\n", ty);
    }
    return ferror(f) ? -1 : 0;
}

int qk_budget_parse_size(const char *s, uint64_t *bytes) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || !isfinite(v)) return -1;
    double mul = 1;
    if (*end) {
        static const struct {
            const char *suffix;
            double mul;
        } S[] = {{"b", 1},         {"k", 1024.0},     {"kb", 1024.0},     {"kib", 1024.0},
                 {"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0},
                 {"gb", 1073741824.0}, {"gib", 1073741824.0}};
        size_t i = 0;
        while (i < sizeof S / sizeof S[0] && strcasecmp(end, S[i].suffix) != 0) i++;
        if (i == sizeof S / sizeof S[0]) return -1;
        mul = S[i].mul;
    }
    double b = floor(v * mul);
    if (b < 1 || b > 1.8e19) return -1;
    *bytes = (uint64_t)b;
    return 0;
}
