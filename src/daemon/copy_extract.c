/* The writing half of copy.h: a tar extracted into a directory of a
 * container (PUT /containers/{id}/archive), with docker's rules (Untar):
 * an entry replaces what stands at its path unless both are directories,
 * missing parents are made 0755, a symlink or hard link whose target leaves
 * the extraction point is refused, ownership comes from the tar (or, with
 * copyUIDGID, from the container's User).
 *
 * Every entry's parent is reached through fs_create_in_root (openat2
 * RESOLVE_IN_ROOT on the container's root: symlinks inside the container
 * are followed as docker's chroot follows them, but never out of it), and
 * the entry itself only through *at calls on that directory fd that do not
 * follow a symlink standing at its name. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "copy.h"

#define COPY_BUF (256 * 1024)

struct extract {
  int rootfd;
  const char *dest; /* canonical path of the extraction point */
  const struct copy_extract_opts *opts;
  json_t *created;   /* dest-relative paths this extraction made, in order */
  json_t *dir_times; /* [[rel, mtime s, ns], ...] applied last */
  char *cached_parent;
  int cached_fd;
};

/* ---- names ---- */

/* The entry name made relative and clean ("a/b"; "" for the extraction
 * point itself); -1 when ".." takes it outside (docker's breakout check). */
static int clean_rel(const char *name, char *out, size_t cap)
{
  size_t used = 0;
  for (const char *p = name; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && strncmp(p, "..", 2) == 0) {
      if (used == 0)
        return -1;
      while (used > 0 && out[--used] != '/')
        ;
    } else if (n > 0 && !(n == 1 && *p == '.')) {
      if (used + n + 2 > cap)
        return -1;
      if (used)
        out[used++] = '/';
      memcpy(out + used, p, n);
      used += n;
    }
    p += n;
    while (*p == '/')
      p++;
  }
  out[used] = '\0';
  return 0;
}

/* Whether a symlink at rel pointing to target stays inside the extraction
 * point (an absolute target is taken as inside: it resolves in the
 * container, as docker's filepath.Join does). */
static bool link_stays_inside(const char *rel, const char *target)
{
  if (target[0] == '/')
    return true;
  char joined[2 * PATH_MAX], clean[2 * PATH_MAX];
  const char *slash = strrchr(rel, '/');
  snprintf(joined, sizeof joined, "%.*s/%s", slash ? (int)(slash - rel) : 0, rel,
           target);
  return clean_rel(joined, clean, sizeof clean) == 0;
}

static int validate_entry(struct archive_entry *e, skiff_error_t **err)
{
  const char *name = archive_entry_pathname(e);
  char rel[PATH_MAX], target[PATH_MAX];
  if (name == NULL || clean_rel(name, rel, sizeof rel) < 0)
    return skiff_error_invalid(err, "invalid tar: %s is outside of the destination",
                               name ? name : "(no name)");
  const char *hard = archive_entry_hardlink(e);
  if (hard && (clean_rel(hard, target, sizeof target) < 0 || target[0] == '\0'))
    return skiff_error_invalid(err, "invalid hardlink \"%s\" -> \"%s\"", name, hard);
  const char *sym = archive_entry_symlink(e);
  if (!hard && archive_entry_filetype(e) == AE_IFLNK &&
      (sym == NULL || !link_stays_inside(rel, sym)))
    return skiff_error_invalid(err, "invalid symlink \"%s\" -> \"%s\"", name,
                               sym ? sym : "");
  if (rel[0] == '\0' && (hard || archive_entry_filetype(e) != AE_IFDIR))
    return skiff_error_invalid(err, "invalid tar: %s would replace the destination",
                               name);
  return 0;
}

/* ---- the spool and the two passes ---- */

int copy_spool(int in_fd, const char *dir, off_t *size, skiff_error_t **err)
{
  cleanup_close int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  cleanup_free char *buf = malloc(COPY_BUF);
  if (fd < 0 || buf == NULL)
    return skiff_error_errno(err, "spool the archive in %s", dir);
  *size = 0;
  for (;;) {
    ssize_t n = read(in_fd, buf, COPY_BUF);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return skiff_error_errno(err, "read the archive");
    if (n == 0)
      break;
    if (fs_write_all(fd, buf, (size_t)n) < 0)
      return skiff_error_errno(err, "spool the archive in %s", dir);
    *size += n;
  }
  if (lseek(fd, 0, SEEK_SET) < 0)
    return skiff_error_errno(err, "spool the archive");
  return steal_fd(&fd);
}

static struct archive *open_reader(int fd, skiff_error_t **err)
{
  struct archive *a = archive_read_new();
  if (a == NULL) {
    skiff_error_set(err, ENOMEM, "read the archive");
    return NULL;
  }
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (lseek(fd, 0, SEEK_SET) < 0 ||
      archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK) {
    skiff_error_invalid(err, "invalid tar: %s", archive_error_string(a));
    archive_read_free(a);
    return NULL;
  }
  return a;
}

/* Read the whole tar once: names, link targets and its integrity. */
static int validate(int fd, skiff_error_t **err)
{
  struct archive *a = open_reader(fd, err);
  if (a == NULL)
    return -1;
  struct archive_entry *e;
  int r, ret = 0;
  while (ret == 0 &&
         ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
    ret = validate_entry(e, err);
    if (ret == 0 && archive_read_data_skip(a) != ARCHIVE_OK)
      ret = skiff_error_invalid(err, "invalid tar: %s", archive_error_string(a));
  }
  if (ret == 0 && r != ARCHIVE_EOF)
    ret = skiff_error_invalid(err, "invalid tar: %s", archive_error_string(a));
  archive_read_free(a);
  return ret;
}

/* ---- one entry ---- */

/* The directory holding rel (made when missing) as an O_PATH fd owned by
 * the cache, and rel's last component. */
static int parent_of(struct extract *x, const char *rel, const char **base,
                     skiff_error_t **err)
{
  const char *slash = strrchr(rel, '/');
  *base = slash ? slash + 1 : rel;
  size_t n = slash ? (size_t)(slash - rel) : 0;
  if (x->cached_fd >= 0 && strlen(x->cached_parent) == n &&
      strncmp(x->cached_parent, rel, n) == 0)
    return x->cached_fd;
  cleanup_free char *parent = strndup(rel, n);
  cleanup_free char *full = NULL;
  if (parent == NULL || asprintf(&full, "%s/%s", x->dest, parent) < 0)
    return skiff_error_set(err, ENOMEM, "extract");
  int fd = fs_create_in_root(x->rootfd, full, 0, 0755, err);
  if (fd < 0)
    return -1;
  if (x->cached_fd >= 0)
    close(x->cached_fd);
  free(x->cached_parent);
  x->cached_parent = steal_pointer(&parent);
  x->cached_fd = fd;
  return fd;
}

static int remove_at(int dirfd, const char *name, bool is_dir, skiff_error_t **err)
{
  if (!is_dir)
    return unlinkat(dirfd, name, 0) < 0 ? skiff_error_errno(err, "remove %s", name) : 0;
  char buf[32];
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s", fs_fd_path(dirfd, buf), name) < 0)
    return skiff_error_set(err, ENOMEM, "extract");
  return fs_remove_tree(path, err);
}

/* docker's rule for what stands at the entry's path. *fresh tells whether
 * nothing was there (the entry is then ours to roll back). */
static int clear_slot(struct extract *x, int dirfd, const char *base, const char *rel,
                      bool new_is_dir, bool *fresh, skiff_error_t **err)
{
  struct stat st;
  *fresh = false;
  if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    *fresh = errno == ENOENT;
    return *fresh ? 0 : skiff_error_errno(err, "stat %s", rel);
  }
  bool is_dir = S_ISDIR(st.st_mode);
  if (x->opts->no_overwrite_dir_non_dir && is_dir != new_is_dir)
    return skiff_error_invalid(err,
                               is_dir ? "cannot overwrite directory \"%s/%s\" with "
                                        "non-directory \"%s\""
                                      : "cannot overwrite non-directory \"%s/%s\" "
                                        "with directory \"%s\"",
                               x->dest, rel, x->dest);
  if (is_dir && new_is_dir)
    return 0;
  return remove_at(dirfd, base, is_dir, err);
}

static int set_owner_mode(struct extract *x, int dirfd, const char *base,
                          struct archive_entry *e, skiff_error_t **err)
{
  uid_t uid = x->opts->chown_to ? x->opts->uid : (uid_t)archive_entry_uid(e);
  gid_t gid = x->opts->chown_to ? x->opts->gid : (gid_t)archive_entry_gid(e);
  if (fchownat(dirfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return skiff_error_errno(err, "chown %s", archive_entry_pathname(e));
  if (archive_entry_filetype(e) == AE_IFLNK)
    return 0;
  /* After the chown, which clears set-id bits; glibc does the no-follow
   * chmod through an O_PATH fd. */
  if (fchmodat(dirfd, base, archive_entry_perm(e) & 07777, AT_SYMLINK_NOFOLLOW) < 0)
    return skiff_error_errno(err, "chmod %s", archive_entry_pathname(e));
  return 0;
}

static void set_xattrs(int fd, struct archive_entry *e)
{
  const char *name;
  const void *value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
    if (strncmp(name, "trusted.overlay.", 16) != 0)
      fsetxattr(fd, name, value, size, 0); /* ENOTSUP, EPERM: ignored as docker */
}

static int write_file(struct archive *a, struct archive_entry *e, int dirfd,
                      const char *base, const char *rel, skiff_error_t **err)
{
  cleanup_close int fd =
      openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return skiff_error_errno(err, "create %s", rel);
  const void *block;
  size_t len;
  la_int64_t offset;
  int r;
  while ((r = archive_read_data_block(a, &block, &len, &offset)) == ARCHIVE_OK) {
    if (pwrite(fd, block, len, offset) != (ssize_t)len)
      return skiff_error_errno(err, "write %s", rel);
  }
  if (r != ARCHIVE_EOF)
    return skiff_error_invalid(err, "invalid tar: %s: %s", rel,
                               archive_error_string(a));
  if (ftruncate(fd, archive_entry_size(e)) < 0)
    return skiff_error_errno(err, "write %s", rel);
  set_xattrs(fd, e);
  return 0;
}

static int make_link(struct extract *x, struct archive_entry *e, int dirfd,
                     const char *base, const char *rel, skiff_error_t **err)
{
  char target[PATH_MAX];
  clean_rel(archive_entry_hardlink(e), target, sizeof target); /* validated */
  cleanup_free char *full = NULL;
  const char *slash = strrchr(target, '/');
  if (asprintf(&full, "%s/%.*s", x->dest, slash ? (int)(slash - target) : 0, target) <
      0)
    return skiff_error_set(err, ENOMEM, "extract");
  cleanup_close int tfd =
      fs_open_in_root(x->rootfd, full, O_PATH | O_DIRECTORY, 0, err);
  if (tfd < 0 || linkat(tfd, slash ? slash + 1 : target, dirfd, base, 0) < 0)
    return tfd < 0 ? -1 : skiff_error_errno(err, "hard link %s to %s", rel, target);
  return 0;
}

static int make_node(struct archive *a, struct archive_entry *e, int dirfd,
                     const char *base, const char *rel, skiff_error_t **err)
{
  mode_t type = archive_entry_filetype(e);
  switch (type) {
  case AE_IFREG: return write_file(a, e, dirfd, base, rel, err);
  case AE_IFDIR:
    if (mkdirat(dirfd, base, 0700) < 0 && errno != EEXIST)
      return skiff_error_errno(err, "mkdir %s", rel);
    return 0;
  case AE_IFLNK:
    if (symlinkat(archive_entry_symlink(e), dirfd, base) < 0)
      return skiff_error_errno(err, "symlink %s", rel);
    return 0;
  case AE_IFCHR:
  case AE_IFBLK:
  case AE_IFIFO:
    if (mknodat(dirfd, base, type | 0600, archive_entry_rdev(e)) < 0)
      return skiff_error_errno(err, "mknod %s", rel);
    return 0;
  default: return 1; /* sockets and unknown kinds: skipped */
  }
}

static void set_times(int dirfd, const char *base, struct archive_entry *e)
{
  struct timespec t[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                          {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
  if (archive_entry_atime_is_set(e))
    t[0] = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
  utimensat(dirfd, base, t, AT_SYMLINK_NOFOLLOW);
}

static int apply_entry(struct extract *x, struct archive *a, struct archive_entry *e,
                       skiff_error_t **err)
{
  char rel[PATH_MAX];
  clean_rel(archive_entry_pathname(e), rel, sizeof rel); /* validated */
  if (rel[0] == '\0')
    return 0; /* the extraction point itself: kept as it is */
  const char *base;
  int dirfd = parent_of(x, rel, &base, err);
  if (dirfd < 0)
    return -1;
  bool hard = archive_entry_hardlink(e) != NULL;
  bool is_dir = !hard && archive_entry_filetype(e) == AE_IFDIR;
  bool fresh;
  if (clear_slot(x, dirfd, base, rel, is_dir, &fresh, err) < 0)
    return -1;
  int made = hard ? make_link(x, e, dirfd, base, rel, err)
                  : make_node(a, e, dirfd, base, rel, err);
  if (made != 0)
    return made < 0 ? -1 : 0;
  if (fresh)
    json_array_append_new(x->created, json_string(rel));
  if (hard)
    return 0;
  if (set_owner_mode(x, dirfd, base, e, err) < 0)
    return -1;
  if (is_dir) /* entries written inside change its mtime: set it last */
    json_array_append_new(
        x->dir_times, json_pack("[s, I, I]", rel, (json_int_t)archive_entry_mtime(e),
                                (json_int_t)archive_entry_mtime_nsec(e)));
  else
    set_times(dirfd, base, e);
  return 0;
}

/* ---- finishing ---- */

static void finish_dirs(struct extract *x)
{
  size_t i;
  json_t *d;
  json_array_foreach(x->dir_times, i, d)
  {
    const char *rel = json_string_value(json_array_get(d, 0)), *base;
    skiff_error_t *ignored = NULL;
    int dirfd = parent_of(x, rel, &base, &ignored);
    struct timespec t = {(time_t)json_integer_value(json_array_get(d, 1)),
                         (long)json_integer_value(json_array_get(d, 2))};
    struct timespec times[2] = {t, t};
    if (dirfd >= 0)
      utimensat(dirfd, base, times, AT_SYMLINK_NOFOLLOW);
    skiff_error_free(&ignored);
  }
}

/* Remove what this extraction created, newest first. */
static void roll_back(struct extract *x)
{
  for (size_t i = json_array_size(x->created); i-- > 0;) {
    const char *rel = json_string_value(json_array_get(x->created, i)), *base;
    skiff_error_t *ignored = NULL;
    int dirfd = parent_of(x, rel, &base, &ignored);
    struct stat st;
    if (dirfd >= 0 && fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
      remove_at(dirfd, base, S_ISDIR(st.st_mode), NULL);
    skiff_error_free(&ignored);
  }
}

static int extract_all(struct extract *x, int fd, skiff_error_t **err)
{
  struct archive *a = open_reader(fd, err);
  if (a == NULL)
    return -1;
  struct archive_entry *e;
  int r, ret = 0;
  while (ret == 0 &&
         ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN))
    ret = apply_entry(x, a, e, err);
  if (ret == 0 && r != ARCHIVE_EOF)
    ret = skiff_error_invalid(err, "invalid tar: %s", archive_error_string(a));
  archive_read_free(a);
  return ret;
}

int copy_extract(int rootfd, const char *dest, int fd,
                 const struct copy_extract_opts *opts, skiff_error_t **err)
{
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size == 0)
    return 0; /* an empty body: nothing to do, as docker */
  if (validate(fd, err) < 0)
    return -1;
  struct extract x = {.rootfd = rootfd,
                      .dest = dest,
                      .opts = opts,
                      .cached_fd = -1,
                      .created = json_array(),
                      .dir_times = json_array()};
  int ret = extract_all(&x, fd, err);
  if (ret < 0)
    roll_back(&x);
  else
    finish_dirs(&x);
  if (x.cached_fd >= 0)
    close(x.cached_fd);
  free(x.cached_parent);
  json_decref(x.created);
  json_decref(x.dir_times);
  return ret;
}

/* ---- the container's User ---- */

/* A numeric field (2: uid or gid, 3: a user's group) of the passwd or group
 * entry whose name, or whose id, is name. */
static int lookup_db(int rootfd, const char *file, const char *name, int field,
                     long *out)
{
  cleanup_close int fd = fs_open_in_root(rootfd, file, O_RDONLY, 0, NULL);
  cleanup_fclose FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
  if (f == NULL)
    return -1;
  fd = -1;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[4] = {0}, *p = line;
    for (int i = 0; i < 4 && p; i++)
      fields[i] = strsep(&p, ":");
    bool match = (fields[0] && strcmp(fields[0], name) == 0) ||
                 (fields[2] && strcmp(fields[2], name) == 0);
    if (match && fields[field]) {
      *out = strtol(fields[field], NULL, 10);
      return 0;
    }
  }
  return -1;
}

static int id_of(int rootfd, const char *file, const char *text, int field, long *out)
{
  char *end;
  long v = strtol(text, &end, 10);
  if (*text && *end == '\0' && v >= 0) {
    *out = v;
    return 0;
  }
  return lookup_db(rootfd, file, text, field, out);
}

int copy_lookup_user(int rootfd, const char *user, uid_t *uid, gid_t *gid,
                     skiff_error_t **err)
{
  cleanup_free char *u = strdup(user);
  char *group = u ? strchr(u, ':') : NULL;
  if (group)
    *group++ = '\0';
  long id = 0, gr = 0;
  if (u == NULL || id_of(rootfd, "/etc/passwd", u, 2, &id) < 0)
    return skiff_error_invalid(err,
                               "unable to find user %s: no matching entries in passwd "
                               "file",
                               u ? u : user);
  if (group && id_of(rootfd, "/etc/group", group, 2, &gr) < 0)
    return skiff_error_invalid(err,
                               "unable to find group %s: no matching entries in group "
                               "file",
                               group);
  if (group == NULL && lookup_db(rootfd, "/etc/passwd", u, 3, &gr) < 0)
    gr = 0; /* a numeric uid without an entry: group 0 */
  *uid = (uid_t)id;
  *gid = (gid_t)gr;
  return 0;
}
