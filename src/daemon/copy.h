/* docker cp and docker export on the daemon's side: the stat of a path
 * inside a container, a tar of it with docker's entry names, the whole
 * tree as a tar, and a tar extracted into a directory of the container.
 *
 * Every path is a path inside the container, resolved against rootfd as
 * its "/" (symlinks and ".." never leave it: openat2 RESOLVE_IN_ROOT and
 * fd-relative walks, never string prefixes -- the CVE-2018-15664 class),
 * and nothing read from the container or from the tar is trusted. */
#ifndef SKIFF_DAEMON_COPY_H
#define SKIFF_DAEMON_COPY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* Where a tar goes: write(data, len, arg) < 0 stops the tar (client gone). */
struct copy_sink {
  int (*write)(const void *data, size_t len, void *arg);
  void *arg;
};

/* docker's ContainerPathStat of path: {name, size, mode (Go's FileMode
 * bits), mtime (RFC 3339), linkTarget (the symlink resolved inside the
 * container)}. The last component is not followed unless path ends in "/"
 * or "/.". ENOENT when it does not exist. New reference. */
json_t *copy_stat_path(int rootfd, const char *path, skiff_error_t **err);

/* A tar of path (named as copy_stat_path finds it) with docker's entry
 * names: "NAME", "NAME/child"... where NAME is the last component of path
 * ("." for "dir/.", "/" for the root). */
int copy_tar_path(int rootfd, const char *path, const struct copy_sink *sink,
                  skiff_error_t **err);

/* docker export: every entry under dirfd, named relative to it ("bin/",
 * "bin/sh"), the directory itself left out. */
int copy_tar_tree(int dirfd, const struct copy_sink *sink, skiff_error_t **err);

/* docker commit's layer: the overlayfs upper dir under upperfd as a layer
 * tar, whiteouts as ".wh.NAME" and opaque directories as ".wh..wh..opq",
 * without the runtime's mount points (image_snapshot_is_init_path). */
int copy_tar_layer(int upperfd, const struct copy_sink *sink, skiff_error_t **err);

/* The directory of the container a PUT extracts into: path resolved with
 * every symlink followed. ENOENT when missing, EINVAL "extraction point is
 * not a directory", EROFS when readonly_rootfs and it is on the rootfs or
 * when it is on a read-only mount. Returns its canonical path (new string). */
char *copy_extract_target(int rootfd, const char *path, bool readonly_rootfs,
                          skiff_error_t **err);

struct copy_extract_opts {
  bool no_overwrite_dir_non_dir; /* a dir never replaces a non-dir, and back */
  bool chown_to;                 /* every entry owned by uid:gid below */
  uid_t uid;
  gid_t gid;
};

/* Copy what in_fd gives, to its end, into an unlinked file in dir (the
 * daemon's tmp): the tar is read twice. Returns its fd at offset 0, with
 * the byte count in *size. */
int copy_spool(int in_fd, const char *dir, off_t *size, skiff_error_t **err);

/* Extract the spooled tar (plain, gzip, bzip2, xz, zstd) in fd into the
 * directory dest (canonical, as copy_extract_target gives) of rootfd. The
 * whole tar is read through first, so that a malformed or hostile one
 * (EINVAL naming the entry) is refused before anything is written; a
 * failure after that removes what the extraction had created. An empty
 * file is an empty archive. */
int copy_extract(int rootfd, const char *dest, int fd,
                 const struct copy_extract_opts *opts, skiff_error_t **err);

/* The uid and gid of a container's User ("name", "uid", "name:group",
 * "uid:gid"), looked up in its /etc/passwd and /etc/group. */
int copy_lookup_user(int rootfd, const char *user, uid_t *uid, gid_t *gid,
                     skiff_error_t **err);

#endif
