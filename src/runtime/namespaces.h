/* Joining and preparing Linux namespaces. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_NAMESPACES_H
#define SKIFF_RUNTIME_NAMESPACES_H

#include <jansson.h>
#include <sys/types.h>

#include "common/error.h"
#include "spec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* setns into the namespace file at path, which must be of type flag. */
int ns_join_path(const char *path, int flag, skiff_error_t **err);

/* Write uid_map and gid_map of pid from the spec's mappings. */
int ns_write_id_maps(pid_t pid, const struct spec *spec, skiff_error_t **err);

/* Bring up "lo" in the current (new) network namespace, as runc does. */
int ns_loopback_up(skiff_error_t **err);

/* Write linux.timeOffsets to /proc/self/timens_offsets: they apply to the
 * time namespace the caller's next children are created in. */
int ns_write_time_offsets(json_t *offsets, skiff_error_t **err);

/* The CLONE_NEW* flags of the namespaces the spec asks to create. */
int ns_new_flags(const struct spec *spec);

#endif
