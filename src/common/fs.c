#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

char *fs_read_file(const char *path, size_t *len, skiff_error_t **err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    skiff_error_errno(err, "open %s", path);
    return NULL;
  }
  size_t cap = 4096, used = 0;
  cleanup_free char *buf = malloc(cap);
  while (buf != NULL) {
    if (used + 1 >= cap) {
      char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL)
        break;
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + used, cap - used - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      skiff_error_errno(err, "read %s", path);
      return NULL;
    }
    if (n == 0) {
      buf[used] = '\0';
      if (len)
        *len = used;
      return steal_pointer(&buf);
    }
    used += (size_t)n;
  }
  skiff_error_set(err, ENOMEM, "read %s", path);
  return NULL;
}

int fs_write_all(int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      return errno = EIO, -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fsync_parent_dir(const char *path)
{
  cleanup_free char *dir = strdup(path);
  if (dir == NULL)
    return -1;
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    strcpy(dir, ".");
  cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -1 : fsync(fd);
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         unsigned flags, skiff_error_t **err)
{
  cleanup_free char *tmp = NULL;
  if (asprintf(&tmp, "%s.tmp-%d", path, getpid()) < 0)
    return skiff_error_set(err, ENOMEM, "write %s", path);
  cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return skiff_error_errno(err, "create %s", tmp);
  bool durable = flags & FS_WRITE_DURABLE;
  if (fs_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
    int saved = errno;
    unlink(tmp);
    return skiff_error_set(err, saved, "write %s", tmp);
  }
  if (rename(tmp, path) < 0) {
    int saved = errno;
    unlink(tmp);
    return skiff_error_set(err, saved, "rename %s to %s", tmp, path);
  }
  if (durable && fsync_parent_dir(path) < 0)
    return skiff_error_errno(err, "fsync directory of %s", path);
  return 0;
}

int fs_write_string_at(int dirfd, const char *name, const char *value,
                       skiff_error_t **err)
{
  cleanup_close int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error_errno(err, "open %s", name);
  if (fs_write_all(fd, value, strlen(value)) < 0)
    return skiff_error_errno(err, "write %s to %s", value, name);
  return 0;
}

int fs_write_string(const char *path, const char *value, skiff_error_t **err)
{
  return fs_write_string_at(AT_FDCWD, path, value, err);
}

int fs_mkdir_p(const char *path, mode_t mode, skiff_error_t **err)
{
  cleanup_free char *copy = strdup(path);
  if (copy == NULL)
    return skiff_error_set(err, ENOMEM, "mkdir %s", path);
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
      return skiff_error_errno(err, "mkdir %s", copy);
    *p = '/';
  }
  if (mkdir(copy, mode) < 0 && errno != EEXIST)
    return skiff_error_errno(err, "mkdir %s", copy);
  return 0;
}

/* Opening a mount point opens the root of what is mounted on it: emptying
 * that would delete another file system's files (a container's rootfs
 * still mounted in the tree, held by a copy). */
static bool is_mount_root(int fd)
{
  struct statx stx;
  return statx(fd, "", AT_EMPTY_PATH, 0, &stx) == 0 &&
         (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int remove_at(int parentfd, const char *name)
{
  if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return -1;
  int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (is_mount_root(fd)) {
    close(fd);
    return errno = EBUSY, -1;
  }
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    close(fd);
    return -1;
  }
  struct dirent *entry;
  int failure = 0; /* the first entry's errno: the later calls overwrite errno */
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
      continue;
    if (remove_at(dirfd(dir), entry->d_name) < 0 && failure == 0)
      failure = errno;
  }
  closedir(dir);
  if (failure == 0 && unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    failure = errno;
  return failure ? (errno = failure, -1) : 0;
}

int fs_remove_tree(const char *path, skiff_error_t **err)
{
  if (remove_at(AT_FDCWD, path) < 0)
    return skiff_error_errno(err, "remove %s", path);
  return 0;
}

const char *fs_fd_path(int fd, char buf[static 32])
{
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

/* The fallback for kernels without openat2 (< 5.6): walk the path one
 * component at a time with O_NOFOLLOW, expanding symlinks ourselves and
 * treating an absolute target or ".." at the top as the root. */
static int walk_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
  char pending[PATH_MAX];
  int links = 0;
  if (snprintf(pending, sizeof pending, "%s", path) >= (int)sizeof pending)
    return errno = ENAMETOOLONG, -1;
  int cur = dup(rootfd);
  char *rest = pending;
  while (cur >= 0) {
    while (*rest == '/')
      rest++;
    if (*rest == '\0') {
      char buf[32];
      int fd = open(fs_fd_path(cur, buf), flags | O_CLOEXEC, mode);
      if (fd < 0 && (flags & O_PATH) == 0 && errno == EISDIR)
        fd = -1;
      close(cur);
      return fd;
    }
    char *slash = strchr(rest, '/');
    char name[NAME_MAX + 1];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n > NAME_MAX) {
      close(cur);
      return errno = ENAMETOOLONG, -1;
    }
    memcpy(name, rest, n);
    name[n] = '\0';
    rest += n;
    int last = *rest == '\0' || strspn(rest, "/") == strlen(rest);
    if (strcmp(name, ".") == 0)
      continue;
    if (strcmp(name, "..") == 0) {
      struct stat a, b;
      if (fstat(cur, &a) == 0 && fstat(rootfd, &b) == 0 && a.st_dev == b.st_dev &&
          a.st_ino == b.st_ino)
        continue; /* ".." at the root stays at the root */
    }
    if (last) {
      int fd = openat(cur, name, (flags | O_NOFOLLOW | O_CLOEXEC), mode);
      if (fd >= 0 || errno != ELOOP) {
        int saved = errno;
        close(cur);
        errno = saved;
        return fd;
      }
    }
    struct stat st;
    if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      int saved = errno;
      close(cur);
      return errno = saved, -1;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX], joined[PATH_MAX];
      ssize_t len = readlinkat(cur, name, target, sizeof target - 1);
      if (len < 0 || ++links > 40) {
        close(cur);
        return errno = ELOOP, -1;
      }
      target[len] = '\0';
      if (snprintf(joined, sizeof joined, "%s/%s", target, rest) >=
          (int)sizeof joined) {
        close(cur);
        return errno = ENAMETOOLONG, -1;
      }
      strcpy(pending, joined);
      rest = pending;
      if (target[0] == '/') {
        close(cur);
        cur = dup(rootfd);
      }
      continue;
    }
    int next = openat(cur, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    close(cur);
    cur = next;
  }
  return -1;
}

int fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                    skiff_error_t **err)
{
  struct open_how how = {
      .flags = (unsigned long long)(flags | O_CLOEXEC),
      .mode = (flags & O_CREAT) ? mode : 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  const char *rel = path;
  while (*rel == '/')
    rel++;
  if (*rel == '\0')
    rel = ".";
  int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM))
    fd = walk_in_root(rootfd, rel, flags, mode);
  if (fd < 0)
    skiff_error_errno(err, "open %s in the container root", path);
  return fd;
}

static int split_last(const char *path, char **parent, char **last)
{
  cleanup_free char *copy = strdup(path);
  if (copy == NULL)
    return -1;
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = '\0';
  char *slash = strrchr(copy, '/');
  if (slash == NULL) {
    *parent = strdup("/");
    *last = strdup(copy);
  } else {
    *last = strdup(slash + 1);
    slash[1] = '\0';
    *parent = strdup(copy);
  }
  return (*parent && *last) ? 0 : -1;
}

int fs_create_in_root(int rootfd, const char *path, int is_file, mode_t mode,
                      skiff_error_t **err)
{
  int fd = fs_open_in_root(rootfd, path, O_PATH, 0, NULL);
  if (fd >= 0 || errno != ENOENT) {
    if (fd < 0)
      skiff_error_errno(err, "open %s in the container root", path);
    return fd;
  }
  cleanup_free char *parent = NULL;
  cleanup_free char *last = NULL;
  if (split_last(path, &parent, &last) < 0)
    return skiff_error_set(err, ENOMEM, "%s", path);
  if (*last == '\0' || strcmp(last, "/") == 0 || strcmp(last, "..") == 0)
    return skiff_error_set(err, EINVAL, "cannot create %s", path);
  cleanup_close int parentfd = fs_create_in_root(rootfd, parent, 0, 0755, err);
  if (parentfd < 0)
    return -1;
  char buf[32];
  cleanup_close int dirfd =
      open(fs_fd_path(parentfd, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return skiff_error_errno(err, "open %s in the container root", parent);
  if (is_file) {
    int f = openat(dirfd, last, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (f < 0 && errno != EEXIST && errno != ELOOP)
      return skiff_error_errno(err, "create %s in the container root", path);
    if (f >= 0)
      close(f);
  } else if (mkdirat(dirfd, last, mode) < 0 && errno != EEXIST) {
    return skiff_error_errno(err, "mkdir %s in the container root", path);
  }
  /* Reopen through the root-clamped lookup: if what now stands there is a
   * symlink (a race, or a dangling link), it still resolves inside. */
  return fs_open_in_root(rootfd, path, O_PATH, 0, err);
}
