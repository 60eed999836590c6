/* The HTTP side of skiffd as API handlers see it: a parsed request with its
 * body, and a response that is JSON, a stream, or a hijacked connection.
 * libmicrohttpd stays behind this header (http.c); handlers never see it.
 * Connections are served thread-per-connection, so a handler may block. */
#ifndef SKIFF_DAEMON_HTTP_H
#define SKIFF_DAEMON_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The API versions served: docker CLI 28 negotiates down to the maximum
 * (min(client, server)); requests below the minimum are refused. */
#define HTTP_API_VERSION "1.47"
#define HTTP_MIN_API_VERSION "1.24"

struct http_request;

/* The method ("GET", "POST", "HEAD", "DELETE", "PUT"). */
const char *http_request_method(const struct http_request *req);

/* The path without the "/vX.YY" prefix and without the query string. */
const char *http_request_path(const struct http_request *req);

/* The API version from the "/vX.YY" prefix, or NULL when there was none. */
const char *http_request_api_version(const struct http_request *req);

/* Whether the request's API version is below version ("1.42"); a request
 * without a version prefix speaks the newest. */
bool http_request_version_below(const struct http_request *req, const char *version);

/* A query parameter, or NULL when absent. */
const char *http_request_query(const struct http_request *req, const char *name);

/* A query parameter as a boolean, as docker's BoolValue reads it: anything
 * but "", "0", "no", "false" and "none" is true; absent gives dflt. */
bool http_request_query_bool(const struct http_request *req, const char *name,
                             bool dflt);

/* A query parameter as an integer; absent gives dflt. A malformed value
 * sets *err (the handler answers 400). */
int http_request_query_int(const struct http_request *req, const char *name,
                           int64_t dflt, int64_t *out, skiff_error_t **err);

/* A request header (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/* The body, read whole into memory (NUL-terminated). Use only for small
 * JSON bodies: bodies above 16 MiB are refused with 413 before the handler
 * runs unless the route is marked streaming. */
const char *http_request_body(const struct http_request *req, size_t *len);

/* The body parsed as JSON (NULL body or "" gives NULL without error); a
 * parse error sets *err with the line and column. New reference. */
json_t *http_request_json(const struct http_request *req, skiff_error_t **err);

/* For streaming routes: an fd from which the body can be read as it
 * arrives (chunked or not); EOF at its end. Owned by the request. If the
 * client goes away mid-body the fd gives an early EOF and http_client_gone
 * is already true: check it after EOF before keeping what was read. */
int http_request_body_fd(struct http_request *req);

/* The path parameters captured by the route ("{id}", "{name}"): index 0 is
 * the first. NULL past the last. Names may contain '/' when the route
 * allows it (image names). */
const char *http_request_param(const struct http_request *req, unsigned index);

struct http_response;

/* The "filters" query parameter (docker's JSON object) parsed; NULL when
 * absent. When it does not parse, answers 400 on resp and sets *bad.
 * New reference. */
json_t *http_request_filters(struct http_request *req, struct http_response *resp,
                             bool *bad);

/* http_request_filters, and 400 "invalid filter 'key'" for a key that is
 * not one of accepted (NULL-terminated), as dockerd's Validate does. */
json_t *http_request_filters_of(struct http_request *req, struct http_response *resp,
                                const char *const *accepted, bool *bad);

/* Respond with status and a JSON body (takes the reference). */
void http_respond_json(struct http_response *resp, unsigned status, json_t *body);

/* Respond with status and no body (204, 304, or HEAD answers). */
void http_respond_empty(struct http_response *resp, unsigned status);

/* Respond with Docker's error body {"message": "..."}. */
void http_respond_error(struct http_response *resp, unsigned status, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

/* Respond with the error's message and a status chosen from its errno:
 * ENOENT 404, EEXIST/EBUSY 409, EINVAL 400, EPERM/EACCES 403, else 500. */
void http_respond_skiff_error(struct http_response *resp, const skiff_error_t *err);

/* Add a response header (before the body is sent). */
void http_response_header(struct http_response *resp, const char *name,
                          const char *value);

/* Start a streamed response: the status and headers go out now, and
 * http_stream_write sends what follows (chunked), until the handler
 * returns. Returns -1 when the client has gone away. */
int http_stream_begin(struct http_response *resp, unsigned status,
                      const char *content_type);
int http_stream_write(struct http_response *resp, const void *data, size_t len);
/* Convenience: one JSON object followed by "\r\n" (progress, events). */
int http_stream_json(struct http_response *resp, json_t *obj);

/* Take over the connection (docker's attach/exec start): answer "101
 * UPGRADED" with "Upgrade: tcp" when the client asked for the upgrade, or
 * 200 with the raw-stream content type otherwise, then return the socket
 * for raw bidirectional use. The caller owns and closes it. -1 on error. */
int http_hijack(struct http_request *req, struct http_response *resp,
                const char *content_type);

/* The index-th value of a repeated query parameter ("changes=a&changes=b"),
 * or NULL past the last. http_request_query gives the first. */
const char *http_request_query_at(const struct http_request *req, const char *name,
                                  unsigned index);

/* Respond with status and len bytes of data (copied) of content_type. */
void http_respond_data(struct http_response *resp, unsigned status,
                       const char *content_type, const void *data, size_t len);

/* True once the client has gone away (connection closed or hung up): for
 * handlers that wait a long time before answering or between stream writes
 * (wait, events, logs -f) so that they can stop. Checked about once a
 * second while a handler runs. */
bool http_client_gone(const struct http_response *resp);

#endif
