/* skiff-shim --exec: one short-lived shim per exec (docker exec). skiffd
 * starts it with fd 3 a SOCK_SEQPACKET control socket and, for an attached
 * exec, fd 4 the client's hijacked API connection itself: the streams flow
 * process <-> shim <-> client without passing through skiffd, and the shim
 * is the exec'd process's parent, so it learns the exit code first hand.
 *
 * Control messages, one per datagram:
 *   skiffd -> shim  the exec, as JSON, first: {"runtimeRoot", "id",
 *                   "process": an OCI process, "stdin", "stdout", "stderr",
 *                   "frames": docker's stdcopy framing of the output,
 *                   "detachKeys": docker's syntax, present when the client's
 *                   input is to be scanned for them (a terminal's)};
 *                   then "resize <rows> <cols>" at any time (terminal only)
 *   shim -> skiffd  "pid <n>" once the process runs, or "error <message>";
 *                   "detached" when the client typed the detach keys: the
 *                   shim has let go of the client, the exec runs on;
 *                   "exit <code>" once it has ended and its output is
 *                   drained, after the shim closed its copy of the client
 *                   connection (skiffd records the code before it closes
 *                   its own copy, so a client that sees EOF and inspects
 *                   the exec finds the code).
 * The exec outlives its client and skiffd, as docker's does: output nobody
 * reads is dropped, the exit is reported only if skiffd still listens. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/detachkeys.h"
#include "common/jsonutil.h"
#include "runtime/runtime.h"
#include "shim.h"

#define CTL_FD 3
#define CLIENT_FD 4
#define CHUNK (128 * 1024)
#define FRAME_HEADER 8
/* After the process exits, its output is read until EOF for at most this
 * long: a background process that keeps the pipe (or terminal) open must
 * not hold the exec forever. docker waits about as long (2 s with pipes,
 * 1 s with a terminal). */
#define DRAIN_PIPES_MS 2000
#define DRAIN_TTY_MS 1000
/* Output already read is given this long without progress to reach a
 * client that stopped reading. */
#define FLUSH_STALL_MS 5000

struct exec_conf {
  json_t *json;
  const char *root, *id;
  const char *detach_keys; /* NULL: the input is not scanned */
  json_t *process;
  bool in, out, err, frames;
};

/* Bytes on their way from one fd to another: buf[start, end). */
struct chunk {
  char buf[FRAME_HEADER + CHUNK];
  size_t start, end;
};

struct exec_io {
  int ctl, client;
  int in, out, err; /* the process's side: pipes, or the pty master (out) */
  bool tty, frames;
  bool client_eof; /* no more input from the client (or none attached) */
  struct detach_keys keys;
  struct detach_scanner *scan; /* the client's input scanned for keys, or NULL */
  struct detach_scanner scanner;
  struct chunk to_in, from_out, from_err;
  struct chunk *sending; /* the output chunk the client is being sent */
};

static void report(int ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int ctl, const char *fmt, ...)
{
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (ctl >= 0 && len > 0)
    send(ctl, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1,
         MSG_NOSIGNAL);
}

static int read_conf(int ctl, struct exec_conf *c, skiff_error_t **err)
{
  ssize_t size = recv(ctl, NULL, 0, MSG_PEEK | MSG_TRUNC);
  if (size <= 0)
    return skiff_error_errno(err, "exec shim: read the exec from skiffd");
  cleanup_free char *text = malloc((size_t)size + 1);
  if (text == NULL || recv(ctl, text, (size_t)size, 0) != size)
    return skiff_error_errno(err, "exec shim: read the exec from skiffd");
  text[size] = '\0';
  json_error_t jerr;
  c->json = json_loads(text, 0, &jerr);
  int in = 0, out = 0, errs = 0, frames = 0;
  if (c->json == NULL ||
      json_unpack_ex(c->json, &jerr, 0, "{s:s, s:s, s:o, s?b, s?b, s?b, s?b, s?s}",
                     "runtimeRoot", &c->root, "id", &c->id, "process", &c->process,
                     "stdin", &in, "stdout", &out, "stderr", &errs, "frames", &frames,
                     "detachKeys", &c->detach_keys) < 0)
    return skiff_error_set(err, EINVAL, "exec shim: bad exec from skiffd: %s",
                           jerr.text);
  c->in = in, c->out = out, c->err = errs, c->frames = frames;
  return 0;
}

static void set_nonblocking(int fd)
{
  if (fd >= 0)
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Without a terminal the process inherits our fds 0-2: a pipe for each
 * stream the client attached, /dev/null for the others. */
static int start_with_pipes(const struct exec_conf *c, const struct runtime_options *o,
                            struct exec_io *io, pid_t *pid, skiff_error_t **err)
{
  const bool wanted[3] = {c->in, c->out, c->err};
  int *ours[3] = {&io->in, &io->out, &io->err};
  int theirs[3] = {-1, -1, -1};
  for (int i = 0; i < 3; i++) {
    int p[2];
    if (!wanted[i])
      continue;
    if (pipe2(p, O_CLOEXEC) < 0)
      return skiff_error_errno(err, "exec shim: pipes for the process's stdio");
    theirs[i] = i == 0 ? p[0] : p[1];
    *ours[i] = i == 0 ? p[1] : p[0];
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++)
    dup2(theirs[i] >= 0 ? theirs[i] : devnull, i);
  int ret = runtime_exec_detached(o, c->process, pid, &(int){-1}, err);
  for (int i = 0; i < 3; i++) {
    dup2(devnull, i);
    if (theirs[i] >= 0)
      close(theirs[i]);
  }
  close(devnull);
  return ret;
}

static int start_process(const struct exec_conf *c, struct exec_io *io, pid_t *pid,
                         skiff_error_t **err)
{
  struct runtime_options o = {.root = c->root, .id = c->id};
  io->tty = json_is_true(json_object_get(c->process, "terminal"));
  if (!io->tty) {
    if (start_with_pipes(c, &o, io, pid, err) < 0)
      return -1;
  } else {
    int master = -1;
    if (runtime_exec_detached(&o, c->process, pid, &master, err) < 0)
      return -1;
    io->out = master;
    io->in = c->in ? dup(master) : -1;
  }
  set_nonblocking(io->in);
  set_nonblocking(io->out);
  set_nonblocking(io->err);
  return 0;
}

static bool chunk_empty(const struct chunk *c)
{
  return c->start == c->end;
}

static void chunk_clear(struct chunk *c)
{
  c->start = c->end = 0;
}

static void close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Without a terminal, the end of the client's input is the end of the
 * process's stdin, once what came before it is delivered. */
static void maybe_close_in(struct exec_io *io)
{
  if (io->client_eof && chunk_empty(&io->to_in) && !io->tty)
    close_fd(&io->in);
}

/* The client went away: its output is dropped from now on. */
static void drop_client(struct exec_io *io)
{
  close_fd(&io->client);
  chunk_clear(&io->from_out);
  chunk_clear(&io->from_err);
  io->sending = NULL;
  io->client_eof = true;
  maybe_close_in(io);
}

static void read_output(struct exec_io *io, int *fd, struct chunk *c, int stream)
{
  size_t off = io->frames ? FRAME_HEADER : 0;
  ssize_t n = read(*fd, c->buf + off, CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) { /* EOF, or EIO from a pty whose slave side is gone */
    close_fd(fd);
    if (io->tty)
      close_fd(&io->in); /* the dup of the master */
    return;
  }
  if (io->client < 0)
    return;
  if (io->frames) {
    uint32_t len = (uint32_t)n;
    unsigned char h[FRAME_HEADER] = {(unsigned char)stream,
                                     0,
                                     0,
                                     0,
                                     (unsigned char)(len >> 24),
                                     (unsigned char)(len >> 16),
                                     (unsigned char)(len >> 8),
                                     (unsigned char)len};
    memcpy(c->buf, h, sizeof h);
  }
  c->start = 0;
  c->end = off + (size_t)n;
}

/* One frame at a time: a chunk is sent whole before the next one starts,
 * so stdout and stderr frames never interleave. */
static bool send_output(struct exec_io *io)
{
  if (io->sending == NULL)
    io->sending = !chunk_empty(&io->from_out)   ? &io->from_out
                  : !chunk_empty(&io->from_err) ? &io->from_err
                                                : NULL;
  struct chunk *c = io->sending;
  if (c == NULL)
    return false;
  ssize_t n = send(io->client, c->buf + c->start, c->end - c->start,
                   MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return false;
  if (n < 0) {
    drop_client(io);
    return false;
  }
  c->start += (size_t)n;
  if (chunk_empty(c)) {
    chunk_clear(c);
    io->sending = NULL;
  }
  return true;
}

/* The client typed the detach keys: it goes, as docker's exec_detach, and
 * skiffd ends its stream when told. The process runs on (a terminal's
 * stdin stays open), its output dropped. */
static void detach_client(struct exec_io *io)
{
  drop_client(io);
  report(io->ctl, "detached");
}

/* Client input through the detach scanner into dst (room for CHUNK):
 * returns the bytes to forward; *detached when the keys completed. At the
 * client's end (n == 0) the keys held back are forwarded after all. */
static size_t scan_input(struct exec_io *io, const char *raw, ssize_t n, char *dst,
                         bool *detached)
{
  *detached = false;
  if (n == 0)
    return detach_scanner_flush(io->scan, dst);
  return detach_scanner_feed(io->scan, raw, (size_t)n, dst, detached);
}

/* Input from the client; once the process's stdin is closed it is read
 * and dropped, so that a client blocked sending it is never stuck. */
static void read_input(struct exec_io *io)
{
  static char raw[CHUNK];
  /* Room for what the scanner held back from the previous read. */
  size_t room = io->scan ? CHUNK - DETACHKEYS_MAX : CHUNK;
  ssize_t n = recv(io->client, io->scan ? raw : io->to_in.buf, room, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n < 0) {
    drop_client(io);
    return;
  }
  bool detached = false;
  size_t len = io->scan ? scan_input(io, raw, n, io->to_in.buf, &detached) : (size_t)n;
  if (io->in >= 0 && len > 0) {
    io->to_in.start = 0;
    io->to_in.end = len;
  }
  if (detached) {
    detach_client(io); /* after the bytes before the keys are queued */
  } else if (n == 0) { /* half-closed: the end of stdin */
    io->client_eof = true;
    maybe_close_in(io);
  }
}

static void write_input(struct exec_io *io)
{
  struct chunk *c = &io->to_in;
  ssize_t n = write(io->in, c->buf + c->start, c->end - c->start);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n < 0) { /* the process closed its stdin */
    close_fd(&io->in);
    chunk_clear(c);
    return;
  }
  c->start += (size_t)n;
  if (chunk_empty(c)) {
    chunk_clear(c);
    maybe_close_in(io);
  }
}

static void control(struct exec_io *io)
{
  char msg[256];
  ssize_t n = recv(io->ctl, msg, sizeof msg - 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) { /* skiffd is gone: the exec goes on */
    close_fd(&io->ctl);
    return;
  }
  msg[n] = '\0';
  struct winsize ws = {0};
  if (io->tty && io->out >= 0 &&
      sscanf(msg, "resize %hu %hu", &ws.ws_row, &ws.ws_col) == 2)
    ioctl(io->out, TIOCSWINSZ, &ws);
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool output_pending(const struct exec_io *io)
{
  return io->client >= 0 &&
         (!chunk_empty(&io->from_out) || !chunk_empty(&io->from_err));
}

static int wait_status(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return 255;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

enum { SLOT_CTL, SLOT_PID, SLOT_CLIENT, SLOT_IN, SLOT_OUT, SLOT_ERR, SLOT_COUNT };

static void poll_set(const struct exec_io *io, int pidfd, struct pollfd *p)
{
  bool take_input = io->client >= 0 && !io->client_eof && chunk_empty(&io->to_in);
  p[SLOT_CTL] = (struct pollfd){io->ctl, POLLIN, 0};
  p[SLOT_PID] = (struct pollfd){pidfd, POLLIN, 0};
  p[SLOT_CLIENT] = (struct pollfd){
      io->client,
      (short)((take_input ? POLLIN : 0) | (output_pending(io) ? POLLOUT : 0)), 0};
  p[SLOT_IN] = (struct pollfd){chunk_empty(&io->to_in) ? -1 : io->in, POLLOUT, 0};
  p[SLOT_OUT] = (struct pollfd){chunk_empty(&io->from_out) ? io->out : -1, POLLIN, 0};
  p[SLOT_ERR] = (struct pollfd){chunk_empty(&io->from_err) ? io->err : -1, POLLIN, 0};
}

static void handle_events(struct exec_io *io, struct pollfd *p)
{
  if (p[SLOT_CTL].revents)
    control(io);
  if (p[SLOT_IN].revents)
    write_input(io);
  if (p[SLOT_OUT].revents)
    read_output(io, &io->out, &io->from_out, 1);
  if (p[SLOT_ERR].revents)
    read_output(io, &io->err, &io->from_err, 2);
  if (io->client >= 0 && (p[SLOT_CLIENT].revents & (POLLHUP | POLLERR)))
    drop_client(io);
  if (io->client >= 0 && (p[SLOT_CLIENT].revents & POLLIN))
    read_input(io);
  while (output_pending(io) && send_output(io))
    ;
}

/* Relay until the process has exited and its output reached the client
 * (or the drain and flush limits passed). Returns its exit code. */
static int relay(struct exec_io *io, pid_t pid, int pidfd)
{
  int code = -1;
  long long exited_at = 0, progress_at = 0;
  for (;;) {
    long long now = now_ms();
    if (code >= 0 && now - exited_at > (io->tty ? DRAIN_TTY_MS : DRAIN_PIPES_MS)) {
      close_fd(&io->out);
      close_fd(&io->err);
    }
    bool reading = io->out >= 0 || io->err >= 0;
    if (code >= 0 && !reading &&
        (!output_pending(io) || now - progress_at > FLUSH_STALL_MS))
      return code;
    struct pollfd p[SLOT_COUNT];
    poll_set(io, code >= 0 ? -1 : pidfd, p);
    int n = poll(p, SLOT_COUNT, code >= 0 ? 100 : -1);
    if (n < 0 && errno != EINTR)
      return code >= 0 ? code : wait_status(pid);
    if (n > 0)
      progress_at = now_ms();
    if (n > 0 && (p[SLOT_PID].revents & POLLIN)) {
      code = wait_status(pid);
      exited_at = now_ms();
    }
    if (n > 0)
      handle_events(io, p);
  }
}

int shim_exec_main(void)
{
  skiff_error_t *err = NULL;
  struct exec_conf conf = {0};
  struct exec_io io = {.ctl = CTL_FD, .client = -1, .in = -1, .out = -1, .err = -1};
  if (fcntl(CLIENT_FD, F_GETFD) >= 0)
    io.client = CLIENT_FD;
  fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
  if (io.client >= 0)
    fcntl(io.client, F_SETFD, FD_CLOEXEC);
  pid_t pid = 0;
  int pidfd = -1;
  if (read_conf(CTL_FD, &conf, &err) < 0 || start_process(&conf, &io, &pid, &err) < 0 ||
      (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
    if (pid > 0 && pidfd < 0) {
      skiff_error_errno(&err, "exec shim: pidfd_open (Linux >= 5.3)");
      kill(pid, SIGKILL);
      wait_status(pid);
    }
    report(CTL_FD, "error %s", err->msg);
    skiff_error_free(&err);
    json_decref(conf.json);
    return 1;
  }
  report(CTL_FD, "pid %d", (int)pid);
  io.frames = conf.frames;
  if (conf.detach_keys && detachkeys_parse(conf.detach_keys, &io.keys, NULL) == 0) {
    detach_scanner_init(&io.scanner, &io.keys);
    io.scan = &io.scanner;
  }
  io.client_eof = !conf.in || io.client < 0;
  int code = relay(&io, pid, pidfd);
  close_fd(&io.client);
  report(io.ctl, "exit %d", code);
  close(pidfd);
  json_decref(conf.json);
  return 0;
}
