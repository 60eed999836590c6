/* The local half of skiff cp: a tar of local files for the daemon, and a
 * tar from the daemon unpacked into a local directory, with docker's
 * archive rules (go-archive's TarResource, RebaseArchiveEntries, Untar).
 *
 * What comes from a container is not trusted: names are cleaned and may not
 * leave the destination, a symlink or hard link may not point out of it,
 * and libarchive refuses to write through a symlink (SECURE_SYMLINKS), so
 * that a tar cannot plant "x -> /etc" and then write "x/passwd". */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "cp.h"
#include "libarchive.h"

#define CP_BUF (256 * 1024)

/* The name an entry gets: base + suffix, rebased from old to new when the
 * name starts with old (docker replaces the first occurrence, which is the
 * leading base). */
static char *rebase(const char *name, const struct cp_rebase *r)
{
  char *out = NULL;
  for (size_t i = 0; r && i < 2; i++) {
    const char *old = r->old[i], *new = r->new[i];
    const char *cur = out ? out : name;
    size_t n = old ? strlen(old) : 0;
    if (n == 0 || strncmp(cur, old, n) != 0)
      continue;
    /* The root's entries are "/", "/bin": they go under the new name. */
    bool root = strcmp(old, "/") == 0;
    char *next = NULL;
    if (asprintf(&next, "%s%s%s", new, root ? "/" : "", cur + n) < 0)
      return free(out), NULL;
    free(out);
    out = next;
  }
  return out ? out : strdup(name);
}

/* ---- a tar of local files ---- */

struct writer {
  struct archive *a;
  struct archive *disk;
  struct archive_entry_linkresolver *links;
  int out_fd;
  long long *bytes;
  char *buf;
};

static la_ssize_t write_out(struct archive *a, void *arg, const void *buf, size_t len)
{
  struct writer *w = arg;
  if (fs_write_all(w->out_fd, buf, len) < 0) {
    libarchive.archive_set_error(a, errno, "write the archive");
    return -1;
  }
  *w->bytes += (long long)len;
  return (la_ssize_t)len;
}

static int copy_data(struct writer *w, skiff_error_t **err)
{
  const void *block;
  size_t len;
  la_int64_t offset;
  int r;
  while ((r = libarchive.archive_read_data_block(w->disk, &block, &len, &offset)) ==
         ARCHIVE_OK)
    if (libarchive.archive_write_data(w->a, block, len) < 0)
      return skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(w->a));
  return r == ARCHIVE_EOF ? 0
                          : skiff_error_set(err, EIO, "%s",
                                            libarchive.archive_error_string(w->disk));
}

static int write_entry(struct writer *w, struct archive_entry *e, bool has_data,
                       skiff_error_t **err)
{
  if (libarchive.archive_write_header(w->a, e) < ARCHIVE_WARN)
    return skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(w->a));
  return has_data ? copy_data(w, err) : 0;
}

/* One entry of the walk: renamed, its times as docker writes them. */
static int add_entry(struct writer *w, struct archive_entry *e, const char *open_path,
                     const char *base, const struct cp_rebase *r, skiff_error_t **err)
{
  if (libarchive.archive_entry_filetype(e) == AE_IFSOCK)
    return 0; /* tar has no sockets: skipped, as docker does */
  const char *path = libarchive.archive_entry_pathname(e);
  cleanup_free char *plain = NULL;
  if (asprintf(&plain, "%s%s", base, path + strlen(open_path)) < 0)
    return skiff_error_set(err, ENOMEM, "tar");
  cleanup_free char *name = rebase(plain, r);
  libarchive.archive_entry_copy_pathname(e, name);
  libarchive.archive_entry_unset_atime(e);
  libarchive.archive_entry_unset_ctime(e);
  libarchive.archive_entry_unset_birthtime(e);
  libarchive.archive_entry_set_mtime(e, libarchive.archive_entry_mtime(e), 0);
  libarchive.archive_entry_copy_sourcepath(e, path);
  struct archive_entry *spare = NULL;
  libarchive.archive_entry_linkify(w->links, &e, &spare);
  int ret = e ? write_entry(w, e, libarchive.archive_entry_size(e) > 0, err) : 0;
  if (ret == 0 && spare) /* a deferred hard link's data, by its own path */
    ret = write_entry(w, spare, false, err);
  return ret;
}

int cp_tar_local(const char *path, const char *base, const struct cp_rebase *r,
                 int out_fd, long long *bytes, skiff_error_t **err)
{
  if (libarchive_load(err) < 0)
    return -1;
  struct writer w = {.a = libarchive.archive_write_new(),
                     .disk = libarchive.archive_read_disk_new(),
                     .links = libarchive.archive_entry_linkresolver_new(),
                     .out_fd = out_fd,
                     .bytes = bytes,
                     .buf = NULL};
  int ret = -1;
  if (w.a == NULL || w.disk == NULL || w.links == NULL) {
    skiff_error_set(err, ENOMEM, "tar");
    goto out;
  }
  libarchive.archive_entry_linkresolver_set_strategy(w.links,
                                                     ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  libarchive.archive_read_disk_set_symlink_physical(w.disk);
  libarchive.archive_read_disk_set_behavior(w.disk, ARCHIVE_READDISK_NO_ACL |
                                                        ARCHIVE_READDISK_NO_FFLAGS);
  if (libarchive.archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
      libarchive.archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
      libarchive.archive_write_open(w.a, &w, NULL, write_out, NULL) != ARCHIVE_OK ||
      libarchive.archive_read_disk_open(w.disk, path) != ARCHIVE_OK) {
    skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(w.disk));
    goto out;
  }
  struct archive_entry *e = libarchive.archive_entry_new();
  int rr;
  ret = 0;
  while (ret == 0 &&
         (rr = libarchive.archive_read_next_header2(w.disk, e)) != ARCHIVE_EOF) {
    if (rr < ARCHIVE_WARN) {
      ret = skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(w.disk));
      break;
    }
    libarchive.archive_read_disk_descend(w.disk);
    ret = add_entry(&w, e, path, base, r, err);
  }
  libarchive.archive_entry_free(e);
  if (ret == 0) { /* hard links whose other names never came */
    struct archive_entry *left = NULL, *spare = NULL;
    for (libarchive.archive_entry_linkify(w.links, &left, &spare); ret == 0 && left;
         libarchive.archive_entry_linkify(w.links, &left, &spare))
      ret = write_entry(&w, left, false, err);
  }
  if (ret == 0 && libarchive.archive_write_close(w.a) != ARCHIVE_OK)
    ret = skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(w.a));
out:
  if (w.a)
    libarchive.archive_write_free(w.a);
  if (w.disk)
    libarchive.archive_read_free(w.disk);
  if (w.links)
    libarchive.archive_entry_linkresolver_free(w.links);
  return ret;
}

/* ---- a tar unpacked into a local directory ---- */

/* Clean a name relative to the destination; -1 when ".." leaves it. */
static int clean_name(const char *name, char *out, size_t cap)
{
  size_t used = 0;
  for (const char *p = name; *p;) {
    size_t k = strcspn(p, "/");
    if (k == 2 && strncmp(p, "..", 2) == 0) {
      if (used == 0)
        return -1;
      while (used > 0 && out[--used] != '/')
        ;
    } else if (k > 0 && !(k == 1 && *p == '.')) {
      if (used + k + 2 > cap)
        return -1;
      if (used)
        out[used++] = '/';
      memcpy(out + used, p, k);
      used += k;
    }
    p += k;
    while (*p == '/')
      p++;
  }
  out[used] = '\0';
  return 0;
}

/* docker's Untar checks: the entry, its link targets, and what it replaces. */
static int check_entry(struct archive_entry *e, const char *rel, const char *dest,
                       skiff_error_t **err)
{
  char target[2 * PATH_MAX], clean[2 * PATH_MAX];
  const char *hard = libarchive.archive_entry_hardlink(e),
             *sym = libarchive.archive_entry_symlink(e);
  if (hard && clean_name(hard, clean, sizeof clean) < 0)
    return skiff_error_invalid(err, "invalid hardlink \"%s/%s\" -> \"%s\"", dest, rel,
                               hard);
  if (!hard && sym && sym[0] != '/') {
    const char *slash = strrchr(rel, '/');
    snprintf(target, sizeof target, "%.*s/%s", slash ? (int)(slash - rel) : 0, rel,
             sym);
    if (clean_name(target, clean, sizeof clean) < 0)
      return skiff_error_invalid(err, "invalid symlink \"%s/%s\" -> \"%s\"", dest, rel,
                                 sym);
  }
  struct stat st;
  bool new_dir = !hard && libarchive.archive_entry_filetype(e) == AE_IFDIR;
  if (lstat(rel, &st) == 0 && S_ISDIR(st.st_mode) != new_dir)
    return skiff_error_invalid(err,
                               S_ISDIR(st.st_mode)
                                   ? "cannot overwrite directory \"%s/%s\" with "
                                     "non-directory \"%s\""
                                   : "cannot overwrite non-directory \"%s/%s\" with "
                                     "directory \"%s\"",
                               dest, rel, dest);
  return 0;
}

static int unpack_one(struct archive *in, struct archive *disk, struct archive_entry *e,
                      const char *dest, const struct cp_rebase *r, skiff_error_t **err)
{
  cleanup_free char *name = rebase(libarchive.archive_entry_pathname(e), r);
  char rel[PATH_MAX];
  if (name == NULL || clean_name(name, rel, sizeof rel) < 0)
    return skiff_error_invalid(err, "\"%s\" is outside of \"%s\"",
                               libarchive.archive_entry_pathname(e), dest);
  if (rel[0] == '\0')
    return 0; /* the destination itself: kept as it is */
  if (check_entry(e, rel, dest, err) < 0)
    return -1;
  libarchive.archive_entry_copy_pathname(e, rel);
  const char *hard = libarchive.archive_entry_hardlink(e);
  if (hard) {
    cleanup_free char *h = rebase(hard, r);
    char hrel[PATH_MAX];
    if (h == NULL || clean_name(h, hrel, sizeof hrel) < 0)
      return skiff_error_invalid(err, "invalid hardlink \"%s\"", hard);
    libarchive.archive_entry_copy_hardlink(e, hrel);
  }
  if (libarchive.archive_write_header(disk, e) < ARCHIVE_WARN)
    return skiff_error_set(err, libarchive.archive_errno(disk) ?: EIO, "%s",
                           libarchive.archive_error_string(disk));
  const void *block;
  size_t len;
  la_int64_t offset;
  int rr;
  while (libarchive.archive_entry_size(e) > 0 &&
         (rr = libarchive.archive_read_data_block(in, &block, &len, &offset)) ==
             ARCHIVE_OK)
    if (libarchive.archive_write_data_block(disk, block, len, offset) < ARCHIVE_WARN)
      return skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(disk));
  if (libarchive.archive_write_finish_entry(disk) < ARCHIVE_WARN)
    return skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(disk));
  return 0;
}

int cp_untar_local(int in_fd, const char *dest_given, const struct cp_rebase *r,
                   skiff_error_t **err)
{
  if (libarchive_load(err) < 0)
    return -1;
  cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (chdir(dest_given) < 0)
    return skiff_error_errno(err, "chdir %s", dest_given);
  cleanup_free char *dest = strdup(dest_given); /* for messages: no trailing '/' */
  for (size_t n = dest ? strlen(dest) : 0; n > 1 && dest[n - 1] == '/'; n--)
    dest[n - 1] = '\0';
  if (dest == NULL)
    return skiff_error_set(err, ENOMEM, "cp");
  struct archive *in = libarchive.archive_read_new(),
                 *disk = libarchive.archive_write_disk_new();
  int ret = 0;
  libarchive.archive_read_support_filter_all(in);
  libarchive.archive_read_support_format_tar(in);
  /* No owner: files belong to whoever runs skiff cp, as with docker. */
  libarchive.archive_write_disk_set_options(
      disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR |
                ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  if (libarchive.archive_read_open_fd(in, in_fd, CP_BUF) != ARCHIVE_OK)
    ret = skiff_error_invalid(err, "%s", libarchive.archive_error_string(in));
  struct archive_entry *e;
  int rr = ARCHIVE_EOF;
  while (ret == 0 &&
         ((rr = libarchive.archive_read_next_header(in, &e)) == ARCHIVE_OK ||
          rr == ARCHIVE_WARN))
    ret = unpack_one(in, disk, e, dest, r, err);
  if (ret == 0 && rr != ARCHIVE_EOF)
    ret = skiff_error_invalid(err, "%s", libarchive.archive_error_string(in));
  if (libarchive.archive_write_close(disk) != ARCHIVE_OK && ret == 0)
    ret = skiff_error_set(err, EIO, "%s", libarchive.archive_error_string(disk));
  libarchive.archive_write_free(disk);
  libarchive.archive_read_free(in);
  if (cwd >= 0 && fchdir(cwd) < 0 && ret == 0)
    ret = skiff_error_errno(err, "chdir back");
  return ret;
}
