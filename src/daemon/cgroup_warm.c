#include "cgroup_warm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/cgroup.h"

struct cgroup_warm {
  int procs_fd;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool kicked, stopping;
};

static void *warm_main(void *arg)
{
  struct cgroup_warm *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->kicked && !w->stopping)
      pthread_cond_wait(&w->wake, &w->lock);
    if (w->stopping)
      break;
    w->kicked = false;
    pthread_mutex_unlock(&w->lock);
    /* "0": this process, into the cgroup it is in. Failures change nothing
     * that matters: the runtime's own migration just stays cold. */
    if (pwrite(w->procs_fd, "0", 1, 0) < 0)
      log_debug("cgroup warm-up: %m");
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

struct cgroup_warm *cgroup_warm_start(void)
{
  skiff_error_t *err = NULL;
  int fd = cgroup_open_own_procs(&err);
  if (fd < 0) {
    log_debug("cgroup warm-up off: %s", err ? err->msg : "?");
    skiff_error_free(&err);
    return NULL;
  }
  struct cgroup_warm *w = calloc(1, sizeof *w);
  if (w == NULL) {
    close(fd);
    return NULL;
  }
  w->procs_fd = fd;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
  if (pthread_create(&w->thread, NULL, warm_main, w) != 0) {
    close(fd);
    free(w);
    return NULL;
  }
  return w;
}

void cgroup_warm_kick(struct cgroup_warm *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&w->lock);
  w->kicked = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
}

void cgroup_warm_stop(struct cgroup_warm *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&w->lock);
  w->stopping = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  close(w->procs_fd);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->wake);
  free(w);
}
