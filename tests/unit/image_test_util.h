/* Shared fixtures of the image unit tests: temporary directories, tar
 * archives built in memory from a table, and the busybox rootfs tar. */
#ifndef SKIFF_TEST_IMAGE_UTIL_H
#define SKIFF_TEST_IMAGE_UTIL_H

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* One tar entry: type 'f' file, 'd' dir, 'l' symlink (data = target),
 * 'h' hard link (data = target path), 'c' char device 0/0. */
struct tar_item {
  char type;
  const char *path;
  const char *data;
  int mode;
};

static inline char *test_tmpdir(void)
{
  char *dir = strdup("/tmp/skiff-image-test-XXXXXX");
  if (dir == NULL || mkdtemp(dir) == NULL)
    abort();
  return dir;
}

static inline void test_rmdir(char *dir)
{
  if (dir) {
    fs_remove_tree(dir, NULL);
    free(dir);
  }
}

/* A tar (gzip-compressed when gzip) of items, written to a new temp file;
 * returns an fd open for reading at offset 0. */
static inline int test_tar_fd(const struct tar_item *items, int gzip)
{
  char path[] = "/tmp/skiff-image-tar-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    abort();
  unlink(path);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip)
    archive_write_add_filter_gzip(a);
  archive_write_open_fd(a, fd);
  for (const struct tar_item *it = items; it->type; it++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, it->path);
    archive_entry_set_mtime(e, 1700000000, 0);
    size_t len = it->data && it->type == 'f' ? strlen(it->data) : 0;
    switch (it->type) {
    case 'f': archive_entry_set_filetype(e, AE_IFREG); break;
    case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
    case 'l':
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, it->data);
      break;
    case 'h':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, it->data);
      break;
    case 'c':
      archive_entry_set_filetype(e, AE_IFCHR);
      archive_entry_set_rdev(e, 0);
      break;
    }
    archive_entry_set_perm(e, it->mode ? it->mode : (it->type == 'd' ? 0755 : 0644));
    archive_entry_set_size(e, len);
    archive_write_header(a, e);
    if (len)
      archive_write_data(a, it->data, len);
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

/* An fd reading bytes given in memory (through a temp file). */
static inline int test_bytes_fd(const void *data, size_t len)
{
  char path[] = "/tmp/skiff-image-bytes-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    abort();
  unlink(path);
  if (len && write(fd, data, len) != (ssize_t)len)
    abort();
  lseek(fd, 0, SEEK_SET);
  return fd;
}

/* The number of entries in a directory (0 when missing). */
static inline int test_count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  if (d)
    closedir(d);
  return n;
}

static inline int test_count_in(const char *root, const char *sub)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, sub);
  return test_count_entries(path);
}

/* An fd reading a tar of a busybox rootfs made by
 * scripts/make-busybox-rootfs (needs root and busybox-static); -1 when it
 * cannot be made. */
static inline int test_busybox_tar_fd(void)
{
  if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
    return -1;
  char dir[] = "/tmp/skiff-busybox-XXXXXX";
  if (mkdtemp(dir) == NULL)
    return -1;
  char tar[sizeof dir + 8], cmd[512];
  snprintf(tar, sizeof tar, "%s.tar", dir);
  snprintf(cmd, sizeof cmd,
           "%s/scripts/make-busybox-rootfs %s/r && tar -C %s/r -cf %s .",
           SKIFF_SOURCE_ROOT, dir, dir, tar);
  int ok = system(cmd) == 0;
  int fd = ok ? open(tar, O_RDONLY | O_CLOEXEC) : -1;
  unlink(tar);
  fs_remove_tree(dir, NULL);
  return fd;
}

#endif
