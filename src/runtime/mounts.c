#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

/* The flags a mount keeps across a remount whether we ask or not: in a user
 * namespace the kernel refuses (EPERM) a remount that would clear a flag
 * locked by a more privileged owner, so we carry them over. */
static unsigned long locked_flags(const char *path)
{
  struct statvfs st;
  if (statvfs(path, &st) < 0)
    return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID)
    flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV)
    flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC)
    flags |= MS_NOEXEC;
  if (st.f_flag & ST_RDONLY)
    flags |= MS_RDONLY;
  return flags;
}

static int remount(const char *path, unsigned long flags, skiff_error_t **err)
{
  flags |= MS_REMOUNT | MS_BIND;
  if (mount(NULL, path, NULL, flags, NULL) == 0)
    return 0;
  if (errno == EPERM && mount(NULL, path, NULL, flags | locked_flags(path), NULL) == 0)
    return 0;
  return skiff_error_errno(err, "remount %s", path);
}

static int mount_at_fd(const char *source, int fd, const char *type,
                       unsigned long flags, const char *data, const char *dest,
                       skiff_error_t **err)
{
  char target[32];
  if (mount(source, fs_fd_path(fd, target), type, flags, data) < 0)
    return skiff_error_errno(err, "mount %s (%s) on %s", source, type ? type : "bind",
                             dest);
  return 0;
}

/* A bind mount's destination must be of the source's kind: a file for a
 * file, else a directory. */
static int bind_target_is_file(const char *source)
{
  struct stat st;
  if (stat(source, &st) < 0)
    return -1;
  return S_ISDIR(st.st_mode) ? 0 : 1;
}

static int apply_after_mount(int rootfd, const struct spec_mount *m,
                             skiff_error_t **err)
{
  if (!m->readonly_remount && m->propagation == 0)
    return 0;
  /* The fd we mounted on names the covered directory; look the path up
   * again to reach the new mount on top of it. */
  cleanup_close int fd = fs_open_in_root(rootfd, m->destination, O_PATH, 0, err);
  if (fd < 0)
    return -1;
  char path[32];
  fs_fd_path(fd, path);
  if (m->readonly_remount &&
      remount(path, m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT), err) <
          0)
    return skiff_error_wrap(err, "mounts: %s", m->destination);
  if (m->propagation && mount(NULL, path, NULL, m->propagation, NULL) < 0)
    return skiff_error_errno(err, "set propagation of %s", m->destination);
  return 0;
}

static int do_mount(int rootfd, const struct spec_mount *m, struct cgroup *cg,
                    skiff_error_t **err)
{
  int is_file = 0;
  if (m->bind && (is_file = bind_target_is_file(m->source)) < 0)
    return skiff_error_errno(err, "mount source %s", m->source);
  cleanup_close int fd = fs_create_in_root(rootfd, m->destination, is_file, 0755, err);
  if (fd < 0)
    return -1;
  if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0) {
    if (cgroup_mount_in_container(cg, fd, m->flags & MS_RDONLY, err) < 0)
      return skiff_error_wrap(err, "mount cgroup on %s", m->destination);
    return 0;
  }
  unsigned long flags = m->bind ? (m->flags & (MS_BIND | MS_REC)) : m->flags;
  if (mount_at_fd(m->source, fd, m->bind ? NULL : m->type, flags,
                  m->bind ? NULL : m->data, m->destination, err) < 0)
    return -1;
  return apply_after_mount(rootfd, m, err);
}

static const struct {
  const char *path;
  unsigned int major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int make_device(int rootfd, const char *path, char type, unsigned major,
                       unsigned minor, mode_t mode, uid_t uid, gid_t gid,
                       bool in_userns, skiff_error_t **err)
{
  if (in_userns) {
    /* mknod is refused in a user namespace: bind the host's node. */
    cleanup_close int fd = fs_create_in_root(rootfd, path, 1, 0644, err);
    if (fd < 0)
      return -1;
    return mount_at_fd(path, fd, NULL, MS_BIND, NULL, path, err);
  }
  cleanup_close int parent = -1;
  cleanup_free char *dir = strdup(path);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  parent = fs_create_in_root(rootfd, *dir ? dir : "/", 0, 0755, err);
  if (parent < 0)
    return -1;
  char buf[32];
  cleanup_close int dirfd =
      open(fs_fd_path(parent, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return skiff_error_errno(err, "open %s", dir);
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  unlinkat(dirfd, slash + 1, 0);
  if (mknodat(dirfd, slash + 1, kind | (mode & 07777), makedev(major, minor)) < 0)
    return skiff_error_errno(err, "mknod %s", path);
  if (fchownat(dirfd, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
      fchmodat(dirfd, slash + 1, mode & 07777, 0) < 0)
    return skiff_error_errno(err, "chown/chmod %s", path);
  return 0;
}

static bool spec_has_device(const struct spec *spec, const char *path)
{
  for (size_t i = 0; i < spec->ndevices; i++)
    if (strcmp(spec->devices[i].path, path) == 0)
      return true;
  return false;
}

static int create_devices(int rootfd, const struct spec *spec, bool in_userns,
                          skiff_error_t **err)
{
  for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++) {
    if (spec_has_device(spec, default_devices[i].path))
      continue;
    if (make_device(rootfd, default_devices[i].path, 'c', default_devices[i].major,
                    default_devices[i].minor, 0666, 0, 0, in_userns, err) < 0)
      return -1;
  }
  for (size_t i = 0; i < spec->ndevices; i++) {
    const struct spec_device *d = &spec->devices[i];
    if (make_device(rootfd, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
                    (unsigned)d->minor, d->mode, d->uid, d->gid, in_userns, err) < 0)
      return skiff_error_wrap(err, "linux.devices[%zu]", i);
  }
  return 0;
}

static int create_dev_links(int rootfd, skiff_error_t **err)
{
  static const char *links[][2] = {
      {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
      {"/proc/kcore", "core"},       {"pts/ptmx", "ptmx"},
  };
  cleanup_close int dev = fs_create_in_root(rootfd, "/dev", 0, 0755, err);
  if (dev < 0)
    return -1;
  char buf[32];
  cleanup_close int dirfd =
      open(fs_fd_path(dev, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return skiff_error_errno(err, "open /dev in the container root");
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    /* /dev/core only where the kernel has /proc/kcore, as runc does. */
    if (strcmp(links[i][1], "core") == 0 && access("/proc/kcore", F_OK) < 0)
      continue;
    if (strcmp(links[i][1], "ptmx") == 0)
      unlinkat(dirfd, "ptmx", 0); /* a node copied from an image would shadow pts */
    if (symlinkat(links[i][0], dirfd, links[i][1]) < 0 && errno != EEXIST)
      return skiff_error_errno(err, "symlink /dev/%s", links[i][1]);
  }
  return 0;
}

int mounts_setup(const struct spec *spec, struct cgroup *cg, bool in_userns,
                 skiff_error_t **err)
{
  unsigned long propagation =
      spec->rootfs_propagation ? spec->rootfs_propagation : (MS_SLAVE | MS_REC);
  /* First cut propagation towards the host, so nothing below leaks out. */
  if (mount(NULL, "/", NULL, propagation, NULL) < 0)
    return skiff_error_errno(err, "set propagation of /");
  if (mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return skiff_error_errno(err, "bind mount rootfs %s", spec->rootfs);
  cleanup_close int rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return skiff_error_errno(err, "open rootfs %s", spec->rootfs);
  for (size_t i = 0; i < spec->nmounts; i++)
    if (do_mount(rootfd, &spec->mounts[i], cg, err) < 0)
      return skiff_error_wrap(err, "mounts[%zu]", i);
  if (create_devices(rootfd, spec, in_userns, err) < 0)
    return -1;
  return create_dev_links(rootfd, err);
}

int mounts_enter_root(const char *rootfs, bool no_pivot, skiff_error_t **err)
{
  if (chdir(rootfs) < 0)
    return skiff_error_errno(err, "chdir %s", rootfs);
  if (no_pivot) {
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
      return skiff_error_errno(err, "move %s to /", rootfs);
    if (chroot(".") < 0)
      return skiff_error_errno(err, "chroot %s", rootfs);
    return chdir("/") < 0 ? skiff_error_errno(err, "chdir /") : 0;
  }
  /* pivot_root(".", ".") stacks the old root on top of the new one; make it
   * a slave so that detaching it cannot unmount anything on the host. */
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return skiff_error_errno(err, "pivot_root %s", rootfs);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return skiff_error_errno(err, "make the old root a slave");
  if (umount2(".", MNT_DETACH) < 0)
    return skiff_error_errno(err, "detach the old root");
  return chdir("/") < 0 ? skiff_error_errno(err, "chdir /") : 0;
}

static int mask_path(int rootfd, const char *path, skiff_error_t **err)
{
  cleanup_close int fd = fs_open_in_root(rootfd, path, O_PATH, 0, NULL);
  if (fd < 0)
    return 0; /* nothing to mask */
  struct stat st;
  if (fstat(fd, &st) < 0)
    return skiff_error_errno(err, "stat %s", path);
  if (S_ISDIR(st.st_mode))
    return mount_at_fd("tmpfs", fd, "tmpfs", MS_RDONLY, NULL, path, err);
  return mount_at_fd("/dev/null", fd, NULL, MS_BIND, NULL, path, err);
}

static int readonly_path(int rootfd, const char *path, skiff_error_t **err)
{
  cleanup_close int fd = fs_open_in_root(rootfd, path, O_PATH, 0, NULL);
  if (fd < 0)
    return 0;
  if (mount_at_fd(path, fd, NULL, MS_BIND | MS_REC, NULL, path, err) < 0)
    return -1;
  cleanup_close int top = fs_open_in_root(rootfd, path, O_PATH, 0, err);
  if (top < 0)
    return -1;
  char buf[32];
  /* Keep nosuid/nodev/noexec: a bind remount that does not ask for them
   * clears them (runc carries them over from statfs as well). */
  const char *at = fs_fd_path(top, buf);
  unsigned long keep = locked_flags(at) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  return remount(at, MS_RDONLY | MS_REC | keep, err);
}

static int write_sysctls(json_t *sysctl, skiff_error_t **err)
{
  const char *key;
  json_t *value;
  json_object_foreach(sysctl, key, value)
  {
    char path[512];
    int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
    for (char *p = path + 10; n > 0 && *p; p++)
      if (*p == '.')
        *p = '/';
    if (fs_write_string(path, json_string_value(value), err) < 0)
      return skiff_error_wrap(err, "linux.sysctl.%s", key);
  }
  return 0;
}

int mounts_finalize(const struct spec *spec, skiff_error_t **err)
{
  cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return skiff_error_errno(err, "open /");
  if (write_sysctls(spec->sysctl, err) < 0)
    return -1;
  for (char **p = spec->masked_paths; p && *p; p++)
    if (mask_path(rootfd, *p, err) < 0)
      return skiff_error_wrap(err, "linux.maskedPaths");
  for (char **p = spec->readonly_paths; p && *p; p++)
    if (readonly_path(rootfd, *p, err) < 0)
      return skiff_error_wrap(err, "linux.readonlyPaths");
  if (spec->root_readonly && remount("/", MS_RDONLY, err) < 0)
    return skiff_error_wrap(err, "root.readonly");
  return 0;
}

int mounts_bind_console(int slave, skiff_error_t **err)
{
  cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int fd =
      rootfd < 0 ? -1 : fs_create_in_root(rootfd, "/dev/console", 1, 0600, err);
  if (fd < 0)
    return -1;
  char source[32];
  return mount_at_fd(fs_fd_path(slave, source), fd, NULL, MS_BIND, NULL, "/dev/console",
                     err);
}
