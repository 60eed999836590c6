/* Login: check credentials the way dockerd does for POST /auth, by asking
 * the registry's /v2/ with them (through its token server when it uses
 * Bearer tokens) and seeing it answer 200. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "registry_internal.h"

/* "https://host:port/v1/" or "host:port" → "host:port"; Docker Hub's many
 * names → "docker.io". New string. */
static char *server_host(const char *server)
{
  if (server == NULL || *server == '\0')
    return strdup(DOCKER_HUB);
  const char *p = strstr(server, "://");
  p = p ? p + 3 : server;
  char *host = strndup(p, strcspn(p, "/"));
  if (host && (strcmp(host, "index.docker.io") == 0 ||
               strcmp(host, "registry-1.docker.io") == 0)) {
    free(host);
    host = strdup(DOCKER_HUB);
  }
  return host;
}

int registry_login(const struct registry_config *cfg, const struct registry_auth *auth,
                   char **token, skiff_error_t **err)
{
  *token = NULL;
  cleanup_free char *host = server_host(auth->server);
  if (host == NULL)
    return skiff_error_set(err, ENOMEM, "login");
  /* No repository: a token asked for at login covers no scope. */
  struct registry_client *c = registry_client_new(cfg, host, NULL, "", "", auth, err);
  if (c == NULL)
    return -1;
  /* The ping answers a 401 by authenticating and asking again: it fails
   * when the credentials are refused. */
  int r = registry_client_ping(c, err);
  if (r < 0 && err && *err && (*err)->status == EACCES)
    skiff_error_status(err, EACCES,
                       "login attempt to %s/v2/ failed with status: 401 "
                       "Unauthorized",
                       c->endpoint);
  registry_client_free(c);
  return r;
}
