/* What the runtime remembers about a container between commands:
 * <root>/<id>/state.json, written atomically. The fields the OCI `state`
 * command shows are kept at the top level; skiff's own bookkeeping sits
 * under "skiff". Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_STATE_H
#define SKIFF_RUNTIME_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* Refuse ids that could escape the root or confuse tools: empty, ".",
 * "..", containing '/', or longer than 1024 bytes. */
int state_check_id(const char *id, skiff_error_t **err);

/* <root>/<id> as a new string. */
char *state_dir(const char *root, const char *id);

/* Create <root>/<id> exclusively: an existing one is "container with id
 * exists". */
int state_create_dir(const char *root, const char *id, skiff_error_t **err);

/* Load the state; a missing container is status ENOENT, "container X does
 * not exist". New reference. */
json_t *state_load(const char *root, const char *id, skiff_error_t **err);

int state_save(const char *root, const char *id, json_t *state, skiff_error_t **err);

/* Remove <root>/<id> and everything in it. */
int state_remove(const char *root, const char *id, skiff_error_t **err);

/* The init pid, if it is still the process recorded (same start time) and
 * not a zombie; else 0. */
pid_t state_live_pid(json_t *state);

/* The status now: "created", "running", "paused" or "stopped". Looks at
 * the process and the cgroup freezer. */
const char *state_status(json_t *state);

/* The OCI-visible part of the state, with the current status. New ref. */
json_t *state_public(json_t *state);

/* The ids of every container under root (sorted). Caller frees with
 * cleanup_strv. A missing root gives an empty list. */
int state_list_ids(const char *root, char ***ids, skiff_error_t **err);

/* Hold an exclusive lock on <root>/<id> for the life of the returned fd. */
int state_lock(const char *root, const char *id, skiff_error_t **err);

#endif
