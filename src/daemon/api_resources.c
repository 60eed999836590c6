/* /containers/{id}/top, /stats and /update of the Docker Engine API: a
 * container's processes, its resource usage, and its limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "containers.h"
#include "daemon.h"
#include "router.h"
#include "stats.h"
#include "top.h"

static void respond_error(struct http_response *resp, skiff_error_t **err)
{
  http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

static void h_top(struct daemon *d, struct http_request *req,
                  struct http_response *resp)
{
  skiff_error_t *err = NULL;
  const char *ref = http_request_param(req, 0);
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  json_t *list = NULL;
  if (containers_pids(d->containers, ref, &pids, &n, &err) < 0 ||
      (list = top_processes(pids, n, http_request_query(req, "ps_args"), &err)) ==
          NULL) {
    respond_error(resp, &err);
    return;
  }
  containers_publish_event(d->containers, ref, "top", NULL);
  http_respond_json(resp, 200, list);
}

/* ---- stats ------------------------------------------------------------- */

struct stats_source {
  struct container_store *store;
  char *id;   /* full id */
  char *name; /* "/name" */
};

/* A sample now: the container's numbers, or zeros when it does not run
 * (*running tells which). NULL (with *err) once the container is gone. */
static json_t *take_sample(struct stats_source *src, bool *running, skiff_error_t **err)
{
  cleanup_free char *name = NULL;
  pid_t pid = 0;
  cleanup_json json_t *cgroup =
      containers_cgroup_stats(src->store, src->id, &name, &pid, err);
  if (cgroup == NULL)
    return NULL;
  if (name) {
    free(src->name);
    src->name = steal_pointer(&name);
  }
  *running = !json_is_null(cgroup);
  return *running ? stats_sample(cgroup, pid) : stats_sample_empty();
}

/* Sleep up to a second in steps, so that a client that left is noticed. */
static bool pause_a_second(struct http_response *resp)
{
  for (int i = 0; i < 10; i++) {
    if (resp && http_client_gone(resp))
      return false;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return true;
}

/* One object per second, each with the previous one's CPU numbers, until
 * the client leaves or the container is removed (docker's stream). */
static void stream_stats(struct stats_source *src, struct http_response *resp)
{
  if (http_stream_begin(resp, 200, "application/json") < 0)
    return;
  cleanup_json json_t *prev = NULL;
  for (;;) {
    skiff_error_t *err = NULL;
    bool running;
    json_t *sample = take_sample(src, &running, &err);
    skiff_error_free(&err);
    if (sample == NULL)
      return;
    cleanup_json json_t *frame = stats_response(sample, prev, src->name, src->id);
    json_decref(prev);
    prev = sample;
    if (http_stream_json(resp, frame) < 0 || !pause_a_second(resp))
      return;
  }
}

static void h_stats(struct daemon *d, struct http_request *req,
                    struct http_response *resp)
{
  skiff_error_t *err = NULL;
  bool stream = http_request_query_bool(req, "stream", true);
  bool one_shot = http_request_query_bool(req, "one-shot", false);
  struct stats_source src = {d->containers, NULL, NULL};
  src.id = containers_resolve(d->containers, http_request_param(req, 0), &err);
  if (src.id == NULL) {
    respond_error(resp, &err);
    return;
  }
  if (stream && one_shot) {
    http_respond_error(resp, 400, "cannot have stream=true and one-shot=true");
  } else if (stream) {
    stream_stats(&src, resp);
  } else {
    /* Without one-shot docker waits for a second sample, so that the CPU
     * numbers have a "before" (precpu_stats); a stopped container's zeros
     * come at once. */
    bool running = false;
    cleanup_json json_t *first = take_sample(&src, &running, &err);
    cleanup_json json_t *second = NULL;
    if (first && running && !one_shot && pause_a_second(resp))
      second = take_sample(&src, &running, NULL);
    if (first == NULL)
      respond_error(resp, &err);
    else
      http_respond_json(resp, 200,
                        second ? stats_response(second, first, src.name, src.id)
                               : stats_response(first, NULL, src.name, src.id));
  }
  skiff_error_free(&err);
  free(src.id);
  free(src.name);
}

/* ---- update ------------------------------------------------------------ */

static void h_update(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  skiff_error_t *err = NULL;
  cleanup_json json_t *body = http_request_json(req, &err);
  if (err) {
    http_respond_error(resp, 400, "invalid JSON: %s", err->msg);
    skiff_error_free(&err);
    return;
  }
  if (body == NULL)
    body = json_object(); /* an empty body changes nothing, as docker */
  json_t *warnings = json_array();
  if (containers_update(d->containers, http_request_param(req, 0), body, warnings,
                        &err) < 0) {
    json_decref(warnings);
    respond_error(resp, &err);
    return;
  }
  http_respond_json(resp, 200, json_pack("{s:o}", "Warnings", warnings));
}

const struct api_route api_resources_routes[] = {
    {"GET", "/containers/{id}/top", h_top, false},
    {"GET", "/containers/{id}/stats", h_stats, false},
    {"POST", "/containers/{id}/update", h_update, false},
    {NULL, NULL, NULL, false},
};
