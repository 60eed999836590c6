/* The registry endpoints (api_registry.c): its routes are in
 * api_registry_routes; pull is reached through POST /images/create, which
 * api_images.c shares with import. */
#ifndef SKIFF_DAEMON_API_REGISTRY_H
#define SKIFF_DAEMON_API_REGISTRY_H

#include "router.h"

/* POST /images/create?fromImage=NAME&tag=TAG&platform=P */
void api_registry_pull(struct daemon *d, struct http_request *req,
                       struct http_response *resp);

#endif
