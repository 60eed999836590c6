/* The CLI's side of the Docker Engine API: daemon address parsing (docker's
 * -H / DOCKER_HOST rules), API version negotiation, plain requests with
 * http.c, and the hijacked connection of attach (HTTP Upgrade: tcp). */
#ifndef SKIFF_CLI_CLIENT_H
#define SKIFF_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The API version this client speaks; the daemon's, when lower, wins. */
#define CLIENT_API_VERSION "1.47"
#define CLIENT_DEFAULT_HOST "unix:///run/skiff/skiff.sock"

/* A parsed daemon address. */
struct client_host {
  char *canonical; /* "unix:///run/skiff/skiff.sock", "tcp://localhost:2375" */
  char *socket;    /* unix: the socket path; NULL for tcp */
  char *base_url;  /* "http://localhost" (unix) or "http://HOST:PORT[/path]" */
  char *tcp_host;  /* tcp: HOST and PORT to connect to; NULL for unix */
  char *tcp_port;
};

/* Parse a daemon address with docker's rules (opts.ParseHost): empty means
 * CLIENT_DEFAULT_HOST, "unix://" alone the default socket, "tcp://" alone
 * localhost:2375, "HOST:PORT" without a scheme is tcp. Fills *out (free with
 * client_host_clear). Returns -1 with *err for other schemes or bad ports. */
int client_parse_host(const char *text, struct client_host *out, skiff_error_t **err);
void client_host_clear(struct client_host *h);

/* The address to use: flag, else $SKIFF_HOST, else $DOCKER_HOST, else the
 * default. The returned string is borrowed. */
const char *client_pick_host(const char *flag);

/* Compare dotted API versions ("1.9" < "1.41"). Returns <0, 0, >0. */
int client_version_cmp(const char *a, const char *b);

struct client;

/* A client for the daemon at host (as client_pick_host returns). NULL with
 * *err when the address is invalid. Nothing is sent until the first call. */
struct client *client_new(const char *host, skiff_error_t **err);
void client_free(struct client *c);

/* The canonical address ("unix:///run/skiff/skiff.sock"), for messages. */
const char *client_host_name(const struct client *c);

/* The negotiated API version: $DOCKER_API_VERSION when set, otherwise
 * min(CLIENT_API_VERSION, the API-Version header of HEAD /_ping), asked once.
 * NULL with *err ("Cannot connect to the skiff daemon at ...") when the
 * daemon cannot be reached. */
const char *client_api_version(struct client *c, skiff_error_t **err);

/* A request. path is unversioned and already escaped ("/containers/json?all=1");
 * the negotiated "/vX.Y" prefix is added unless raw_path is set. */
struct client_call {
  const char *method;
  const char *path;
  bool raw_path;
  json_t *json;               /* request body as JSON (borrowed), or */
  int body_fd;                /* a body streamed from this fd (-1: none) */
  long long body_size;        /* its size, or -1 for chunked */
  const char *content_type;   /* of the body_fd body */
  const char *const *headers; /* more "Name: value" lines, NULL-ended */
  /* When set and the status is < 400, the response body is handed here in
   * chunks instead of being collected; returning < 0 stops the transfer. */
  int (*on_data)(const char *buf, size_t len, void *arg);
  /* Called once the headers of a successful response have arrived. */
  void (*on_headers)(void *arg);
  void *arg;
  /* When set, the transfer is abandoned soon after *cancel becomes true. */
  const volatile bool *cancel;
  /* A response header whose value goes to reply->header ("X-Docker-..."). */
  const char *want_header;
};

struct client_reply {
  long status;
  char *body; /* collected body (always for status >= 400), NUL-terminated */
  size_t len;
  bool aborted; /* on_data stopped the transfer */
  char *header; /* the value of call->want_header, or NULL */
};
void client_reply_clear(struct client_reply *r);

/* Perform a call. Returns 0 when a response arrived (whatever its status,
 * which is in reply->status), -1 with *err on a transport failure. */
int client_do(struct client *c, const struct client_call *call,
              struct client_reply *reply, skiff_error_t **err);

/* "Error response from daemon: MESSAGE" from an error reply, in *err
 * (status is the HTTP status). Returns -1. */
int client_error_from_reply(const struct client_reply *r, skiff_error_t **err);

/* Call and decode: NULL with *err on a transport error or a status >= 400
 * (then *status, when given, holds it). A successful empty body gives
 * json_null(). The result is a new reference. */
json_t *client_json(struct client *c, const char *method, const char *path,
                    json_t *body, long *status, skiff_error_t **err);

/* Like client_json for calls whose answer is not needed. Returns 0 or -1. */
int client_simple(struct client *c, const char *method, const char *path, json_t *body,
                  long *status, skiff_error_t **err);

/* A hijacked connection: after the 101 (or 200) response the socket carries
 * the raw stream both ways. early holds stream bytes read with the headers. */
struct client_conn {
  int fd;
  char *early;
  size_t early_len;
};

/* Send method path (with an optional JSON body) asking for "Upgrade: tcp"
 * and return the raw connection in *conn (release with client_conn_close).
 * Returns -1 with *err (the daemon's message for an error status). */
int client_hijack(struct client *c, const char *method, const char *path, json_t *body,
                  struct client_conn *conn, skiff_error_t **err);
void client_conn_close(struct client_conn *conn);

/* Percent-encode s for a path segment or query value (keep_slash keeps '/',
 * for image names in paths). Returns a new string or NULL. */
char *client_escape(const char *s, bool keep_slash);

/* Append "?key=value" or "&key=value" (value escaped) to the string *q
 * (malloc'ed, may start NULL). Returns -1 on allocation failure. */
int client_query_add(char **q, const char *key, const char *value);

#endif
