/* The three networks every dockerd has -- bridge, host and none -- as far
 * as skiffd has them: an id and a driver each, so that a container's start
 * and exit are told as dockerd tells them, with "network connect" and
 * "network disconnect" events. skiffd has no other networks yet. */
#ifndef SKIFF_DAEMON_NETWORKS_H
#define SKIFF_DAEMON_NETWORKS_H

#include <jansson.h>

#include "common/error.h"

struct event_bus;
struct networks;

/* The predefined networks of the daemon whose data root is data_root.
 * Their ids stay the same across restarts of the daemon. NULL with *err
 * when the engine's id cannot be read or made. */
struct networks *networks_open(const char *data_root, skiff_error_t **err);
void networks_free(struct networks *n);

/* Publish dockerd's "network <action>" event (action "connect" or
 * "disconnect") of container_id for the network its HostConfig's
 * NetworkMode joins: none, host, or bridge (also "default" and unset).
 * Nothing for container:<id>, which joins no network of its own, nor for
 * a name skiffd has no network for. */
void networks_publish(const struct networks *n, struct event_bus *bus,
                      const char *action, const char *container_id,
                      json_t *host_config);

#endif
