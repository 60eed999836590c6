#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
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
  struct detach_scanner scan;
  char pending[32768]; /* input the daemon has not taken yet */
  size_t pending_off, pending_len;
  bool input_ended;      /* stdin reached its end: half-close once sent */
  long long detached_at; /* ms, or -1 */
};

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* Send pending input without waiting (MSG_DONTWAIT: the socket stays
 * blocking for everything else); at the end of stdin, half-close so that
 * the container sees EOF. A daemon that hung up gives EPIPE, not SIGPIPE. */
static int send_pending(struct pump_state *s, skiff_error_t **err)
{
  struct stream_pump *p = s->p;
  while (s->pending_off < s->pending_len) {
    ssize_t n = send(p->sock, s->pending + s->pending_off,
                     s->pending_len - s->pending_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      /* The container may have closed its stdin or exited: keep reading. */
      p->in_fd = -1;
      s->pending_len = s->pending_off = 0;
      return 0;
    }
    if (n < 0)
      return skiff_error_errno(err, "attach: send input");
    s->pending_off += (size_t)n;
  }
  s->pending_off = s->pending_len = 0;
  if (s->input_ended && p->in_fd >= 0) {
    shutdown(p->sock, SHUT_WR);
    p->in_fd = -1;
  }
  return 0;
}

/* Read stdin into the (empty) pending buffer. After the detach keys no
 * more input is read: the daemon ends the stream. */
static int read_input(struct pump_state *s, skiff_error_t **err)
{
  struct stream_pump *p = s->p;
  ssize_t n = read(p->in_fd, s->pending, sizeof s->pending);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0) {
    s->input_ended = true;
    return send_pending(s, err);
  }
  s->pending_len = (size_t)n;
  if (p->detach_keys) {
    char ignored[sizeof s->pending + DETACHKEYS_MAX];
    bool detached = false;
    detach_scanner_feed(&s->scan, s->pending, (size_t)n, ignored, &detached);
    if (detached) {
      p->detached = true;
      s->detached_at = now_ms();
    }
  }
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
  bool reading =
      p->in_fd >= 0 && s->pending_len == 0 && !s->input_ended && !p->detached;
  struct pollfd fds[3] = {
      {.fd = p->sock, .events = (short)(POLLIN | (s->pending_len ? POLLOUT : 0))},
      {.fd = reading ? p->in_fd : -1, .events = POLLIN},
      {.fd = p->signal_fd, .events = POLLIN}};
  /* A daemon that does not end the stream after the detach keys (one
   * that does not scan for them) is left after 2 s. */
  int timeout = s->detached_at < 0 ? -1 : (int)(s->detached_at + 2000 - now_ms());
  if (s->detached_at >= 0 && timeout <= 0)
    return 1;
  int ready = poll(fds, 3, timeout);
  if (ready < 0)
    return errno == EINTR ? 0 : skiff_error_errno(err, "attach: poll");
  if (fds[2].revents & POLLIN)
    forward_signal(p);
  if ((fds[0].revents & POLLOUT) && send_pending(s, err) < 0)
    return -1;
  if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && read_input(s, err) < 0)
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
  struct pump_state s = {.p = p, .fds = {p->out_fd, p->err_fd}, .detached_at = -1};
  stdcopy_init(&s.demux, stream_sink_fds, s.fds);
  if (p->detach_keys)
    detach_scanner_init(&s.scan, p->detach_keys);
  p->detached = false;
  int r = p->early_len ? deliver(&s, p->early, p->early_len, err) : 0;
  while (r == 0)
    r = pump_once(&s, err);
  stdcopy_clear(&s.demux);
  return r < 0 ? -1 : 0;
}
