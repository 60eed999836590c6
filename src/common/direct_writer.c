#include "direct_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/* Alignment that suits both 512-byte and 4 KiB logical blocks. */
#define BLOCK 4096
#define STAGE (1024 * 1024)

int direct_writer_init(struct direct_writer *w, int fd)
{
  memset(w, 0, sizeof *w);
  w->fd = fd;
  void *buf = NULL;
  int r = posix_memalign(&buf, BLOCK, STAGE);
  if (r != 0)
    return errno = r, -1;
  w->buf = buf;
  int flags = fcntl(fd, F_GETFL);
  w->direct = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  return 0;
}

static int write_direct(struct direct_writer *w, size_t len)
{
  int r = fs_write_all(w->fd, w->buf, len);
  if (r < 0 && errno == EINVAL && w->direct) {
    /* The filesystem took the flag but not the write: go on without it. */
    int flags = fcntl(w->fd, F_GETFL);
    w->direct = false;
    if (flags >= 0 && fcntl(w->fd, F_SETFL, flags & ~O_DIRECT) == 0)
      r = fs_write_all(w->fd, w->buf, len);
  }
  return r;
}

int direct_writer_write(struct direct_writer *w, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    size_t n = STAGE - w->used < len ? STAGE - w->used : len;
    memcpy(w->buf + w->used, p, n);
    w->used += n;
    p += n;
    len -= n;
    if (w->used == STAGE) {
      if (write_direct(w, STAGE) < 0)
        return -1;
      w->used = 0;
    }
  }
  return 0;
}

int direct_writer_finish(struct direct_writer *w)
{
  size_t whole = w->used / BLOCK * BLOCK;
  if (whole > 0 && write_direct(w, whole) < 0)
    return -1;
  int flags = fcntl(w->fd, F_GETFL);
  if (w->direct && (flags < 0 || fcntl(w->fd, F_SETFL, flags & ~O_DIRECT) < 0))
    return -1;
  w->direct = false;
  int r = fs_write_all(w->fd, w->buf + whole, w->used - whole);
  w->used = 0;
  return r;
}

void direct_writer_release(struct direct_writer *w)
{
  free(w->buf);
  w->buf = NULL;
}
