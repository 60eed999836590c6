/* A pull's or a push's progress messages, sent from several layer threads
 * at once (to the caller's functions one at a time), and the pace of their
 * byte counts. Internal to src/registry. */
#ifndef SKIFF_REGISTRY_PROGRESS_H
#define SKIFF_REGISTRY_PROGRESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "registry.h"

struct progress_out {
  const struct registry_progress *to; /* NULL: nobody listens */
  pthread_mutex_t lock;
};

void progress_out_init(struct progress_out *o, const struct registry_progress *to);
void progress_out_destroy(struct progress_out *o);

/* docker's {"id", "status", "progressDetail"} message; current and total
 * < 0 when it has no byte counts, id NULL when it is about no layer. */
void progress_send(struct progress_out *o, const char *id, const char *status,
                   long long current, long long total);
/* docker's "aux" message, when the listener takes them. */
void progress_send_aux(struct progress_out *o, json_t *aux);

/* Whether a layer's byte count is due again: final (its last), or 100 ms
 * since *last_ns, which is then set to now. */
bool progress_due(long long *last_ns, bool final);

#endif
