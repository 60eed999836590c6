/* The daemon's containers: their records on disk, their state machine
 * (created → running ⇄ paused → exited / dead, restarting), and the
 * operations of the API. Each running container has a skiff-shim; a monitor
 * thread per shim learns its exit, applies the restart policy and
 * AutoRemove. Thread-safe. */
#ifndef SKIFF_DAEMON_CONTAINERS_H
#define SKIFF_DAEMON_CONTAINERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

struct daemon;
struct container_store;

/* Load every container under <data-root>/containers, reconnecting to the
 * shims of those that still run and recording the exit of those that
 * stopped while the daemon was away. */
struct container_store *containers_open(struct daemon *d, skiff_error_t **err);
void containers_close(struct container_store *store);

/* Whether any container was created from image_id. */
bool containers_image_in_use(struct container_store *store, const char *image_id);

/* Counts for /info. */
void containers_count(struct container_store *store, int *total, int *running,
                      int *paused, int *stopped);

/* POST /containers/create: body is docker's ContainerCreateRequest (Config
 * fields at the top level plus HostConfig). Returns the new id. Errors: ENOENT
 * (no such image), EEXIST (name in use), EINVAL (bad input). */
char *containers_create(struct container_store *store, const char *name, json_t *body,
                        json_t **warnings, skiff_error_t **err);

/* Find a container by id, unique id prefix, or name ("/name" or "name").
 * Returns its full id (new string); ENOENT "No such container: X". */
char *containers_resolve(struct container_store *store, const char *ref,
                         skiff_error_t **err);

/* Start; *was_running set (304) when it already ran. */
int containers_start(struct container_store *store, const char *id, bool *was_running,
                     skiff_error_t **err);

/* Stop: signal (default StopSignal, else SIGTERM), then SIGKILL after
 * timeout seconds (< 0: the container's StopTimeout, else 10). */
int containers_stop(struct container_store *store, const char *id, const char *signal,
                    int timeout, bool *was_stopped, skiff_error_t **err);
int containers_restart(struct container_store *store, const char *id, int timeout,
                       skiff_error_t **err);
int containers_kill(struct container_store *store, const char *id, const char *signal,
                    skiff_error_t **err);
int containers_pause(struct container_store *store, const char *id, bool pause,
                     skiff_error_t **err);

/* Wait for condition "not-running" (default), "next-exit" or "removed";
 * *status is the exit code. Blocks; gone(arg), when given, is asked about
 * once a second whether the waiting client has left (then ECONNRESET). */
int containers_wait(struct container_store *store, const char *id,
                    const char *condition, int *status, bool (*gone)(void *arg),
                    void *arg, skiff_error_t **err);

int containers_remove(struct container_store *store, const char *id, bool force,
                      bool volumes, skiff_error_t **err);
int containers_rename(struct container_store *store, const char *id, const char *name,
                      skiff_error_t **err);

/* docker's ContainerSummary list / ContainerInspect object. */
json_t *containers_list(struct container_store *store, bool all, int limit, bool size,
                        json_t *filters, skiff_error_t **err);
json_t *containers_inspect(struct container_store *store, const char *id, bool size,
                           skiff_error_t **err);

/* POST /containers/prune: removes stopped containers. */
json_t *containers_prune(struct container_store *store, json_t *filters,
                         skiff_error_t **err);

/* The container part of /system/df. */
json_t *containers_df(struct container_store *store);

/* For logs: the json-file path, whether it has a tty, and whether it runs. */
int containers_log_info(struct container_store *store, const char *id, char **log_path,
                        bool *tty, skiff_error_t **err);
/* Whether the container's process runs (running or paused; not in a
 * restart's back-off): logs -f ends when it exits, as dockerd's does. */
bool containers_is_running(struct container_store *store, const char *id);

/* For attach: wait until the container's shim accepts attach connections
 * (it is starting or running), then connect to it with the given streams.
 * Returns the connected socket (the shim's stdcopy/raw protocol). */
/* Count an attacher of a container that has not started, before its client
 * is told (101) that it is attached: a start that client sends at once must
 * wait for it. containers_attach then takes the reservation over. */
void containers_attach_reserve(struct container_store *store, const char *id);

int containers_attach(struct container_store *store, const char *id, bool in, bool out,
                      bool err_stream, bool *tty, skiff_error_t **err);

/* ---- the container's files: cp, export, diff, commit (containers_fs.c) ---- */

/* A container's file system held for a copy: while held, its rootfs stays
 * mounted (a created or exited container gets it mounted for the time). */
struct container_fs {
  char *id;             /* the full id */
  char *name;           /* without the leading '/' */
  int rootfd;           /* its "/" as its processes see it: /proc/PID/root of a
                           running container (bind mounts included), else the
                           rootfs mount; O_PATH directory */
  int layerfd;          /* the rootfs mount alone (export): O_PATH directory */
  char *snapshot;       /* the snapshot dir: lower, diff (the rw layer), work */
  bool readonly_rootfs; /* HostConfig.ReadonlyRootfs */
  json_t *record;       /* a copy of the container's record (inspect shape) */
};

/* Hold the file system of the container ref names. ENOENT "No such
 * container: REF"; EBUSY when it is being removed. Release with
 * containers_fs_release. */
int containers_fs_acquire(struct container_store *store, const char *ref,
                          struct container_fs *fs, skiff_error_t **err);
void containers_fs_release(struct container_store *store, struct container_fs *fs);

/* Publish a container event (archive-path, extract-to-dir, export, commit);
 * extra attributes (may be NULL) are taken. Unknown ids are ignored. */
void containers_publish_event(struct container_store *store, const char *id,
                              const char *action, json_t *extra);

/* ---- top, stats and update (containers_resources.c) ------------------- */

/* For top: the host PIDs of a running or paused container's processes
 * (malloc'ed, caller frees). EBUSY "Container X is not running" (or
 * restarting), as docker's 409. */
int containers_pids(struct container_store *store, const char *id, pid_t **pids,
                    size_t *count, skiff_error_t **err);

/* For stats: the runtime's cgroup numbers of a running container (see
 * runtime_stats) and its init PID, or json_null() when it does not run.
 * *name gets its "/name". NULL with ENOENT once it is gone. New reference. */
json_t *containers_cgroup_stats(struct container_store *store, const char *id,
                                char **name, pid_t *pid, skiff_error_t **err);

/* POST /containers/{id}/update: body is docker's UpdateConfig. The new
 * limits are saved in HostConfig and, when the container runs, applied at
 * once; on any error nothing changes. warnings receives docker's. */
int containers_update(struct container_store *store, const char *id, json_t *body,
                      json_t *warnings, skiff_error_t **err);

/* ---- for bad input (badinput): dockerd's conflict messages ---------- */

/* The id (new string) of a container created from image_id, a running one
 * when there is one (*running then true); NULL when none is. */
char *containers_image_user(struct container_store *store, const char *image_id,
                            bool *running);

/* ---- terminals: resize, attach events (tty) ---- */

/* Set the size of a running container's terminal (through its shim; a
 * container without one takes it as a no-op, as dockerd does) and emit
 * "resize". Errors: ENOENT, EBUSY "Container <id> is not running". */
int containers_resize(struct container_store *store, const char *id, unsigned height,
                      unsigned width, skiff_error_t **err);

/* ---- exec (execs.c) -------------------------------------------------- */

/* What an exec into a container needs, copied from its record. */
struct container_exec_target {
  char *id;           /* the full id */
  char *status;       /* State.Status: "running", "paused", "restarting", ... */
  json_t *config;     /* its Config */
  char *rootfs;       /* its root file system (mounted while it runs) */
  char *spec_path;    /* the config.json it runs with */
  char *runtime_root; /* the runtime's state root */
};

/* Resolve ref (id, prefix or name) and fill *t; ENOENT "No such container". */
int containers_exec_target(struct container_store *store, const char *ref,
                           struct container_exec_target *t, skiff_error_t **err);
void containers_exec_target_clear(struct container_exec_target *t);

#endif
