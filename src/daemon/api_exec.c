/* /containers/{id}/exec and /exec/... of the Docker Engine API (logic in
 * execs.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "daemon.h"
#include "execs.h"
#include "router.h"

static void respond_error(struct http_response *resp, skiff_error_t **err)
{
  http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

/* The body as an object; an empty body is an empty object (dockerd's
 * ReadJSON accepts one). NULL after answering 400. */
static json_t *body_object(struct http_request *req, struct http_response *resp,
                           const char *go_type)
{
  skiff_error_t *err = NULL;
  json_t *body = http_request_json(req, &err);
  if (err) {
    http_respond_error(resp, 400, "invalid JSON: %s", err->msg);
    skiff_error_free(&err);
    return NULL;
  }
  if (body == NULL)
    return json_object();
  if (!json_is_object(body)) {
    http_respond_error(resp, 400,
                       "invalid JSON: json: cannot unmarshal %s into Go value "
                       "of type %s",
                       jsonutil_type_name(body), go_type);
    json_decref(body);
    return NULL;
  }
  return body;
}

static void h_create(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  cleanup_json json_t *body = body_object(req, resp, "container.ExecOptions");
  if (body == NULL)
    return;
  skiff_error_t *err = NULL;
  cleanup_free char *id =
      execs_create(d->execs, http_request_param(req, 0), body, &err);
  if (id == NULL)
    respond_error(resp, &err);
  else
    http_respond_json(resp, 201, json_pack("{s:s}", "Id", id));
}

/* ExecStartCheck: {"Detach", "Tty", "ConsoleSize": [h, w]}. */
static int start_options(struct http_request *req, json_t *body, bool *detach,
                         struct exec_start_opts *o, skiff_error_t **err)
{
  json_t *size = NULL;
  int det = 0, tty = 0;
  json_error_t jerr;
  if (json_unpack_ex(body, &jerr, 0, "{s?b, s?b, s?o}", "Detach", &det, "Tty", &tty,
                     "ConsoleSize", &size) < 0)
    return skiff_error_invalid(err, "invalid JSON: %s", jerr.text);
  *detach = det;
  o->frames = !tty;
  json_int_t h = json_integer_value(json_array_get(size, 0));
  json_int_t w = json_integer_value(json_array_get(size, 1));
  if (size && !json_is_null(size) &&
      (json_array_size(size) != 2 || h < 0 || w < 0 || h > 65535 || w > 65535))
    return skiff_error_invalid(err,
                               "invalid JSON: ConsoleSize must be [height, width]");
  /* dockerd: no console size before API 1.42, nor without a tty. */
  o->has_size =
      json_array_size(size) == 2 && tty && !http_request_version_below(req, "1.42");
  o->rows = (unsigned short)h;
  o->cols = (unsigned short)w;
  return 0;
}

/* dockerd writes an error that comes after the hijack into the stream, as
 * output, ended by "\r\n". */
static void stream_error(int client, bool frames, const char *msg)
{
  size_t len = strlen(msg) + 2;
  cleanup_free char *text = malloc(len + 1);
  if (text == NULL)
    return;
  snprintf(text, len + 1, "%s\r\n", msg);
  unsigned char h[8] = {1,
                        0,
                        0,
                        0,
                        (unsigned char)(len >> 24),
                        (unsigned char)(len >> 16),
                        (unsigned char)(len >> 8),
                        (unsigned char)len};
  if (!frames || fs_write_all(client, h, sizeof h) == 0)
    fs_write_all(client, text, len);
}

static void h_start(struct daemon *d, struct http_request *req,
                    struct http_response *resp)
{
  cleanup_json json_t *body = body_object(req, resp, "container.ExecStartOptions");
  if (body == NULL)
    return;
  const char *id = http_request_param(req, 0);
  skiff_error_t *err = NULL;
  bool detach = false;
  struct exec_start_opts o = {.client = -1};
  if (start_options(req, body, &detach, &o, &err) < 0 ||
      (!execs_exists(d->execs, id) &&
       skiff_error_status(&err, ENOENT, "No such exec instance: %s", id) < 0)) {
    respond_error(resp, &err);
    return;
  }
  if (detach) {
    if (execs_start(d->execs, id, &o, &err) < 0)
      respond_error(resp, &err);
    else
      http_respond_empty(resp, 200);
    return;
  }
  bool multiplexed = o.frames && !http_request_version_below(req, "1.42");
  o.client = http_hijack(req, resp,
                         multiplexed ? "application/vnd.docker.multiplexed-stream"
                                     : "application/vnd.docker.raw-stream");
  if (o.client < 0)
    return;
  if (execs_start(d->execs, id, &o, &err) < 0) {
    stream_error(o.client, o.frames, err->msg);
    skiff_error_free(&err);
  }
  close(o.client);
}

static void h_resize(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  int64_t h = 0, w = 0;
  skiff_error_t *err = NULL;
  if (http_request_query_int(req, "h", -1, &h, &err) < 0 ||
      http_request_query_int(req, "w", -1, &w, &err) < 0) {
    respond_error(resp, &err);
    return;
  }
  if (h < 0 || w < 0 || h > 65535 || w > 65535) {
    http_respond_error(resp, 400, "invalid terminal size: h and w must be 0 to 65535");
    return;
  }
  if (execs_resize(d->execs, http_request_param(req, 0), (unsigned short)h,
                   (unsigned short)w, &err) < 0)
    respond_error(resp, &err);
  else
    http_respond_empty(resp, 200);
}

static void h_inspect(struct daemon *d, struct http_request *req,
                      struct http_response *resp)
{
  skiff_error_t *err = NULL;
  json_t *info = execs_inspect(d->execs, http_request_param(req, 0), &err);
  if (info)
    http_respond_json(resp, 200, info);
  else
    respond_error(resp, &err);
}

const struct api_route api_exec_routes[] = {
    {"POST", "/containers/{id}/exec", h_create, false},
    {"POST", "/exec/{id}/start", h_start, false},
    {"POST", "/exec/{id}/resize", h_resize, false},
    {"GET", "/exec/{id}/json", h_inspect, false},
    {NULL, NULL, NULL, false},
};
