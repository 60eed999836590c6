/* Helpers shared by the command files. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"

int cli_parse(struct cli *cli, struct command_spec *spec, const struct opt *opts,
              int argc, char **argv, char ***args, int *nargs, skiff_error_t **err)
{
  bool usage_error = false;
  spec->name = cli->name;
  int r = opts_parse(spec, opts, argc, argv, args, nargs, &usage_error, err);
  if (r < 0 && usage_error) /* docker: a bad flag is 125, a bad argument count 1. */
    cli->fail_status = strncmp((*err)->msg, "skiff: '", 8) == 0 ? 1 : 125;
  return r;
}

char *cli_path(const char *fmt, const char *name)
{
  cleanup_free char *escaped = client_escape(name, true);
  char *out = NULL;
  if (escaped == NULL || asprintf(&out, fmt, escaped) < 0)
    return NULL;
  return out;
}

char *cli_filters_json(const struct strlist *filters, skiff_error_t **err)
{
  if (filters->n == 0)
    return NULL;
  cleanup_json json_t *obj = json_object();
  for (size_t i = 0; i < filters->n; i++) {
    const char *f = filters->items[i];
    const char *eq = strchr(f, '=');
    if (eq == NULL) {
      skiff_error_invalid(err, "bad format of filter (expected name=value)");
      return NULL;
    }
    cleanup_free char *key = strndup(f, (size_t)(eq - f));
    for (char *k = key; k && *k; k++)
      *k = (char)tolower((unsigned char)*k);
    json_t *values = json_object_get(obj, key);
    if (values == NULL) {
      values = json_object();
      json_object_set_new(obj, key, values);
    }
    json_object_set_new(values, eq + 1, json_true());
  }
  return json_dumps(obj, JSON_COMPACT);
}

bool cli_confirm(const char *message)
{
  fprintf(stderr, "%s\nAre you sure you want to continue? [y/N] ", message);
  fflush(stderr);
  char line[64];
  if (fgets(line, sizeof line, stdin) == NULL)
    return false;
  line[strcspn(line, "\r\n")] = '\0';
  return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

void cli_report(const skiff_error_t *err)
{
  fflush(stdout);
  fprintf(stderr, "%s\n", err && err->msg ? err->msg : "unknown error");
}

void cli_print_warnings(json_t *answer)
{
  json_t *warnings =
      json_is_object(answer) ? json_object_get(answer, "Warnings") : NULL;
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w) if (json_is_string(w))
      fprintf(stderr, "WARNING: %s\n", json_string_value(w));
}

int cli_for_each(struct cli *cli, char **args, int nargs,
                 int (*fn)(struct cli *cli, const char *name, void *arg,
                           skiff_error_t **err),
                 void *arg)
{
  int status = 0;
  for (int i = 0; i < nargs; i++) {
    skiff_error_t *e = NULL;
    int r = fn(cli, args[i], arg, &e);
    if (r < 0) {
      cli_report(e);
      skiff_error_free(&e);
      status = 1;
      continue;
    }
    if (r > 0)
      continue;
    printf("%s\n", args[i]);
    fflush(stdout);
  }
  return status;
}

void cli_short_id(const char *id, char *buf, size_t len)
{
  const char *colon = strchr(id, ':');
  if (colon)
    id = colon + 1;
  snprintf(buf, len, "%.12s", id);
}

static int write_out(const char *buf, size_t len, void *arg)
{
  return fs_write_all(*(int *)arg, buf, len);
}

int cli_download(struct cli *cli, const char *path, const char *output,
                 const char *what, skiff_error_t **err)
{
  /* A file is written under a temporary name and renamed when complete,
   * so a failure leaves no truncated archive behind. */
  cleanup_free char *tmp = NULL;
  if (output && asprintf(&tmp, "%s.skiff-tmp-XXXXXX", output) < 0)
    return skiff_error_errno(err, "%s", what);
  cleanup_close int fd = output ? mkostemp(tmp, O_CLOEXEC) : dup(STDOUT_FILENO);
  if (fd < 0)
    return skiff_error_errno(err, "%s: open %s", what, output ? output : "stdout");
  struct client_call call = {
      .method = "GET", .path = path, .body_fd = -1, .on_data = write_out, .arg = &fd};
  struct client_reply reply;
  int r = client_do(cli->client, &call, &reply, err);
  if (r == 0 && reply.status >= 400)
    r = client_error_from_reply(&reply, err);
  else if (r == 0 && reply.aborted)
    r = skiff_error_errno(err, "%s: write %s", what, output ? output : "stdout");
  client_reply_clear(&reply);
  if (output && r == 0 && (fchmod(fd, 0644) < 0 || rename(tmp, output) < 0))
    r = skiff_error_errno(err, "%s: %s", what, output);
  if (output && r < 0)
    unlink(tmp);
  return r;
}

const char *cli_go_strerror(int errnum)
{
  static __thread char buf[128];
  snprintf(buf, sizeof buf, "%s", strerror(errnum));
  buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}
