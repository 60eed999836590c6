/* Shared between containers.c (records, lifecycle) and containers_query.c
 * (list, inspect, prune, df) and names.c. Internal to src/daemon. */
#ifndef SKIFF_DAEMON_CONTAINERS_INTERNAL_H
#define SKIFF_DAEMON_CONTAINERS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "containers.h"

struct container {
  json_t *record;       /* docker's inspect shape + "Skiff" (private) */
  char *id;             /* 64 hex */
  bool removing;
  unsigned exits;       /* bumped at each exit, for wait next-exit */
  bool shim_ready;      /* the shim's attach socket is accepting */
  unsigned reserved;    /* attachers counted before their 101 (containers_attach_reserve) */
  unsigned fs_users;    /* copies holding the rootfs mounted (containers_fs.c) */
};

struct container_store {
  struct daemon *d;
  pthread_mutex_t lock;
  pthread_cond_t changed; /* any state change: waiters re-check */
  struct container **items;
  size_t n, cap;
  char *root;      /* <data-root>/containers */
  char *run_root;  /* <exec-root>/containers */
  char *runtime_root;
  char *init_path; /* skiff-init, beside skiff-shim */
  bool closing;
  json_t *last_exit; /* id → exit code of removed containers, for wait "removed" */
};

/* With the lock held. */
struct container *containers_find_locked(struct container_store *s, const char *ref,
                                         skiff_error_t **err);
const char *container_status(const struct container *c);
char *container_dir(struct container_store *s, const struct container *c);
char *container_run_dir(struct container_store *s, const struct container *c);

/* For containers_fs.c: the rootfs mount point, and publishing an event
 * of c (action, extra attributes taken). With the lock held. */
char *container_rootfs(struct container_store *s, struct container *c);
void container_publish(struct container_store *s, struct container *c, const char *action,
                       json_t *extra);

/* For containers_resources.c (top, stats, update): save the record. With
 * the lock held. */
int container_save(struct container_store *s, struct container *c, skiff_error_t **err);

/* A free name of the form adjective_surname (names.c). With the lock held. */
char *names_generate(struct container_store *s);
/* docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool names_valid(const char *name);

#endif
