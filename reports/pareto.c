/*
 * pareto.c — Pareto frontier of (size, cost) points (definition: pareto.h).
 */
#include "pareto.h"

#include <math.h>

int qk_pareto_front(const double *size, const double *cost, int n, bool *on_front) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool ok = isfinite(size[i]) && isfinite(cost[i]);
        for (int j = 0; ok && j < n; j++) {
            if (j == i || !isfinite(size[j]) || !isfinite(cost[j])) continue;
            if (size[j] <= size[i] && cost[j] <= cost[i] && (size[j] < size[i] || cost[j] < cost[i])) ok = false;
        }
        on_front[i] = ok;
        k += ok;
    }
    return k;
}

int qk_pareto_order(const double *size, const double *cost, const bool *on_front, int n, int *idx) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!on_front[i]) continue;
        /* insertion by (size ascending, cost descending) */
        int p = k++;
        while (p > 0 && (size[idx[p - 1]] > size[i] || (size[idx[p - 1]] == size[i] && cost[idx[p - 1]] < cost[i]))) {
            idx[p] = idx[p - 1];
            p--;
        }
        idx[p] = i;
    }
    return k;
}
