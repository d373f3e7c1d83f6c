/*
 * Threads and scratch memory for the kernels.
 *
 * A small pool: the calling thread plus nd_threads() - 1 helper threads,
 * started when the count is first raised above one and kept for the life of
 * the process. nd_parallel_for(count, task, context) runs task(context, i)
 * for every i in [0, count): every thread takes the next index from a shared
 * counter until none is left. Which thread runs which index varies from run
 * to run, so callers cut their work into pieces that do not depend on the
 * number of threads and write each piece's result to its own place: then the
 * result is the same bits for any number of threads.
 *
 * Helpers that have nothing to do spin for a while (a training step calls
 * the kernels every few hundred microseconds) and then sleep on a condition
 * variable. A call made from inside a task, or while another JavaScript
 * thread (a Node worker) is using the pool, runs on the calling thread alone.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ndgraph_native.h"

/* How many times an idle helper checks for work before it sleeps (a few tens of microseconds). */
#define SPIN_CHECKS 20000

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the thread using the pool */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t helpers_idle = PTHREAD_COND_INITIALIZER;

static int thread_count = 1;  /* threads a parallel loop uses, this one included */
static int helpers_started;   /* helper threads running (they are never stopped) */
static atomic_uint generation; /* bumped for every posted loop */
static int busy_helpers;      /* helpers inside the current loop (under state_lock) */

/* The current loop, written before `generation` is bumped. */
static nd_task job_task;
static void *job_context;
static int job_count;
static int job_helpers; /* helpers that may join it */
static atomic_int job_next;
static atomic_int job_done;

static _Thread_local int inside_task;

/* Takes indices until none is left. */
static void work(int thread) {
  for (;;) {
    const int i = atomic_fetch_add(&job_next, 1);
    if (i >= job_count) return;
    job_task(job_context, i, thread);
    atomic_fetch_add(&job_done, 1);
  }
}

static void *helper_main(void *arg) {
  const int id = (int)(size_t)arg; /* 1, 2, ...: thread 0 is the caller */
  unsigned seen = 0;
  inside_task = 1;
  for (;;) {
    /* Wait for a loop this helper may join: spin, then sleep. */
    for (int i = 0; i < SPIN_CHECKS && atomic_load_explicit(&generation, memory_order_acquire) == seen; i++) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&state_lock);
    while (atomic_load(&generation) == seen) pthread_cond_wait(&work_posted, &state_lock);
    seen = atomic_load(&generation);
    const int joins = id <= job_helpers;
    if (joins) busy_helpers++;
    pthread_mutex_unlock(&state_lock);
    if (!joins) continue;
    work(id);
    pthread_mutex_lock(&state_lock);
    if (--busy_helpers == 0) pthread_cond_signal(&helpers_idle);
    pthread_mutex_unlock(&state_lock);
  }
  return NULL;
}

int nd_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > ND_MAX_THREADS) n = ND_MAX_THREADS;
  pthread_mutex_lock(&pool_lock);
  while (helpers_started < n - 1) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int failed = pthread_create(&thread, &attr, helper_main, (void *)(size_t)(helpers_started + 1));
    pthread_attr_destroy(&attr);
    if (failed) break;
    helpers_started++;
  }
  thread_count = helpers_started + 1 < n ? helpers_started + 1 : n;
  const int now = thread_count;
  pthread_mutex_unlock(&pool_lock);
  return now;
}

int nd_threads(void) { return thread_count; }

void nd_parallel_for(int count, nd_task task, void *context) {
  if (count <= 0) return;
  if (count == 1 || thread_count == 1 || inside_task || pthread_mutex_trylock(&pool_lock) != 0) {
    for (int i = 0; i < count; i++) task(context, i, 0);
    return;
  }
  const int helpers = (thread_count < count ? thread_count : count) - 1;
  pthread_mutex_lock(&state_lock);
  job_task = task;
  job_context = context;
  job_count = count;
  job_helpers = helpers;
  atomic_store(&job_next, 0);
  atomic_store(&job_done, 0);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  pthread_cond_broadcast(&work_posted);
  pthread_mutex_unlock(&state_lock);

  inside_task = 1;
  work(0);
  inside_task = 0;
  /* Every index is taken; wait until the helpers have finished theirs and left the loop. */
  while (atomic_load(&job_done) < count) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  pthread_mutex_lock(&state_lock);
  while (busy_helpers > 0) pthread_cond_wait(&helpers_idle, &state_lock);
  pthread_mutex_unlock(&state_lock);
  pthread_mutex_unlock(&pool_lock);
}

/* ---- scratch memory ---- */

/* Each thread's buffers, freed when the thread ends. */
typedef struct {
  float *data[ND_SCRATCH_SLOTS];
  size_t capacity[ND_SCRATCH_SLOTS];
} nd_thread_scratch;

static _Thread_local nd_thread_scratch *own_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *p) {
  nd_thread_scratch *s = p;
  for (int i = 0; i < ND_SCRATCH_SLOTS; i++) free(s->data[i]);
  free(s);
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

float *nd_scratch(int slot, size_t floats) {
  nd_thread_scratch *s = own_scratch;
  if (!s) {
    pthread_once(&scratch_once, make_scratch_key);
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_setspecific(scratch_key, s);
    own_scratch = s;
  }
  if (floats == 0) floats = 1;
  if (s->capacity[slot] < floats) {
    /* Grow by half again, so that slowly growing requests do not reallocate every time. */
    size_t capacity = floats + floats / 2;
    size_t bytes = (capacity * sizeof(float) + 63) / 64 * 64;
    float *data = aligned_alloc(64, bytes);
    if (!data) return NULL;
    free(s->data[slot]);
    s->data[slot] = data;
    s->capacity[slot] = bytes / sizeof(float);
  }
  return s->data[slot];
}
