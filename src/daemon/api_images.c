/* The image endpoints, in dockerd's shapes (moby api/swagger.yaml):
 * import (POST /images/create?fromSrc=-), list, inspect, history, tag,
 * remove, save (GET /images/get, /images/{name}/get), load and prune.
 * The work is src/image's; this file maps requests and answers, status
 * codes (404 no such image, 400 bad input, 409 conflict) and events. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api_registry.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/timestamp.h"
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

/* distribution/reference's tag grammar: [\w][\w.-]{0,127}. */
static bool valid_tag(const char *tag)
{
  size_t n = strlen(tag);
  if (n == 0 || n > 128 || !(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!isalnum((unsigned char)tag[i]) && !strchr("_.-", tag[i]))
      return false;
  return true;
}

/* dockerd's checks of the new name before it looks for the image. */
static int check_new_tag(const char *repo, const char *tag, skiff_error_t **err)
{
  if (tag && *tag && !valid_tag(tag))
    return skiff_error_invalid(err, "invalid tag format");
  cleanup_free char *norm =
      repo && *repo ? image_reference_normalize(repo, NULL) : NULL;
  const char *digest_name = "docker.io/library/sha256";
  size_t n = strlen(digest_name);
  if (norm && strncmp(norm, digest_name, n) == 0 && strchr(":@", norm[n]))
    return skiff_error_invalid(err, "refusing to create an ambiguous tag using digest "
                                    "algorithm as name");
  return 0;
}

static void handle_tag(struct daemon *d, struct http_request *req,
                       struct http_response *resp)
{
  const char *name = http_request_param(req, 0);
  const char *repo = http_request_query(req, "repo");
  const char *tag = http_request_query(req, "tag");
  skiff_error_t *err = NULL;
  if (check_new_tag(repo, tag, &err) < 0 ||
      image_store_tag(d->images, name, repo, tag, &err) < 0)
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

/* The short ids of image id and of a container using it (running first);
 * false when none uses it. */
static bool image_user(struct daemon *d, const char *id, char image[13], char user[13],
                       bool *running)
{
  cleanup_free char *full =
      id ? containers_image_user(d->containers, id, running) : NULL;
  if (full == NULL)
    return false;
  snprintf(image, 13, "%s", strchr(id, ':') ? strchr(id, ':') + 1 : id);
  snprintf(user, 13, "%s", full);
  return true;
}

/* dockerd refuses even a forced removal, by ID, of an image that a running
 * container uses. */
static int check_forced_removal(struct daemon *d, const char *name, const char *id,
                                skiff_error_t **err)
{
  char image[13], user[13];
  bool running = false;
  const char *hex = id && strchr(id, ':') ? strchr(id, ':') + 1 : id;
  if (!image_user(d, id, image, user, &running) || !running ||
      (strncmp(hex, name, strlen(name)) != 0 && strncmp(id, name, strlen(name)) != 0))
    return 0;
  return skiff_error_status(err, EBUSY,
                            "conflict: unable to delete %s (cannot be forced) "
                            "- image is being used by running container %s",
                            image, user);
}

/* The image store's conflicts say "a container"; dockerd's name it. */
static void name_the_user(struct daemon *d, const char *name, const char *id,
                          skiff_error_t **err)
{
  char image[13], user[13];
  bool running = false;
  if ((*err)->status != EBUSY || !image_user(d, id, image, user, &running))
    return;
  bool reference =
      strstr((*err)->msg, "a container is using its referenced image") != NULL;
  bool by_id = strstr((*err)->msg, "image is being used by a container") != NULL;
  if (!reference && !by_id)
    return;
  skiff_error_free(err);
  if (reference)
    skiff_error_status(
        err, EBUSY,
        "conflict: unable to remove repository reference "
        "\"%s\" (must force) - container %s is using its referenced image "
        "%s",
        name, user, image);
  else
    skiff_error_status(err, EBUSY,
                       "conflict: unable to delete %s (%s) - image is being "
                       "used by %s container %s",
                       image, running ? "cannot be forced" : "must be forced",
                       running ? "running" : "stopped", user);
}

static void handle_remove(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *name = http_request_param(req, 0);
  bool force = http_request_query_bool(req, "force", false);
  cleanup_free char *id = image_store_resolve(d->images, name, NULL);
  skiff_error_t *err = NULL;
  if (force && check_forced_removal(d, name, id, &err) < 0)
    return respond_error(resp, &err);
  json_t *records = image_store_remove(d->images, name, force, image_in_use, d, &err);
  if (records == NULL) {
    name_the_user(d, name, id, &err);
    return respond_error(resp, &err);
  }
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

/* dockerd's image prune filters: dangling (true: dangling images only, the
 * default; false: every unused image), until, label and label!. */
struct prune_scope {
  struct daemon *d;
  json_t *left_out; /* ids the filters keep */
};

static bool left_out_or_in_use(const char *id, void *arg)
{
  struct prune_scope *p = arg;
  return json_object_get(p->left_out, id) != NULL || image_in_use(id, p->d);
}

/* {"k": ["v"]} or {"k": {"v": true}}: the values. */
static json_t *filter_list(json_t *filters, const char *key)
{
  json_t *v = json_object_get(filters, key), *list = json_array();
  const char *name;
  json_t *ignored;
  if (json_is_array(v))
    json_array_extend(list, v);
  json_object_foreach(v, name, ignored) json_array_append_new(list, json_string(name));
  return list;
}

static bool has_labels(json_t *labels, json_t *wanted)
{
  size_t i;
  json_t *w;
  json_array_foreach(wanted, i, w)
  {
    const char *text = json_string_value(w), *eq = strchr(text, '=');
    cleanup_free char *key = eq ? strndup(text, (size_t)(eq - text)) : strdup(text);
    const char *have = json_string_value(json_object_get(labels, key));
    if (have == NULL || (eq && strcmp(have, eq + 1) != 0))
      return false;
  }
  return true;
}

static int prune_left_out(struct daemon *d, json_t *filters, json_t *left_out,
                          skiff_error_t **err)
{
  cleanup_json json_t *until = filter_list(filters, "until");
  cleanup_json json_t *labels = filter_list(filters, "label");
  cleanup_json json_t *not_labels = filter_list(filters, "label!");
  int64_t until_ns = 0;
  if (json_array_size(until) > 1)
    return skiff_error_invalid(err, "more than one until filter specified");
  if (json_array_size(until) &&
      timestamp_parse(json_string_value(json_array_get(until, 0)), timestamp_now_ns(),
                      &until_ns, err) < 0)
    return -1;
  cleanup_json json_t *images = image_store_list(d->images, true, NULL, err);
  if (images == NULL)
    return -1;
  size_t i;
  json_t *img;
  json_array_foreach(images, i, img)
  {
    json_t *have = json_object_get(img, "Labels");
    int64_t created =
        json_integer_value(json_object_get(img, "Created")) * 1000000000LL;
    if ((until_ns && created >= until_ns) || !has_labels(have, labels) ||
        (json_array_size(not_labels) && has_labels(have, not_labels)))
      json_object_set(left_out, json_string_value(json_object_get(img, "Id")),
                      json_true());
  }
  return 0;
}

static void handle_prune(struct daemon *d, struct http_request *req,
                         struct http_response *resp)
{
  static const char *const accepted[] = {"dangling", "until", "label", "label!", NULL};
  bool bad;
  cleanup_json json_t *filters = http_request_filters_of(req, resp, accepted, &bad);
  if (bad)
    return;
  cleanup_json json_t *dangling = filter_list(filters, "dangling");
  const char *value = json_string_value(json_array_get(dangling, 0));
  bool all_unused =
      value && (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0);
  if (value && !all_unused && strcasecmp(value, "true") != 0 && strcmp(value, "1") != 0)
    return http_respond_error(resp, 400, "invalid filter 'dangling=[%s]'", value);
  skiff_error_t *err = NULL;
  cleanup_json json_t *left_out = json_object();
  if (prune_left_out(d, filters, left_out, &err) < 0)
    return respond_error(resp, &err);
  struct prune_scope scope = {d, left_out};
  json_t *report =
      image_store_prune(d->images, all_unused, left_out_or_in_use, &scope, &err);
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
