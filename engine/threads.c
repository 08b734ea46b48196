/*
 * threads.c — persistent worker pool (see threads.h).
 *
 * Dispatch: the caller publishes (fn, arg), sets `pending` and bumps the job generation;
 * workers notice the new generation, run their share and decrement `pending`; the caller
 * runs share 0 and then waits for `pending` to reach 0. Waiting is a short spin first
 * (a decode step issues hundreds of jobs of a few microseconds each, and waking a
 * sleeping thread costs more than that), then a condition-variable sleep, so idle pools
 * use no CPU. A pool of size 1 has no worker threads and runs inline.
 *
 * Invariants: one job at a time per pool; fn/arg are written before the generation is
 * published (release) and read after it is observed (acquire); the generation is only
 * bumped under the mutex, so a worker that checked it under the mutex cannot miss it.
 */
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 20000 /* ~0.1–0.5 ms of polling before sleeping */
#define YIELD_AFTER 256  /* spins before a busy-wait starts yielding the CPU: with more
                            threads than cores, the thread waited for needs it */

/* One step of a busy-wait: pause, and yield the CPU once the wait is no longer short. */
static inline void wait_step(int *spins) {
    if (++*spins > YIELD_AFTER) sched_yield();
    else cpu_relax();
}

struct qk_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qk_task_fn fn;
    void *arg;
    atomic_ulong generation;
    atomic_int pending;
    atomic_int quit;
    atomic_int bar_count;
    atomic_uint bar_phase;
};

typedef struct worker_arg {
    qk_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    qk_pool *pool = wa.pool;
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                        !atomic_load_explicit(&pool->quit, memory_order_relaxed);)
            wait_step(&i);
        if (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&pool->mu);
            while (!atomic_load(&pool->quit) && atomic_load(&pool->generation) == seen)
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->quit)) return NULL;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        pool->fn(pool->arg, wa.ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

int qk_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

qk_pool *qk_pool_new(int n_threads) {
    if (n_threads <= 0) n_threads = qk_cpu_count();
    qk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) *wa = (worker_arg){p, i};
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n = i; /* only threads 1..i-1 exist */
            qk_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void qk_pool_free(qk_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int qk_pool_size(const qk_pool *p) { return p->n; }

void qk_pool_run(qk_pool *p, qk_task_fn fn, void *arg) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0, p->n);

    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) wait_step(&spins);
}

void qk_pool_barrier(qk_pool *p) {
    if (p->n == 1) return;
    unsigned phase = atomic_load_explicit(&p->bar_phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == p->n - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_phase, 1, memory_order_release);
    } else {
        int spins = 0;
        while (atomic_load_explicit(&p->bar_phase, memory_order_acquire) == phase) wait_step(&spins);
    }
}
