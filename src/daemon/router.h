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

#endif
