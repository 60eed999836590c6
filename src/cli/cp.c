/* skiff cp: docker cp's path rules (docker/cli cp.go and go-archive's
 * copy.go) over HEAD/GET/PUT /containers/{id}/archive. The decisions --
 * which directory receives the archive and which name its top entry takes
 * -- are made here from the stat of both ends; the daemon only tars a path
 * and extracts into a directory. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "cp.h"

#define GO_MODE_DIR (1LL << 31)
#define GO_MODE_SYMLINK (1LL << 27)
#define GO_MODE_DEVICE (1LL << 26)
#define GO_MODE_IRREGULAR (1LL << 19)

struct cp_opts {
  bool follow, archive, quiet;
  const char *container;
};

/* What a side of the copy is (go-archive's CopyInfo). */
struct copy_info {
  char *path;
  bool exists, is_dir;
  char *rebase_name;
};

static void copy_info_clear(struct copy_info *i)
{
  free(i->path);
  free(i->rebase_name);
}

/* strerror as Go's syscall errors read ("no such file or directory"). */
static const char *go_strerror(int e)
{
  static __thread char buf[128];
  snprintf(buf, sizeof buf, "%s", strerror(e));
  buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}

/* ---- Go's path functions ---- */

static bool trailing_sep(const char *p)
{
  size_t n = strlen(p);
  return n > 0 && p[n - 1] == '/';
}

static bool current_dir(const char *p)
{
  size_t n = strlen(p);
  return strcmp(p, ".") == 0 || (n >= 2 && strcmp(p + n - 2, "/.") == 0);
}

/* filepath.Clean. */
static char *go_clean(const char *p)
{
  bool abs = p[0] == '/';
  char *out = malloc(strlen(p) + 2);
  if (out == NULL)
    return NULL;
  size_t used = 0, floor = 0; /* floor: leading ".." of a relative path stay */
  for (const char *s = p; *s;) {
    size_t k = strcspn(s, "/");
    if (k == 2 && strncmp(s, "..", 2) == 0) {
      if (used > floor) {
        while (used > floor && out[--used] != '/')
          ;
      } else if (!abs) {
        used += (size_t)sprintf(out + used, "%s..", used ? "/" : "");
        floor = used;
      }
    } else if (k > 0 && !(k == 1 && *s == '.')) {
      if (used > 0 || abs)
        out[used++] = '/';
      memcpy(out + used, s, k);
      used += k;
    }
    s += k;
    while (*s == '/')
      s++;
  }
  if (used == 0)
    out[used++] = abs ? '/' : '.';
  out[used] = '\0';
  return out;
}

/* filepath.Base. */
static char *go_base(const char *p)
{
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/')
    n--;
  if (n == 0)
    return strdup(".");
  if (n == 1 && p[0] == '/')
    return strdup("/");
  const char *start = p + n;
  while (start > p && start[-1] != '/')
    start--;
  return strndup(start, (size_t)(p + n - start));
}

/* SplitPathDirEntry: the clean path's directory and last entry ("." for a
 * path naming a directory's contents). */
static void split_dir_entry(const char *path, char **dir, char **base)
{
  cleanup_free char *clean = go_clean(path);
  cleanup_free char *full = NULL;
  if (clean && current_dir(path) && strcmp(clean, ".") != 0 &&
      asprintf(&full, "%s%s.", clean, strcmp(clean, "/") == 0 ? "" : "/") < 0)
    full = NULL;
  const char *p = full ? full : clean ? clean : ".";
  const char *slash = strrchr(p, '/');
  *base = go_base(p);
  *dir = slash == NULL ? strdup(".")
         : slash == p  ? strdup("/")
                       : strndup(p, (size_t)(slash - p));
}

static char *join2(const char *a, const char *b)
{
  cleanup_free char *joined = NULL;
  if (asprintf(&joined, "%s/%s", a, b) < 0)
    return NULL;
  return go_clean(joined);
}

/* An absolute local path keeping a trailing "/" or "/." (resolveLocalPath). */
static char *abs_local(const char *path)
{
  char cwd[PATH_MAX];
  cleanup_free char *abs = path[0] == '/'            ? go_clean(path)
                           : getcwd(cwd, sizeof cwd) ? join2(cwd, path)
                                                     : NULL;
  char *out = NULL;
  const char *keep = current_dir(path) && strcmp(path, ".") != 0 ? "/."
                     : trailing_sep(path)                        ? "/"
                                                                 : "";
  if (abs &&
      asprintf(&out, "%s%s", strcmp(abs, "/") == 0 && *keep ? "" : abs, keep) < 0)
    out = NULL;
  return out;
}

/* GetRebaseName: the resolved path with the original's trailing form, and
 * the name the archive must show when the last component changed. */
static void rebase_name(const char *path, const char *resolved, char **out_path,
                        char **name)
{
  *out_path = NULL;
  *name = NULL;
  const char *add = current_dir(path) && !current_dir(resolved)     ? "/."
                    : trailing_sep(path) && !trailing_sep(resolved) ? "/"
                                                                    : "";
  if (asprintf(out_path, "%s%s", resolved, add) < 0)
    return;
  cleanup_free char *a = go_base(path), *b = go_base(*out_path);
  if (a && b && strcmp(a, b) != 0)
    *name = strdup(a);
}

/* ---- the daemon side ---- */

static char *archive_url(const char *container, const char *path, bool put, bool uidgid)
{
  cleanup_free char *q = NULL;
  client_query_add(&q, "path", path);
  if (put)
    client_query_add(&q, "noOverwriteDirNonDir", "true");
  if (uidgid)
    client_query_add(&q, "copyUIDGID", "true");
  cleanup_free char *base = cli_path("/containers/%s/archive", container);
  char *url = NULL;
  if (base == NULL || q == NULL || asprintf(&url, "%s%s", base, q) < 0)
    return NULL;
  return url;
}

static json_t *decode_stat(const char *b64)
{
  size_t n = b64 ? strlen(b64) : 0;
  cleanup_free unsigned char *buf = malloc(n + 3);
  ssize_t len = buf ? base64_decode(b64, n, buf) : -1;
  if (len < 0)
    return NULL;
  return json_loadb((const char *)buf, (size_t)len, 0, NULL);
}

static json_t *stat_call(struct cli *cli, const char *container, const char *path,
                         skiff_error_t **err)
{
  cleanup_free char *url = archive_url(container, path, false, false);
  struct client_call call = {.method = "HEAD",
                             .path = url,
                             .body_fd = -1,
                             .want_header = "X-Docker-Container-Path-Stat"};
  struct client_reply reply;
  if (url == NULL || client_do(cli->client, &call, &reply, err) < 0)
    return url ? NULL : (skiff_error_set(err, ENOMEM, "cp"), NULL);
  json_t *stat = NULL;
  if (reply.status >= 400)
    client_error_from_reply(&reply, err);
  else if ((stat = decode_stat(reply.header)) == NULL)
    skiff_error_invalid(err, "unable to decode container path stat header");
  client_reply_clear(&reply);
  return stat;
}

/* HEAD the path: its ContainerPathStat, or NULL with *err (err may be
 * NULL: docker ignores most of these errors). */
static json_t *stat_path(struct cli *cli, const char *container, const char *path,
                         skiff_error_t **err)
{
  skiff_error_t *ignored = NULL;
  if (err == NULL)
    err = &ignored;
  json_t *stat = stat_call(cli, container, path, err);
  skiff_error_free(&ignored);
  return stat;
}

static long long stat_mode(json_t *stat)
{
  return json_integer_value(json_object_get(stat, "mode"));
}

/* A transfer in a thread: GET into a pipe, or PUT from one. */
struct transfer {
  struct cli *cli;
  struct client_call call;
  struct client_reply reply;
  skiff_error_t *err;
  int fd;
  long long bytes;
  int ret;
};

static int to_fd(const char *buf, size_t len, void *arg)
{
  struct transfer *t = arg;
  if (fs_write_all(t->fd, buf, len) < 0)
    return -1;
  t->bytes += (long long)len;
  return 0;
}

static void *transfer_main(void *arg)
{
  struct transfer *t = arg;
  t->ret = client_do(t->cli->client, &t->call, &t->reply, &t->err);
  if (strcmp(t->call.method, "GET") == 0)
    close(t->fd);
  return NULL;
}

/* The answer of a finished transfer as a return value (*err on failure). */
static int transfer_result(struct transfer *t, skiff_error_t **err)
{
  int ret = t->ret;
  if (ret < 0)
    *err = steal_pointer(&t->err);
  else if (t->reply.status >= 400)
    ret = client_error_from_reply(&t->reply, err);
  client_reply_clear(&t->reply);
  skiff_error_free(&t->err);
  return ret;
}

/* ---- from the container ---- */

static int validate_output_path(const char *path, skiff_error_t **err)
{
  cleanup_free char *clean = go_clean(path), *dir = NULL, *base = NULL;
  split_dir_entry(clean, &dir, &base);
  struct stat st;
  if (strcmp(dir, ".") != 0 && stat(dir, &st) < 0 && errno == ENOENT)
    return skiff_error_invalid(
        err, "invalid output path: directory \"%s\" does not exist", dir);
  if (stat(path, &st) < 0)
    return errno == ENOENT
               ? 0
               : skiff_error_invalid(err, "stat %s: %s", path, go_strerror(errno));
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
    return skiff_error_invalid(err,
                               "invalid output path: \"%s\" must be a directory or a "
                               "regular file: got a device",
                               path);
  return 0;
}

/* CopyInfoDestinationPath: a final symlink is followed (the copy writes
 * its target); a missing path is fine when its parent is a directory. */
static int destination_info(const char *path, struct copy_info *out,
                            skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  out->path = strdup(path);
  struct stat st;
  int r = lstat(out->path, &st);
  for (int n = 0; r == 0 && S_ISLNK(st.st_mode); n++) {
    char target[PATH_MAX];
    ssize_t len = readlink(out->path, target, sizeof target - 1);
    if (n > 10 || len < 0)
      return skiff_error_invalid(err, "too many symlinks in %s", path);
    target[len] = '\0';
    cleanup_free char *dir = NULL, *base = NULL;
    split_dir_entry(out->path, &dir, &base);
    char *next = target[0] == '/' ? strdup(target) : join2(dir, target);
    free(out->path);
    out->path = next;
    r = lstat(out->path, &st);
  }
  if (r == 0) {
    out->exists = true;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
  }
  if (errno != ENOENT)
    return skiff_error_invalid(err, "lstat %s: %s", out->path, go_strerror(errno));
  cleanup_free char *dir = NULL, *base = NULL;
  split_dir_entry(out->path, &dir, &base);
  if (stat(dir, &st) < 0)
    return skiff_error_invalid(err, "stat %s: %s", dir, go_strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return skiff_error_invalid(err, "not a directory");
  return 0;
}

/* PrepareArchiveCopy: the directory to extract into, and the rename of
 * the archive's top entry that gives the copy its destination name. */
static char *prepare_copy(const struct copy_info *src, const struct copy_info *dst,
                          struct cp_rebase *r, char **keep, skiff_error_t **err)
{
  char *dst_dir = NULL, *dst_base = NULL, *src_dir = NULL, *src_base = NULL;
  split_dir_entry(dst->path, &dst_dir, &dst_base);
  split_dir_entry(src->path, &src_dir, &src_base);
  free(src_dir);
  keep[0] = src_base, keep[1] = dst_base, keep[2] = dst_dir;
  r->old[0] = src->rebase_name ? src_base : NULL;
  r->new[0] = src->rebase_name;
  if (dst->exists && dst->is_dir)
    return strdup(dst->path);
  if (dst->exists && src->is_dir)
    return skiff_error_invalid(err, "cannot copy directory"), NULL;
  if (!dst->exists && !src->is_dir &&
      (trailing_sep(dst->path) || current_dir(dst->path)))
    return skiff_error_invalid(err, "no such directory"), NULL;
  r->old[1] = src->rebase_name ? src->rebase_name : src_base;
  r->new[1] = dst_base;
  return strdup(dst_dir);
}

static void print_copied(const struct cp_opts *o, long long bytes, const char *where)
{
  if (o->quiet)
    return;
  double size = (double)bytes;
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  size_t u = 0;
  while (size >= 1000 && u < 5)
    size /= 1000, u++;
  fprintf(stderr, "Successfully copied %.3g%s to %s\n", size, units[u], where);
}

/* GET the archive of src into a pipe that cp_untar_local (or stdout) reads. */
static int receive(struct cli *cli, const struct cp_opts *o, const char *src,
                   int out_fd, const char *dest, const struct cp_rebase *r,
                   long long *bytes, skiff_error_t **err)
{
  cleanup_free char *url = archive_url(o->container, src, false, false);
  int fds[2] = {-1, -1};
  if (url == NULL || (dest && pipe2(fds, O_CLOEXEC) < 0))
    return skiff_error_errno(err, "cp");
  struct transfer t = {.cli = cli, .fd = dest ? fds[1] : dup(out_fd)};
  t.call = (struct client_call){
      .method = "GET", .path = url, .body_fd = -1, .on_data = to_fd, .arg = &t};
  pthread_t thread;
  if (pthread_create(&thread, NULL, transfer_main, &t) != 0)
    return skiff_error_set(err, EAGAIN, "cp: cannot start a thread");
  skiff_error_t *untar_err = NULL;
  int untarred = dest ? cp_untar_local(fds[0], dest, r, &untar_err) : 0;
  if (dest)
    close(fds[0]); /* a sender still going stops on EPIPE */
  pthread_join(thread, NULL);
  *bytes = t.bytes;
  int ret = transfer_result(&t, err);
  if (ret == 0 && untarred < 0) {
    *err = steal_pointer(&untar_err);
    ret = -1;
  }
  skiff_error_free(&untar_err);
  return ret;
}

static int copy_from(struct cli *cli, const struct cp_opts *o, const char *src_arg,
                     const char *dst_arg, skiff_error_t **err)
{
  bool to_stdout = strcmp(dst_arg, "-") == 0;
  cleanup_free char *dst = to_stdout ? strdup("-") : abs_local(dst_arg);
  if (!to_stdout && validate_output_path(dst, err) < 0)
    return -1;
  struct copy_info src = {.path = strdup(src_arg), .exists = true};
  if (o->follow) {
    cleanup_json json_t *st = stat_path(cli, o->container, src_arg, NULL);
    const char *link = json_string_value(json_object_get(st, "linkTarget"));
    if (st && (stat_mode(st) & GO_MODE_SYMLINK) && link) {
      free(src.path);
      rebase_name(src_arg, link, &src.path, &src.rebase_name);
    }
  }
  long long bytes = 0;
  cleanup_json json_t *st =
      to_stdout ? NULL : stat_path(cli, o->container, src.path, NULL);
  int ret;
  if (to_stdout || st == NULL) { /* for stdout, or for the daemon's error */
    ret = receive(cli, o, src.path, STDOUT_FILENO, NULL, NULL, &bytes, err);
    if (ret == 0 && !to_stdout)
      ret = skiff_error_invalid(err, "unable to stat %s:%s", o->container, src.path);
  } else {
    src.is_dir = (stat_mode(st) & GO_MODE_DIR) != 0;
    struct copy_info dinfo;
    struct cp_rebase r = {{NULL, NULL}, {NULL, NULL}};
    char *keep[3] = {NULL, NULL, NULL};
    cleanup_free char *dir = NULL;
    ret = destination_info(dst, &dinfo, err);
    if (ret == 0 && (dir = prepare_copy(&src, &dinfo, &r, keep, err)) == NULL)
      ret = -1;
    if (ret == 0)
      ret = receive(cli, o, src.path, -1, dir, &r, &bytes, err);
    if (ret == 0)
      print_copied(o, bytes, dst);
    for (int i = 0; i < 3; i++)
      free(keep[i]);
    copy_info_clear(&dinfo);
  }
  copy_info_clear(&src);
  return ret;
}

/* ---- to the container ---- */

/* CopyInfoSourcePath: the local source, symlinks in its directory
 * resolved (and the last one too with -L). */
static int source_info(const char *path, bool follow, struct copy_info *out,
                       skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  char resolved[PATH_MAX];
  if (follow) {
    if (realpath(path, resolved) == NULL)
      return skiff_error_invalid(err, "lstat %s: %s", path, go_strerror(errno));
    rebase_name(path, resolved, &out->path, &out->rebase_name);
  } else {
    const char *slash = strrchr(path, '/');
    cleanup_free char *dir =
        slash ? strndup(path, (size_t)(slash - path + 1)) : strdup(".");
    if (realpath(dir, resolved) == NULL)
      return skiff_error_invalid(err, "lstat %s: %s", dir, go_strerror(errno));
    if (asprintf(&out->path, "%s/%s", strcmp(resolved, "/") == 0 ? "" : resolved,
                 slash ? slash + 1 : path) < 0)
      return skiff_error_set(err, ENOMEM, "cp");
    cleanup_free char *a = go_base(path), *b = go_base(out->path);
    if (trailing_sep(path) && strcmp(a, b) != 0)
      out->rebase_name = strdup(a);
  }
  struct stat st;
  if (lstat(out->path, &st) < 0)
    return skiff_error_invalid(err, "lstat %s: %s", out->path, go_strerror(errno));
  out->exists = true;
  out->is_dir = S_ISDIR(st.st_mode);
  return 0;
}

/* The container side of the destination: a final symlink is followed. */
static int container_destination(struct cli *cli, const struct cp_opts *o,
                                 const char *path, struct copy_info *out,
                                 skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  out->path = strdup(path);
  cleanup_json json_t *st = stat_path(cli, o->container, path, NULL);
  const char *link = json_string_value(json_object_get(st, "linkTarget"));
  if (st && (stat_mode(st) & GO_MODE_SYMLINK) && link) {
    cleanup_free char *dir = NULL, *base = NULL;
    split_dir_entry(path, &dir, &base);
    free(out->path);
    out->path = link[0] == '/' ? strdup(link) : join2(dir, link);
    json_decref(st);
    st = stat_path(cli, o->container, out->path, NULL);
  }
  if (st == NULL)
    return 0; /* missing: its parent may take it */
  long long mode = stat_mode(st);
  if (mode & (GO_MODE_DEVICE | GO_MODE_IRREGULAR))
    return skiff_error_invalid(err,
                               "destination \"%s:%s\" must be a directory or a regular "
                               "file: %s",
                               o->container, path,
                               mode & GO_MODE_DEVICE ? "got a device"
                                                     : "got an irregular file");
  out->exists = true;
  out->is_dir = (mode & GO_MODE_DIR) != 0;
  return 0;
}

struct sender {
  const char *path, *base;
  const struct cp_rebase *r;
  int fd;
  long long bytes;
  skiff_error_t *err;
};

static void *sender_main(void *arg)
{
  struct sender *s = arg;
  cp_tar_local(s->path, s->base, s->r, s->fd, &s->bytes, &s->err);
  close(s->fd);
  return NULL;
}

/* PUT body_fd (stdin, or a pipe a sender thread fills) into dir. */
static int send_archive(struct cli *cli, const struct cp_opts *o, const char *dir,
                        int body_fd, skiff_error_t **err)
{
  cleanup_free char *url = archive_url(o->container, dir, true, o->archive);
  if (url == NULL)
    return skiff_error_set(err, ENOMEM, "cp");
  struct client_call call = {.method = "PUT",
                             .path = url,
                             .body_fd = body_fd,
                             .body_size = -1,
                             .content_type = "application/x-tar"};
  struct client_reply reply;
  int ret = client_do(cli->client, &call, &reply, err);
  if (ret == 0 && reply.status >= 400)
    ret = client_error_from_reply(&reply, err);
  client_reply_clear(&reply);
  return ret;
}

static int send_local(struct cli *cli, const struct cp_opts *o,
                      const struct copy_info *src, const char *dir,
                      const struct cp_rebase *r, const char *base, long long *bytes,
                      skiff_error_t **err)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return skiff_error_errno(err, "cp");
  cleanup_free char *open_path = go_clean(src->path);
  cleanup_free char *walk = NULL;
  if (current_dir(src->path) && asprintf(&walk, "%s/.", open_path) < 0)
    walk = NULL;
  struct sender s = {
      .path = walk ? walk : open_path, .base = base, .r = r, .fd = fds[1]};
  pthread_t thread;
  if (pthread_create(&thread, NULL, sender_main, &s) != 0) {
    close(fds[0]), close(fds[1]);
    return skiff_error_set(err, EAGAIN, "cp: cannot start a thread");
  }
  int ret = send_archive(cli, o, dir, fds[0], err);
  close(fds[0]);
  pthread_join(thread, NULL);
  *bytes = s.bytes;
  if (ret == 0 && s.err) {
    *err = steal_pointer(&s.err);
    ret = -1;
  }
  skiff_error_free(&s.err);
  return ret;
}

static int copy_to(struct cli *cli, const struct cp_opts *o, const char *src_arg,
                   const char *dst_arg, skiff_error_t **err)
{
  struct copy_info dst, src = {0};
  if (container_destination(cli, o, dst_arg, &dst, err) < 0) {
    copy_info_clear(&dst);
    return -1;
  }
  int ret = 0;
  long long bytes = 0;
  if (strcmp(src_arg, "-") == 0) {
    ret = !dst.is_dir
              ? skiff_error_invalid(err, "destination \"%s:%s\" must be a directory",
                                    o->container, dst_arg)
              : send_archive(cli, o, dst.path, STDIN_FILENO, err);
  } else {
    cleanup_free char *abs = abs_local(src_arg), *dir = NULL;
    struct cp_rebase r = {{NULL, NULL}, {NULL, NULL}};
    char *keep[3] = {NULL, NULL, NULL};
    ret = source_info(abs, o->follow, &src, err);
    if (ret == 0 && (dir = prepare_copy(&src, &dst, &r, keep, err)) == NULL)
      ret = -1;
    if (ret == 0)
      ret = send_local(cli, o, &src, dir, &r, keep[0], &bytes, err);
    for (int i = 0; i < 3; i++)
      free(keep[i]);
  }
  if (ret == 0) {
    cleanup_free char *where = NULL;
    if (asprintf(&where, "%s:%s", o->container, dst.path) >= 0)
      print_copied(o, bytes, where);
  }
  copy_info_clear(&src);
  copy_info_clear(&dst);
  return ret;
}

/* ---- the command ---- */

/* splitCpArg: "CONTAINER:PATH", unless the argument is plainly local (an
 * absolute path, or a relative one starting with "."). */
static const char *split_arg(const char *arg, char **container)
{
  *container = NULL;
  const char *colon = strchr(arg, ':');
  if (arg[0] == '/' || colon == NULL || arg[0] == '.')
    return arg;
  *container = strndup(arg, (size_t)(colon - arg));
  return colon + 1;
}

int cmd_cp(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct cp_opts o = {0};
  bool quiet_given = false;
  struct opt opts[] = {{"archive", 'a', OPT_BOOL, &o.archive, NULL,
                        "Archive mode (copy all uid/gid information)", NULL},
                       {"follow-link", 'L', OPT_BOOL, &o.follow, NULL,
                        "Always follow symbol link in SRC_PATH", NULL},
                       {"quiet", 'q', OPT_BOOL, &o.quiet, NULL,
                        "Suppress progress output during copy. Progress output is "
                        "automatically suppressed "
                        "if no terminal is attached",
                        &quiet_given},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage =
          "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tskiff cp [OPTIONS] SRC_PATH|- "
          "CONTAINER:DEST_PATH",
      .summary = "Copy files/folders between a container and the local filesystem",
      .aliases = "skiff container cp, skiff cp",
      .min_args = 2,
      .max_args = 2};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (*args[0] == '\0')
    return skiff_error_invalid(err, "source can not be empty");
  if (*args[1] == '\0')
    return skiff_error_invalid(err, "destination can not be empty");
  if (!quiet_given)
    o.quiet = !isatty(STDOUT_FILENO);
  signal(SIGPIPE, SIG_IGN); /* a transfer ending early shows as EPIPE */
  cleanup_free char *from = NULL, *to = NULL;
  const char *src = split_arg(args[0], &from), *dst = split_arg(args[1], &to);
  if (from && to)
    return skiff_error_invalid(err, "copying between containers is not supported");
  if (!from && !to)
    return skiff_error_invalid(err, "must specify at least one container source");
  o.container = from ? from : to;
  return from ? copy_from(cli, &o, src, dst, err) : copy_to(cli, &o, src, dst, err);
}
