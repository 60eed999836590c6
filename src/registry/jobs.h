/* The layers of a pull or a push, several at once: jobs 0..n-1 run on a
 * few threads, each taking the next job until none is left or one has
 * failed. Internal to src/registry. */
#ifndef SKIFF_REGISTRY_JOBS_H
#define SKIFF_REGISTRY_JOBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct jobs {
  size_t n;  /* jobs 0..n-1 */
  int limit; /* threads at most; 0: one per job */
  int (*run)(void *arg, size_t i, skiff_error_t **err);
  /* Optional: called by a thread that ran a job and found none left, while
   * none has failed (the others may still be running). */
  void (*drained)(void *arg);
  void *arg;
  /* Set (atomically) once a job fails: a running job may read it to stop
   * early (__atomic_load_n). */
  bool failed;
  /* jobs_run's own */
  pthread_mutex_t lock;
  size_t next;
  skiff_error_t *first_error;
};

/* Run them all, the calling thread only when no thread can be started.
 * 0, or -1 with the error of the first job to fail. */
int jobs_run(struct jobs *j, skiff_error_t **err);

#endif
