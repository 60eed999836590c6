/* The predefined networks: see networks.h. */
#include "networks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_system.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "events.h"

/* docker's names, and its drivers' names as events give them ("type"). */
static const struct {
  const char *name, *driver;
} predefined[] = {{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}};

#define N_PREDEFINED (sizeof predefined / sizeof *predefined)

struct networks {
  char id[N_PREDEFINED][65];
};

/* dockerd makes a random id for each network once and keeps it in its
 * store. skiffd keeps no network store yet, so the id is derived from the
 * engine's id (kept in the data root, random once): the same after every
 * restart, different between data roots, and as opaque as dockerd's. */
struct networks *networks_open(const char *data_root, skiff_error_t **err)
{
  cleanup_free char *engine = system_engine_id(data_root);
  struct networks *n = engine ? calloc(1, sizeof *n) : NULL;
  if (n == NULL) {
    skiff_error_set(err, engine ? ENOMEM : EIO, "the engine id in %s", data_root);
    return NULL;
  }
  for (size_t i = 0; i < N_PREDEFINED; i++) {
    cleanup_free char *seed = NULL;
    if (asprintf(&seed, "%s network %s", engine, predefined[i].name) < 0) {
      free(n);
      skiff_error_set(err, ENOMEM, "the id of network %s", predefined[i].name);
      return NULL;
    }
    char digest[SHA256_TEXT_LEN];
    sha256_text_of(seed, strlen(seed), digest);
    snprintf(n->id[i], sizeof n->id[i], "%s", digest + strlen("sha256:"));
  }
  return n;
}

void networks_free(struct networks *n)
{
  free(n);
}

/* The index in predefined of the network mode joins, or -1. dockerd keeps
 * "default" (what docker's CLI sends) and fills in "" as the bridge. */
static int network_of_mode(const char *mode)
{
  if (mode == NULL || *mode == '\0' || strcmp(mode, "default") == 0)
    mode = "bridge";
  for (size_t i = 0; i < N_PREDEFINED; i++)
    if (strcmp(mode, predefined[i].name) == 0)
      return (int)i;
  return -1;
}

void networks_publish(const struct networks *n, struct event_bus *bus,
                      const char *action, const char *container_id, json_t *host_config)
{
  int i =
      network_of_mode(json_string_value(json_object_get(host_config, "NetworkMode")));
  if (n == NULL || i < 0)
    return;
  events_publish(bus, "network", action, n->id[i],
                 json_pack("{s:s, s:s, s:s}", "container", container_id, "name",
                           predefined[i].name, "type", predefined[i].driver));
}
