/* The shim's I/O loop: container output → json-file log and attached
 * clients; client input → container stdin; SIGCHLD → reap, note init's
 * exit. Attach protocol on attach.sock: the client sends one JSON line
 * {"stdin":b,"stdout":b,"stderr":b}, then raw stdin bytes (EOF = stdin
 * closed); it receives output raw with a tty, else in docker's stdcopy
 * frames (8-byte header: stream, 0, 0, 0, big-endian length), so that
 * skiffd can relay it unchanged to a hijacked API connection. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "shim.h"

enum { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2 };

static void drop_client(struct shim_io *io, size_t i)
{
  close(io->clients[i].fd);
  io->clients[i] = io->clients[--io->nclients];
}

static int send_frame(struct shim_io *io, int fd, int stream, const char *data,
                      size_t len)
{
  if (io->tty)
    return fs_write_all(fd, data, len);
  unsigned char header[8] = {(unsigned char)stream,
                             0,
                             0,
                             0,
                             (unsigned char)(len >> 24),
                             (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8),
                             (unsigned char)len};
  if (fs_write_all(fd, header, sizeof header) < 0)
    return -1;
  return fs_write_all(fd, data, len);
}

static void fan_out(struct shim_io *io, int stream, const char *data, size_t len)
{
  if (io->log)
    jsonlog_write(io->log, stream == STREAM_STDERR ? "stderr" : "stdout", data, len,
                  NULL);
  for (size_t i = 0; i < io->nclients;) {
    struct shim_client *c = &io->clients[i];
    bool wants = stream == STREAM_STDERR ? c->stderr : c->stdout;
    if (wants && send_frame(io, c->fd, stream, data, len) < 0) {
      drop_client(io, i);
      continue;
    }
    i++;
  }
}

/* Read once from a container output fd; -1 at its end. */
static int pump_output(struct shim_io *io, int *fd, int stream)
{
  char buf[32768];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0) { /* EOF, or EIO from a pty whose slave side is gone */
    close(*fd);
    *fd = -1;
    if (io->tty && io->in >= 0) { /* the dup of the master we write stdin to */
      close(io->in);
      io->in = -1;
      io->stdin_pending.len = io->stdin_pending.off = 0;
    }
    return -1;
  }
  fan_out(io, stream, buf, (size_t)n);
  return 0;
}

/* The container's stdin ends (not a terminal's: that is the terminal),
 * once what it has not read yet is written. */
static void close_stdin(struct shim_io *io)
{
  if (io->in < 0 || io->tty)
    return;
  if (io->stdin_pending.len > 0) {
    io->stdin_pending.close_in = true;
    return;
  }
  close(io->in);
  io->in = -1;
}

/* Write pending stdin as far as the container takes it. */
static void flush_stdin(struct shim_io *io)
{
  typeof(io->stdin_pending) *p = &io->stdin_pending;
  while (io->in >= 0 && p->off < p->len) {
    ssize_t n = write(io->in, p->buf + p->off, p->len - p->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n < 0) { /* the container closed its stdin: drop what it never read */
      p->close_in = true;
      break;
    }
    p->off += (size_t)n;
  }
  p->off = p->len = 0;
  if (p->close_in) {
    p->close_in = false;
    close_stdin(io);
  }
}

/* Called only with nothing pending, so that a read always fits. */
static void feed_stdin(struct shim_io *io, const char *data, size_t len)
{
  if (io->in < 0)
    return;
  memcpy(io->stdin_pending.buf, data, len);
  io->stdin_pending.len = len;
  flush_stdin(io);
}

void shim_io_accept(struct shim_io *io)
{
  int fd = accept4(io->listener, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return;
  char line[512];
  size_t used = 0;
  while (used < sizeof line - 1) { /* the header line, byte by byte: no over-read */
    ssize_t n = read(fd, line + used, 1);
    if (n <= 0 || line[used] == '\n')
      break;
    used++;
  }
  line[used] = '\0';
  json_t *h = json_loads(line, 0, NULL);
  if (h && shim_control_handle(io, fd, h)) {
    json_decref(h);
    close(fd);
    return;
  }
  if (h == NULL || io->nclients == SHIM_MAX_CLIENTS) {
    json_decref(h);
    close(fd);
    return;
  }
  io->clients[io->nclients++] =
      (struct shim_client){.fd = fd,
                           .stdin = json_is_true(json_object_get(h, "stdin")),
                           .stdout = json_is_true(json_object_get(h, "stdout")),
                           .stderr = json_is_true(json_object_get(h, "stderr"))};
  json_decref(h);
}

/* Whether a client's input is polled for: not after its end, and not
 * while its stdin bytes would have nowhere to go. */
static bool reads_input(const struct shim_io *io, const struct shim_client *c)
{
  return !c->input_ended && !(c->stdin && io->stdin_pending.len > 0);
}

/* Input from an attached client: stdin bytes, or its end. */
static void client_input(struct shim_io *io, size_t i, short revents)
{
  char buf[sizeof io->stdin_pending.buf];
  struct shim_client *c = &io->clients[i];
  if (!(revents & POLLIN)) {
    /* A hang-up while not read: it closed both directions. */
    if (c->stdin && io->stdin_once)
      close_stdin(io);
    drop_client(io, i);
    return;
  }
  if (c->stdin && io->stdin_pending.len > 0)
    return; /* another client's input came first: next time */
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n > 0) {
    if (c->stdin)
      feed_stdin(io, buf, (size_t)n);
    return;
  }
  if (c->stdin && io->stdin_once)
    close_stdin(io);
  if (!c->stdout && !c->stderr) {
    drop_client(io, i);
    return;
  }
  /* Half-closed: keep sending it output. Its end of input stays readable
   * (EOF) forever, so from now on only its hang-up is polled for. */
  c->stdin = false;
  c->input_ended = true;
}

/* Reap every child (we are a subreaper); true once init is among them. */
static bool reap(int sigchld_fd, pid_t init_pid, int *init_status)
{
  struct signalfd_siginfo info;
  while (read(sigchld_fd, &info, sizeof info) > 0)
    ;
  bool init_done = false;
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == init_pid) {
      *init_status = status;
      init_done = true;
    }
  }
  return init_done;
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int shim_io_run(struct shim_io *io, pid_t init_pid, int sigchld_fd)
{
  int init_status = 0;
  long long exited_at = -1;
  if (io->in >= 0) /* see stdin_pending */
    fcntl(io->in, F_SETFL, fcntl(io->in, F_GETFL) | O_NONBLOCK);
  for (;;) {
    /* After init is gone, output is drained for at most 2 s: a process that
     * escaped the PID namespace's end must not keep the exit unrecorded. */
    if (exited_at >= 0 && ((io->out < 0 && io->err < 0) || now_ms() - exited_at > 2000))
      break;
    enum { FIXED_FDS = 5 };
    struct pollfd fds[FIXED_FDS + SHIM_MAX_CLIENTS];
    size_t n = 0;
    fds[n++] = (struct pollfd){sigchld_fd, POLLIN, 0};
    fds[n++] = (struct pollfd){io->listener, POLLIN, 0};
    fds[n++] = (struct pollfd){io->out, POLLIN, 0};
    fds[n++] = (struct pollfd){io->err, POLLIN, 0};
    fds[n++] = (struct pollfd){io->stdin_pending.len ? io->in : -1, POLLOUT, 0};
    for (size_t i = 0; i < io->nclients; i++)
      fds[n++] = (struct pollfd){io->clients[i].fd,
                                 reads_input(io, &io->clients[i]) ? POLLIN : 0, 0};
    if (poll(fds, n, exited_at >= 0 ? 100 : -1) < 0 && errno != EINTR)
      break;
    if (fds[4].revents & (POLLOUT | POLLHUP | POLLERR))
      flush_stdin(io);
    /* Clients first, from the last: dropping one moves only the last into
     * its place, and no output has been fanned out (which may drop) yet. */
    for (size_t i = n; i-- > FIXED_FDS;)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR) && i - FIXED_FDS < io->nclients)
        client_input(io, i - FIXED_FDS, fds[i].revents);
    if ((fds[0].revents & POLLIN) && reap(sigchld_fd, init_pid, &init_status))
      exited_at = now_ms();
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
      pump_output(io, &io->out, STREAM_STDOUT);
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR))
      pump_output(io, &io->err, STREAM_STDERR);
    if (fds[1].revents & POLLIN)
      shim_io_accept(io);
  }
  for (size_t i = io->nclients; i-- > 0;)
    drop_client(io, i);
  return init_status;
}
