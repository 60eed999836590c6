/* Blobs into a repository, as the distribution spec's push side has them:
 *
 *   HEAD  /v2/<repo>/blobs/<digest>                  has the repository got it?
 *   POST  /v2/<repo>/blobs/uploads/?mount=&from=     a cross-repository mount
 *   POST  /v2/<repo>/blobs/uploads/                  an upload session (Location)
 *   PATCH <location> with Content-Range              one chunk (a new Location)
 *   PUT   <location>?digest=                         the end (with the bytes, when
 *                                                    monolithic)
 *
 * Layers go in CHUNK_SIZE chunks: a pulled blob as it is stored, or the gzip
 * of an uncompressed tar made on the way (its digest known only at the end).
 * Every call blocks its thread; any number may run at once on one client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "registry_internal.h"

#define CHUNK_SIZE (16 * 1024 * 1024)
#define READ_BUF (256 * 1024)

static const bool *cancel_of(const struct registry_upload_ctl *ctl)
{
  return ctl ? ctl->cancel : NULL;
}

static bool cancelled(const struct registry_upload_ctl *ctl)
{
  return ctl && ctl->cancel && __atomic_load_n(ctl->cancel, __ATOMIC_ACQUIRE);
}

static int cancelled_error(skiff_error_t **err, const char *what)
{
  return skiff_error_set(err, ECANCELED, "%s: cancelled", what);
}

static void tell(const struct registry_upload_ctl *ctl, long long current,
                 long long total)
{
  if (ctl && ctl->progress)
    ctl->progress(ctl->arg, current, total);
}

long long registry_blob_size(struct registry_client *c, const char *digest,
                             const struct registry_upload_ctl *ctl, skiff_error_t **err)
{
  cleanup_free char *url = registry_url(c, "blobs/%s", digest);
  if (url == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {
      .method = "HEAD", .url = url, .cancel = cancel_of(ctl)};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  long long size =
      reply.status == 200   ? (reply.content_length > 0 ? reply.content_length : 1)
      : reply.status == 404 ? 0
                            : registry_reply_error(&reply, err, "blob %s", digest);
  registry_reply_clear(&reply);
  return size;
}

/* POST an upload; with from, ask to mount digest from that repository.
 * Returns 1 when mounted, 0 with *location for an upload, -1 on error. */
static int start_upload(struct registry_client *c, const char *digest, const char *from,
                        const struct registry_upload_ctl *ctl, char **location,
                        skiff_error_t **err)
{
  cleanup_free char *url = registry_url(c, "blobs/uploads/");
  if (url == NULL || (from && (registry_url_add(&url, "mount", digest) < 0 ||
                               registry_url_add(&url, "from", from) < 0)))
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {
      .method = "POST", .url = url, .cancel = cancel_of(ctl)};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r;
  if (reply.status == 201 && from) {
    r = 1;
  } else if (reply.status == 202 && reply.location) {
    *location = steal_pointer(&reply.location);
    r = 0;
  } else {
    r = registry_reply_error(&reply, err, "start an upload to %s", c->path);
  }
  registry_reply_clear(&reply);
  return r;
}

int registry_blob_mount(struct registry_client *c, const char *digest, const char *from,
                        const struct registry_upload_ctl *ctl, skiff_error_t **err)
{
  /* When the registry offers an upload instead, the session it opened
   * expires on its own. */
  cleanup_free char *location = NULL;
  return start_upload(c, digest, from, ctl, &location, err);
}

/* PUT that ends an upload (with the last bytes, or none). */
static int finish_upload(struct registry_client *c, const char *location,
                         const char *digest, const void *data, size_t len,
                         const struct registry_upload_ctl *ctl, skiff_error_t **err)
{
  cleanup_free char *url = strdup(location);
  if (url == NULL || registry_url_add(&url, "digest", digest) < 0)
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {.method = "PUT",
                                 .url = url,
                                 .content_type = "application/octet-stream",
                                 .body = data,
                                 .body_len = len,
                                 .cancel = cancel_of(ctl)};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r = reply.status == 201 || reply.status == 204
              ? 0
              : registry_reply_error(&reply, err, "upload blob %s", digest);
  registry_reply_clear(&reply);
  return r;
}

int registry_upload_bytes(struct registry_client *c, const void *data, size_t len,
                          const char *digest, skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(c, digest, NULL, NULL, &location, err) < 0)
    return -1;
  return finish_upload(c, location, digest, data, len, NULL, err);
}

/* ---- chunks ---- */

/* Progress within a chunk: the bytes before it plus those of it sent. */
struct chunk_progress {
  const struct registry_upload_ctl *ctl;
  long long offset, total;
};

static void on_chunk_sent(long long sent, void *arg)
{
  struct chunk_progress *cp = arg;
  tell(cp->ctl, cp->offset + sent, cp->total);
}

/* PATCH one chunk at offset; *location moves on to the registry's next.
 * total: what progress counts up to, or -1 for no progress. */
static int patch_chunk(struct registry_client *c, char **location, const void *data,
                       size_t len, long long offset, long long total,
                       const struct registry_upload_ctl *ctl, skiff_error_t **err)
{
  char range[64];
  snprintf(range, sizeof range, "Content-Range: %lld-%lld", offset,
           offset + (long long)len - 1);
  const char *headers[] = {range, NULL};
  struct chunk_progress cp = {.ctl = ctl, .offset = offset, .total = total};
  struct registry_request req = {.method = "PATCH",
                                 .url = *location,
                                 .content_type = "application/octet-stream",
                                 .headers = headers,
                                 .body = data,
                                 .body_len = len,
                                 .on_sent = total >= 0 ? on_chunk_sent : NULL,
                                 .sent_arg = &cp,
                                 .cancel = cancel_of(ctl)};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r = 0;
  if (reply.status != 202 || reply.location == NULL)
    r = registry_reply_error(&reply, err, "upload a chunk to %s", c->path);
  else
    free(*location), *location = steal_pointer(&reply.location);
  registry_reply_clear(&reply);
  return r;
}

int registry_upload_file(struct registry_client *c, int fd, long long size,
                         const char *digest, const struct registry_upload_ctl *ctl,
                         skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(c, NULL, NULL, ctl, &location, err) < 0)
    return -1;
  cleanup_free unsigned char *chunk = malloc(CHUNK_SIZE);
  if (chunk == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  for (long long sent = 0; sent < size;) {
    size_t want = size - sent < CHUNK_SIZE ? (size_t)(size - sent) : CHUNK_SIZE;
    ssize_t n = pread(fd, chunk, want, sent);
    if (n <= 0)
      return skiff_error_errno(err, "read blob %s", digest);
    if (patch_chunk(c, &location, chunk, (size_t)n, sent, size, ctl, err) < 0)
      return -1;
    sent += n;
  }
  return finish_upload(c, location, digest, NULL, 0, ctl, err);
}

/* ---- gzip on the way out ---- */

struct gz {
  z_stream z;
  int fd;
  unsigned char *in;
  bool in_eof, done;
  struct sha256_ctx sha;
  const struct registry_upload_ctl *ctl;
  long long tar_size;
};

/* Fill buf with up to cap compressed bytes; 0 at the end, -1 on error
 * (errno; ECANCELED when told to stop). Progress counts the tar's bytes
 * read, as docker's does. */
static ssize_t gz_fill(struct gz *g, unsigned char *buf, size_t cap)
{
  g->z.next_out = buf;
  g->z.avail_out = (uInt)cap;
  while (g->z.avail_out > 0 && !g->done) {
    if (g->z.avail_in == 0 && !g->in_eof) {
      if (cancelled(g->ctl))
        return errno = ECANCELED, -1;
      ssize_t n = read(g->fd, g->in, READ_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      g->in_eof = n == 0;
      g->z.next_in = g->in;
      g->z.avail_in = (uInt)n;
      tell(g->ctl, (long long)g->z.total_in, g->tar_size);
    }
    int r = deflate(&g->z, g->in_eof ? Z_FINISH : Z_NO_FLUSH);
    if (r == Z_STREAM_END)
      g->done = true;
    else if (r != Z_OK && r != Z_BUF_ERROR)
      return errno = EIO, -1;
  }
  size_t n = cap - g->z.avail_out;
  sha256_update(&g->sha, n, buf);
  return (ssize_t)n;
}

static int gz_init(struct gz *g, int fd, long long tar_size,
                   const struct registry_upload_ctl *ctl)
{
  *g = (struct gz){.fd = fd, .ctl = ctl, .tar_size = tar_size, .in = malloc(READ_BUF)};
  sha256_init(&g->sha);
  if (g->in && deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                            Z_DEFAULT_STRATEGY) == Z_OK)
    return 0;
  free(g->in);
  return -1;
}

static void gz_release(struct gz *g)
{
  deflateEnd(&g->z);
  free(g->in);
}

int registry_upload_gzip(struct registry_client *c, int fd, long long tar_size,
                         const struct registry_upload_ctl *ctl, char digest[72],
                         long long *size, skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(c, NULL, NULL, ctl, &location, err) < 0)
    return -1;
  struct gz g;
  cleanup_free unsigned char *chunk = malloc(CHUNK_SIZE);
  if (chunk == NULL || gz_init(&g, fd, tar_size, ctl) < 0)
    return skiff_error_set(err, ENOMEM, "push");
  lseek(fd, 0, SEEK_SET);
  int r = 0;
  long long sent = 0;
  ssize_t n = 0;
  while (r == 0 && (n = gz_fill(&g, chunk, CHUNK_SIZE)) > 0) {
    r = patch_chunk(c, &location, chunk, (size_t)n, sent, -1, ctl, err);
    sent += n;
  }
  if (r == 0 && n < 0)
    r = errno == ECANCELED ? cancelled_error(err, "compress")
                           : skiff_error_errno(err, "read and compress");
  sha256_finish_text(&g.sha, digest);
  gz_release(&g);
  if (r == 0)
    r = finish_upload(c, location, digest, NULL, 0, ctl, err);
  *size = sent;
  return r;
}
