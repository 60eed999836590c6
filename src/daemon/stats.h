/* docker's container stats objects (GET /containers/{id}/stats) made from
 * the runtime's cgroup numbers (runtime_stats, the same on cgroup v1 and
 * v2) the way dockerd converts containerd's metrics: v1 and v2 differ in
 * what they report, as they do in docker. */
#ifndef SKIFF_DAEMON_STATS_H
#define SKIFF_DAEMON_STATS_H

#include <jansson.h>
#include <sys/types.h>

/* One sample of a running container: {read, pids_stats, blkio_stats,
 * num_procs, storage_stats, cpu_stats, memory_stats[, networks]}, taken
 * now. cgroup is runtime_stats' object; pid is the container's init, whose
 * network namespace gives "networks" (left out for the host's namespace or
 * when only loopback exists, as docker leaves it out without networks).
 * New reference. */
json_t *stats_sample(json_t *cgroup, pid_t pid);

/* The sample of a container that does not run: docker's zeros. */
json_t *stats_sample_empty(void);

/* The API object: sample, with prev's read time and cpu_stats as preread
 * and precpu_stats (prev may be NULL: zeros), and the container's name
 * ("/name") and id. New reference. */
json_t *stats_response(json_t *sample, json_t *prev, const char *name, const char *id);

#endif
