/* Holding a container's file system for cp, export, diff and commit.
 *
 * A running container's rootfs is mounted (containers.c mounts it at start
 * and unmounts it at exit); a created or exited one gets it mounted here for
 * as long as a copy holds it (fs_users counts them, and the lifecycle code
 * leaves the mount alone while the count is not zero: a start then reuses
 * it, so that two overlay mounts never share the upper directory).
 *
 * The "/" handed out for a running container is /proc/PID/root of its init:
 * the tree its processes see, with its bind mounts and /etc/hosts, as docker
 * cp sees it. A PID can be reused the moment the container dies, so the
 * root opened that way is checked to be the rootfs mount itself (same
 * device and inode) before it is trusted; otherwise the rootfs mount is
 * used. Nothing here resolves a path: callers go through fs_open_in_root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "containers_internal.h"
#include "daemon.h"
#include "image/image.h"

/* Whether a process runs with the rootfs mounted (not so in a restart's
 * back-off, though Running stays true then). */
static bool is_live(const struct container *c)
{
  const char *st = container_status(c);
  return strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
}

/* /proc/PID/root when it is the container's rootfs mount, else -1. */
static int open_process_root(const struct container *c, int layerfd)
{
  json_int_t pid =
      json_integer_value(json_object_get(json_object_get(c->record, "State"), "Pid"));
  if (pid <= 0)
    return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/root", (long long)pid);
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct stat proc_root, layer_root;
  if (fd < 0 || fstat(fd, &proc_root) < 0 || fstat(layerfd, &layer_root) < 0 ||
      proc_root.st_dev != layer_root.st_dev || proc_root.st_ino != layer_root.st_ino) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* With the lock held: mount the rootfs unless it is mounted, count a user. */
static int hold_rootfs_locked(struct container_store *s, struct container *c,
                              const char *rootfs, const char *snapshot,
                              skiff_error_t **err)
{
  if (!is_live(c) && c->fs_users == 0) {
    if (fs_mkdir_p(rootfs, 0755, err) < 0)
      return -1;
    image_snapshot_unmount(rootfs, NULL);
    if (image_snapshot_mount(snapshot, rootfs, container_snapshot_flags(c), err) < 0)
      return skiff_error_wrap(err, "mount the file system of %.12s", c->id);
  }
  c->fs_users++;
  return 0;
}

static void fs_clear(struct container_fs *fs)
{
  free(fs->id);
  free(fs->name);
  free(fs->snapshot);
  json_decref(fs->record);
  if (fs->rootfd >= 0)
    close(fs->rootfd);
  if (fs->layerfd >= 0)
    close(fs->layerfd);
  memset(fs, 0, sizeof *fs);
  fs->rootfd = fs->layerfd = -1;
}

int containers_fs_acquire(struct container_store *s, const char *ref,
                          struct container_fs *fs, skiff_error_t **err)
{
  memset(fs, 0, sizeof *fs);
  fs->rootfd = fs->layerfd = -1;
  cleanup_free char *rootfs = NULL;
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, ref, err);
  int ret = -1;
  if (c == NULL)
    goto out;
  if (c->removing) {
    skiff_error_status(err, EBUSY, "container %s is marked for removal", c->id);
    goto out;
  }
  rootfs = container_rootfs(s, c);
  fs->snapshot = container_dir(s, c);
  if (hold_rootfs_locked(s, c, rootfs, fs->snapshot, err) < 0)
    goto out;
  fs->id = strdup(c->id);
  fs->name = strdup(json_string_value(json_object_get(c->record, "Name")) + 1);
  fs->record = json_deep_copy(c->record);
  fs->readonly_rootfs = json_is_true(
      json_object_get(json_object_get(c->record, "HostConfig"), "ReadonlyRootfs"));
  fs->layerfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fs->layerfd < 0) {
    skiff_error_errno(err, "open %s", rootfs);
    c->fs_users--;
    goto out;
  }
  fs->rootfd = is_live(c) ? open_process_root(c, fs->layerfd) : -1;
  if (fs->rootfd < 0)
    fs->rootfd = dup(fs->layerfd);
  ret = 0;
out:
  pthread_mutex_unlock(&s->lock);
  if (ret < 0)
    fs_clear(fs);
  return ret;
}

void containers_fs_release(struct container_store *s, struct container_fs *fs)
{
  if (fs->id == NULL)
    return;
  if (fs->rootfd >= 0)
    close(fs->rootfd);
  if (fs->layerfd >= 0)
    close(fs->layerfd); /* before the unmount, which is then not busy */
  fs->rootfd = fs->layerfd = -1;
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, fs->id, NULL);
  if (c && c->fs_users > 0 && --c->fs_users == 0 && !is_live(c)) {
    cleanup_free char *rootfs = container_rootfs(s, c);
    image_snapshot_unmount(rootfs, NULL);
  }
  pthread_mutex_unlock(&s->lock);
  fs_clear(fs);
}

void containers_publish_event(struct container_store *s, const char *id,
                              const char *action, json_t *extra)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, NULL);
  if (c)
    container_publish(s, c, action, extra);
  else
    json_decref(extra);
  pthread_mutex_unlock(&s->lock);
}
