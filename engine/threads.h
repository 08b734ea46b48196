/*
 * threads.h — a persistent worker pool.
 *
 * qk_pool_run(pool, fn, arg) calls fn(arg, ith, nth) once on each of nth threads
 * (the caller is thread 0) and returns when all have finished. No thread is created per
 * call: between jobs workers poll briefly, then sleep on a condition variable. Work
 * splitting is the caller's: typically rows [ith*n/nth, (ith+1)*n/nth).
 */
#ifndef QK_THREADS_H
#define QK_THREADS_H

typedef struct qk_pool qk_pool;
typedef void (*qk_task_fn)(void *arg, int ith, int nth);

/* n_threads <= 0 means the number of online CPUs. Returns NULL if threads cannot start. */
qk_pool *qk_pool_new(int n_threads);
void qk_pool_free(qk_pool *p);
int qk_pool_size(const qk_pool *p);
void qk_pool_run(qk_pool *p, qk_task_fn fn, void *arg);

/* Inside a task: wait until all nth threads of the current job have reached the barrier
 * (e.g. after converting shared inputs, before using them). Every thread of the job must
 * call it the same number of times. */
void qk_pool_barrier(qk_pool *p);

/* Number of online CPUs (>= 1). */
int qk_cpu_count(void);

#endif
