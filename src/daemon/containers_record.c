/* Where a container's record and its per-run files live.
 *
 * A container's record is <data-root>/containers/<id>/container.json,
 * beside its rw layer and log. An AutoRemove container (run --rm) is
 * different in one way: it never outlives the exec root (a tmpfs, as /run
 * is), since it is removed when it stops and, found stopped, when the
 * daemon starts (containers.c). So what changes while it lives is kept
 * in <exec-root>/containers/<id>/ instead of the data root: its record as
 * rewritten at each start and exit, its hostname, hosts and resolv.conf,
 * and its rootfs mount point. The data root still gets its record once, at
 * create, so that a daemon started after a reboot (the exec root gone)
 * finds the container and removes it.
 *
 * Why: on ext4 without a journal every inode allocation skips the inodes
 * deleted in the last ~30 s (recently_deleted() in find_inode_bit), one by
 * one; each file a short-lived container makes and deletes in the data
 * root (a rewrite through tmp + rename is one more) makes every later
 * allocation slower, by ~0.5 ms each on a busy disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "containers_internal.h"
#include "image/image.h"

char *container_dir(struct container_store *s, const struct container *c)
{
  char *p = NULL;
  return asprintf(&p, "%s/%s", s->root, c->id) < 0 ? NULL : p;
}

char *container_run_dir(struct container_store *s, const struct container *c)
{
  char *p = NULL;
  return asprintf(&p, "%s/%s", s->run_root, c->id) < 0 ? NULL : p;
}

static bool record_auto_remove(json_t *record)
{
  return json_is_true(
      json_object_get(json_object_get(record, "HostConfig"), "AutoRemove"));
}

bool container_auto_remove(const struct container *c)
{
  return record_auto_remove(c->record);
}

/* Where what changes while the container lives is kept: the exec root for
 * an AutoRemove container, else the data root. */
static const char *changing_root(struct container_store *s, bool auto_remove)
{
  return auto_remove ? s->run_root : s->root;
}

/* An AutoRemove container's rw layer is thrown away, after a crash of the
 * machine too (the daemon's next start removes it: the only mount of it
 * after a volatile one is in the same boot). Unmounting it then need not
 * sync the data root's whole file system, as overlayfs otherwise does
 * (podman mounts --rm containers volatile too). */
unsigned container_snapshot_flags(const struct container *c)
{
  return container_auto_remove(c) ? IMAGE_SNAPSHOT_VOLATILE : 0;
}

char *container_rootfs(struct container_store *s, struct container *c)
{
  char *p = NULL;
  const char *top = changing_root(s, container_auto_remove(c));
  return asprintf(&p, "%s/%s/rootfs", top, c->id) < 0 ? NULL : p;
}

char *container_etc_dir(struct container_store *s, const char *id, bool auto_remove)
{
  char *p = NULL;
  return asprintf(&p, "%s/%s", changing_root(s, auto_remove), id) < 0 ? NULL : p;
}

static int save_in(const char *top, struct container *c, unsigned flags,
                   skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/container.json", top, c->id) < 0)
    return skiff_error_set(err, ENOMEM, "save container");
  return jsonutil_save_file(path, c->record, flags, err);
}

/* The exec-root copy of an AutoRemove container's record, while its run
 * directory exists (a failed start removes it: then the data root). */
static int save_run_record(struct container_store *s, struct container *c)
{
  cleanup_free char *run_dir = container_run_dir(s, c);
  struct stat st;
  if (run_dir == NULL || stat(run_dir, &st) < 0)
    return -1;
  skiff_error_t *err = NULL;
  if (save_in(s->run_root, c, 0, &err) < 0) {
    log_warn("container %.12s: %s", c->id, err->msg);
    skiff_error_free(&err);
    return -1;
  }
  return 0;
}

/* What the user made (the container, its name, its settings) survives a
 * crash of the machine: written durably. An AutoRemove container is the
 * exception; the daemon removes it on its next start anyway. */
int container_save(struct container_store *s, struct container *c, skiff_error_t **err)
{
  if (!container_auto_remove(c))
    return save_in(s->root, c, FS_WRITE_DURABLE, err);
  if (save_in(s->root, c, 0, err) < 0)
    return -1;
  save_run_record(s, c); /* else it would hide this change at a reload */
  return 0;
}

/* Run state (running, exited, paused, ...) is atomic but not synced: a
 * crash of skiffd loses nothing (the page cache outlives it) and a crash of
 * the machine ends every container anyway; the next start reconciles the
 * record with the shims (reconnect). It saves fsyncs on every start and
 * exit. */
void container_save_state(struct container_store *s, struct container *c)
{
  if (container_auto_remove(c) && save_run_record(s, c) == 0)
    return;
  save_in(s->root, c, 0, NULL);
}

/* An AutoRemove container's newest record is the exec root's, when there
 * is one (a daemon restarted without a reboot). */
static json_t *newest_record(struct container_store *s, const char *id, json_t *record)
{
  if (!record_auto_remove(record))
    return record;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/container.json", s->run_root, id) < 0)
    return record;
  skiff_error_t *err = NULL;
  json_t *run = jsonutil_load_file(path, &err);
  if (run == NULL) {
    if (err->status != ENOENT)
      log_warn("container %.12s: %s", id, err->msg);
    skiff_error_free(&err);
    return record;
  }
  const char *run_id = json_string_value(json_object_get(run, "Id"));
  if (run_id == NULL || strcmp(run_id, id) != 0) {
    log_warn("container %.12s: %s names another container", id, path);
    json_decref(run);
    return record;
  }
  json_decref(record);
  return run;
}

struct container *container_load(struct container_store *s, const char *id)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/container.json", s->root, id) < 0)
    return NULL;
  skiff_error_t *err = NULL;
  json_t *record = jsonutil_load_file(path, &err);
  if (record == NULL) {
    log_warn("skipping container %s: %s", id, err->msg);
    skiff_error_free(&err);
    return NULL;
  }
  struct container *c = calloc(1, sizeof *c);
  if (c == NULL || (c->id = strdup(id)) == NULL) {
    free(c);
    json_decref(record);
    return NULL;
  }
  c->record = newest_record(s, id, record);
  return c;
}
