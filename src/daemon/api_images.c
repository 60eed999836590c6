/* The image endpoints, in dockerd's shapes (moby api/swagger.yaml):
 * import (POST /images/create?fromSrc=-), list, inspect, history, tag,
 * remove, save (GET /images/get, /images/{name}/get), load and prune.
 * The work is src/image's; this file maps requests and answers, status
 * codes (404 no such image, 400 bad input, 409 conflict) and events. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_registry.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "containers.h"
#include "daemon.h"
#include "events.h"
#include "http.h"
#include "image/image.h"
#include "router.h"

#define MAX_QUERY_VALUES 256

/* ---- helpers ---- */

static bool image_in_use(const char *id, void *arg)
{
  struct daemon *d = arg;
  return d->containers && containers_image_in_use(d->containers, id);
}

static void publish(struct daemon *d, const char *action, const char *id,
                    const char *name)
{
  if (d->events == NULL)
    return;
  json_t *attrs = name ? json_pack("{s:s}", "name", name) : NULL;
  events_publish(d->events, "image", action, id, attrs);
}

/* Whether the request's API version is below major.minor (no version
 * prefix: the newest). */
static bool version_below(struct http_request *req, int minor)
{
  const char *v = http_request_api_version(req);
  int major = 0, min = 0;
  if (v == NULL || sscanf(v, "%d.%d", &major, &min) != 2)
    return false;
  return major == 1 && min < minor;
}

/* Every value of a repeated query parameter; a NULL-terminated vector of
 * borrowed strings (free the vector only). */
static const char **query_values(struct http_request *req, const char *name)
{
  const char **v = calloc(MAX_QUERY_VALUES + 1, sizeof *v);
  for (unsigned i = 0; v && i < MAX_QUERY_VALUES; i++)
    if ((v[i] = http_request_query_at(req, name, i)) == NULL)
      break;
  return v;
}

static void respond_error(struct http_response *resp, skiff_error_t **err)
{
  http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

/* ---- POST /images/create?fromSrc=- (import) ---- */

static char *import_reference(struct http_request *req)
{
  const char *repo = http_request_query(req, "repo");
  const char *tag = http_request_query(req, "tag");
  char *ref = NULL;
  if (repo == NULL || *repo == '\0')
    return NULL;
  if (asprintf(&ref, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") <
      0)
    return NULL;
  return ref;
}

static void handle_create(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *src = http_request_query(req, "fromSrc");
  const char *image = http_request_query(req, "fromImage");
  if ((src == NULL || *src == '\0') && image && *image)
    return api_registry_pull(d, req, resp);
  if (src == NULL || *src == '\0')
    return http_respond_error(resp, 400, "missing fromSrc or fromImage");
  if (strcmp(src, "-") != 0) {
    http_respond_error(resp, 400,
                       "importing from a URL (%s) is not supported: send the "
                       "archive as the request body with fromSrc=-",
                       src);
    return;
  }
  cleanup_free char *ref = import_reference(req);
  cleanup_free const char **changes = query_values(req, "changes");
  skiff_error_t *err = NULL;
  cleanup_free char *id =
      image_store_import(d->images, http_request_body_fd(req), ref, changes,
                         http_request_query(req, "message"), &err);
  if (id == NULL)
    return respond_error(resp, &err);
  publish(d, "import", id, NULL);
  if (http_stream_begin(resp, 200, "application/json") == 0) {
    cleanup_json json_t *status = json_pack("{s:s}", "status", id);
    http_stream_json(resp, status);
  }
}

/* ---- GET /images/json ---- */

/* API < 1.44 had VirtualSize, and "<none>" placeholders for untagged. */
static void adapt_summary(struct http_request *req, json_t *summary)
{
  if (!version_below(req, 44))
    return;
  json_object_set(summary, "VirtualSize", json_object_get(summary, "Size"));
  if (json_array_size(json_object_get(summary, "RepoTags")) == 0 &&
      json_array_size(json_object_get(summary, "RepoDigests")) == 0) {
    json_object_set_new(summary, "RepoTags", json_pack("[s]", "<none>:<none>"));
    json_object_set_new(summary, "RepoDigests", json_pack("[s]", "<none>@<none>"));
  }
}

static void handle_list(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  bool bad;
  cleanup_json json_t *filters = http_request_filters(req, resp, &bad);
  if (bad)
    return;
  skiff_error_t *err = NULL;
  json_t *list = image_store_list(d->images, http_request_query_bool(req, "all", false),
                                  filters, &err);
  if (list == NULL)
    return respond_error(resp, &err);
  size_t i;
  json_t *summary;
  json_array_foreach(list, i, summary) adapt_summary(req, summary);
  http_respond_json(resp, 200, list);
}

/* ---- GET /images/{name}/json, /history ---- */

static void handle_inspect(struct daemon *d, struct http_request *req,
                           struct http_response *resp)
{
  skiff_error_t *err = NULL;
  json_t *info = image_store_inspect(d->images, http_request_param(req, 0), &err);
  if (info == NULL)
    return respond_error(resp, &err);
  if (version_below(req, 44))
    json_object_set(info, "VirtualSize", json_object_get(info, "Size"));
  if (version_below(req, 45)) {
    json_object_set_new(info, "Container", json_string(""));
    json_object_set(info, "ContainerConfig", json_object_get(info, "Config"));
  }
  http_respond_json(resp, 200, info);
}

static void handle_history(struct daemon *d, struct http_request *req,
                           struct http_response *resp)
{
  skiff_error_t *err = NULL;
  json_t *history = image_store_history(d->images, http_request_param(req, 0), &err);
  if (history == NULL)
    return respond_error(resp, &err);
  http_respond_json(resp, 200, history);
}

/* ---- POST /images/{name}/tag ---- */

static void handle_tag(struct daemon *d, struct http_request *req,
                       struct http_response *resp)
{
  const char *name = http_request_param(req, 0);
  const char *repo = http_request_query(req, "repo");
  const char *tag = http_request_query(req, "tag");
  skiff_error_t *err = NULL;
  if (image_store_tag(d->images, name, repo, tag, &err) < 0)
    return respond_error(resp, &err);
  cleanup_free char *id = image_store_resolve(d->images, name, NULL);
  cleanup_free char *full = NULL;
  if (asprintf(&full, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") <
      0)
    full = NULL;
  cleanup_free char *norm = full ? image_reference_normalize(full, NULL) : NULL;
  cleanup_free char *familiar = norm ? image_reference_familiar(norm) : NULL;
  if (id && familiar)
    publish(d, "tag", id, familiar);
  http_respond_empty(resp, 201);
}

/* ---- DELETE /images/{name} ---- */

static void handle_remove(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *name = http_request_param(req, 0);
  cleanup_free char *id = image_store_resolve(d->images, name, NULL);
  skiff_error_t *err = NULL;
  json_t *records =
      image_store_remove(d->images, name, http_request_query_bool(req, "force", false),
                         image_in_use, d, &err);
  if (records == NULL)
    return respond_error(resp, &err);
  size_t i;
  json_t *r;
  bool image_deleted = false;
  json_array_foreach(records, i, r)
  {
    const char *untagged = json_string_value(json_object_get(r, "Untagged"));
    const char *deleted = json_string_value(json_object_get(r, "Deleted"));
    if (untagged)
      publish(d, "untag", id ? id : untagged, untagged);
    else if (deleted && !image_deleted) /* the image; its layers follow */
      publish(d, "delete", deleted, NULL), image_deleted = true;
  }
  http_respond_json(resp, 200, records);
}

/* ---- GET /images/get, /images/{name}/get (save) ---- */

struct save_job {
  struct image_store *store;
  const char *const *names;
  int fd;
  skiff_error_t *err;
};

static void *save_thread(void *arg)
{
  struct save_job *job = arg;
  image_store_save(job->store, job->names, job->fd, &job->err);
  close(job->fd);
  return NULL;
}

/* The save runs in a thread writing into a pipe; this side forwards the
 * pipe into the response. Nothing goes out before the first bytes arrive,
 * so that an unknown name still gets its 404. */
static void stream_save(struct daemon *d, const char *const *names,
                        struct http_response *resp)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return http_respond_error(resp, 500, "save: pipe: %s", strerror(errno));
  struct save_job job = {.store = d->images, .names = names, .fd = fds[1]};
  pthread_t thread;
  if (pthread_create(&thread, NULL, save_thread, &job) != 0) {
    close(fds[0]), close(fds[1]);
    return http_respond_error(resp, 500, "save: cannot start a thread");
  }
  cleanup_free char *buf = malloc(256 * 1024);
  ssize_t n;
  bool started = false, gone = false;
  while (buf && (n = read(fds[0], buf, 256 * 1024)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    if (!started && !gone)
      gone = http_stream_begin(resp, 200, "application/x-tar") < 0, started = true;
    if (!gone && http_stream_write(resp, buf, (size_t)n) < 0)
      gone = true;
    if (gone)
      break; /* closing the pipe stops the writer with EPIPE */
  }
  close(fds[0]);
  pthread_join(thread, NULL);
  if (!started)
    job.err ? http_respond_skiff_error(resp, job.err)
            : http_respond_error(resp, 500, "save: no output");
  skiff_error_free(&job.err);
}

static void handle_save_many(struct daemon *d, struct http_request *req,
                             struct http_response *resp)
{
  cleanup_free const char **names = query_values(req, "names");
  if (names == NULL || names[0] == NULL)
    return http_respond_error(resp, 400, "no image names given: use names=NAME");
  stream_save(d, names, resp);
}

static void handle_save_one(struct daemon *d, struct http_request *req,
                            struct http_response *resp)
{
  const char *names[] = {http_request_param(req, 0), NULL};
  stream_save(d, names, resp);
}

/* ---- POST /images/load ---- */

static void handle_load(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  skiff_error_t *err = NULL;
  cleanup_json json_t *lines =
      image_store_load(d->images, http_request_body_fd(req), &err);
  if (lines == NULL)
    return respond_error(resp, &err);
  if (http_stream_begin(resp, 200, "application/json") < 0)
    return;
  size_t i;
  json_t *line;
  json_array_foreach(lines, i, line)
  {
    cleanup_json json_t *msg =
        json_pack("{s:s+}", "stream", json_string_value(line), "\n");
    if (http_stream_json(resp, msg) < 0)
      return;
  }
  publish(d, "load", "", NULL);
}

/* ---- POST /images/prune ---- */

static void handle_prune(struct daemon *d, struct http_request *req,
                         struct http_response *resp)
{
  bool bad;
  cleanup_json json_t *filters = http_request_filters(req, resp, &bad);
  if (bad)
    return;
  bool all_unused = false;
  const char *key;
  json_t *v;
  json_object_foreach(filters, key, v)
  {
    if (strcmp(key, "dangling") != 0)
      return http_respond_error(resp, 400,
                                "invalid filter '%s' (skiff prunes images by "
                                "dangling only)",
                                key);
    /* {"dangling": ["false"]} or {"dangling": {"false": true}}: all unused. */
    json_t *first = json_is_array(v) ? json_array_get(v, 0) : NULL;
    const char *value =
        first ? json_string_value(first) : json_object_iter_key(json_object_iter(v));
    all_unused = value && (strcmp(value, "false") == 0 || strcmp(value, "0") == 0);
  }
  skiff_error_t *err = NULL;
  json_t *report = image_store_prune(d->images, all_unused, image_in_use, d, &err);
  if (report == NULL)
    return respond_error(resp, &err);
  publish(d, "prune", "", NULL);
  http_respond_json(resp, 200, report);
}

/* Literal paths before the "{name*}" patterns that would also match them. */
const struct api_route api_images_routes[] = {
    {"POST", "/images/create", handle_create, true},
    {"GET", "/images/json", handle_list, false},
    {"GET", "/images/get", handle_save_many, false},
    {"POST", "/images/load", handle_load, true},
    {"POST", "/images/prune", handle_prune, false},
    {"GET", "/images/{name*}/json", handle_inspect, false},
    {"GET", "/images/{name*}/history", handle_history, false},
    {"GET", "/images/{name*}/get", handle_save_one, false},
    {"POST", "/images/{name*}/tag", handle_tag, false},
    {"DELETE", "/images/{name*}", handle_remove, false},
    {NULL},
};
