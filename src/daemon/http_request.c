/* The request as handlers see it: path, version, query, headers and body,
 * copied out of libmicrohttpd when the headers arrive so that the handler's
 * thread never touches the connection while its thread reads the body. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "http_internal.h"

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
  char lower[256];
  size_t n = strnlen(key, sizeof lower - 1);
  for (size_t i = 0; i < n; i++)
    lower[i] = (char)tolower((unsigned char)key[i]);
  lower[n] = '\0';
  json_object_set_new(cls, lower, json_string(value ? value : ""));
  return MHD_YES;
}

static enum MHD_Result copy_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
  json_t *values = json_object_get(cls, key);
  if (values == NULL) {
    values = json_array();
    json_object_set_new(cls, key, values);
  }
  /* "?stream" without "=" is present with an empty value. */
  json_array_append_new(values, json_string(value ? value : ""));
  return MHD_YES;
}

/* "/v1.47/info" → version "1.47", path "/info"; no prefix → version NULL. */
static int split_version(const char *url, char **version, char **path)
{
  *version = NULL;
  const char *rest = url;
  if (url[0] == '/' && url[1] == 'v' && isdigit((unsigned char)url[2])) {
    size_t n = strspn(url + 2, "0123456789.");
    if (url[2 + n] == '/' || url[2 + n] == '\0') {
      if ((*version = strndup(url + 2, n)) == NULL)
        return -1;
      rest = url + 2 + n;
    }
  }
  *path = strdup(*rest ? rest : "/");
  return *path ? 0 : -1;
}

struct http_request *http_request_new(struct daemon *d, struct MHD_Connection *conn,
                                      const char *method, const char *url)
{
  struct http_request *req = calloc(1, sizeof *req);
  if (req == NULL)
    return NULL;
  pthread_mutex_init(&req->lock, NULL);
  pthread_cond_init(&req->changed, NULL);
  req->refs = 1;
  req->daemon = d;
  req->conn = conn;
  req->body_read = req->body_write = req->upgraded_fd = -1;
  req->resp = (struct http_response){.req = req, .stream_read = -1, .stream_write = -1};
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  req->conn_fd = info ? info->connect_fd : -1;
  req->method = strdup(method);
  req->headers = json_object();
  req->query = json_object();
  req->resp.headers = json_array();
  if (req->method == NULL || req->headers == NULL || req->query == NULL ||
      req->resp.headers == NULL ||
      split_version(url, &req->api_version, &req->path) < 0) {
    http_request_unref(req);
    return NULL;
  }
  MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_header, req->headers);
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_query, req->query);
  return req;
}

static void close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

void http_request_unref(struct http_request *req)
{
  pthread_mutex_lock(&req->lock);
  bool last = --req->refs == 0;
  pthread_mutex_unlock(&req->lock);
  if (!last)
    return;
  free(req->method);
  free(req->path);
  free(req->api_version);
  json_decref(req->headers);
  json_decref(req->query);
  for (unsigned i = 0; req->params[i]; i++)
    free(req->params[i]);
  free(req->body);
  close_fd(&req->body_read);
  close_fd(&req->body_write);
  free(req->extra_in);
  http_response_release(&req->resp);
  pthread_cond_destroy(&req->changed);
  pthread_mutex_destroy(&req->lock);
  free(req);
}

void http_request_append_body(struct http_request *req, const char *data, size_t len)
{
  if (req->body_too_big)
    return;
  if (req->body_len + len > HTTP_BODY_MAX) {
    req->body_too_big = true;
    free(req->body);
    req->body = NULL;
    req->body_len = req->body_cap = 0;
    return;
  }
  if (req->body_len + len + 1 > req->body_cap) {
    size_t cap = req->body_cap ? req->body_cap : 4096;
    while (cap < req->body_len + len + 1)
      cap *= 2;
    char *grown = realloc(req->body, cap);
    if (grown == NULL) {
      req->body_too_big = true;
      return;
    }
    req->body = grown;
    req->body_cap = cap;
  }
  memcpy(req->body + req->body_len, data, len);
  req->body_len += len;
  req->body[req->body_len] = '\0';
}

/* "1.47" → 1047 ("1" is 1.0, as docker compares versions); -1 when
 * malformed. */
static long version_number(const char *v)
{
  char *end;
  errno = 0;
  long major = strtol(v, &end, 10);
  if (end != v && *end == '\0' && errno == 0 && major >= 0)
    return major * 1000;
  if (end == v || *end != '.' || errno)
    return -1;
  const char *minor_text = end + 1;
  long minor = strtol(minor_text, &end, 10);
  if (end == minor_text || *end != '\0' || errno || major < 0 || minor < 0 ||
      minor > 999)
    return -1;
  return major * 1000 + minor;
}

bool http_request_version_ok(const struct http_request *req, char **message)
{
  const char *v = req->api_version;
  *message = NULL;
  if (v == NULL)
    return true;
  long n = version_number(v);
  int r = 0;
  if (n < 0)
    r = asprintf(message, "invalid API version \"%s\"", v);
  else if (n < version_number(HTTP_MIN_API_VERSION))
    r = asprintf(message,
                 "client version %s is too old. Minimum supported API version is %s, "
                 "please upgrade your client to a newer version",
                 v, HTTP_MIN_API_VERSION);
  else if (n > version_number(HTTP_API_VERSION))
    r = asprintf(message,
                 "client version %s is too new. Maximum supported API version is %s", v,
                 HTTP_API_VERSION);
  if (r < 0)
    *message = NULL;
  return n >= 0 && *message == NULL;
}

/* ---------------------------------------------------------------- http.h */

const char *http_request_method(const struct http_request *req)
{
  return req->method;
}

const char *http_request_path(const struct http_request *req)
{
  return req->path;
}

const char *http_request_api_version(const struct http_request *req)
{
  return req->api_version;
}

bool http_request_version_below(const struct http_request *req, const char *version)
{
  return req->api_version && version_number(req->api_version) < version_number(version);
}

const char *http_request_query_at(const struct http_request *req, const char *name,
                                  unsigned index)
{
  return json_string_value(json_array_get(json_object_get(req->query, name), index));
}

const char *http_request_query(const struct http_request *req, const char *name)
{
  return http_request_query_at(req, name, 0);
}

bool http_request_query_bool(const struct http_request *req, const char *name,
                             bool dflt)
{
  const char *v = http_request_query(req, name);
  if (v == NULL)
    return dflt;
  /* docker's boolValue: anything but "", "0", "no", "false", "none" is true. */
  return !(*v == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
           strcasecmp(v, "false") == 0 || strcasecmp(v, "none") == 0);
}

int http_request_query_int(const struct http_request *req, const char *name,
                           int64_t dflt, int64_t *out, skiff_error_t **err)
{
  const char *v = http_request_query(req, name);
  *out = dflt;
  if (v == NULL || *v == '\0')
    return 0;
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (*end != '\0' || errno)
    return skiff_error_invalid(err, "invalid value for %s: \"%s\" is not an integer",
                               name, v);
  *out = n;
  return 0;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
  char lower[256];
  size_t n = strnlen(name, sizeof lower - 1);
  for (size_t i = 0; i < n; i++)
    lower[i] = (char)tolower((unsigned char)name[i]);
  lower[n] = '\0';
  return json_string_value(json_object_get(req->headers, lower));
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
  if (len)
    *len = req->body_len;
  return req->body ? req->body : "";
}

json_t *http_request_json(const struct http_request *req, skiff_error_t **err)
{
  size_t len = req->body_len;
  const char *body = http_request_body(req, &len);
  if (strspn(body, " \t\r\n") == len)
    return NULL;
  json_error_t jerr;
  json_t *json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (json == NULL)
    skiff_error_invalid(err, "invalid JSON in request body: line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
  return json;
}

int http_request_body_fd(struct http_request *req)
{
  return req->body_read;
}

const char *http_request_param(const struct http_request *req, unsigned index)
{
  return index < ROUTER_MAX_PARAMS ? req->params[index] : NULL;
}
