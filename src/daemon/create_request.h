/* POST /containers/create's body, parsed and checked as dockerd does before
 * it creates anything, with dockerd's messages: what its JSON decoder
 * refuses ("invalid JSON: ..."), an empty Config, and the checks of
 * Config and HostConfig that dockerd makes before it looks the image up
 * (restart policy, resources, stop signal, working directory,
 * healthcheck, environment, log driver and options). */
#ifndef SKIFF_DAEMON_CREATE_REQUEST_H
#define SKIFF_DAEMON_CREATE_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

struct gotype;

/* Parse body (len bytes) into a checked create request; log_driver is
 * the daemon's default driver (for a LogConfig without Type). Returns a
 * new reference with keys in Go's spelling, or NULL with *err (EINVAL). */
json_t *create_request_parse(const char *body, size_t len, const char *log_driver,
                             skiff_error_t **err);

/* The body of POST /commit: a Config, decoded as dockerd's DecodeConfig
 * does (Go's syntax and type errors, "invalid JSON: ..."). An empty body
 * gives NULL without *err. New reference. */
json_t *create_request_parse_config(const char *body, size_t len, skiff_error_t **err);

/* The Go types of the body (create_types.c). */
const struct gotype *create_request_type(void);
const struct gotype *create_request_config_type(void);

#endif
