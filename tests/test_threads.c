/*
 * test_threads.c — the worker pool: every share runs exactly once per job, jobs do not
 * overlap, barriers order the phases of a job, and sleeping workers wake up.
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "threads.h"

typedef struct count_job {
    atomic_int calls[16];
    atomic_int total;
} count_job;

static void count_task(void *arg, int ith, int nth) {
    count_job *j = arg;
    ck_assert_int_lt(ith, nth);
    atomic_fetch_add(&j->calls[ith], 1);
    atomic_fetch_add(&j->total, 1);
}

START_TEST(test_each_share_runs_once) {
    for (int n = 1; n <= 4; n++) {
        qk_pool *p = qk_pool_new(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(qk_pool_size(p), n);
        count_job j;
        memset(&j, 0, sizeof j);
        for (int r = 0; r < 5000; r++) qk_pool_run(p, count_task, &j);
        for (int i = 0; i < n; i++) ck_assert_int_eq(atomic_load(&j.calls[i]), 5000);
        ck_assert_int_eq(atomic_load(&j.total), 5000 * n);
        qk_pool_free(p);
    }
}
END_TEST

/* Phase 1 writes a[ith]; after the barrier, every thread reads all of a. */
typedef struct bar_job {
    qk_pool *p;
    int a[16];
    int sums[16];
    int round;
} bar_job;

static void bar_task(void *arg, int ith, int nth) {
    bar_job *j = arg;
    for (int phase = 0; phase < 3; phase++) {
        j->a[ith] = j->round * 100 + phase * 10 + ith;
        qk_pool_barrier(j->p);
        int s = 0;
        for (int i = 0; i < nth; i++) s += j->a[i];
        j->sums[ith] = s;
        qk_pool_barrier(j->p); /* nobody overwrites a[] before all have read it */
    }
}

START_TEST(test_barrier_orders_phases) {
    for (int n = 1; n <= 4; n++) {
        bar_job j = {.p = qk_pool_new(n)};
        for (j.round = 0; j.round < 2000; j.round++) {
            qk_pool_run(j.p, bar_task, &j);
            int want = 0;
            for (int i = 0; i < n; i++) want += j.round * 100 + 2 * 10 + i;
            for (int i = 0; i < n; i++) ck_assert_int_eq(j.sums[i], want);
        }
        qk_pool_free(j.p);
    }
}
END_TEST

START_TEST(test_sleeping_workers_wake_up) {
    qk_pool *p = qk_pool_new(3);
    count_job j;
    memset(&j, 0, sizeof j);
    for (int r = 0; r < 3; r++) {
        usleep(20000); /* long past the polling phase: the workers are asleep */
        qk_pool_run(p, count_task, &j);
    }
    for (int i = 0; i < 3; i++) ck_assert_int_eq(atomic_load(&j.calls[i]), 3);
    qk_pool_free(p);
    ck_assert_int_ge(qk_cpu_count(), 1);
    p = qk_pool_new(0); /* all CPUs */
    ck_assert_int_eq(qk_pool_size(p), qk_cpu_count());
    qk_pool_free(p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, test_each_share_runs_once);
    tcase_add_test(tc, test_barrier_orders_phases);
    tcase_add_test(tc, test_sleeping_workers_wake_up);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
