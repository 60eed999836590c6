/* File-system helpers, including the one audited way to open a path inside a
 * container root: every lookup under a rootfs goes through fs_open_in_root so
 * that a symlink planted in an image can never resolve outside it. */
#ifndef SKIFF_COMMON_FS_H
#define SKIFF_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Read a whole file into a new NUL-terminated buffer (*len without the NUL).
 * Returns NULL on error. */
char *fs_read_file(const char *path, size_t *len, skiff_error_t **err);

enum fs_write_flags {
  /* fsync the file and its directory: a crash (not only a failure) leaves
   * the old or the new content. For persistent metadata; state on a tmpfs
   * such as /run does not need it, and it costs milliseconds on disk. */
  FS_WRITE_DURABLE = 1,
};

/* Write len bytes to path through a temporary file renamed over it, so that
 * readers see the old or the new content, never a part. */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         unsigned flags, skiff_error_t **err);

/* Write all len bytes to fd, retrying short writes and EINTR. Returns -1
 * with errno set on failure. */
int fs_write_all(int fd, const void *data, size_t len);

/* Open path O_WRONLY (no create) and write the string: for /proc and cgroup
 * files, where a short write or an EINVAL is the kernel's answer. */
int fs_write_string(const char *path, const char *value, skiff_error_t **err);

/* Like fs_write_string but relative to a directory fd. */
int fs_write_string_at(int dirfd, const char *name, const char *value,
                       skiff_error_t **err);

/* mkdir -p. Existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, skiff_error_t **err);

/* rm -rf of path; a missing path is not an error. Does not cross into other
 * mounts' contents any more than unlinkat does (mount points give EBUSY). */
int fs_remove_tree(const char *path, skiff_error_t **err);

/* Open path (absolute or relative, taken as relative to the root) inside the
 * directory tree of rootfd as if rootfd were "/": ".." and symlinks are
 * clamped to the root (openat2 RESOLVE_IN_ROOT, with a user-space walk where
 * the kernel lacks openat2). flags are open(2) flags; O_CLOEXEC is added.
 * Returns an fd, or -1 with *err set (status ENOENT when missing). */
int fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                    skiff_error_t **err);

/* Make sure path exists inside rootfd as a directory (or, with is_file, as
 * an empty regular file, creating missing parent directories), resolving
 * every component inside the root. Returns an O_PATH fd of the result. */
int fs_create_in_root(int rootfd, const char *path, int is_file, mode_t mode,
                      skiff_error_t **err);

/* "/proc/self/fd/N" for fd, in a caller-owned buffer of >= 32 bytes. */
const char *fs_fd_path(int fd, char buf[static 32]);

#endif
