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
  json_t *record; /* docker's inspect shape + "Skiff" (private) */
  char *id;       /* 64 hex */
  bool removing;
  unsigned exits;  /* bumped at each exit, for wait next-exit */
  bool shim_ready; /* the shim's attach socket is accepting */
  unsigned
      reserved; /* attachers counted before their 101 (containers_attach_reserve) */
  unsigned fs_users;   /* copies holding the rootfs mounted (containers_fs.c) */
  unsigned stoppers;   /* stops waiting for its exit: the last one auto-removes */
  bool manual_restart; /* in a restart's stop: its exit does not auto-remove */
};

struct trash;

struct container_store {
  struct daemon *d;
  pthread_mutex_t lock;
  pthread_cond_t changed; /* any state change: waiters re-check */
  struct container **items;
  size_t n, cap;
  char *root;     /* <data-root>/containers */
  char *run_root; /* <exec-root>/containers */
  char *runtime_root;
  char *init_path; /* skiff-init, beside skiff-shim */
  /* where removals put container directories, in the data-root and the
   * exec-root; NULL once closing (removals then delete in place) */
  struct trash *trash, *run_trash;
  bool closing;
  json_t *last_exit; /* id → exit code of removed containers, for wait "removed" */
};

/* With the lock held. */
struct container *containers_find_locked(struct container_store *s, const char *ref,
                                         skiff_error_t **err);
const char *container_status(const struct container *c);
/* Set State.Status and the booleans that follow from it (Running is true
 * while restarting, as dockerd has it). With the lock held. */
void container_set_state(struct container *c, const char *status);

/* Restart policies (containers_policy.c), all with the lock held.
 * Whether the policy of c, which has just exited, restarts it: */
bool container_policy_restarts(struct container *c);
/* Put c in its back-off ("restarting", RestartCount + 1) and wait it out
 * (the lock dropped meanwhile). True when c is to be started now; false
 * when a stop, kill, restart or rm -f ended the back-off (c may be freed
 * then) or the daemon is closing. */
bool container_policy_wait(struct container_store *s, struct container *c);
/* End the back-off of the restarting c, as dockerd's stop and kill cancel
 * its restart manager: c is left exited, manually stopped. */
void container_policy_cancel(struct container_store *s, struct container *c);
/* A manual start's fresh restart manager: retries and back-off anew. */
void container_policy_reset(struct container *c);

/* Where a container's files are (containers_record.c); new strings, NULL
 * when out of memory. The data-root directory (record, rw layer, log): */
char *container_dir(struct container_store *s, const struct container *c);
/* The exec-root directory (bundle, shim sockets, exit.json; for an
 * AutoRemove container also its run-time record, etc files and rootfs): */
char *container_run_dir(struct container_store *s, const struct container *c);
/* The rootfs mount point: */
char *container_rootfs(struct container_store *s, struct container *c);
/* Where a new container's hostname, hosts and resolv.conf go: */
char *container_etc_dir(struct container_store *s, const char *id, bool auto_remove);
/* Whether c is removed when it stops (HostConfig.AutoRemove, run --rm). */
bool container_auto_remove(const struct container *c);
/* How to mount the rootfs of c (image_snapshot_mount's flags). */
unsigned container_snapshot_flags(const struct container *c);

/* Save the record of c after a change the user made (create, rename,
 * update): durably, except for an AutoRemove container. With the lock held. */
int container_save(struct container_store *s, struct container *c, skiff_error_t **err);
/* Save the record of c after a change of its run state (start, exit,
 * pause): atomic, not synced, best effort. With the lock held. */
void container_save_state(struct container_store *s, struct container *c);
/* Read the record of container id (the newest copy); NULL (logged) when
 * it cannot be read. */
struct container *container_load(struct container_store *s, const char *id);

/* For containers_fs.c: publishing an event of c (action, extra attributes
 * taken). With the lock held. */
void container_publish(struct container_store *s, struct container *c,
                       const char *action, json_t *extra);

/* A free name of the form adjective_surname (names.c). With the lock held. */
char *names_generate(struct container_store *s);
/* docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool names_valid(const char *name);

#endif
