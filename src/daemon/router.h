/* The API's routes: method + path pattern → handler. Patterns are literal
 * segments and "{x}" captures; "{name*}" captures the rest of the path
 * (image names contain '/'): "/images/{name*}/json". */
#ifndef SKIFF_DAEMON_ROUTER_H
#define SKIFF_DAEMON_ROUTER_H

#include <stdbool.h>

#include "http.h"

struct daemon;

typedef void (*api_handler)(struct daemon *d, struct http_request *req,
                            struct http_response *resp);

struct api_route {
  const char *method;
  const char *pattern;
  api_handler handler;
  bool streaming_body; /* the handler reads the body from http_request_body_fd */
};

/* Every API module exports its table, ended by a {NULL} entry. */
extern const struct api_route api_system_routes[];
extern const struct api_route api_images_routes[];
extern const struct api_route api_containers_routes[];
extern const struct api_route api_archive_routes[];   /* cp, export, diff, commit */
extern const struct api_route api_resources_routes[]; /* top, stats, update */
extern const struct api_route api_registry_routes[];
extern const struct api_route api_exec_routes[]; /* exec */

/* The most path parameters a pattern may capture. */
#define ROUTER_MAX_PARAMS 4

/* The route for method and path (without the version prefix), searched in
 * the tables above in their order; HEAD falls back to the GET route. On a
 * match, params[0..] receive the captures (new strings, NULL-terminated;
 * the caller frees them) and the route is returned. Otherwise NULL with
 * *status 404 (no such path, or not for this method: dockerd answers both
 * alike). */
const struct api_route *router_find(const char *method, const char *path,
                                    char *params[ROUTER_MAX_PARAMS + 1],
                                    unsigned *status);

#endif
