/* exec: docker's flow (docker/cli's RunExec): create the exec, start it
 * hijacked (or detached with -d), copy the streams, then inspect it for
 * the exit code. With -t the local terminal is raw (term.c), its size
 * follows SIGWINCH to /exec/{id}/resize, and with -i the detach keys end
 * the session (the daemon ends the stream; the exec runs on). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "stream.h"
#include "term.h"

struct exec_flags {
  bool detach, interactive, tty, privileged;
  const char *user, *workdir, *detach_keys;
  struct strlist env, env_file;
};

/* --detach-keys, else the client configuration's detachKeys, else "" (the
 * daemon's default, ctrl-p,ctrl-q), as docker's CLI sends them. */
static const char *detach_keys_spec(const struct exec_flags *f)
{
  const char *keys = f->detach_keys ? f->detach_keys : cli_config_detach_keys();
  return keys ? keys : "";
}

/* docker's ExecOptions: every stream attached unless -d, stdin with -i. */
static json_t *exec_config(const struct exec_flags *f, char **args, int nargs,
                           skiff_error_t **err)
{
  json_t *env = cli_build_env(&f->env, &f->env_file, err);
  if (env == NULL)
    return NULL;
  json_t *cmd = json_array();
  for (int i = 1; i < nargs; i++)
    json_array_append_new(cmd, json_string(args[i]));
  json_t *config =
      json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:s, s:o, s:s, s:o}", "User",
                f->user ? f->user : "", "Privileged", f->privileged, "Tty", f->tty,
                "AttachStdin", f->interactive && !f->detach, "AttachStdout", !f->detach,
                "AttachStderr", !f->detach, "DetachKeys", detach_keys_spec(f), "Env",
                env, "WorkingDir", f->workdir ? f->workdir : "", "Cmd", cmd);
  unsigned rows, cols;
  if (f->tty && term_size(STDOUT_FILENO, &rows, &cols))
    json_object_set_new(config, "ConsoleSize", json_pack("[i, i]", rows, cols));
  return config;
}

static char *create_exec(struct cli *cli, const char *container, json_t *config,
                         skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/containers/%s/exec", container);
  cleanup_json json_t *answer =
      path ? client_json(cli->client, "POST", path, config, NULL, err) : NULL;
  const char *id = json_string_value(json_object_get(answer, "Id"));
  if (id == NULL && answer)
    skiff_error_invalid(err, "the daemon's answer to exec has no Id");
  return id ? strdup(id) : NULL;
}

static int exit_code(struct cli *cli, const char *exec_id, skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/exec/%s/json", exec_id);
  cleanup_json json_t *info = client_json(cli->client, "GET", path, NULL, NULL, err);
  if (info == NULL)
    return -1;
  return (int)json_integer_value(json_object_get(info, "ExitCode"));
}

struct exec_session {
  struct cli *cli;
  char *resize_path;
  int signal_fd;
  sigset_t old_mask;
};

static void on_signal(int signo, void *arg)
{
  struct exec_session *s = arg;
  unsigned rows, cols;
  if (signo == SIGWINCH && term_size(STDOUT_FILENO, &rows, &cols))
    term_send_size(s->cli->client, s->resize_path, rows, cols);
}

/* SIGWINCH through a signalfd, so the copy loop sees it between reads. */
static void watch_resizes(struct exec_session *s)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  if (pthread_sigmask(SIG_BLOCK, &set, &s->old_mask) == 0)
    s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
}

static void session_end(struct exec_session *s)
{
  term_restore();
  if (s->signal_fd >= 0) {
    close(s->signal_fd);
    pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
  }
  free(s->resize_path);
}

/* The keys the daemon was given; docker's CLI watches for the same ones
 * (the default ones when the daemon refused them). */
static void watched_keys(const struct exec_flags *f, struct detach_keys *keys)
{
  if (detachkeys_parse(detach_keys_spec(f), keys, NULL) < 0)
    detachkeys_parse(NULL, keys, NULL);
}

static int run_attached(struct cli *cli, const struct exec_flags *f,
                        const char *exec_id, json_t *start, skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/exec/%s/start", exec_id);
  struct client_conn conn;
  if (path == NULL || client_hijack(cli->client, "POST", path, start, &conn, err) < 0)
    return -1;
  struct exec_session s = {
      .cli = cli, .signal_fd = -1, .resize_path = cli_path("/exec/%s/resize", exec_id)};
  struct detach_keys keys;
  watched_keys(f, &keys);
  bool raw = false;
  if (f->tty) {
    watch_resizes(&s);
    raw = f->interactive && term_make_raw(STDIN_FILENO);
  }
  struct stream_pump p = {.sock = conn.fd,
                          .early = conn.early,
                          .early_len = conn.early_len,
                          .tty = f->tty,
                          .in_fd = f->interactive ? STDIN_FILENO : -1,
                          .out_fd = STDOUT_FILENO,
                          .err_fd = STDERR_FILENO,
                          .signal_fd = s.signal_fd,
                          .on_signal = on_signal,
                          .arg = &s,
                          .detach_keys = raw ? &keys : NULL};
  fflush(stdout);
  int r = stream_pump_run(&p, err);
  session_end(&s);
  client_conn_close(&conn);
  if (r < 0)
    return -1;
  /* docker's exec reports a detach as an error, without inspecting the
   * exec, which runs on. */
  if (p.detached)
    return skiff_error_invalid(err, "read escape sequence");
  return exit_code(cli, exec_id, err);
}

static int run_exec(struct cli *cli, const struct exec_flags *f, char **args, int nargs,
                    skiff_error_t **err)
{
  /* docker checks this before it asks the daemon anything */
  if (term_check_stdin(f->interactive && !f->detach, f->tty, err) < 0)
    return -1;
  for (size_t i = 0; i < f->env.n; i++)
    if (f->env.items[i][0] == '\0' || f->env.items[i][0] == '=')
      cli->fail_status = 125; /* docker refuses it as a bad flag value */
  cleanup_json json_t *config = exec_config(f, args, nargs, err);
  cleanup_free char *exec_id = config ? create_exec(cli, args[0], config, err) : NULL;
  if (exec_id == NULL)
    return -1;
  cleanup_json json_t *start =
      json_pack("{s:b, s:b}", "Detach", f->detach, "Tty", f->tty);
  json_t *size = json_object_get(config, "ConsoleSize");
  if (size)
    json_object_set(start, "ConsoleSize", size);
  if (!f->detach)
    return run_attached(cli, f, exec_id, start, err);
  cleanup_free char *path = cli_path("/exec/%s/start", exec_id);
  return path ? client_simple(cli->client, "POST", path, start, NULL, err) : -1;
}

int cmd_exec(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct exec_flags f = {0};
  struct opt opts[] = {
      {"detach", 'd', OPT_BOOL, &f.detach, NULL,
       "Detached mode: run command in the background", NULL},
      {"detach-keys", 0, OPT_STRING, &f.detach_keys, "string",
       "Override the key sequence for detaching a container", NULL},
      {"env", 'e', OPT_LIST, &f.env, "list", "Set environment variables", NULL},
      {"env-file", 0, OPT_LIST, &f.env_file, "list",
       "Read in a file of environment variables", NULL},
      {"interactive", 'i', OPT_BOOL, &f.interactive, NULL,
       "Keep STDIN open even if not attached", NULL},
      {"privileged", 0, OPT_BOOL, &f.privileged, NULL,
       "Give extended privileges to the command", NULL},
      {"tty", 't', OPT_BOOL, &f.tty, NULL, "Allocate a pseudo-TTY", NULL},
      {"user", 'u', OPT_STRING, &f.user, "string",
       "Username or UID (format: \"<name|uid>[:<group|gid>]\")", NULL},
      {"workdir", 'w', OPT_STRING, &f.workdir, "string",
       "Working directory inside the container", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER COMMAND [ARG...]",
                              .summary = "Execute a command in a running container",
                              .aliases = "skiff container exec, skiff exec",
                              .min_args = 2,
                              .max_args = -1,
                              .stop_at_arg = true};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r == OPTS_OK)
    r = run_exec(cli, &f, args, nargs, err);
  strlist_free(&f.env);
  strlist_free(&f.env_file);
  return r == OPTS_HELP ? 0 : r;
}
