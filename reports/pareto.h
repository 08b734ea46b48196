/*
 * pareto.h — the Pareto frontier of (size, cost) points, both to be minimised: which models
 * no other model beats on size and quality at once.
 *
 * Point i is dominated when some point j has size_j <= size_i and cost_j <= cost_i with at
 * least one of the two strictly smaller (the usual definition of Pareto dominance for
 * minimisation). Points that tie exactly on both are all kept. A point whose size or cost is
 * not finite is never on the frontier and dominates nothing.
 */
#ifndef QK_PARETO_H
#define QK_PARETO_H

#include <stdbool.h>

/* on_front[i] = point i is not dominated (n points; size and cost: any unit, lower is
 * better). Returns how many are on the frontier. O(n²), for the handful of models of a study. */
int qk_pareto_front(const double *size, const double *cost, int n, bool *on_front);

/* The indices of the frontier's points ordered by size ascending (cost descending on equal
 * sizes), the order a line through them is drawn in, into idx (n entries). Returns how many. */
int qk_pareto_order(const double *size, const double *cost, const bool *on_front, int n, int *idx);

#endif
