/* Writing a file once, past the page cache: O_DIRECT writes of whole
 * aligned blocks, staged in an aligned buffer, and the tail written
 * normally. For files written once and seldom read soon, such as the
 * compressed blobs a pull keeps: they take no page-cache pages and leave
 * nothing for a later sync to write back. Where the filesystem refuses
 * O_DIRECT (tmpfs on older kernels), the writes are plain ones. */
#ifndef SKIFF_COMMON_DIRECT_WRITER_H
#define SKIFF_COMMON_DIRECT_WRITER_H

#include <stdbool.h>
#include <stddef.h>

struct direct_writer {
  int fd; /* not owned */
  char *buf;
  size_t used;
  bool direct;
};

/* Start writing at the current offset of fd, which must be a multiple of
 * the block size (a new file). Returns -1 with errno set (ENOMEM). */
int direct_writer_init(struct direct_writer *w, int fd);

/* Append len bytes. Returns -1 with errno set. */
int direct_writer_write(struct direct_writer *w, const void *data, size_t len);

/* Write what is staged and leave fd as it found it (without O_DIRECT).
 * Returns -1 with errno set. */
int direct_writer_finish(struct direct_writer *w);

/* Free the buffer (after finish, or to give up). */
void direct_writer_release(struct direct_writer *w);

#endif
