/* The reading half of copy.h: path resolution in a container's root, the
 * stat docker puts in X-Docker-Container-Path-Stat, and tars of a path or
 * of a whole tree.
 *
 * The tar walk holds an O_PATH fd for every object it visits and opens
 * children with openat(O_NOFOLLOW) by a single name read from the
 * directory, so that a container process renaming or swapping files while
 * the tar is made can only change what is read inside the container, never
 * lead out of it. File contents are read through a reopen of that fd, and
 * exactly the size written in the header is sent (a file that shrinks is
 * padded, one that grows is cut), so the tar stays well-formed. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "copy.h"
#include "image/image.h"

#define COPY_BUF (256 * 1024)
#define MAX_LINKS 255

/* ---- resolution ---- */

struct parts {
  char **v;
  size_t n, cap;
};

static void parts_free(struct parts *p)
{
  for (size_t i = 0; i < p->n; i++)
    free(p->v[i]);
  free(p->v);
}

static int parts_push(struct parts *p, const char *s, size_t len)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    char **grown = realloc(p->v, cap * sizeof *grown);
    if (grown == NULL)
      return -1;
    p->v = grown;
    p->cap = cap;
  }
  return (p->v[p->n++] = strndup(s, len)) ? 0 : -1;
}

static char *parts_join(const struct parts *p)
{
  size_t len = 2;
  for (size_t i = 0; i < p->n; i++)
    len += strlen(p->v[i]) + 1;
  char *out = malloc(len);
  if (out == NULL)
    return NULL;
  char *w = out;
  *w++ = '/';
  for (size_t i = 0; i < p->n; i++)
    w += sprintf(w, "%s%s", i ? "/" : "", p->v[i]);
  *w = '\0';
  return out;
}

/* The next component of *rest (skipping "" and "."), advanced past it. */
static bool next_part(const char **rest, const char **part, size_t *len)
{
  for (;;) {
    while (**rest == '/')
      (*rest)++;
    if (**rest == '\0')
      return false;
    *part = *rest;
    *len = strcspn(*rest, "/");
    *rest += *len;
    if (!(*len == 1 && **part == '.'))
      return true;
  }
}

static bool only_slashes_and_dots(const char *rest)
{
  const char *p;
  size_t n;
  return !next_part(&rest, &p, &n);
}

/* One step of the walk: part looked up in the directory parts names. On a
 * symlink to follow, *target receives its text. */
static int lookup(int rootfd, const struct parts *dir, const char *part, size_t len,
                  bool follow, char **target)
{
  *target = NULL;
  cleanup_free char *dirpath = parts_join(dir);
  cleanup_free char *name = strndup(part, len);
  if (dirpath == NULL || name == NULL)
    return -1;
  cleanup_close int dirfd =
      fs_open_in_root(rootfd, dirpath, O_PATH | O_DIRECTORY, 0, NULL);
  struct stat st;
  if (dirfd < 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !S_ISLNK(st.st_mode) || !follow)
    return 0; /* missing components are kept as they are, as docker does */
  char buf[PATH_MAX];
  ssize_t n = readlinkat(dirfd, name, buf, sizeof buf - 1);
  if (n < 0)
    return 0;
  buf[n] = '\0';
  *target = strdup(buf);
  return *target ? 0 : -1;
}

/* docker's FollowSymlinkInScope on a path inside the root: the canonical
 * path ("/a/b") with every symlink followed (the last one only when
 * follow_last), ".." stopping at the root. ELOOP after 255 links. */
static char *resolve_path(int rootfd, const char *path, bool follow_last,
                          skiff_error_t **err)
{
  struct parts done = {0};
  cleanup_free char *pending = strdup(path);
  const char *rest = pending;
  int links = 0;
  const char *part;
  size_t len;
  while (pending && next_part(&rest, &part, &len)) {
    if (len == 2 && strncmp(part, "..", 2) == 0) {
      if (done.n > 0)
        free(done.v[--done.n]);
      continue;
    }
    bool last = only_slashes_and_dots(rest);
    char *target = NULL;
    if (lookup(rootfd, &done, part, len, !last || follow_last, &target) < 0)
      break;
    if (target == NULL) {
      if (parts_push(&done, part, len) < 0)
        break;
      continue;
    }
    if (++links > MAX_LINKS) {
      free(target);
      parts_free(&done);
      skiff_error_set(err, ELOOP, "resolve %s", path);
      return NULL;
    }
    if (target[0] == '/')
      while (done.n > 0)
        free(done.v[--done.n]);
    char *joined = NULL;
    if (asprintf(&joined, "%s/%s", target, rest) < 0)
      joined = NULL;
    free(target);
    free(pending);
    pending = joined;
    rest = pending;
  }
  char *out = pending ? parts_join(&done) : NULL;
  parts_free(&done);
  if (out == NULL)
    skiff_error_set(err, ENOMEM, "resolve %s", path);
  return out;
}

/* ---- docker's view of a path: absPath, its resolved dir and base ---- */

struct located {
  char *dir;  /* resolved directory, canonical */
  char *base; /* last component as given: "" or "." name the dir itself */
  char *name; /* filepath.Base(absPath): what docker calls the resource */
};

static void located_clear(struct located *l)
{
  free(l->dir);
  free(l->base);
  free(l->name);
}

/* filepath.Base of an absolute path: "/" for the root. */
static char *path_base(const char *path)
{
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    n--;
  const char *start = path + n;
  while (start > path && start[-1] != '/')
    start--;
  if (start == path + n)
    return strdup("/");
  return strndup(start, (size_t)(path + n - start));
}

/* filepath.Join("/", path) (lexically clean, so no ".." is left) with a
 * trailing "/" or "/." kept: docker's PreserveTrailingDotOrSeparator. */
static char *docker_abs_path(const char *path)
{
  struct parts p = {0};
  const char *rest = path, *part;
  size_t len;
  while (next_part(&rest, &part, &len)) {
    if (len == 2 && strncmp(part, "..", 2) == 0) {
      if (p.n > 0)
        free(p.v[--p.n]);
    } else if (parts_push(&p, part, len) < 0) {
      parts_free(&p);
      return NULL;
    }
  }
  cleanup_free char *clean = parts_join(&p);
  parts_free(&p);
  size_t n = strlen(path);
  const char *keep = n >= 2 && strcmp(path + n - 2, "/.") == 0 ? "/."
                     : n >= 1 && path[n - 1] == '/'            ? "/"
                                                               : "";
  char *out = NULL;
  if (clean == NULL ||
      asprintf(&out, "%s%s", strcmp(clean, "/") == 0 && *keep ? "" : clean, keep) < 0)
    return NULL;
  return out;
}

static int locate(int rootfd, const char *given, struct located *l, skiff_error_t **err)
{
  memset(l, 0, sizeof *l);
  cleanup_free char *abs = docker_abs_path(given);
  const char *path = abs;
  const char *slash = abs ? strrchr(abs, '/') : NULL;
  const char *base = slash ? slash + 1 : "";
  cleanup_free char *dir = slash ? strndup(path, (size_t)(base - path)) : NULL;
  if (dir == NULL)
    return skiff_error_set(err, ENOMEM, "stat %s", given);
  l->dir = resolve_path(rootfd, dir, true, err);
  l->base = strdup(base);
  l->name = strcmp(base, ".") == 0 ? strdup(".") : path_base(abs);
  if (l->dir == NULL || l->base == NULL || l->name == NULL) {
    located_clear(l);
    return -1;
  }
  return 0;
}

static bool names_dir_itself(const struct located *l)
{
  return l->base[0] == '\0' || strcmp(l->base, ".") == 0;
}

/* An O_PATH fd of what l names (a final symlink not followed). */
static int open_located(int rootfd, const struct located *l, const char *path,
                        skiff_error_t **err)
{
  cleanup_close int dirfd =
      fs_open_in_root(rootfd, l->dir, O_PATH | O_DIRECTORY, 0, err);
  if (dirfd < 0 || names_dir_itself(l))
    return dirfd < 0 ? -1 : steal_fd(&dirfd);
  int fd = openat(dirfd, l->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    skiff_error_errno(err, "open %s in the container", path);
  return fd;
}

/* ---- stat ---- */

/* Go's os.FileMode bits for a stat mode. */
static json_int_t go_file_mode(mode_t m)
{
  json_int_t mode = m & 0777;
  if (S_ISDIR(m))
    mode |= 1LL << 31;
  else if (S_ISLNK(m))
    mode |= 1LL << 27;
  else if (S_ISFIFO(m))
    mode |= 1LL << 25;
  else if (S_ISSOCK(m))
    mode |= 1LL << 24;
  else if (S_ISBLK(m))
    mode |= 1LL << 26;
  else if (S_ISCHR(m))
    mode |= (1LL << 26) | (1LL << 21);
  if (m & S_ISUID)
    mode |= 1LL << 23;
  if (m & S_ISGID)
    mode |= 1LL << 22;
  if (m & S_ISVTX)
    mode |= 1LL << 20;
  return mode;
}

json_t *copy_stat_path(int rootfd, const char *path, skiff_error_t **err)
{
  struct located l;
  if (locate(rootfd, path, &l, err) < 0)
    return NULL;
  cleanup_close int fd = open_located(rootfd, &l, path, err);
  struct stat st;
  json_t *out = NULL;
  if (fd >= 0 && fstat(fd, &st) < 0)
    skiff_error_errno(err, "stat %s in the container", path);
  else if (fd >= 0) {
    cleanup_free char *link = NULL;
    if (S_ISLNK(st.st_mode)) {
      cleanup_free char *full = NULL;
      if (asprintf(&full, "%s/%s", l.dir, l.base) >= 0)
        link = resolve_path(rootfd, full, true, NULL);
    }
    char mtime[48];
    jsonlog_format_time((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                        mtime, sizeof mtime);
    out = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", l.name, "size",
                    (json_int_t)st.st_size, "mode", go_file_mode(st.st_mode), "mtime",
                    mtime, "linkTarget", link ? link : "");
  }
  located_clear(&l);
  return out;
}

/* ---- tar writing ---- */

struct tarw {
  struct archive *a;
  const struct copy_sink *sink;
  bool layer;    /* an overlayfs upper dir: whiteouts in docker's form */
  json_t *links; /* "dev:ino" of files with several links -> first name */
  char *buf;
  bool sink_failed;
};

static la_ssize_t sink_write(struct archive *a, void *arg, const void *buf, size_t len)
{
  struct tarw *w = arg;
  if (w->sink->write(buf, len, w->sink->arg) < 0) {
    w->sink_failed = true;
    archive_set_error(a, EPIPE, "the client went away");
    return -1;
  }
  return (la_ssize_t)len;
}

static int tar_fail(struct tarw *w, skiff_error_t **err, const char *what)
{
  if (w->sink_failed)
    return skiff_error_set(err, EPIPE, "tar: the client went away");
  return skiff_error_set(err, archive_errno(w->a) ? archive_errno(w->a) : EIO,
                         "tar %s: %s", what, archive_error_string(w->a));
}

/* Reopen an O_PATH fd for reading. */
static int reopen(int pathfd, int flags)
{
  char buf[32];
  return open(fs_fd_path(pathfd, buf), flags | O_CLOEXEC | O_NOCTTY);
}

static int write_data(struct tarw *w, int pathfd, long long size, const char *name,
                      skiff_error_t **err)
{
  cleanup_close int fd = reopen(pathfd, O_RDONLY | O_NONBLOCK);
  long long left = size;
  while (left > 0) {
    ssize_t n =
        fd >= 0 ? read(fd, w->buf, left < COPY_BUF ? (size_t)left : COPY_BUF) : 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) { /* shrank or unreadable: pad, the header promised size */
      n = left < COPY_BUF ? (ssize_t)left : COPY_BUF;
      memset(w->buf, 0, (size_t)n);
    }
    if (archive_write_data(w->a, w->buf, (size_t)n) < 0)
      return tar_fail(w, err, name);
    left -= n;
  }
  return 0;
}

/* The entry's header: stat, no user names, whole-second mtime, the
 * security.capability xattr (what docker keeps). */
static struct archive_entry *make_header(struct tarw *w, int pathfd,
                                         const struct stat *st, const char *name,
                                         bool *has_data)
{
  struct archive_entry *e = archive_entry_new();
  if (e == NULL)
    return NULL;
  archive_entry_copy_stat(e, st);
  archive_entry_unset_atime(e);
  archive_entry_unset_ctime(e);
  archive_entry_unset_birthtime(e);
  archive_entry_set_mtime(e, st->st_mtim.tv_sec, 0);
  archive_entry_set_pathname(e, name);
  *has_data = false;
  if (S_ISLNK(st->st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlinkat(pathfd, "", target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    archive_entry_set_symlink(e, target);
    archive_entry_set_size(e, 0);
  } else if (S_ISREG(st->st_mode)) {
    char key[64];
    snprintf(key, sizeof key, "%lu:%lu", (unsigned long)st->st_dev,
             (unsigned long)st->st_ino);
    json_t *first = st->st_nlink > 1 ? json_object_get(w->links, key) : NULL;
    if (first) {
      archive_entry_set_hardlink(e, json_string_value(first));
      archive_entry_set_size(e, 0);
    } else {
      if (st->st_nlink > 1)
        json_object_set_new(w->links, key, json_string(name));
      *has_data = st->st_size > 0;
      char cap[1024];
      cleanup_close int fd = reopen(pathfd, O_RDONLY | O_NONBLOCK);
      ssize_t n = fd >= 0 ? fgetxattr(fd, "security.capability", cap, sizeof cap) : -1;
      if (n > 0)
        archive_entry_xattr_add_entry(e, "security.capability", cap, (size_t)n);
    }
  } else if (!S_ISDIR(st->st_mode)) {
    archive_entry_set_size(e, 0);
  }
  return e;
}

static int emit(struct tarw *w, int pathfd, const char *name, skiff_error_t **err);

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted as Go's filepath.Walk visits them. */
static char **list_dir(int pathfd, size_t *n)
{
  *n = 0;
  int fd = reopen(pathfd, O_RDONLY | O_DIRECTORY);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  char **names = NULL;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char **grown = realloc(names, (*n + 2) * sizeof *names);
    if (grown == NULL)
      break;
    names = grown;
    names[(*n)++] = strdup(e->d_name);
    names[*n] = NULL;
  }
  closedir(d);
  if (names)
    qsort(names, *n, sizeof *names, cmp_names);
  return names;
}

/* /proc and /sys of a running container: their entry, not their contents. */
static bool pseudo_fs(int pathfd)
{
  struct statfs sf;
  return fstatfs(pathfd, &sf) == 0 &&
         (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC);
}

static char *child_name(const char *name, const char *child)
{
  char *out = NULL;
  size_t n = strlen(name);
  while (n > 0 && name[n - 1] == '/')
    n--;
  if (asprintf(&out, "%.*s/%s", (int)n, name, child) < 0)
    return NULL;
  return out;
}

static int emit_children(struct tarw *w, int pathfd, const char *name,
                         skiff_error_t **err)
{
  if (pseudo_fs(pathfd))
    return 0;
  size_t n = 0;
  cleanup_strv char **names = list_dir(pathfd, &n);
  for (size_t i = 0; i < n; i++) {
    cleanup_close int fd = openat(pathfd, names[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      continue; /* gone since the listing */
    cleanup_free char *child = name ? child_name(name, names[i]) : strdup(names[i]);
    if (child == NULL)
      return skiff_error_set(err, ENOMEM, "tar");
    if (emit(w, fd, child, err) < 0)
      return -1;
  }
  return 0;
}

/* An empty regular file entry: the whiteouts of a layer tar. */
static int emit_marker(struct tarw *w, const char *name, const struct stat *like,
                       skiff_error_t **err)
{
  struct archive_entry *e = archive_entry_new();
  if (e == NULL)
    return skiff_error_set(err, ENOMEM, "tar");
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, like ? like->st_mode & 0777 : 0600);
  archive_entry_set_uid(e, like ? like->st_uid : 0);
  archive_entry_set_gid(e, like ? like->st_gid : 0);
  archive_entry_set_mtime(e, like ? like->st_mtim.tv_sec : 0, 0);
  archive_entry_set_size(e, 0);
  int r = archive_write_header(w->a, e);
  archive_entry_free(e);
  return r < ARCHIVE_WARN ? tar_fail(w, err, name) : 0;
}

/* An overlayfs whiteout (0/0 character device) as docker's ".wh.NAME". */
static int emit_whiteout(struct tarw *w, const char *name, skiff_error_t **err)
{
  const char *slash = strrchr(name, '/');
  cleanup_free char *wh = NULL;
  if (asprintf(&wh, "%.*s.wh.%s", slash ? (int)(slash - name + 1) : 0, name,
               slash ? slash + 1 : name) < 0)
    return skiff_error_set(err, ENOMEM, "tar");
  return emit_marker(w, wh, NULL, err);
}

static bool is_opaque(int pathfd)
{
  char buf[32], v[2];
  return getxattr(fs_fd_path(pathfd, buf), "trusted.overlay.opaque", v, sizeof v) ==
             1 &&
         v[0] == 'y';
}

/* One object and, for a directory, everything under it. */
static int emit(struct tarw *w, int pathfd, const char *name, skiff_error_t **err)
{
  struct stat st;
  if (fstat(pathfd, &st) < 0)
    return skiff_error_errno(err, "stat %s", name);
  if (S_ISSOCK(st.st_mode))
    return 0; /* tar has no sockets: skipped, as docker does */
  if (w->layer) {
    cleanup_free char *abs = NULL;
    if (asprintf(&abs, "/%s", name) < 0)
      return skiff_error_set(err, ENOMEM, "tar");
    if (image_snapshot_is_init_path(abs))
      return 0;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0)
      return emit_whiteout(w, name, err);
  }
  cleanup_free char *dirname = NULL;
  if (S_ISDIR(st.st_mode) && name[strlen(name) - 1] != '/' &&
      asprintf(&dirname, "%s/", name) < 0)
    return skiff_error_set(err, ENOMEM, "tar");
  bool has_data;
  struct archive_entry *e =
      make_header(w, pathfd, &st, dirname ? dirname : name, &has_data);
  if (e == NULL)
    return skiff_error_set(err, ENOMEM, "tar");
  int r = archive_write_header(w->a, e);
  archive_entry_free(e);
  if (r < ARCHIVE_WARN)
    return tar_fail(w, err, name);
  if (has_data && write_data(w, pathfd, st.st_size, name, err) < 0)
    return -1;
  if (!S_ISDIR(st.st_mode))
    return 0;
  if (w->layer && is_opaque(pathfd)) {
    cleanup_free char *marker = child_name(name, ".wh..wh..opq");
    if (marker == NULL || emit_marker(w, marker, &st, err) < 0)
      return marker ? -1 : skiff_error_set(err, ENOMEM, "tar");
  }
  return emit_children(w, pathfd, name, err);
}

/* Open the writer on the sink, run body, close. */
static int with_tar(const struct copy_sink *sink, int pathfd, const char *name,
                    bool layer, skiff_error_t **err)
{
  struct tarw w = {
      .sink = sink, .links = json_object(), .buf = malloc(COPY_BUF), .layer = layer};
  w.a = archive_write_new();
  int ret = -1;
  if (w.a == NULL || w.buf == NULL || w.links == NULL) {
    skiff_error_set(err, ENOMEM, "tar");
  } else if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
             archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
             archive_write_open(w.a, &w, NULL, sink_write, NULL) != ARCHIVE_OK) {
    tar_fail(&w, err, "open");
  } else {
    ret = name ? emit(&w, pathfd, name, err) : emit_children(&w, pathfd, NULL, err);
    if (archive_write_close(w.a) != ARCHIVE_OK && ret == 0)
      ret = tar_fail(&w, err, "close");
  }
  if (w.a)
    archive_write_free(w.a);
  json_decref(w.links);
  free(w.buf);
  return ret;
}

int copy_tar_path(int rootfd, const char *path, const struct copy_sink *sink,
                  skiff_error_t **err)
{
  struct located l;
  if (locate(rootfd, path, &l, err) < 0)
    return -1;
  cleanup_close int fd = open_located(rootfd, &l, path, err);
  int ret = fd < 0 ? -1 : with_tar(sink, fd, l.name, false, err);
  located_clear(&l);
  return ret;
}

int copy_tar_tree(int dirfd, const struct copy_sink *sink, skiff_error_t **err)
{
  return with_tar(sink, dirfd, NULL, false, err);
}

int copy_tar_layer(int upperfd, const struct copy_sink *sink, skiff_error_t **err)
{
  return with_tar(sink, upperfd, NULL, true, err);
}

/* ---- the extraction point ---- */

static int check_writable(int rootfd, int dirfd, bool readonly_rootfs,
                          skiff_error_t **err)
{
  struct stat root, dir;
  struct statvfs sf;
  if (fstat(rootfd, &root) < 0 || fstat(dirfd, &dir) < 0 || fstatvfs(dirfd, &sf) < 0)
    return skiff_error_errno(err, "stat the extraction point");
  bool on_rootfs = root.st_dev == dir.st_dev;
  if (on_rootfs && readonly_rootfs)
    return skiff_error_status(err, EROFS, "container rootfs is marked read-only");
  if (sf.f_flag & ST_RDONLY)
    return skiff_error_status(err, EROFS,
                              on_rootfs ? "container rootfs is marked read-only"
                                        : "mounted volume is marked read-only");
  return 0;
}

char *copy_extract_target(int rootfd, const char *path, bool readonly_rootfs,
                          skiff_error_t **err)
{
  cleanup_free char *dest = resolve_path(rootfd, path, true, err);
  if (dest == NULL)
    return NULL;
  cleanup_close int fd = fs_open_in_root(rootfd, dest, O_PATH, 0, err);
  struct stat st;
  if (fd < 0)
    return NULL;
  if (fstat(fd, &st) < 0) {
    skiff_error_errno(err, "stat %s", path);
    return NULL;
  }
  if (!S_ISDIR(st.st_mode)) {
    skiff_error_invalid(err, "extraction point is not a directory");
    return NULL;
  }
  if (check_writable(rootfd, fd, readonly_rootfs, err) < 0)
    return NULL;
  return steal_pointer(&dest);
}
