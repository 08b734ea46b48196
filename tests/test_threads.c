/*
 * test_threads.c — the worker pool: every share runs exactly once per job, jobs do not
 * overlap, barriers order the phases of a job, sleeping workers wake up, a pool freed right
 * after a run and two pools driven at once from two threads. Pool sizes 1, 2, 3, 4, 8 and
 * 64 (more threads than cores). Also run under ThreadSanitizer (tests/run-sanitizers.sh).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "threads.h"

#define MAX_POOL 64
static const int SIZES[] = {1, 2, 3, 4, 8, MAX_POOL};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))

typedef struct count_job {
    atomic_int calls[MAX_POOL];
    atomic_int total;
} count_job;

static void count_task(void *arg, int ith, int nth) {
    count_job *j = arg;
    ck_assert_int_lt(ith, nth);
    atomic_fetch_add(&j->calls[ith], 1);
    atomic_fetch_add(&j->total, 1);
}

START_TEST(test_each_share_runs_once) {
    for (int k = 0; k < N_SIZES; k++) {
        const int n = SIZES[k], runs = n > 8 ? 100 : 5000;
        qk_pool *p = qk_pool_new(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(qk_pool_size(p), n);
        count_job j;
        memset(&j, 0, sizeof j);
        for (int r = 0; r < runs; r++) qk_pool_run(p, count_task, &j);
        for (int i = 0; i < n; i++) ck_assert_int_eq(atomic_load(&j.calls[i]), runs);
        ck_assert_int_eq(atomic_load(&j.total), runs * n);
        qk_pool_free(p);
    }
}
END_TEST

/* Freed right after a run, at every size: no worker may still touch the pool. */
START_TEST(test_free_right_after_run) {
    for (int rep = 0; rep < 10; rep++)
        for (int k = 0; k < N_SIZES; k++) {
            qk_pool *p = qk_pool_new(SIZES[k]);
            ck_assert_ptr_nonnull(p);
            count_job j;
            memset(&j, 0, sizeof j);
            qk_pool_run(p, count_task, &j);
            qk_pool_free(p);
            ck_assert_int_eq(atomic_load(&j.total), SIZES[k]);
        }
}
END_TEST

/* Two pools, each driven by its own thread at the same time. */
typedef struct driver {
    qk_pool *p;
    count_job j;
} driver;

static void *drive(void *arg) {
    driver *d = arg;
    for (int r = 0; r < 2000; r++) qk_pool_run(d->p, count_task, &d->j);
    return NULL;
}

START_TEST(test_two_pools_at_once) {
    static driver d[2];
    memset(d, 0, sizeof d);
    d[0].p = qk_pool_new(2);
    d[1].p = qk_pool_new(3);
    ck_assert(d[0].p && d[1].p);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, drive, &d[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&d[0].j.total), 2000 * 2);
    ck_assert_int_eq(atomic_load(&d[1].j.total), 2000 * 3);
    qk_pool_free(d[0].p);
    qk_pool_free(d[1].p);
}
END_TEST

/* Phase 1 writes a[ith]; after the barrier, every thread reads all of a. */
typedef struct bar_job {
    qk_pool *p;
    int a[MAX_POOL];
    int sums[MAX_POOL];
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
    for (int k = 0; k < N_SIZES; k++) {
        const int n = SIZES[k];
        static bar_job j;
        memset(&j, 0, sizeof j);
        j.p = qk_pool_new(n);
        ck_assert_ptr_nonnull(j.p);
        for (j.round = 0; j.round < (n > 8 ? 50 : 2000); j.round++) {
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
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_each_share_runs_once);
    tcase_add_test(tc, test_free_right_after_run);
    tcase_add_test(tc, test_two_pools_at_once);
    tcase_add_test(tc, test_barrier_orders_phases);
    tcase_add_test(tc, test_sleeping_workers_wake_up);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
