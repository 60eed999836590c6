#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fs.h"

void stdcopy_init(struct stdcopy *d, stdcopy_sink sink, void *arg)
{
  memset(d, 0, sizeof(*d));
  d->sink = sink;
  d->arg = arg;
}

void stdcopy_clear(struct stdcopy *d)
{
  free(d->syserr);
  d->syserr = NULL;
  d->syserr_len = 0;
}

bool stdcopy_truncated(const struct stdcopy *d)
{
  return d->header_len > 0 || d->remaining > 0;
}

static int take_header(struct stdcopy *d, skiff_error_t **err)
{
  d->stream = d->header[0];
  d->remaining = (uint32_t)d->header[4] << 24 | (uint32_t)d->header[5] << 16 |
                 (uint32_t)d->header[6] << 8 | d->header[7];
  d->header_len = 0;
  if (d->stream > STDCOPY_SYSERR)
    return skiff_error_invalid(err, "Unrecognized input header: %d", d->stream);
  return 0;
}

/* An error frame is reported whole, as docker's stdcopy does. */
static int take_syserr(struct stdcopy *d, const char *buf, size_t n,
                       skiff_error_t **err)
{
  char *grown = realloc(d->syserr, d->syserr_len + n + 1);
  if (grown == NULL)
    return skiff_error_errno(err, "stream");
  memcpy(grown + d->syserr_len, buf, n);
  d->syserr_len += n;
  grown[d->syserr_len] = '\0';
  d->syserr = grown;
  if (d->remaining > 0)
    return 0;
  return skiff_error_invalid(err, "%s", d->syserr);
}

int stdcopy_feed(struct stdcopy *d, const char *buf, size_t len, skiff_error_t **err)
{
  while (len > 0) {
    if (d->remaining == 0) {
      size_t want = sizeof(d->header) - d->header_len;
      size_t n = len < want ? len : want;
      memcpy(d->header + d->header_len, buf, n);
      d->header_len += n;
      buf += n;
      len -= n;
      if (d->header_len == sizeof(d->header) && take_header(d, err) < 0)
        return -1;
      continue;
    }
    size_t n = len < d->remaining ? len : d->remaining;
    d->remaining -= (uint32_t)n;
    if (d->stream == STDCOPY_SYSERR) {
      if (take_syserr(d, buf, n, err) < 0)
        return -1;
    } else if (d->sink(d->stream, buf, n, d->arg) < 0) {
      return skiff_error_errno(err, "write output");
    }
    buf += n;
    len -= n;
  }
  return 0;
}

int stream_sink_fds(int stream, const char *buf, size_t len, void *arg)
{
  const int *fds = arg;
  return fs_write_all(stream == STDCOPY_STDERR ? fds[1] : fds[0], buf, len);
}

struct pump_state {
  struct stream_pump *p;
  struct stdcopy demux;
  int fds[2];
};

static int deliver(struct pump_state *s, const char *buf, size_t len,
                   skiff_error_t **err)
{
  if (s->p->tty) {
    if (fs_write_all(s->p->out_fd, buf, len) < 0)
      return skiff_error_errno(err, "write output");
    return 0;
  }
  return stdcopy_feed(&s->demux, buf, len, err);
}

/* send(2) rather than write(2): a daemon that hangs up must give EPIPE, not
 * a SIGPIPE that kills the client. */
static int send_all(int sock, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Forward stdin; at its end, half-close so the container sees EOF. */
static int forward_input(struct stream_pump *p, skiff_error_t **err)
{
  char buf[32768];
  ssize_t n = read(p->in_fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0) {
    shutdown(p->sock, SHUT_WR);
    p->in_fd = -1;
    return 0;
  }
  if (send_all(p->sock, buf, (size_t)n) < 0) {
    /* The container may have closed its stdin or exited: keep reading. */
    if (errno == EPIPE || errno == ECONNRESET) {
      p->in_fd = -1;
      return 0;
    }
    return skiff_error_errno(err, "attach: send input");
  }
  return 0;
}

static void forward_signal(struct stream_pump *p)
{
  struct signalfd_siginfo si;
  if (read(p->signal_fd, &si, sizeof si) == (ssize_t)sizeof si && p->on_signal)
    p->on_signal((int)si.ssi_signo, p->arg);
}

/* Returns 1 at the end of the stream, 0 to go on, -1 on error. */
static int pump_once(struct pump_state *s, skiff_error_t **err)
{
  struct stream_pump *p = s->p;
  struct pollfd fds[3] = {{.fd = p->sock, .events = POLLIN},
                          {.fd = p->in_fd, .events = POLLIN},
                          {.fd = p->signal_fd, .events = POLLIN}};
  if (poll(fds, 3, -1) < 0)
    return errno == EINTR ? 0 : skiff_error_errno(err, "attach: poll");
  if (fds[2].revents & POLLIN)
    forward_signal(p);
  if (p->in_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
    if (forward_input(p, err) < 0)
      return -1;
  if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
    return 0;
  char buf[32768];
  ssize_t n = read(p->sock, buf, sizeof buf);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN
               ? 0
               : (errno == ECONNRESET ? 1 : skiff_error_errno(err, "attach: read"));
  if (n == 0)
    return 1;
  return deliver(s, buf, (size_t)n, err) < 0 ? -1 : 0;
}

int stream_pump_run(struct stream_pump *p, skiff_error_t **err)
{
  struct pump_state s = {.p = p, .fds = {p->out_fd, p->err_fd}};
  stdcopy_init(&s.demux, stream_sink_fds, s.fds);
  int r = p->early_len ? deliver(&s, p->early, p->early_len, err) : 0;
  while (r == 0)
    r = pump_once(&s, err);
  stdcopy_clear(&s.demux);
  return r < 0 ? -1 : 0;
}
