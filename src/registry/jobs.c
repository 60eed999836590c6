#include "jobs.h"

#include <errno.h>
#include <stdlib.h>

#include "common/cleanup.h"

/* The next job to run, or n when none is left or one has failed. */
static size_t take(struct jobs *j)
{
  pthread_mutex_lock(&j->lock);
  size_t i = j->failed ? j->n : j->next++;
  pthread_mutex_unlock(&j->lock);
  return i < j->n ? i : j->n;
}

static void fail(struct jobs *j, skiff_error_t *err)
{
  pthread_mutex_lock(&j->lock);
  if (j->first_error == NULL)
    j->first_error = err;
  else
    skiff_error_free(&err);
  __atomic_store_n(&j->failed, true, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&j->lock);
}

static void *worker(void *arg)
{
  struct jobs *j = arg;
  bool worked = false;
  for (size_t i; (i = take(j)) < j->n; worked = true) {
    skiff_error_t *err = NULL;
    if (j->run(j->arg, i, &err) < 0) {
      if (err == NULL)
        skiff_error_set(&err, EIO, "job %zu failed", i);
      fail(j, err);
    }
  }
  if (worked && j->drained && !__atomic_load_n(&j->failed, __ATOMIC_ACQUIRE))
    j->drained(j->arg);
  return NULL;
}

int jobs_run(struct jobs *j, skiff_error_t **err)
{
  size_t workers = j->limit > 0 && (size_t)j->limit < j->n ? (size_t)j->limit : j->n;
  cleanup_free pthread_t *threads = calloc(workers + 1, sizeof *threads);
  pthread_mutex_init(&j->lock, NULL);
  size_t started = 0;
  while (threads && started < workers &&
         pthread_create(&threads[started], NULL, worker, j) == 0)
    started++;
  if (started == 0)
    worker(j);
  for (size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  pthread_mutex_destroy(&j->lock);
  if (j->first_error == NULL)
    return 0;
  *err = steal_pointer(&j->first_error);
  return -1;
}
