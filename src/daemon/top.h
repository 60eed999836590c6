/* GET /containers/{id}/top as docker does it: the host's ps, run with the
 * client's arguments, filtered down to the container's processes. */
#ifndef SKIFF_DAEMON_TOP_H
#define SKIFF_DAEMON_TOP_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* {"Titles": [...], "Processes": [[...], ...]}: ps's header and the rows
 * of the given (host) PIDs. ps_args are split on spaces (NULL or "" means
 * "-ef"); like docker, "-q PIDS" is tried first and ps runs again without
 * it when that fails (some options exclude it). Errors (status EIO, the
 * API's 500) carry docker's text: "ps: " and ps's first line of stderr,
 * "Couldn't find PID field in ps output", or `specifying "k=PID" is not
 * allowed` for a renamed PID column. New reference. */
json_t *top_processes(const pid_t *pids, size_t n, const char *ps_args,
                      skiff_error_t **err);

#endif
