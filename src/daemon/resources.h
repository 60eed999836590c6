/* A container's resource limits as docker keeps them in HostConfig (Memory,
 * MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpuPeriod, CpuQuota,
 * CpusetCpus, CpusetMems, PidsLimit, BlkioWeight): docker's checks at create
 * and update, its update rules, and the OCI linux.resources they become. */
#ifndef SKIFF_DAEMON_RESOURCES_H
#define SKIFF_DAEMON_RESOURCES_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

/* docker's verifyPlatformContainerResources on a HostConfig (create) or an
 * update request (update: zero means "unchanged"). What this host cannot do
 * is dropped with a warning appended to warnings, as docker does (blkio
 * weight without a weight-capable scheduler, swap without swap accounting).
 * EINVAL with docker's message otherwise. */
int resources_check(json_t *host, bool update, json_t *warnings, skiff_error_t **err);

/* docker's adaptContainerSettings at create: MemorySwap defaults to twice
 * Memory, CpuShares is clamped to 2..262144, a PidsLimit <= 0 means none,
 * and every resource field absent from host is added with its zero value so
 * that inspect shows them as docker does. */
void resources_adapt(json_t *host);

/* The JSON types of an update request (docker's UpdateConfig): EINVAL
 * naming the field as Go's decoder does. A PidsLimit <= 0 becomes 0
 * ("unlimited"), as docker's API router does. */
int resources_check_update_body(json_t *body, skiff_error_t **err);

/* docker's Container.UpdateContainer: merge an update request into host
 * (the container's HostConfig), refusing the updates that conflict with
 * what is set (EBUSY: docker's 409) and a restart policy on an AutoRemove
 * container. host is left untouched on error. */
int resources_merge(json_t *host, json_t *update, const char *id, skiff_error_t **err);

/* Whether /sys/fs/cgroup is a pure cgroup v2 hierarchy (docker's
 * IsCgroup2UnifiedMode): what stats and limits mean depends on it. */
bool resources_host_cgroup2(void);

/* The OCI linux.resources (memory, cpu, pids, blockIO) of a HostConfig.
 * Always an object (possibly empty). New reference. */
json_t *resources_oci(json_t *host);

#endif
