/* /containers/... of the Docker Engine API. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/detachkeys.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "containers.h"
#include "create_request.h"
#include "daemon.h"
#include "relay.h"
#include "router.h"

/* The container named in the path, resolved; answers 404 itself. */
static char *path_container(struct daemon *d, struct http_request *req,
                            struct http_response *resp)
{
  skiff_error_t *err = NULL;
  char *id = containers_resolve(d->containers, http_request_param(req, 0), &err);
  if (id == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
  }
  return id;
}

static void respond_error(struct http_response *resp, skiff_error_t **err)
{
  http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

/* Call it with ret computed beforehand: in answer(resp, f(&err), err, ...) the
 * order in which C evaluates the arguments is unspecified, and GCC reads err
 * (still NULL) before calling f, which turned every error into a 500. */
static void answer(struct http_response *resp, int ret, skiff_error_t *err, unsigned ok)
{
  if (ret < 0)
    http_respond_skiff_error(resp, err);
  else
    http_respond_empty(resp, ok);
}

/* dockerd's CheckForJSON: a body must be declared as JSON. */
static int check_json_type(struct http_request *req, size_t body_len,
                           skiff_error_t **err)
{
  const char *ct = http_request_header(req, "Content-Type");
  size_t n = ct ? strcspn(ct, "; \t") : 0;
  if (body_len == 0 && (ct == NULL || *ct == '\0'))
    return 0;
  if (ct == NULL || n == 0)
    return skiff_error_invalid(err,
                               "malformed Content-Type header (%s): mime: no media "
                               "type",
                               ct ? ct : "");
  if (n != strlen("application/json") || strncasecmp(ct, "application/json", n) != 0)
    return skiff_error_invalid(err,
                               "unsupported Content-Type header (%s): must be "
                               "'application/json'",
                               ct);
  return 0;
}

static void h_create(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  skiff_error_t *err = NULL;
  size_t len = 0;
  const char *text = http_request_body(req, &len);
  cleanup_json json_t *body =
      check_json_type(req, len, &err) < 0
          ? NULL
          : create_request_parse(text, len, d->config.log_driver, &err);
  if (body == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  json_t *warnings = NULL;
  cleanup_free char *id = containers_create(
      d->containers, http_request_query(req, "name"), body, &warnings, &err);
  if (id == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    json_decref(warnings);
    return;
  }
  http_respond_json(resp, 201,
                    json_pack("{s:s, s:o}", "Id", id, "Warnings",
                              warnings ? warnings : json_array()));
}

static void h_list(struct daemon *d, struct http_request *req,
                   struct http_response *resp)
{
  static const char *const accepted[] = {"ancestor", "before",    "exited",  "health",
                                         "id",       "isolation", "is-task", "label",
                                         "name",     "status",    "publish", "expose",
                                         "since",    "volume",    "network", NULL};
  bool bad;
  cleanup_json json_t *filters = http_request_filters_of(req, resp, accepted, &bad);
  int64_t limit = -1;
  skiff_error_t *err = NULL;
  if (bad)
    return;
  if (http_request_query_int(req, "limit", -1, &limit, &err) < 0) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  json_t *list = containers_list(
      d->containers, http_request_query_bool(req, "all", false), (int)limit,
      http_request_query_bool(req, "size", false), filters, &err);
  if (list == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  http_respond_json(resp, 200, list);
}

static void h_inspect(struct daemon *d, struct http_request *req,
                      struct http_response *resp)
{
  skiff_error_t *err = NULL;
  json_t *info = containers_inspect(d->containers, http_request_param(req, 0),
                                    http_request_query_bool(req, "size", false), &err);
  if (info)
    http_respond_json(resp, 200, info);
  else
    http_respond_skiff_error(resp, err);
  skiff_error_free(&err);
}

static void h_start(struct daemon *d, struct http_request *req,
                    struct http_response *resp)
{
  size_t body_len = 0;
  http_request_body(req, &body_len);
  if (body_len > 7) /* dockerd: "a non-nil json object is at least 7 characters" */
    return http_respond_error(resp, 400,
                              "starting container with non-empty request body "
                              "was deprecated since API v1.22 and removed in "
                              "v1.24");
  cleanup_free char *id = path_container(d, req, resp);
  if (id == NULL)
    return;
  skiff_error_t *err = NULL;
  bool was_running = false;
  int ret = containers_start(d->containers, id, &was_running, &err);
  if (ret < 0 && err->status != ENOENT && err->status != EBUSY)
    err->status = EINVAL; /* a process that cannot start: docker's 400 */
  answer(resp, ret, err, was_running ? 304 : 204);
  skiff_error_free(&err);
}

static int timeout_param(struct http_request *req, struct http_response *resp, int *t)
{
  int64_t value = -1;
  skiff_error_t *err = NULL;
  if (http_request_query_int(req, "t", -1, &value, &err) < 0 ||
      http_request_query_int(req, "timeout", value, &value, &err) < 0) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return -1;
  }
  *t = (int)value;
  return 0;
}

static void h_stop(struct daemon *d, struct http_request *req,
                   struct http_response *resp)
{
  cleanup_free char *id = path_container(d, req, resp);
  int t;
  if (id == NULL || timeout_param(req, resp, &t) < 0)
    return;
  skiff_error_t *err = NULL;
  bool was_stopped = false;
  int ret = containers_stop(d->containers, id, http_request_query(req, "signal"), t,
                            &was_stopped, &err);
  answer(resp, ret, err, was_stopped ? 304 : 204);
  skiff_error_free(&err);
}

static void h_restart(struct daemon *d, struct http_request *req,
                      struct http_response *resp)
{
  cleanup_free char *id = path_container(d, req, resp);
  int t;
  if (id == NULL || timeout_param(req, resp, &t) < 0)
    return;
  skiff_error_t *err = NULL;
  int ret = containers_restart(d->containers, id, t, &err);
  answer(resp, ret, err, 204);
  skiff_error_free(&err);
}

/* dockerd's ContainerKill checks the signal before it looks for the
 * container: a number it cannot send, or an unknown name. */
static int check_kill_signal(const char *signal, skiff_error_t **err)
{
  if (signal == NULL || *signal == '\0' || proc_parse_signal(signal) > 0)
    return 0;
  if (strspn(signal, "0123456789") == strlen(signal) && strtoll(signal, NULL, 10) > 0)
    return skiff_error_invalid(err, "The linux daemon does not support signal %s",
                               signal);
  return skiff_error_invalid(err, "Invalid signal: %s", signal);
}

static void h_kill(struct daemon *d, struct http_request *req,
                   struct http_response *resp)
{
  const char *name = http_request_param(req, 0),
             *signal = http_request_query(req, "signal");
  skiff_error_t *err = NULL;
  cleanup_free char *id = NULL;
  if (check_kill_signal(signal, &err) < 0)
    return respond_error(resp, &err);
  int ret = (id = containers_resolve(d->containers, name, &err)) ? 0 : -1;
  if (ret == 0)
    ret = containers_kill(d->containers, id, signal, &err);
  if (ret < 0)
    skiff_error_wrap(&err, "Cannot kill container: %s", name);
  answer(resp, ret, err, 204);
  skiff_error_free(&err);
}

static void h_pause(struct daemon *d, struct http_request *req,
                    struct http_response *resp)
{
  cleanup_free char *id = path_container(d, req, resp);
  if (id == NULL)
    return;
  skiff_error_t *err = NULL;
  bool pause = strstr(http_request_path(req), "/unpause") == NULL;
  int ret = containers_pause(d->containers, id, pause, &err);
  answer(resp, ret, err, 204);
  skiff_error_free(&err);
}

static bool client_gone(void *resp)
{
  return http_client_gone(resp);
}

static void h_wait(struct daemon *d, struct http_request *req,
                   struct http_response *resp)
{
  const char *condition = http_request_query(req, "condition");
  if (condition && *condition && strcmp(condition, "not-running") != 0 &&
      strcmp(condition, "next-exit") != 0 && strcmp(condition, "removed") != 0)
    return http_respond_error(resp, 400, "invalid condition: \"%s\"", condition);
  cleanup_free char *id = path_container(d, req, resp);
  if (id == NULL)
    return;
  skiff_error_t *err = NULL;
  int status = 0;
  /* Docker answers the status line at once and the body at the end, so
   * that a client knows the wait is registered before it starts. */
  if (http_stream_begin(resp, 200, "application/json") < 0)
    return;
  if (containers_wait(d->containers, id, http_request_query(req, "condition"), &status,
                      client_gone, resp, &err) < 0) {
    cleanup_json json_t *body =
        json_pack("{s:i, s:{s:s}}", "StatusCode", 0, "Error", "Message", err->msg);
    http_stream_json(resp, body);
    skiff_error_free(&err);
    return;
  }
  cleanup_json json_t *body = json_pack("{s:i, s:n}", "StatusCode", status, "Error");
  http_stream_json(resp, body);
}

static void h_delete(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  skiff_error_t *err = NULL;
  int ret = containers_remove(d->containers, http_request_param(req, 0),
                              http_request_query_bool(req, "force", false),
                              http_request_query_bool(req, "v", false), &err);
  answer(resp, ret, err, 204);
  skiff_error_free(&err);
}

/* dockerd's ContainerRename: the name is taken with a leading "/", and
 * what reserving it refuses is "Error when allocating new name: ...". */
static void h_rename(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  const char *name = http_request_query(req, "name");
  if (name == NULL || *name == '\0')
    return http_respond_error(resp, 400, "Neither old nor new names may be empty");
  cleanup_free char *id = path_container(d, req, resp);
  cleanup_free char *slashed = NULL;
  if (id == NULL || asprintf(&slashed, "/%s", name + (name[0] == '/')) < 0)
    return;
  cleanup_json json_t *info = containers_inspect(d->containers, id, false, NULL);
  if (strcmp(json_string_value(json_object_get(info, "Name")) ?: "", slashed) == 0)
    return http_respond_error(resp, 400,
                              "Renaming a container with the same name as its "
                              "current name");
  skiff_error_t *err = NULL;
  int ret = containers_rename(d->containers, id, slashed, &err);
  if (ret < 0 && (err->status == EEXIST || err->status == EINVAL))
    skiff_error_wrap(&err, "Error when allocating new name");
  answer(resp, ret, err, 204);
  skiff_error_free(&err);
}

static void h_prune(struct daemon *d, struct http_request *req,
                    struct http_response *resp)
{
  static const char *const accepted[] = {"until", "label", "label!", NULL};
  bool bad;
  cleanup_json json_t *filters = http_request_filters_of(req, resp, accepted, &bad);
  skiff_error_t *err = NULL;
  if (bad)
    return;
  json_t *report = containers_prune(d->containers, filters, &err);
  if (report == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  http_respond_json(resp, 200, report);
}

/* A terminal dimension: dockerd's strconv.Atoi messages for what is not a
 * number; negative or beyond 16 bits is refused the same way. */
static int size_param(struct http_request *req, const char *name, unsigned *value,
                      struct http_response *resp)
{
  const char *text = http_request_query(req, name);
  if (text == NULL)
    text = "";
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (*text < '0' || *text > '9' || *end != '\0') {
    http_respond_error(resp, 400, "strconv.Atoi: parsing \"%s\": invalid syntax", text);
    return -1;
  }
  if (errno == ERANGE || v > 65535) {
    http_respond_error(resp, 400, "strconv.Atoi: parsing \"%s\": value out of range",
                       text);
    return -1;
  }
  *value = (unsigned)v;
  return 0;
}

static void h_resize(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  unsigned height, width;
  if (size_param(req, "h", &height, resp) < 0 || size_param(req, "w", &width, resp) < 0)
    return;
  skiff_error_t *err = NULL;
  int ret =
      containers_resize(d->containers, http_request_param(req, 0), height, width, &err);
  answer(resp, ret, err, 200);
  skiff_error_free(&err);
}

/* ---- attach ----------------------------------------------------------- */

/* dockerd's 409s: a paused or restarting container takes no attach. */
static bool attach_refused(struct daemon *d, const char *id, struct http_request *req,
                           struct http_response *resp)
{
  cleanup_json json_t *info = containers_inspect(d->containers, id, false, NULL);
  json_t *state = json_object_get(info, "State");
  const char *ref = http_request_param(req, 0);
  if (json_is_true(json_object_get(state, "Paused")))
    http_respond_error(resp, 409,
                       "container %s is paused, unpause the container before "
                       "attach",
                       ref);
  else if (json_is_true(json_object_get(state, "Restarting")))
    http_respond_error(resp, 409,
                       "container %s is restarting, wait until the container "
                       "is running",
                       ref);
  else
    return false;
  return true;
}

static void h_attach(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  skiff_error_t *err = NULL;
  struct detach_keys keys;
  /* Like dockerd: the keys are checked before the container is looked up. */
  if (detachkeys_parse(http_request_query(req, "detachKeys"), &keys, &err) < 0) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  cleanup_free char *id = path_container(d, req, resp);
  if (id == NULL || attach_refused(d, id, req, resp))
    return;
  bool in = http_request_query_bool(req, "stdin", false);
  bool out = http_request_query_bool(req, "stdout", false);
  bool err_stream = http_request_query_bool(req, "stderr", false);
  cleanup_free char *log_path = NULL;
  bool tty = false;
  if (containers_log_info(d->containers, id, &log_path, &tty, NULL) < 0)
    return;
  containers_attach_reserve(d->containers, id);
  int client = http_hijack(req, resp,
                           tty ? "application/vnd.docker.raw-stream"
                               : "application/vnd.docker.multiplexed-stream");
  if (client < 0)
    return;
  containers_publish_event(d->containers, id, "attach", NULL);
  int shim = containers_attach(d->containers, id, in, out, err_stream, &tty, &err);
  /* dockerd scans for the detach keys only in a terminal's input. */
  if (shim >= 0 && relay_run(client, shim, tty && in ? &keys : NULL) == RELAY_DETACHED)
    containers_publish_event(d->containers, id, "detach", NULL);
  if (shim >= 0)
    close(shim);
  skiff_error_free(&err);
  close(client);
}

/* ---- logs ------------------------------------------------------------- */

struct log_request {
  bool out, err, timestamps, tty;
  int64_t since_ns, until_ns;
};

/* since/until: "SECONDS[.NANOS]" as the CLI sends them (RFC 3339 is also
 * taken); anything else is refused, where dockerd's strconv fails. */
static int time_param(struct http_request *req, const char *name, int64_t *ns,
                      skiff_error_t **err)
{
  const char *text = http_request_query(req, name);
  *ns = 0;
  if (text == NULL || *text == '\0')
    return 0;
  char *end;
  double secs = strtod(text, &end);
  if (end != text && *end == '\0')
    *ns = (int64_t)(secs * 1e9);
  else if ((*ns = jsonlog_parse_time(text)) < 0)
    return skiff_error_invalid(err, "invalid value for %s: \"%s\" is not a time stamp",
                               name, text);
  return 0;
}

static int send_entry(struct http_response *resp, const struct log_request *lr,
                      const char *line)
{
  cleanup_free char *text = NULL;
  char stream[16];
  int64_t when = 0;
  if (jsonlog_parse_line(line, &text, stream, sizeof stream, &when) < 0)
    return 0;
  bool is_err = strcmp(stream, "stderr") == 0;
  if ((is_err && !lr->err) || (!is_err && !lr->out) ||
      (lr->since_ns && when < lr->since_ns) || (lr->until_ns && when > lr->until_ns))
    return 0;
  cleanup_free char *payload = NULL;
  if (lr->timestamps) {
    char stamp[48];
    jsonlog_format_time(when, stamp, sizeof stamp);
    if (asprintf(&payload, "%s %s", stamp, text) < 0)
      return -1;
  } else {
    payload = steal_pointer(&text);
  }
  size_t len = strlen(payload);
  if (!lr->tty) {
    unsigned char h[8] = {is_err ? 2 : 1,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};
    if (http_stream_write(resp, h, sizeof h) < 0)
      return -1;
  }
  return http_stream_write(resp, payload, len);
}

static void append_lines(json_t *lines, FILE *f)
{
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0)
    json_array_append_new(lines, json_string(line));
  free(line);
}

/* Every line of the log, for --tail: the rotated files, then current (the
 * open log file, which following goes on reading). */
static json_t *read_lines(const char *path, FILE *current)
{
  json_t *lines = json_array();
  for (int i = 9; i >= 1; i--) {
    char name[4200];
    snprintf(name, sizeof name, "%s.%d", path, i);
    FILE *f = fopen(name, "re");
    if (f == NULL)
      continue;
    append_lines(lines, f);
    fclose(f);
  }
  if (current)
    append_lines(lines, current);
  return lines;
}

/* Whether path now names another file than f (the log was rotated). */
static bool rotated(FILE *f, const char *path)
{
  struct stat open_st, path_st;
  return stat(path, &path_st) == 0 && fstat(fileno(f), &open_st) == 0 &&
         (open_st.st_ino != path_st.st_ino || open_st.st_dev != path_st.st_dev);
}

/* Send what is appended to the log until the container stops. The file
 * stays open: a client that reads the stream late (docker-py's run reads
 * it after removing the container) still gets every line. */
static void follow(struct daemon *d, const char *id, const char *path,
                   struct http_response *resp, const struct log_request *lr, FILE *f)
{
  char *line = NULL;
  size_t cap = 0;
  for (;;) {
    bool running = containers_is_running(d->containers, id);
    if (f == NULL)
      f = fopen(path, "re");
    while (f && getline(&line, &cap, f) > 0) {
      if (send_entry(resp, lr, line) < 0)
        goto out;
    }
    if (f && rotated(f, path)) { /* drained: go on with the new file */
      fclose(f);
      f = NULL;
      continue;
    }
    if (!running)
      break;
    if (f)
      clearerr(f);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
out:
  free(line);
  if (f)
    fclose(f);
}

/* tail: a count; "all", a negative or a malformed one mean every line
 * (dockerd's Atoi failing gives -1). */
static long tail_param(struct http_request *req)
{
  const char *tail = http_request_query(req, "tail");
  char *end;
  long keep = tail && *tail ? strtol(tail, &end, 10) : -1;
  return tail && *tail && *end == '\0' && keep >= 0 ? keep : -1;
}

static void h_logs(struct daemon *d, struct http_request *req,
                   struct http_response *resp)
{
  struct log_request lr = {.out = http_request_query_bool(req, "stdout", false),
                           .err = http_request_query_bool(req, "stderr", false),
                           .timestamps =
                               http_request_query_bool(req, "timestamps", false)};
  if (!lr.out && !lr.err)
    return http_respond_error(resp, 400,
                              "Bad parameters: you must choose at least one "
                              "stream");
  skiff_error_t *err = NULL;
  if (time_param(req, "since", &lr.since_ns, &err) < 0 ||
      time_param(req, "until", &lr.until_ns, &err) < 0) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  cleanup_free char *id = path_container(d, req, resp);
  cleanup_free char *path = NULL;
  if (id == NULL || containers_log_info(d->containers, id, &path, &lr.tty, NULL) < 0)
    return;
  long keep = tail_param(req);
  if (http_stream_begin(resp, 200,
                        lr.tty ? "application/vnd.docker.raw-stream"
                               : "application/vnd.docker.multiplexed-stream") < 0)
    return;
  FILE *current = fopen(path, "re");
  cleanup_json json_t *lines = read_lines(path, current);
  size_t n = json_array_size(lines);
  size_t first = keep >= 0 && (size_t)keep < n ? n - (size_t)keep : 0;
  bool client_there = true;
  for (size_t i = first; i < n && client_there; i++)
    client_there =
        send_entry(resp, &lr, json_string_value(json_array_get(lines, i))) == 0;
  if (client_there && http_request_query_bool(req, "follow", false)) {
    follow(d, id, path, resp, &lr, current); /* closes it */
    return;
  }
  if (current)
    fclose(current);
}

const struct api_route api_containers_routes[] = {
    {"POST", "/containers/create", h_create, false},
    {"GET", "/containers/json", h_list, false},
    {"POST", "/containers/prune", h_prune, false},
    {"GET", "/containers/{id}/json", h_inspect, false},
    {"POST", "/containers/{id}/start", h_start, false},
    {"POST", "/containers/{id}/stop", h_stop, false},
    {"POST", "/containers/{id}/restart", h_restart, false},
    {"POST", "/containers/{id}/kill", h_kill, false},
    {"POST", "/containers/{id}/pause", h_pause, false},
    {"POST", "/containers/{id}/unpause", h_pause, false},
    {"POST", "/containers/{id}/wait", h_wait, false},
    {"POST", "/containers/{id}/rename", h_rename, false},
    {"POST", "/containers/{id}/resize", h_resize, false},
    {"POST", "/containers/{id}/attach", h_attach, false},
    {"GET", "/containers/{id}/logs", h_logs, false},
    {"DELETE", "/containers/{id}", h_delete, false},
    {NULL, NULL, NULL, false},
};
