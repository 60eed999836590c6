/* Applying a layer tar: one pass over the input that decompresses it,
 * hashes the uncompressed bytes (the diff_id), keeps them as the layer
 * blob, and unpacks the entries into a fresh directory.
 *
 * Two libarchive readers are stacked: the outer one only decompresses
 * (format "raw"), the inner one reads tar from the outer one through
 * tee_read, which also hashes and stores what passes.
 *
 * The unpacking trusts nothing in the tar. Every entry is created relative
 * to a directory fd reached by walking its parent path one component at a
 * time with O_NOFOLLOW|O_DIRECTORY, so that neither "..", nor an absolute
 * path, nor a symlink planted by an earlier entry can lead outside the layer
 * (the class of bug behind CVE-2014-6407 and CVE-2018-15664 in docker). Hard
 * links are resolved the same way. Whiteouts become what overlayfs reads:
 * ".wh.NAME" a 0/0 character device NAME, ".wh..wh..opq" the xattr
 * trusted.overlay.opaque=y on its directory. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/fs.h"
#include "image_internal.h"

#define TEE_BUF (256 * 1024)
#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define META_PREFIX ".wh..wh."

struct tee {
  struct archive *raw;
  struct sha256_ctx sha;
  int out_fd; /* the uncompressed tar kept as the layer blob, or -1 */
  int saved_errno;
  char *buf;
  long long total;
};

struct deferred_dir {
  char *path;
  struct timespec times[2];
};

struct unpack {
  int rootfd;
  char *cached_parent; /* path of cached_fd, relative to the root */
  int cached_fd;
  struct deferred_dir *dirs;
  size_t n_dirs;
  long long size;
  bool root_user;
};

static la_ssize_t tee_read(struct archive *a, void *arg, const void **buf)
{
  struct tee *t = arg;
  la_ssize_t n = archive_read_data(t->raw, t->buf, TEE_BUF);
  if (n < 0) {
    archive_set_error(a, archive_errno(t->raw), "%s", archive_error_string(t->raw));
    return -1;
  }
  if (n > 0) {
    sha256_update(&t->sha, (size_t)n, (const uint8_t *)t->buf);
    t->total += n;
    if (t->out_fd >= 0 && fs_write_all(t->out_fd, t->buf, (size_t)n) < 0) {
      t->saved_errno = errno;
      archive_set_error(a, errno, "write layer blob");
      return -1;
    }
  }
  *buf = t->buf;
  return n;
}

/* ---- paths ---- */

/* Clean a tar path into dst: drop "./" and empty components, refuse
 * absolute paths and "..". Returns 0 (dst "" for the root itself). */
static int clean_path(const char *raw, char *dst, size_t cap, skiff_error_t **err)
{
  if (raw == NULL || raw[0] == '/')
    return skiff_error_invalid(err, "invalid layer tar: absolute path %s refused",
                               raw ? raw : "(none)");
  size_t used = 0;
  const char *p = raw;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 2 && strncmp(p, "..", 2) == 0)
      return skiff_error_invalid(err, "invalid layer tar: path %s leaves the layer",
                                 raw);
    if (n > 0 && !(n == 1 && p[0] == '.')) {
      if (used + n + 2 > cap)
        return skiff_error_invalid(err, "invalid layer tar: path %s is too long", raw);
      if (used)
        dst[used++] = '/';
      memcpy(dst + used, p, n);
      used += n;
    }
    p += n;
    while (*p == '/')
      p++;
  }
  dst[used] = '\0';
  return 0;
}

/* Open the directory rel (relative to the root) without following any
 * symlink; with create, make missing directories (0755, as docker). */
static int open_dir_nofollow(int rootfd, const char *rel, bool create,
                             skiff_error_t **err)
{
  int cur = dup(rootfd);
  char name[PATH_MAX];
  const char *p = rel;
  while (cur >= 0 && *p) {
    size_t n = strcspn(p, "/");
    memcpy(name, p, n);
    name[n] = '\0';
    p += n + (p[n] == '/');
    int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create && mkdirat(cur, name, 0755) == 0)
      next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(cur);
    cur = next;
    if (cur < 0 && (saved == ELOOP || saved == ENOTDIR))
      skiff_error_invalid(err,
                          "invalid layer tar: %s goes through a symlink or a "
                          "non-directory",
                          rel);
    else if (cur < 0)
      skiff_error_set(err, saved, "layer: open %s", rel);
  }
  return cur;
}

/* Split rel into its parent directory (an fd, owned by u's cache) and its
 * last component. */
static int parent_of(struct unpack *u, const char *rel, const char **base, bool create,
                     skiff_error_t **err)
{
  const char *slash = strrchr(rel, '/');
  *base = slash ? slash + 1 : rel;
  size_t n = slash ? (size_t)(slash - rel) : 0;
  if (u->cached_fd >= 0 && strlen(u->cached_parent) == n &&
      strncmp(u->cached_parent, rel, n) == 0)
    return u->cached_fd;
  cleanup_free char *parent = strndup(rel, n);
  if (parent == NULL)
    return skiff_error_set(err, ENOMEM, "layer");
  int fd = open_dir_nofollow(u->rootfd, parent, create, err);
  if (fd < 0)
    return -1;
  if (u->cached_fd >= 0)
    close(u->cached_fd);
  free(u->cached_parent);
  u->cached_parent = steal_pointer(&parent);
  u->cached_fd = fd;
  return fd;
}

static void drop_cache(struct unpack *u)
{
  if (u->cached_fd >= 0)
    close(u->cached_fd);
  u->cached_fd = -1;
  free(u->cached_parent);
  u->cached_parent = NULL;
}

/* Remove what stands at name in dirfd, unless both it and the new entry
 * are directories (then the directory is kept and updated, as tar does). */
static int clear_slot(int dirfd, const char *name, bool new_is_dir, skiff_error_t **err)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : skiff_error_errno(err, "layer: stat %s", name);
  if (S_ISDIR(st.st_mode) && new_is_dir)
    return 0;
  if (!S_ISDIR(st.st_mode))
    return unlinkat(dirfd, name, 0) < 0
               ? skiff_error_errno(err, "layer: unlink %s", name)
               : 0;
  /* A directory replaced by a non-directory. The cached fd is dirfd itself
   * (the parent of the current entry), never inside what goes. */
  char buf[32];
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s", fs_fd_path(dirfd, buf), name) < 0)
    return skiff_error_set(err, ENOMEM, "layer");
  return fs_remove_tree(path, err);
}

/* ---- metadata ---- */

static int apply_xattrs(int fd, struct archive_entry *e, skiff_error_t **err)
{
  const char *name;
  const void *value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    /* overlayfs reads trusted.overlay.* as instructions (redirects,
     * metacopy): never take them from an image. */
    if (strncmp(name, "trusted.overlay.", 16) == 0)
      continue;
    if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP && errno != EPERM)
      return skiff_error_errno(err, "layer: set xattr %s", name);
  }
  return 0;
}

static void entry_times(struct archive_entry *e, struct timespec t[2])
{
  t[1].tv_sec = archive_entry_mtime(e);
  t[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    t[0].tv_sec = archive_entry_atime(e);
    t[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    t[0] = t[1];
  }
}

/* Owner, mode (after the owner: chown clears set-id bits), xattrs. */
static int apply_owner_mode(struct unpack *u, int fd, struct archive_entry *e,
                            skiff_error_t **err)
{
  if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 &&
      (u->root_user || errno != EPERM))
    return skiff_error_errno(err, "layer: chown %s", archive_entry_pathname(e));
  if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
    return skiff_error_errno(err, "layer: chmod %s", archive_entry_pathname(e));
  return apply_xattrs(fd, e, err);
}

/* ---- entry kinds ---- */

/* Write the entry's data blocks; *end: where the last one ended. */
static int write_file_data(struct archive *a, int fd, const char *rel, la_int64_t *end,
                           skiff_error_t **err)
{
  const void *block;
  size_t len;
  la_int64_t offset;
  int r;
  *end = 0;
  while ((r = archive_read_data_block(a, &block, &len, &offset)) == ARCHIVE_OK) {
    const char *p = block;
    while (len > 0) {
      ssize_t n = pwrite(fd, p, len, offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return skiff_error_errno(err, "layer: write %s", rel);
      p += n;
      len -= (size_t)n;
      offset += n;
    }
    *end = offset;
  }
  if (r != ARCHIVE_EOF)
    return skiff_error_invalid(err, "invalid layer tar: %s: %s", rel,
                               archive_error_string(a));
  return 0;
}

static int make_file(struct unpack *u, struct archive *a, struct archive_entry *e,
                     int dirfd, const char *base, const char *rel, skiff_error_t **err)
{
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  cleanup_close int fd = openat(dirfd, base, flags, 0600);
  /* Most names are new in a layer: only one that exists is cleared. */
  if (fd < 0 && errno == EEXIST && clear_slot(dirfd, base, false, err) == 0)
    fd = openat(dirfd, base, flags, 0600);
  if (fd < 0)
    return *err ? -1 : skiff_error_errno(err, "layer: create %s", rel);
  la_int64_t end;
  if (write_file_data(a, fd, rel, &end, err) < 0)
    return -1;
  /* Sparse files end in a hole that no block wrote. */
  if (end != archive_entry_size(e) && ftruncate(fd, archive_entry_size(e)) < 0)
    return skiff_error_errno(err, "layer: truncate %s", rel);
  u->size += archive_entry_size(e);
  if (apply_owner_mode(u, fd, e, err) < 0)
    return -1;
  struct timespec t[2];
  entry_times(e, t);
  futimens(fd, t);
  return 0;
}

static int make_dir(struct unpack *u, struct archive_entry *e, int dirfd,
                    const char *base, const char *rel, skiff_error_t **err)
{
  if (mkdirat(dirfd, base, 0700) < 0 && errno != EEXIST)
    return skiff_error_errno(err, "layer: mkdir %s", rel);
  cleanup_close int fd =
      openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return skiff_error_errno(err, "layer: open %s", rel);
  if (apply_owner_mode(u, fd, e, err) < 0)
    return -1;
  /* Times go last: each entry written inside changes the mtime again. */
  struct deferred_dir *grown = realloc(u->dirs, (u->n_dirs + 1) * sizeof *grown);
  if (grown == NULL)
    return skiff_error_set(err, ENOMEM, "layer");
  u->dirs = grown;
  u->dirs[u->n_dirs].path = strdup(rel);
  entry_times(e, u->dirs[u->n_dirs].times);
  u->n_dirs++;
  return 0;
}

static int make_link(struct unpack *u, struct archive_entry *e, int dirfd,
                     const char *base, const char *rel, skiff_error_t **err)
{
  char target[PATH_MAX];
  if (clean_path(archive_entry_hardlink(e), target, sizeof target, err) < 0)
    return -1;
  if (target[0] == '\0')
    return skiff_error_invalid(err, "invalid layer tar: %s links to the root", rel);
  const char *slash = strrchr(target, '/');
  cleanup_free char *tparent = strndup(target, slash ? (size_t)(slash - target) : 0);
  cleanup_close int tfd =
      tparent ? open_dir_nofollow(u->rootfd, tparent, false, err) : -1;
  if (tfd < 0)
    return skiff_error_wrap(err, "invalid layer tar: hard link %s to %s", rel, target);
  if (linkat(tfd, slash ? slash + 1 : target, dirfd, base, 0) < 0)
    return skiff_error_errno(err, "invalid layer tar: hard link %s to %s", rel, target);
  return 0;
}

static int make_special(struct unpack *u, struct archive_entry *e, int dirfd,
                        const char *base, const char *rel, skiff_error_t **err)
{
  mode_t type = archive_entry_filetype(e);
  struct timespec t[2];
  entry_times(e, t);
  if (type == AE_IFLNK) {
    if (symlinkat(archive_entry_symlink(e), dirfd, base) < 0)
      return skiff_error_errno(err, "layer: symlink %s", rel);
    u->size += (long long)strlen(archive_entry_symlink(e)); /* as docker's du */
  } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
    if (mknodat(dirfd, base, type | (archive_entry_perm(e) & 07777),
                archive_entry_rdev(e)) < 0)
      return skiff_error_errno(err, "layer: mknod %s", rel);
  } else {
    return 0; /* sockets and unknown kinds: skipped, as docker does */
  }
  if (fchownat(dirfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
               AT_SYMLINK_NOFOLLOW) < 0 &&
      (u->root_user || errno != EPERM))
    return skiff_error_errno(err, "layer: chown %s", rel);
  if (type != AE_IFLNK && fchmodat(dirfd, base, archive_entry_perm(e) & 07777, 0) < 0)
    return skiff_error_errno(err, "layer: chmod %s", rel);
  utimensat(dirfd, base, t, AT_SYMLINK_NOFOLLOW);
  return 0;
}

static int make_whiteout(struct unpack *u, int dirfd, const char *base, const char *rel,
                         skiff_error_t **err)
{
  if (strcmp(base, OPAQUE) == 0) {
    if (fsetxattr(dirfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
      return skiff_error_errno(err, "layer: mark %s opaque", rel);
    return 0;
  }
  if (strncmp(base, META_PREFIX, strlen(META_PREFIX)) == 0)
    return 0; /* aufs bookkeeping (.wh..wh.plnk, ...): ignored as by docker */
  const char *name = base + strlen(WHITEOUT);
  if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return skiff_error_invalid(err, "invalid layer tar: bad whiteout %s", rel);
  if (clear_slot(dirfd, name, false, err) < 0)
    return -1;
  if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
    return skiff_error_errno(err, "layer: whiteout %s", rel);
  return 0;
}

static int apply_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
                       skiff_error_t **err)
{
  char rel[PATH_MAX];
  if (clean_path(archive_entry_pathname(e), rel, sizeof rel, err) < 0)
    return -1;
  if (rel[0] == '\0')
    return 0; /* the root: its metadata comes from the image, not the tar */
  const char *base;
  int dirfd = parent_of(u, rel, &base, true, err);
  if (dirfd < 0)
    return -1;
  if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0)
    return make_whiteout(u, dirfd, base, rel, err);
  mode_t type = archive_entry_filetype(e);
  bool hardlink = archive_entry_hardlink(e) != NULL;
  if (type == AE_IFREG && !hardlink) /* clears the slot itself, when taken */
    return make_file(u, a, e, dirfd, base, rel, err);
  if (clear_slot(dirfd, base, type == AE_IFDIR && !hardlink, err) < 0)
    return -1;
  if (hardlink)
    return make_link(u, e, dirfd, base, rel, err);
  if (type == AE_IFDIR)
    return make_dir(u, e, dirfd, base, rel, err);
  return make_special(u, e, dirfd, base, rel, err);
}

static void finish_dirs(struct unpack *u)
{
  for (size_t i = u->n_dirs; i-- > 0;) {
    const char *base;
    skiff_error_t *ignored = NULL;
    int dirfd = parent_of(u, u->dirs[i].path, &base, false, &ignored);
    if (dirfd >= 0)
      utimensat(dirfd, base, u->dirs[i].times, AT_SYMLINK_NOFOLLOW);
    skiff_error_free(&ignored);
    free(u->dirs[i].path);
  }
  free(u->dirs);
  u->dirs = NULL;
  u->n_dirs = 0;
}

/* ---- the two readers ---- */

static int unpack_entries(struct unpack *u, struct archive *tar, skiff_error_t **err)
{
  struct archive_entry *e;
  int r;
  while ((r = archive_read_next_header(tar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (apply_entry(u, tar, e, err) < 0)
      return -1;
  }
  if (r != ARCHIVE_EOF)
    return skiff_error_invalid(err, "invalid layer tar: %s", archive_error_string(tar));
  return 0;
}

static struct archive *open_outer(int fd, skiff_error_t **err)
{
  struct archive *raw = archive_read_new();
  if (raw == NULL) {
    skiff_error_set(err, ENOMEM, "layer");
    return NULL;
  }
  archive_read_support_filter_all(raw);
  archive_read_support_format_raw(raw);
  struct archive_entry *e;
  if (archive_read_open_fd(raw, fd, TEE_BUF) != ARCHIVE_OK ||
      archive_read_next_header(raw, &e) != ARCHIVE_OK) {
    skiff_error_invalid(err, "invalid layer tar: %s",
                        archive_error_string(raw) ? archive_error_string(raw)
                                                  : "empty input");
    archive_read_free(raw);
    return NULL;
  }
  return raw;
}

/* Everything after the tar's end-of-archive blocks still counts in the
 * diff_id: the hash is of the whole uncompressed stream. */
static int drain(struct tee *t, skiff_error_t **err)
{
  la_ssize_t n;
  while ((n = archive_read_data(t->raw, t->buf, TEE_BUF)) > 0) {
    sha256_update(&t->sha, (size_t)n, (const uint8_t *)t->buf);
    t->total += n;
    if (t->out_fd >= 0 && fs_write_all(t->out_fd, t->buf, (size_t)n) < 0)
      return skiff_error_errno(err, "write layer blob");
  }
  if (n < 0)
    return skiff_error_invalid(err, "invalid layer tar: %s",
                               archive_error_string(t->raw));
  return 0;
}

static int run_readers(struct unpack *u, struct tee *t, skiff_error_t **err)
{
  struct archive *tar = archive_read_new();
  if (tar == NULL)
    return skiff_error_set(err, ENOMEM, "layer");
  archive_read_support_format_tar(tar);
  int ret = 0;
  if (archive_read_open(tar, t, NULL, tee_read, NULL) != ARCHIVE_OK)
    ret = skiff_error_invalid(err, "invalid layer tar: %s", archive_error_string(tar));
  else
    ret = unpack_entries(u, tar, err);
  if (ret < 0 && t->saved_errno)
    skiff_error_set(err, t->saved_errno, "write layer blob");
  archive_read_free(tar);
  if (ret == 0)
    ret = drain(t, err);
  return ret;
}

static int make_work_dirs(const char *tmp_root, bool keep_tar,
                          struct layer_unpacked *out, skiff_error_t **err)
{
  cleanup_free char *tmpl = NULL;
  if (asprintf(&tmpl, "%s/layer-XXXXXX", tmp_root) < 0)
    return skiff_error_set(err, ENOMEM, "layer");
  if (mkdtemp(tmpl) == NULL)
    return skiff_error_errno(err, "mkdtemp %s", tmpl);
  out->dir = steal_pointer(&tmpl);
  cleanup_free char *diff = NULL;
  if (asprintf(&diff, "%s/diff", out->dir) < 0 ||
      (keep_tar && asprintf(&out->tar_path, "%s.tar", out->dir) < 0))
    return skiff_error_set(err, ENOMEM, "layer");
  if (mkdir(diff, 0755) < 0)
    return skiff_error_errno(err, "mkdir %s", diff);
  return 0;
}

static int unpack_into(struct layer_unpacked *out, int in_fd, int tar_fd,
                       skiff_error_t **err)
{
  cleanup_free char *diff = NULL;
  if (asprintf(&diff, "%s/diff", out->dir) < 0)
    return skiff_error_set(err, ENOMEM, "layer");
  struct unpack u = {.cached_fd = -1, .root_user = geteuid() == 0};
  u.rootfd = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct tee t = {.out_fd = tar_fd, .buf = malloc(TEE_BUF)};
  sha256_init(&t.sha);
  int ret = -1;
  if (u.rootfd < 0 || t.buf == NULL)
    skiff_error_errno(err, "layer: prepare %s", diff);
  else if ((t.raw = open_outer(in_fd, err)) != NULL)
    ret = run_readers(&u, &t, err);
  finish_dirs(&u);
  drop_cache(&u);
  if (ret == 0)
    sha256_finish_text(&t.sha, out->diff_id);
  if (ret == 0 && tar_fd >= 0 && fsync(tar_fd) < 0)
    ret = skiff_error_errno(err, "layer: finish %s", out->dir);
  out->tar_size = t.total;
  /* A streamed layer (no tar kept: a pull) is made durable by one syncfs
   * before its image is recorded, instead of one per layer. */
  if (ret == 0 && tar_fd >= 0 && syncfs(u.rootfd) < 0)
    ret = skiff_error_errno(err, "layer: sync %s", diff);
  out->size = u.size;
  if (t.raw)
    archive_read_free(t.raw);
  free(t.buf);
  if (u.rootfd >= 0)
    close(u.rootfd);
  return ret;
}

int layer_unpack(const char *tmp_root, int fd, struct layer_unpacked *out,
                 skiff_error_t **err)
{
  return layer_unpack_opts(tmp_root, fd, true, out, err);
}

int layer_unpack_opts(const char *tmp_root, int fd, bool keep_tar,
                      struct layer_unpacked *out, skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  if (make_work_dirs(tmp_root, keep_tar, out, err) < 0) {
    layer_unpacked_discard(out);
    return -1;
  }
  cleanup_close int tar_fd =
      keep_tar ? open(out->tar_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
               : -1;
  if (keep_tar && tar_fd < 0) {
    skiff_error_errno(err, "create %s", out->tar_path);
    layer_unpacked_discard(out);
    return -1;
  }
  if (unpack_into(out, fd, tar_fd, err) < 0) {
    layer_unpacked_discard(out);
    return -1;
  }
  return 0;
}

void layer_unpacked_discard(struct layer_unpacked *u)
{
  if (u->dir)
    fs_remove_tree(u->dir, NULL);
  if (u->tar_path)
    unlink(u->tar_path);
  if (u->blob_path)
    unlink(u->blob_path);
  free(u->dir);
  free(u->tar_path);
  free(u->blob_path);
  u->dir = u->tar_path = u->blob_path = NULL;
}

/* ---- the layer in the store ---- */

static int write_meta(const char *dir, const char *name, const char *value,
                      skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return skiff_error_set(err, ENOMEM, "layer");
  return fs_write_file_atomic(path, value, strlen(value), 0644, 0, err);
}

static int move_to_blobs(struct image_store *s, char **from, const char *digest,
                         skiff_error_t **err)
{
  cleanup_free char *blob = store_blob_path(s, digest);
  if (blob == NULL)
    return skiff_error_set(err, ENOMEM, "layer");
  if (access(blob, F_OK) == 0)
    return 0; /* layer_unpacked_discard removes the duplicate */
  if (rename(*from, blob) < 0)
    return skiff_error_errno(err, "rename %s to %s", *from, blob);
  free(*from);
  *from = NULL;
  cleanup_close int dfd = open(s->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    fsync(dfd);
  return 0;
}

static int move_blob(struct image_store *s, struct layer_unpacked *u,
                     skiff_error_t **err)
{
  /* A pulled layer keeps its compressed blob instead of the tar. */
  if (u->tar_path == NULL)
    return u->blob_path ? move_to_blobs(s, &u->blob_path, u->blob_digest, err) : 0;
  cleanup_free char *blob = store_blob_path(s, u->diff_id);
  if (blob == NULL)
    return skiff_error_set(err, ENOMEM, "layer");
  if (access(blob, F_OK) == 0)
    return unlink(u->tar_path), 0;
  if (rename(u->tar_path, blob) < 0)
    return skiff_error_errno(err, "rename %s to %s", u->tar_path, blob);
  cleanup_close int dfd = open(s->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    fsync(dfd);
  return 0;
}

/* A layer without its tar blob records where its bytes are: the compressed
 * blob ("compressed") and the tar's length ("tar_size"). */
static int write_layer_tar_meta(struct layer_unpacked *u, skiff_error_t **err)
{
  char size[32];
  snprintf(size, sizeof size, "%lld", u->tar_size);
  return write_meta(u->dir, "tar_size", size, err) < 0 ||
                 (u->blob_digest[0] &&
                  write_meta(u->dir, "compressed", u->blob_digest, err) < 0)
             ? -1
             : 0;
}

int layer_commit_locked(struct image_store *s, struct layer_unpacked *u,
                        const char *parent_chain, char chain_hex[DIGEST_HEX_LEN + 1],
                        skiff_error_t **err)
{
  char parent[DIGEST_STR_LEN], chain[DIGEST_STR_LEN], size[32];
  if (parent_chain)
    snprintf(parent, sizeof parent, "sha256:%s", parent_chain);
  digest_chain(parent_chain ? parent : NULL, u->diff_id, chain);
  snprintf(chain_hex, DIGEST_HEX_LEN + 1, "%s", digest_hex(chain));
  snprintf(size, sizeof size, "%lld", u->size);
  cleanup_free char *dest = NULL;
  if (asprintf(&dest, "%s/%s", s->layers, chain_hex) < 0)
    return skiff_error_set(err, ENOMEM, "layer");
  if (move_blob(s, u, err) < 0)
    return -1;
  if (access(dest, F_OK) < 0) {
    if (write_meta(u->dir, "diff_id", u->diff_id, err) < 0 ||
        write_meta(u->dir, "size", size, err) < 0 ||
        (u->tar_path == NULL && write_layer_tar_meta(u, err) < 0) ||
        write_meta(u->dir, "parent", parent_chain ? parent : "", err) < 0)
      return -1;
    if (rename(u->dir, dest) < 0 && errno != EEXIST && errno != ENOTEMPTY)
      return skiff_error_errno(err, "rename %s to %s", u->dir, dest);
    cleanup_close int dfd = open(s->layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
      fsync(dfd);
  }
  store_pin_locked(s, chain_hex);
  layer_unpacked_discard(u); /* whatever was not moved: a duplicate */
  return 0;
}

long long layer_size(struct image_store *s, const char *chain_hex)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/size", s->layers, chain_hex) < 0)
    return 0;
  cleanup_free char *text = fs_read_file(path, NULL, NULL);
  return text ? atoll(text) : 0;
}

char *layer_compressed_digest(struct image_store *s, const char *chain_hex)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/compressed", s->layers, chain_hex) < 0)
    return NULL;
  char *digest = fs_read_file(path, NULL, NULL);
  if (digest && !digest_valid(digest)) {
    free(digest);
    return NULL;
  }
  return digest;
}

/* Decompress the blob at in_fd into out_fd, checking the result's digest. */
static int inflate_blob(int in_fd, int out_fd, const char *diff_id, skiff_error_t **err)
{
  struct tee t = {.out_fd = out_fd, .buf = malloc(TEE_BUF)};
  sha256_init(&t.sha);
  int ret = -1;
  if (t.buf == NULL)
    skiff_error_set(err, ENOMEM, "layer %s", diff_id);
  else if ((t.raw = open_outer(in_fd, err)) != NULL)
    ret = drain(&t, err);
  char actual[DIGEST_STR_LEN];
  if (ret == 0)
    sha256_finish_text(&t.sha, actual);
  if (ret == 0 && strcmp(actual, diff_id) != 0)
    ret = skiff_error_set(err, EIO, "layer %s: its compressed blob holds %s", diff_id,
                          actual);
  if (t.raw)
    archive_read_free(t.raw);
  free(t.buf);
  return ret;
}

int layer_open_tar(struct image_store *s, const char *chain_hex, const char *diff_id,
                   skiff_error_t **err)
{
  cleanup_free char *tar = store_blob_path(s, diff_id);
  int fd = tar ? open(tar, O_RDONLY | O_CLOEXEC) : -1;
  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : skiff_error_errno(err, "open layer %s", diff_id);
  cleanup_free char *digest = layer_compressed_digest(s, chain_hex);
  cleanup_free char *blob = digest ? store_blob_path(s, digest) : NULL;
  cleanup_close int in = blob ? open(blob, O_RDONLY | O_CLOEXEC) : -1;
  if (in < 0)
    return skiff_error_set(err, ENOENT, "open layer %s: no tar and no compressed blob",
                           diff_id);
  /* An unlinked file: nothing to clean up whatever happens next. */
  int out = open(s->tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (out < 0)
    return skiff_error_errno(err, "open layer %s: temporary file in %s", diff_id,
                             s->tmp);
  if (inflate_blob(in, out, diff_id, err) < 0 || lseek(out, 0, SEEK_SET) < 0) {
    close(out);
    return skiff_error_wrap(err, "open layer %s", diff_id);
  }
  return out;
}
