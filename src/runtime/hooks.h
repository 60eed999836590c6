/* OCI hooks: programs run at points of the lifecycle with the container's
 * state JSON on their stdin, each with an optional timeout. Internal. */
#ifndef SKIFF_RUNTIME_HOOKS_H
#define SKIFF_RUNTIME_HOOKS_H

#include <jansson.h>

#include "common/error.h"

/* Check the hooks object of config.json (every kind, every field). */
int hooks_validate(json_t *hooks, skiff_error_t **err);

/* True when hooks has at least one hook of one of the given kinds. */
int hooks_any(json_t *hooks, const char *kind, const char *kind2);

/* Run every hook of kind ("prestart", "createRuntime", ...) in order, in
 * the calling process's namespaces, each fed state_json on stdin. The first
 * failure (non-zero exit, signal, timeout) stops the list and is returned. */
int hooks_run(json_t *hooks, const char *kind, const char *state_json,
              skiff_error_t **err);

#endif
