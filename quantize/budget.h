/*
 * budget.h — quantizing to a size budget (qk-quantize --target-bpw / --target-size with
 * --sensitivity FILE): choose one type per tensor so that the summed cost
 * (sensitivity.h qk_sens_cost: measured KLD when present, else the proxy) is smallest while
 * the tensor bytes of the whole model stay within the budget.
 *
 * This is a multiple-choice knapsack (one option per item, minimise Σ cost subject to
 * Σ bytes <= B; Sinha & Zoltners 1979). It is solved exactly by dynamic programming over
 * a byte grid: with unit u = ceil(Σ_i max_k bytes_ik / QK_BUDGET_GRID), option k of item i
 * weighs w_ik = ceil(bytes_ik / u) cells, and
 *     D_i(c) = min_k D_{i-1}(c − w_ik) + cost_ik,   D_0(c) = 0,
 * over c = 0..floor(B / u); the choice of every (i, c) is kept to walk back. Rounding the
 * weights up makes every plan the grid admits fit the real budget. Why the DP and not the
 * greedy lower-convex-hull walk (marginal cost per byte): the costs are measured, noisy and
 * not convex in the bytes (a Q5_0 may cost more than a smaller Q4_K), and the hull walk
 * then skips options and can end with unused budget; the DP is optimal on the grid for any
 * costs, and with QK_BUDGET_GRID cells the rounding loses at most n_items·u bytes (about
 * 0.07 % of a model for 170 tensors). The unit depends on the options only, not on B, so the
 * optimal grid cost cannot rise when B grows. After the DP a greedy pass spends what the
 * rounding left: while some item has a cheaper option whose extra real bytes fit, take the
 * one with the largest cost drop.
 * Memory: n_items·(cells+1) bytes for the choices plus two rows of doubles.
 */
#ifndef QK_BUDGET_H
#define QK_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "sensitivity.h"

#define QK_BUDGET_GRID 262144 /* grid cells over the largest total size */

typedef struct qk_knap_opt {
    uint64_t bytes;
    double cost;   /* >= 0 */
} qk_knap_opt;

typedef struct qk_knap_item {
    const qk_knap_opt *opt;
    size_t n_opt;  /* 1 .. 255 */
} qk_knap_item;

/* Choose choice[i] in [0, items[i].n_opt) minimising Σ cost with Σ bytes <= budget.
 * Returns 0; or -1 with err set when even the smallest option of every item does not fit
 * (*min_bytes, when not NULL, then gets that smallest total), or out of memory. */
int qk_knapsack(const qk_knap_item *items, size_t n_items, uint64_t budget, size_t *choice,
                uint64_t *min_bytes, qk_err *err);

/* A plan for a model: for each tensor of a sensitivity file, the chosen candidate. */
typedef struct qk_budget_plan {
    size_t n;             /* = s->n_tensors */
    size_t *choice;       /* index into s->tensors[i].cand */
    uint64_t fixed_bytes; /* tensors not in the file (kept in their input type) */
    uint64_t bytes;       /* all tensor bytes: fixed + chosen */
    uint64_t n_params;    /* all elements of the model */
    double cost;          /* Σ qk_sens_cost of the choices */
} qk_budget_plan;

/* Plan s for a budget of `budget` tensor bytes. fixed_bytes: the bytes of the model's
 * tensors that s does not list; n_params: every element of the model (for bpw). Errors:
 * infeasible ("the smallest feasible size is N bytes (X bpw)"), out of memory. */
int qk_budget_solve(const qk_sens *s, uint64_t fixed_bytes, uint64_t n_params, uint64_t budget,
                    qk_budget_plan *plan, qk_err *err);
void qk_budget_plan_free(qk_budget_plan *plan);

/* The rules that make qk-quantize reproduce the plan: one line per tensor,
 * "^blk\.0\.attn_q\.weight$=q4_k" (the name's '.' escaped, anchored; tensor_rules.h), in
 * the --tensor-type-file format, preceded by '#' comment lines with the totals. */
int qk_budget_write_rules(const qk_sens *s, const qk_budget_plan *plan, FILE *f);

/* A size in bytes: "123456", "123456B", or a decimal number with a binary suffix, "512K",
 * "300M", "1.5G" (K, KB, KiB = 1024; M, MB, MiB = 1024²; G, GB, GiB = 1024³;
 * case-insensitive; rounded down to whole bytes) into *bytes. Returns 0, or -1 when it does not parse or is not positive. */
int qk_budget_parse_size(const char *s, uint64_t *bytes);

#endif
