/* Docker's credential helpers, spoken to as docker-credential-helpers'
 * client package does: no shell, the request on stdin, the answer read
 * from stdout (bounded), and a failure reported with Go's own words for
 * what went wrong ("exit status 1", "executable file not found in $PATH")
 * inside docker's sentence, so that users can search for it. */
#include "credhelper.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/proc.h"

extern char **environ;

#define HELPER_PREFIX "docker-credential-"
#define NOT_FOUND_MESSAGE "credentials not found in native keychain"
/* Helpers answer with a few hundred bytes; `list` with one line per
 * registry. More than this is a broken helper, not credentials. */
#define MAX_OUTPUT (1024 * 1024)

struct helper_output {
  char *data; /* NUL-terminated */
  size_t len;
  bool overflow;
};

void credhelper_creds_clear(struct credhelper_creds *creds)
{
  free(creds->username);
  free(creds->secret);
  creds->username = creds->secret = NULL;
}

/* Go's exec.LookPath: a name with a slash is a path; otherwise the first
 * executable regular file of that name in an absolute $PATH entry. */
static char *find_program(const char *prog)
{
  struct stat st;
  if (strchr(prog, '/'))
    return stat(prog, &st) == 0 && !S_ISDIR(st.st_mode) && access(prog, X_OK) == 0
               ? strdup(prog)
               : NULL;
  const char *path = getenv("PATH");
  for (const char *p = path ? path : ""; *p;) {
    size_t n = strcspn(p, ":");
    char *candidate = NULL;
    if (*p == '/' && asprintf(&candidate, "%.*s/%s", (int)n, p, prog) >= 0 &&
        stat(candidate, &st) == 0 && !S_ISDIR(st.st_mode) &&
        access(candidate, X_OK) == 0)
      return candidate;
    free(candidate);
    p += n + (p[n] == ':');
  }
  return NULL;
}

static void output_append(struct helper_output *out, const char *chunk, size_t n)
{
  if (out->overflow || out->len + n > MAX_OUTPUT) {
    out->overflow = true;
    return;
  }
  char *bigger = realloc(out->data, out->len + n + 1);
  if (bigger == NULL) {
    out->overflow = true;
    return;
  }
  memcpy(bigger + out->len, chunk, n);
  out->len += n;
  bigger[out->len] = '\0';
  out->data = bigger;
}

/* Feed input to in_fd (non-blocking) while reading out_fd to its end, so
 * that a helper writing before it has read all of its stdin never
 * deadlocks with us. Closes in_fd. */
static void exchange(int in_fd, int out_fd, const char *input,
                     struct helper_output *out)
{
  size_t off = 0, len = strlen(input);
  struct pollfd fds[2] = {{in_fd, POLLOUT, 0}, {out_fd, POLLIN, 0}};
  while (fds[1].fd >= 0) {
    if (fds[0].fd >= 0 && off == len) {
      close(fds[0].fd);
      fds[0].fd = -1;
    }
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[0].fd >= 0 && fds[0].revents) {
      ssize_t n = write(in_fd, input + off, len - off);
      if (n > 0)
        off += (size_t)n;
      else if (errno != EAGAIN && errno != EINTR)
        off = len; /* the helper closed its stdin: nothing more to give */
    }
    if (fds[1].revents) {
      char chunk[8192];
      ssize_t n = read(out_fd, chunk, sizeof chunk);
      if (n > 0)
        output_append(out, chunk, (size_t)n);
      /* past the bound, stop listening: the helper's next write fails */
      if (n == 0 || out->overflow || (n < 0 && errno != EINTR && errno != EAGAIN))
        fds[1].fd = -1;
    }
  }
  if (fds[0].fd >= 0)
    close(fds[0].fd);
}

/* A write to a helper that exited without reading must give EPIPE, not
 * kill the CLI: SIGPIPE is blocked around the exchange and a pending one
 * taken back before the mask is restored. */
static void exchange_without_sigpipe(int in_fd, int out_fd, const char *input,
                                     struct helper_output *out)
{
  sigset_t pipe_set, saved;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigprocmask(SIG_BLOCK, &pipe_set, &saved);
  exchange(in_fd, out_fd, input, out);
  if (!sigismember(&saved, SIGPIPE)) {
    struct timespec none = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &none) == SIGPIPE)
      ;
  }
  sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* Start path as argv with stdin and stdout on the given pipe ends; the
 * helper gets default signal handling back whatever the CLI set. */
static int spawn_helper(const char *path, char **argv, int stdin_fd, int stdout_fd,
                        pid_t *pid)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
  proc_spawnattr_init_clean(&attr);
  int rc = posix_spawn(pid, path, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc;
}

/* Go spells errno and signal names in lower case ("permission denied",
 * "signal: killed"): libc's text with its first letter lowered. */
static char *lowercase_dup(const char *text)
{
  char *copy = strdup(text);
  if (copy)
    copy[0] = (char)tolower((unsigned char)copy[0]);
  return copy;
}

static char *go_errno_text(int errnum)
{
  return lowercase_dup(strerror(errnum));
}

/* Go's ExitError text for the wait status of a failed run. */
static char *wait_status_text(int status)
{
  char *text = NULL;
  if (WIFEXITED(status)) {
    if (asprintf(&text, "exit status %d", WEXITSTATUS(status)) < 0)
      return NULL;
    return text;
  }
  cleanup_free char *sig = lowercase_dup(strsignal(WTERMSIG(status)));
  if (asprintf(&text, "signal: %s%s", sig ? sig : "?",
               WCOREDUMP(status) ? " (core dumped)" : "") < 0)
    return NULL;
  return text;
}

/* Run path with one action, input on its stdin. Returns 0 when it exited
 * 0 with output that fits; otherwise -1 and *cause (may be NULL when out
 * of memory) in Go's words. */
static int run_program(const char *prog, const char *path, const char *action,
                       const char *input, struct helper_output *out, char **cause)
{
  int in[2], outp[2];
  if (pipe2(in, O_CLOEXEC) < 0)
    return *cause = go_errno_text(errno), -1;
  if (pipe2(outp, O_CLOEXEC) < 0) {
    *cause = go_errno_text(errno);
    close(in[0]);
    close(in[1]);
    return -1;
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK); /* our end only: the helper's stdin blocks */
  char *argv[] = {(char *)prog, (char *)action, NULL};
  pid_t pid;
  int rc = spawn_helper(path, argv, in[0], outp[1], &pid);
  close(in[0]);
  close(outp[1]);
  if (rc != 0) {
    close(in[1]);
    close(outp[0]);
    cleanup_free char *why = go_errno_text(rc);
    if (asprintf(cause, "fork/exec %s: %s", path, why ? why : "?") < 0)
      *cause = NULL;
    return -1;
  }
  exchange_without_sigpipe(in[1], outp[0], input, out);
  close(outp[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (out->overflow) {
    if (asprintf(cause, "output longer than %d bytes", MAX_OUTPUT) < 0)
      *cause = NULL;
    return -1;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  *cause = wait_status_text(status);
  return -1;
}

/* Docker's messages for what a helper says it was not given. */
static bool is_missing_field_message(const char *text)
{
  return strcmp(text, "no credentials server URL") == 0 ||
         strcmp(text, "no credentials username") == 0;
}

static char *trim(char *text)
{
  while (isspace((unsigned char)*text))
    text++;
  size_t n = strlen(text);
  while (n > 0 && isspace((unsigned char)text[n - 1]))
    text[--n] = '\0';
  return text;
}

/* Run helper `name` for action with input. Returns 0 with *out holding its
 * stdout, 1 when it answered "credentials not found", -1 with *err as
 * docker words it ("error <verb> credentials - err: ..., out: `...`"). */
static int helper_call(const char *name, const char *action, const char *verb,
                       const char *input, struct helper_output *out,
                       skiff_error_t **err)
{
  cleanup_free char *prog = NULL, *cause = NULL;
  if (asprintf(&prog, HELPER_PREFIX "%s", name) < 0)
    return skiff_error_set(err, ENOMEM, "credential helper %s", name);
  cleanup_free char *path = find_program(prog);
  int rc = -1;
  if (path == NULL) {
    if (asprintf(&cause, "exec: \"%s\": executable file not found in $PATH", prog) < 0)
      cause = NULL;
  } else {
    rc = run_program(prog, path, action, input, out, &cause);
  }
  if (rc == 0)
    return 0;
  char *text = trim(out->data && !out->overflow ? out->data : "");
  if (is_missing_field_message(text))
    return skiff_error_invalid(err, "%s", text);
  if (strcmp(action, "get") == 0 && strcmp(text, NOT_FOUND_MESSAGE) == 0)
    return 1;
  return skiff_error_invalid(err, "error %s credentials - err: %s, out: `%s`", verb,
                             cause ? cause : "?", text);
}

/* A string member of a helper's answer, matched without regard to case
 * as Go's JSON decoder does. Returns 0 (absent is ""), or -1. */
static int answer_string(json_t *answer, const char *field, char **value)
{
  const char *key;
  json_t *v;
  json_object_foreach(answer, key, v)
  {
    if (strcasecmp(key, field) != 0)
      continue;
    if (!json_is_string(v) && !json_is_null(v))
      return -1;
    *value = strdup(json_is_string(v) ? json_string_value(v) : "");
    return *value ? 0 : -1;
  }
  *value = strdup("");
  return *value ? 0 : -1;
}

int credhelper_get(const char *name, const char *server, struct credhelper_creds *creds,
                   skiff_error_t **err)
{
  struct helper_output out = {0};
  int rc = helper_call(name, "get", "getting", server, &out, err);
  cleanup_free char *data = out.data;
  if (rc != 0)
    return rc < 0 ? -1 : 0;
  json_error_t jerr;
  cleanup_json json_t *answer =
      json_loads(data ? data : "", JSON_DISABLE_EOF_CHECK, &jerr);
  if (!json_is_object(answer))
    return skiff_error_invalid(
        err, "error getting credentials - invalid answer from " HELPER_PREFIX "%s: %s",
        name, answer ? "not a JSON object" : jerr.text);
  if (answer_string(answer, "Username", &creds->username) < 0 ||
      answer_string(answer, "Secret", &creds->secret) < 0) {
    credhelper_creds_clear(creds);
    return skiff_error_invalid(
        err,
        "error getting credentials - invalid answer from " HELPER_PREFIX
        "%s: Username and Secret must be strings",
        name);
  }
  return 1;
}

int credhelper_store(const char *name, const char *server, const char *username,
                     const char *secret, skiff_error_t **err)
{
  cleanup_json json_t *request = json_pack("{s:s, s:s, s:s}", "ServerURL", server,
                                           "Username", username, "Secret", secret);
  cleanup_free char *text = request ? json_dumps(request, JSON_COMPACT) : NULL;
  cleanup_free char *line = NULL;
  if (text == NULL || asprintf(&line, "%s\n", text) < 0)
    return skiff_error_set(err, ENOMEM, "error storing credentials");
  struct helper_output out = {0};
  int rc = helper_call(name, "store", "storing", line, &out, err);
  free(out.data);
  return rc == 0 ? 0 : -1;
}

int credhelper_erase(const char *name, const char *server, skiff_error_t **err)
{
  struct helper_output out = {0};
  int rc = helper_call(name, "erase", "erasing", server, &out, err);
  free(out.data);
  return rc == 0 ? 0 : -1;
}
