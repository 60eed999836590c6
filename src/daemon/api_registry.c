/* The registry endpoints: pull (POST /images/create?fromImage=), push
 * (POST /images/{name}/push) and login (POST /auth), over src/registry.
 *
 * Pull and push answer with docker's JSON progress stream. As with dockerd,
 * the stream (and its 200) starts with the first progress message: an error
 * before it (no such manifest, access denied) is an ordinary error answer
 * with its status, one after it is an {"error", "errorDetail"} message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "daemon.h"
#include "events.h"
#include "http.h"
#include "image/image.h"
#include "registry/registry.h"
#include "router.h"

#define DEFAULT_CERTS_DIR "/etc/skiff/certs.d"

/* A "max-concurrent-*" key of daemon.json, or fallback. config.c has
 * refused a negative or non-integer one at start-up. */
static int transfer_limit(json_t *file, const char *key, int fallback)
{
  json_t *v = json_object_get(file, key);
  return json_is_integer(v) && json_integer_value(v) <= INT_MAX
             ? (int)json_integer_value(v)
             : fallback;
}

/* daemon.json's registry keys; "registry-certs-dir" is skiff's own (docker
 * reads only /etc/docker/certs.d). */
static void registry_config_of(struct daemon *d, struct registry_config *cfg)
{
  json_t *file = d->config.file;
  cfg->insecure = json_object_get(file, "insecure-registries");
  cfg->mirrors = json_object_get(file, "registry-mirrors");
  cfg->max_uploads =
      transfer_limit(file, "max-concurrent-uploads", REGISTRY_DEFAULT_UPLOADS);
  cfg->max_downloads =
      transfer_limit(file, "max-concurrent-downloads", REGISTRY_DEFAULT_DOWNLOADS);
  const char *certs = json_string_value(json_object_get(file, "registry-certs-dir"));
  cfg->certs_dir = (char *)(certs && *certs ? certs : DEFAULT_CERTS_DIR);
}

/* ---- the progress stream ---- */

struct stream {
  struct http_response *resp;
  bool started, gone;
};

static void stream_message(struct stream *s, json_t *msg)
{
  if (s->gone)
    return;
  if (!s->started) {
    s->started = true;
    if (http_stream_begin(s->resp, 200, "application/json") < 0) {
      s->gone = true;
      return;
    }
  }
  if (http_stream_json(s->resp, msg) < 0)
    s->gone = true;
}

static void on_progress(void *arg, const char *id, const char *status,
                        long long current, long long total)
{
  struct stream *s = arg;
  cleanup_json json_t *msg = json_pack("{s:s}", "status", status);
  if (msg == NULL)
    return;
  if (id)
    json_object_set_new(msg, "id", json_string(id));
  if (id && total >= 0)
    json_object_set_new(msg, "progressDetail",
                        json_pack("{s:I, s:I}", "current", (json_int_t)current, "total",
                                  (json_int_t)total));
  else if (id)
    json_object_set_new(msg, "progressDetail", json_object());
  stream_message(s, msg);
}

static void on_aux(void *arg, json_t *aux)
{
  cleanup_json json_t *msg = json_pack("{s:{}, s:O}", "progressDetail", "aux", aux);
  if (msg)
    stream_message(arg, msg);
}

static void finish_stream(struct stream *s, skiff_error_t **err)
{
  if (*err == NULL)
    return;
  if (!s->started) {
    http_respond_skiff_error(s->resp, *err);
  } else {
    cleanup_json json_t *msg = json_pack("{s:{s:s}, s:s}", "errorDetail", "message",
                                         (*err)->msg, "error", (*err)->msg);
    stream_message(s, msg);
  }
  skiff_error_free(err);
}

static int auth_of(struct http_request *req, struct registry_auth *auth,
                   skiff_error_t **err)
{
  return registry_auth_decode(http_request_header(req, "X-Registry-Auth"), auth, err);
}

/* ---- POST /images/create?fromImage=NAME&tag=TAG&platform=P ---- */

/* fromImage may carry its own tag or digest; tag may be a digest. No tag
 * at all asks for every tag (docker pull -a). */
static char *pull_reference(const char *image, const char *tag, bool *all_tags)
{
  const char *last = strrchr(image, '/');
  bool tagged = strchr(image, '@') || strchr(last ? last : image, ':');
  *all_tags = !tagged && (tag == NULL || *tag == '\0');
  char *ref = NULL;
  if (tagged || tag == NULL || *tag == '\0')
    return strdup(image);
  bool digest = strchr(tag, ':') != NULL;
  return asprintf(&ref, "%s%s%s", image, digest ? "@" : ":", tag) < 0 ? NULL : ref;
}

void api_registry_pull(struct daemon *d, struct http_request *req,
                       struct http_response *resp)
{
  const char *image = http_request_query(req, "fromImage");
  bool all_tags = false;
  cleanup_free char *ref =
      pull_reference(image, http_request_query(req, "tag"), &all_tags);
  struct stream s = {.resp = resp};
  struct registry_progress progress = {.fn = on_progress, .arg = &s};
  struct registry_config cfg;
  registry_config_of(d, &cfg);
  struct registry_auth auth = {0};
  skiff_error_t *err = NULL;
  if (ref == NULL) {
    skiff_error_set(&err, ENOMEM, "pull");
  } else if (auth_of(req, &auth, &err) == 0) {
    registry_pull(d->images, &cfg, ref, http_request_query(req, "platform"), all_tags,
                  &auth, &progress, &err);
  }
  registry_auth_clear(&auth);
  if (err == NULL && d->events) {
    cleanup_free char *norm = image_reference_normalize(ref, NULL);
    cleanup_free char *familiar = norm ? image_reference_familiar(norm) : NULL;
    events_publish(d->events, "image", "pull", familiar ? familiar : ref, NULL);
  }
  finish_stream(&s, &err);
}

/* ---- POST /images/{name}/push?tag=TAG ---- */

static void handle_push(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  const char *name = http_request_param(req, 0);
  const char *tag = http_request_query(req, "tag");
  cleanup_free char *ref = NULL;
  if (asprintf(&ref, "%s%s%s", name, tag && *tag ? ":" : "", tag && *tag ? tag : "") <
      0)
    return http_respond_error(resp, 500, "push: out of memory");
  struct stream s = {.resp = resp};
  struct registry_progress progress = {.fn = on_progress, .aux = on_aux, .arg = &s};
  struct registry_config cfg;
  registry_config_of(d, &cfg);
  struct registry_auth auth = {0};
  skiff_error_t *err = NULL;
  if (auth_of(req, &auth, &err) == 0)
    registry_push(d->images, &cfg, ref, &auth, &progress, &err);
  registry_auth_clear(&auth);
  if (err == NULL && d->events) {
    cleanup_free char *norm = image_reference_normalize(ref, NULL);
    cleanup_free char *familiar = norm ? image_reference_familiar(norm) : NULL;
    events_publish(d->events, "image", "push", familiar ? familiar : ref, NULL);
  }
  finish_stream(&s, &err);
}

/* ---- POST /auth ---- */

static void handle_auth(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  skiff_error_t *err = NULL;
  cleanup_json json_t *body = http_request_json(req, &err);
  struct registry_auth auth = {0};
  struct registry_config cfg;
  registry_config_of(d, &cfg);
  cleanup_free char *token = NULL;
  if (err == NULL && body == NULL)
    skiff_error_invalid(&err, "missing the auth configuration in the request body");
  if (err == NULL && registry_auth_from_json(body, &auth, &err) == 0)
    registry_login(&cfg, &auth, &token, &err);
  registry_auth_clear(&auth);
  if (err) {
    if (err->status == EACCES)
      http_respond_error(resp, 401, "%s", err->msg);
    else
      http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  http_respond_json(resp, 200,
                    json_pack("{s:s, s:s}", "Status", "Login Succeeded",
                              "IdentityToken", token ? token : ""));
}

/* ---- GET /images/search ---- */

static void handle_search(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  http_respond_error(
      resp, 501,
      "search is not supported by skiff: registries that speak the OCI "
      "distribution API have no search; browse the registry instead (%s)",
      http_request_query(req, "term") ?: "no term");
}

const struct api_route api_registry_routes[] = {
    {"GET", "/images/search", handle_search, false},
    {"POST", "/images/{name*}/push", handle_push, false},
    {"POST", "/auth", handle_auth, false},
    {NULL},
};
