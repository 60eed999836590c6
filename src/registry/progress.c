#include "progress.h"

#include <time.h>

/* docker's bars move at most every 100 ms. */
#define PROGRESS_STEP_NS (100 * 1000 * 1000LL)

void progress_out_init(struct progress_out *o, const struct registry_progress *to)
{
  o->to = to;
  pthread_mutex_init(&o->lock, NULL);
}

void progress_out_destroy(struct progress_out *o)
{
  pthread_mutex_destroy(&o->lock);
}

void progress_send(struct progress_out *o, const char *id, const char *status,
                   long long current, long long total)
{
  if (o->to == NULL || o->to->fn == NULL)
    return;
  pthread_mutex_lock(&o->lock);
  o->to->fn(o->to->arg, id, status, current, total);
  pthread_mutex_unlock(&o->lock);
}

void progress_send_aux(struct progress_out *o, json_t *aux)
{
  if (o->to == NULL || o->to->aux == NULL)
    return;
  pthread_mutex_lock(&o->lock);
  o->to->aux(o->to->arg, aux);
  pthread_mutex_unlock(&o->lock);
}

bool progress_due(long long *last_ns, bool final)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  long long now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  if (!final && now - *last_ns < PROGRESS_STEP_NS)
    return false;
  *last_ns = now;
  return true;
}
