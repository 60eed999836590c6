#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

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

int stream_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int stream_sink_fds(int stream, const char *buf, size_t len, void *arg)
{
  const int *fds = arg;
  return stream_write_all(stream == STDCOPY_STDERR ? fds[1] : fds[0], buf, len);
}

struct pump_state {
  struct stream_pump *p;
  struct stdcopy demux;
  int fds[2];
  char in_buf[32768]; /* stdin read but not sent yet: in_buf[in_start, in_end) */
  size_t in_start, in_end;
  bool in_eof;
};

static int deliver(struct pump_state *s, const char *buf, size_t len,
                   skiff_error_t **err)
{
  if (s->p->tty) {
    if (stream_write_all(s->p->out_fd, buf, len) < 0)
      return skiff_error_errno(err, "write output");
    return 0;
  }
  return stdcopy_feed(&s->demux, buf, len, err);
}

/* Input is sent without blocking, one chunk at a time: a client blocked in
 * send(2) while the daemon waits for it to read output (a process that
 * echoes a large input) would deadlock. send(2) rather than write(2): a
 * daemon that hangs up must give EPIPE, not a SIGPIPE that kills us. */
static int send_pending(struct pump_state *s, skiff_error_t **err)
{
  while (s->in_start < s->in_end) {
    ssize_t n = send(s->p->sock, s->in_buf + s->in_start, s->in_end - s->in_start,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    if (n < 0) {
      s->in_start = s->in_end = 0;
      /* The process may have closed its stdin or exited: keep reading. */
      if (errno == EPIPE || errno == ECONNRESET) {
        s->p->in_fd = -1;
        return 0;
      }
      return skiff_error_errno(err, "attach: send input");
    }
    s->in_start += (size_t)n;
  }
  s->in_start = s->in_end = 0;
  if (s->in_eof) { /* all sent: half-close so the process sees EOF */
    shutdown(s->p->sock, SHUT_WR);
    s->p->in_fd = -1;
  }
  return 0;
}

/* Read stdin once into the (empty) input buffer. */
static int forward_input(struct pump_state *s, skiff_error_t **err)
{
  ssize_t n = read(s->p->in_fd, s->in_buf, sizeof s->in_buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0)
    s->in_eof = true;
  else
    s->in_end = (size_t)n;
  return send_pending(s, err);
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
  bool pending = s->in_start < s->in_end || s->in_eof;
  struct pollfd fds[3] = {
      {.fd = p->sock, .events = (short)(POLLIN | (pending && p->in_fd >= 0 ? POLLOUT : 0))},
      {.fd = pending ? -1 : p->in_fd, .events = POLLIN},
      {.fd = p->signal_fd, .events = POLLIN}};
  if (poll(fds, 3, -1) < 0)
    return errno == EINTR ? 0 : skiff_error_errno(err, "attach: poll");
  if (fds[2].revents & POLLIN)
    forward_signal(p);
  if (p->in_fd >= 0 && pending && (fds[0].revents & (POLLOUT | POLLERR)))
    if (send_pending(s, err) < 0)
      return -1;
  if (p->in_fd >= 0 && !pending && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
    if (forward_input(s, err) < 0)
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
