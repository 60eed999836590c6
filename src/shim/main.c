/* skiff-shim <state-dir>: see shim.h. skiffd starts it with fd 3 open for
 * the answer: "ok <init pid>\n" once the container runs, or "error <msg>\n". */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/unixsock.h"
#include "runtime/runtime.h"
#include "shim.h"

#define READY_FD 3

int shim_config_load(const char *dir, struct shim_config *cfg, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/shim.json", dir) < 0)
    return skiff_error_set(err, ENOMEM, "shim.json");
  cleanup_json json_t *j = jsonutil_load_file(path, err);
  const char *id = NULL, *bundle = NULL, *root = NULL, *log = NULL;
  int64_t max_size = 0, max_files = 1, wait_attach = 0, listen_fd = -1;
  if (j == NULL || jsonutil_req_string(j, "id", &id, "shim", err) < 0 ||
      jsonutil_req_string(j, "bundle", &bundle, "shim", err) < 0 ||
      jsonutil_req_string(j, "runtimeRoot", &root, "shim", err) < 0 ||
      jsonutil_opt_string(j, "logPath", &log, "shim", err) < 0 ||
      jsonutil_opt_bool(j, "tty", &cfg->tty, "shim", err) < 0 ||
      jsonutil_opt_bool(j, "openStdin", &cfg->open_stdin, "shim", err) < 0 ||
      jsonutil_opt_bool(j, "stdinOnce", &cfg->stdin_once, "shim", err) < 0 ||
      jsonutil_opt_int64(j, "logMaxSize", &max_size, "shim", err) < 0 ||
      jsonutil_opt_int64(j, "logMaxFiles", &max_files, "shim", err) < 0 ||
      jsonutil_opt_int64(j, "waitForAttach", &wait_attach, "shim", err) < 0 ||
      jsonutil_opt_int64(j, "listenFd", &listen_fd, "shim", err) < 0)
    return -1;
  cfg->dir = strdup(dir);
  cfg->id = strdup(id);
  cfg->bundle = strdup(bundle);
  cfg->runtime_root = strdup(root);
  cfg->log_path = log ? strdup(log) : NULL;
  cfg->log_max_size = max_size > 0 ? (uint64_t)max_size : 0;
  cfg->log_max_files = max_files > 0 ? (unsigned)max_files : 1;
  cfg->wait_for_attach = wait_attach > 0 ? (unsigned)wait_attach : 0;
  cfg->listen_fd = listen_fd >= 3 ? (int)listen_fd : -1;
  return 0;
}

/* Give the container our stdio ends: it inherits fds 0-2 from us. */
static int create_with_pipes(const struct shim_config *cfg, struct runtime_options *o,
                             struct shim_io *io, pid_t *pid, skiff_error_t **err)
{
  int out[2], errp[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
      (cfg->open_stdin && pipe2(in, O_CLOEXEC) < 0))
    return skiff_error_errno(err, "pipes for the container's stdio");
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(cfg->open_stdin ? in[0] : devnull, 0);
  dup2(out[1], 1);
  dup2(errp[1], 2);
  int ret = runtime_create(o, pid, err);
  /* Our own stdio is /dev/null again: the container holds the pipes. */
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  close(devnull);
  close(out[1]);
  close(errp[1]);
  if (in[0] >= 0)
    close(in[0]);
  io->out = out[0];
  io->err = errp[0];
  io->in = in[1];
  return ret;
}

static int start_container(const struct shim_config *cfg, struct shim_io *io,
                           pid_t *pid, skiff_error_t **err)
{
  struct runtime_options o = {
      .root = cfg->runtime_root, .id = cfg->id, .bundle = cfg->bundle};
  int ret;
  if (cfg->tty) {
    int master = -1;
    ret = runtime_create_with_pty(&o, pid, &master, err);
    io->out = master;
    io->in = master >= 0 ? dup(master) : -1;
    io->err = -1;
  } else {
    ret = create_with_pipes(cfg, &o, io, pid, err);
  }
  if (ret < 0)
    return -1;
  if (runtime_start(cfg->runtime_root, cfg->id, err) < 0) {
    runtime_delete(cfg->runtime_root, cfg->id, true, NULL);
    return -1;
  }
  return 0;
}

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void answer(const char *fmt, ...)
{
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  ssize_t ignored = write(READY_FD, line, strlen(line));
  (void)ignored;
  close(READY_FD);
}

static int record_exit(const struct shim_config *cfg, int status, bool oom)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char when[48];
  jsonlog_format_time((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, when, sizeof when);
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  cleanup_json json_t *exit_info = json_pack("{s:i, s:s, s:b}", "ExitCode", code,
                                             "FinishedAt", when, "OOMKilled", oom);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/exit.json", cfg->dir) < 0)
    return -1;
  /* Atomic, not synced: it must outlive skiffd, not the machine (after a
   * reboot the container is stopped whatever the file says). */
  return jsonutil_save_file(path, exit_info, 0, NULL);
}

static int shim_main(const char *dir)
{
  skiff_error_t *err = NULL;
  struct shim_config cfg = {0};
  struct shim_io io = {.out = -1, .err = -1, .in = -1, .listener = -1};
  if (shim_config_load(dir, &cfg, &err) < 0)
    goto fail;
  io.tty = cfg.tty;
  io.stdin_once = cfg.stdin_once;
  if (cfg.log_path && (io.log = jsonlog_open(cfg.log_path, cfg.log_max_size,
                                             cfg.log_max_files, &err)) == NULL)
    goto fail;
  cleanup_free char *sock_path = NULL;
  if (asprintf(&sock_path, "%s/attach.sock", dir) < 0)
    goto fail;
  if (cfg.listen_fd >= 0) {
    /* skiffd bound it before starting us, so that its attach clients could
     * connect (and queue) at once. */
    io.listener = cfg.listen_fd;
    fcntl(io.listener, F_SETFD, FD_CLOEXEC);
  } else {
    unlink(sock_path);
    if ((io.listener = unixsock_listen(sock_path, 16, &err)) < 0)
      goto fail;
  }
  /* Orphans of the container's processes are ours to reap. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigchld = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  /* docker run attaches before it starts: let those clients in first, so
   * that not a byte of the output is missed (10 s at most). */
  for (int waited = 0; io.nclients < cfg.wait_for_attach && waited < 1000; waited++) {
    struct pollfd p = {io.listener, POLLIN, 0};
    if (poll(&p, 1, 10) > 0)
      shim_io_accept(&io);
  }
  pid_t pid = 0;
  if (sigchld < 0 || start_container(&cfg, &io, &pid, &err) < 0)
    goto fail;
  answer("ok %d\n", (int)pid);
  shim_trim_startup_memory();
  int status = shim_io_run(&io, pid, sigchld);
  jsonlog_close(io.log);
  bool oom = runtime_oom_killed(cfg.runtime_root, cfg.id);
  record_exit(&cfg, status, oom);
  runtime_delete(cfg.runtime_root, cfg.id, true, NULL);
  unlink(sock_path);
  return 0;
fail:
  answer("error %s\n", err && err->msg ? err->msg : "shim setup failed");
  return 1;
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: skiff-shim STATE-DIR | --exec (started by skiffd)\n");
    return 2;
  }
  bool exec_mode = strcmp(argv[1], "--exec") == 0;
  /* The container's init runs our image until its execve: skiffd starts us
   * from a sealed copy (CVE-2019-5736); started otherwise, re-execute from
   * one first. */
  skiff_error_t *err = NULL;
  if (runtime_ensure_cloned_binary(argv, &err) < 0) {
    if (!exec_mode)
      answer("error %s\n", err->msg);
    return 1;
  }
  prctl(PR_SET_NAME, "skiff-shim", 0, 0, 0); /* not "memfd:skiff-shim" */
  signal(SIGPIPE, SIG_IGN);
  return exec_mode ? shim_exec_main() : shim_main(argv[1]);
}
