/* top: run ps, keep the container's rows. See top.h. */
#include "top.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/proc.h"

extern char **environ;

/* What a ps run left: its output, its errors and how it ended. */
struct ps_result {
  char *out, *err;
  int status; /* waitpid's */
};

static void ps_result_clear(struct ps_result *r)
{
  free(r->out);
  free(r->err);
  *r = (struct ps_result){0};
}

static int append(char **buf, size_t *len, const char *data, size_t n)
{
  char *bigger = realloc(*buf, *len + n + 1);
  if (bigger == NULL)
    return -1;
  memcpy(bigger + *len, data, n);
  *len += n;
  bigger[*len] = '\0';
  *buf = bigger;
  return 0;
}

/* Read both pipes to their end (ps's output is small, but a full stderr
 * pipe must never block it while we wait on stdout). */
static void drain(int out_fd, int err_fd, struct ps_result *r)
{
  struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  char **bufs[2] = {&r->out, &r->err};
  size_t lens[2] = {0, 0};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char chunk[8192];
      ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0 && append(bufs[i], &lens[i], chunk, (size_t)n) == 0)
        continue;
      if (n < 0 && errno == EINTR)
        continue;
      fds[i].fd = -1;
    }
  }
}

/* Run ps with argv (argv[0] is "ps"), found on PATH as docker does. The
 * daemon blocks its stop signals in every thread: ps gets them back. */
static int run_ps(char **argv, struct ps_result *r, skiff_error_t **err)
{
  int out[2] = {-1, -1}, errp[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
    int saved = errno;
    for (int i = 0; i < 2; i++)
      if (out[i] >= 0)
        close(out[i]);
    return skiff_error_set(err, saved, "ps: pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  proc_spawnattr_init_clean(&attr);
  pid_t pid;
  int rc = posix_spawnp(&pid, "ps", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(errp[1]);
  if (rc == 0)
    drain(out[0], errp[0], r);
  close(out[0]);
  close(errp[0]);
  if (rc != 0)
    return skiff_error_set(err, rc, "ps: exec: \"ps\"");
  while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
    ;
  return 0;
}

/* docker's validatePSArgs: the PID column must keep its name, or the
 * rows could not be told apart. */
static int check_ps_args(const char *args, skiff_error_t **err)
{
  regex_t re;
  if (regcomp(&re, "[[:space:]]+([^[:space:]]*)=[[:space:]]*(PID[^[:space:]]*)",
              REG_EXTENDED) != 0)
    return skiff_error_set(err, ENOMEM, "ps args");
  regmatch_t m[3];
  int rc = 0;
  for (const char *p = args; rc == 0 && regexec(&re, p, 3, m, 0) == 0;
       p += m[0].rm_eo) {
    int klen = (int)(m[1].rm_eo - m[1].rm_so), vlen = (int)(m[2].rm_eo - m[2].rm_so);
    if (klen != 3 || strncmp(p + m[1].rm_so, "pid", 3) != 0)
      rc = skiff_error_status(err, EIO, "specifying \"%.*s=%.*s\" is not allowed", klen,
                              p + m[1].rm_so, vlen, p + m[2].rm_so);
    if (m[0].rm_eo == 0)
      break;
  }
  regfree(&re);
  return rc;
}

/* ps's arguments: ps_args split on single spaces (as Go's strings.Split:
 * empty pieces stay), then pids_arg when given. */
static char **build_argv(const char *ps_args, const char *pids_arg)
{
  size_t n = 3;
  for (const char *p = ps_args; *p; p++)
    n += *p == ' ';
  char **argv = calloc(n + 1, sizeof *argv);
  cleanup_free char *copy = strdup(ps_args);
  if (argv == NULL || copy == NULL) {
    free(argv);
    return NULL;
  }
  size_t i = 0;
  argv[i++] = strdup("ps");
  for (char *p = copy, *piece; (piece = strsep(&p, " ")) != NULL;)
    argv[i++] = strdup(piece);
  if (pids_arg)
    argv[i++] = strdup(pids_arg);
  return argv;
}

/* "-q1,2,3" (docker's psPidsArg). */
static char *pids_arg(const pid_t *pids, size_t n)
{
  size_t cap = 3 + n * 12;
  char *s = malloc(cap);
  if (s == NULL)
    return NULL;
  size_t len = (size_t)snprintf(s, cap, "-q");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, i ? ",%d" : "%d", (int)pids[i]);
  return s;
}

static int ps_with_fallback(const char *ps_args, const pid_t *pids, size_t n,
                            struct ps_result *r, skiff_error_t **err)
{
  cleanup_free char *q = pids_arg(pids, n);
  cleanup_strv char **with_pids = build_argv(ps_args, q);
  cleanup_strv char **plain = build_argv(ps_args, NULL);
  if (q == NULL || with_pids == NULL || plain == NULL)
    return skiff_error_set(err, ENOMEM, "ps");
  if (run_ps(with_pids, r, err) < 0)
    return -1;
  if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
    return 0;
  ps_result_clear(r);
  if (run_ps(plain, r, err) < 0)
    return -1;
  if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
    return 0;
  const char *first = r->err ? r->err : "";
  size_t len = strcspn(first, "\n");
  if (len > 0)
    return skiff_error_status(err, EIO, "ps: %.*s", (int)len, first);
  if (WIFEXITED(r->status))
    return skiff_error_status(err, EIO, "ps: exit status %d", WEXITSTATUS(r->status));
  return skiff_error_status(err, EIO, "ps: signal: %s", strsignal(WTERMSIG(r->status)));
}

/* ---- parsing ps's table ------------------------------------------------ */

#define ASCII_SPACE " \t\n\v\f\r"

/* Go's strings.Fields over ASCII whitespace: a new array of strings. */
static json_t *fields(const char *line)
{
  json_t *a = json_array();
  for (const char *p = line + strspn(line, ASCII_SPACE); *p;
       p += strspn(p, ASCII_SPACE)) {
    size_t len = strcspn(p, ASCII_SPACE);
    json_array_append_new(a, json_stringn(p, len));
    p += len;
  }
  return a;
}

/* The row as many cells as titles: the overhanging fields (a command's
 * arguments) joined with spaces into the last cell. */
static json_t *fit_row(json_t *cells, size_t ntitles)
{
  json_t *row = json_array();
  size_t n = json_array_size(cells);
  for (size_t i = 0; i < n && i + 1 < ntitles; i++)
    json_array_append(row, json_array_get(cells, i));
  if (n + 1 >= ntitles || ntitles == 0) {
    cleanup_free char *last = NULL;
    for (size_t i = ntitles ? ntitles - 1 : 0; i < n; i++) {
      char *joined = NULL;
      const char *cell = json_string_value(json_array_get(cells, i));
      if (asprintf(&joined, "%s%s%s", last ? last : "", last ? " " : "", cell) < 0)
        break;
      free(last);
      last = joined;
    }
    json_array_append_new(row, json_string(last ? last : ""));
  }
  return row;
}

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* docker's parsePSOutput. A "-" in the PID column is a thread line (ps m):
 * kept when it follows a row of the container. */
static json_t *parse_ps(char *out, const pid_t *pids, size_t n, skiff_error_t **err)
{
  char *save = NULL;
  char *header = strtok_r(out, "\n", &save);
  cleanup_json json_t *titles = fields(header ? header : "");
  size_t ntitles = json_array_size(titles), pid_index = ntitles;
  for (size_t i = 0; i < ntitles && pid_index == ntitles; i++)
    if (strcmp(json_string_value(json_array_get(titles, i)), "PID") == 0)
      pid_index = i;
  if (pid_index == ntitles) {
    skiff_error_status(err, EIO, "Couldn't find PID field in ps output");
    return NULL;
  }
  cleanup_json json_t *processes = json_array();
  bool previous_ours = false;
  for (char *line; (line = strtok_r(NULL, "\n", &save)) != NULL;) {
    cleanup_json json_t *cells = fields(line);
    const char *pid_cell = json_string_value(json_array_get(cells, pid_index));
    if (pid_cell == NULL)
      continue;
    if (strcmp(pid_cell, "-") == 0) {
      if (previous_ours)
        json_array_append_new(processes, fit_row(cells, ntitles));
      continue;
    }
    char *end = NULL;
    long pid = strtol(pid_cell, &end, 10);
    if (end == pid_cell || *end != '\0') {
      skiff_error_status(err, EIO,
                         "Unexpected pid '%s': strconv.Atoi: parsing \"%s\": "
                         "invalid syntax",
                         pid_cell, pid_cell);
      return NULL;
    }
    previous_ours = has_pid(pids, n, pid);
    if (previous_ours)
      json_array_append_new(processes, fit_row(cells, ntitles));
  }
  return json_pack("{s:O, s:O}", "Processes", processes, "Titles", titles);
}

json_t *top_processes(const pid_t *pids, size_t n, const char *ps_args,
                      skiff_error_t **err)
{
  const char *args = ps_args && *ps_args ? ps_args : "-ef";
  if (check_ps_args(args, err) < 0)
    return NULL;
  struct ps_result r = {0};
  json_t *list = NULL;
  if (ps_with_fallback(args, pids, n, &r, err) == 0)
    list = parse_ps(r.out ? r.out : (char[]){""}, pids, n, err);
  ps_result_clear(&r);
  return list;
}
