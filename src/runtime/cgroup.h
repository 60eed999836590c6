/* cgroups behind one interface for the three layouts a host can have:
 * pure v1, hybrid (v1 controllers plus a v2 hierarchy at
 * /sys/fs/cgroup/unified, as on these machines), and pure v2. The rest of the
 * runtime never looks at which one it is on. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_CGROUP_H
#define SKIFF_RUNTIME_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

enum cgroup_layout { CGROUP_LAYOUT_V1, CGROUP_LAYOUT_HYBRID, CGROUP_LAYOUT_V2 };

/* The layout of this host's /sys/fs/cgroup (detected once, then cached). */
enum cgroup_layout cgroup_detect_layout(void);

/* linux.resources, parsed and validated (every field of the OCI spec:
 * memory, cpu, pids, blockIO, hugepageLimits, devices, unified, network
 * classID/priorities). Opaque. */
struct cgroup_resources;

/* Parse linux.resources (resources may be NULL: no limits). The error names
 * the offending field ("linux.resources.memory.limit: expected integer, got
 * string"). Caller frees with cgroup_resources_free. */
int cgroup_resources_parse(json_t *resources, struct cgroup_resources **out,
                           skiff_error_t **err);
void cgroup_resources_free(struct cgroup_resources *res);

/* The cgroup path to use for a container: cgroupsPath when given (an
 * absolute path is taken from the hierarchy roots; a relative one under the
 * runtime's default parent "/skiff"; with systemd "slice:prefix:name" form it
 * maps to "slice/prefix-name.scope"), else "/skiff/<id>". New string. */
char *cgroup_path_for(const char *cgroups_path, const char *id, bool systemd,
                      skiff_error_t **err);

struct cgroup; /* an opened container cgroup on every hierarchy in use */

/* Create the cgroup at path (mkdir on each hierarchy, v1 controllers and the
 * v2 tree), apply res (may be NULL) and move pid into it (pid <= 0: no
 * process moves). On error nothing it created is left behind. */
struct cgroup *cgroup_create(const char *path, const struct cgroup_resources *res,
                             pid_t pid, skiff_error_t **err);

/* Open an existing container cgroup (for kill --all, pause, update, delete).
 * NULL with status ENOENT when it does not exist. */
struct cgroup *cgroup_open(const char *path, skiff_error_t **err);

void cgroup_free(struct cgroup *cg);

/* Move pid into the cgroup (create and exec, where the process cannot join
 * it itself: see cgroup_join). */
int cgroup_enter(struct cgroup *cg, pid_t pid, skiff_error_t **err);

/* Joining a container's cgroup cheaply, for create and exec. Writing another
 * process's pid into cgroup.procs takes the kernel's threadgroup rwsem for
 * writing, which waits for an RCU grace period (about 10 ms here) unless one
 * passed just before. A single-threaded process that moves itself on v1
 * (pid "0" into "tasks") does not take it, nor does a process created
 * straight into its v2 cgroup (clone3 CLONE_INTO_CGROUP). The fds are
 * opened beforehand so that the new process can use them after it entered
 * the container's namespaces. */
struct cgroup_join {
  int v2_dir;    /* the unified directory (O_PATH), for CLONE_INTO_CGROUP; or -1 */
  int *v1_tasks; /* each v1 hierarchy's "tasks" file, open for writing */
  size_t n_v1;
};

/* Open what cgroup_join_self and clone3 need for cg. */
int cgroup_join_open(struct cgroup *cg, struct cgroup_join *j, skiff_error_t **err);

/* In the new, single-threaded process: move itself into the v1 hierarchies
 * (the v2 one it was created in). */
int cgroup_join_self(const struct cgroup_join *j, skiff_error_t **err);

void cgroup_join_close(struct cgroup_join *j);

/* Apply new limits to a live cgroup (skiff-oci update). Fields absent from
 * res are left as they are. */
int cgroup_update(struct cgroup *cg, const struct cgroup_resources *res,
                  skiff_error_t **err);

/* Freeze (pause) or thaw (resume): v1 freezer.state, v2 cgroup.freeze;
 * returns once the kernel reports the state reached. */
int cgroup_set_frozen(struct cgroup *cg, bool frozen, skiff_error_t **err);
int cgroup_is_frozen(struct cgroup *cg, bool *frozen, skiff_error_t **err);

/* Every PID in the cgroup (malloc'ed array, caller frees). */
int cgroup_list_pids(struct cgroup *cg, pid_t **pids, size_t *count,
                     skiff_error_t **err);

/* Send sig to every process in the cgroup (freezing first so that no new
 * process escapes the loop, then thawing). */
int cgroup_kill_all(struct cgroup *cg, int sig, skiff_error_t **err);

/* Remove the cgroup directories, waiting briefly for exiting processes.
 * A cgroup that is already gone is not an error. */
int cgroup_destroy(struct cgroup *cg, skiff_error_t **err);

/* Usage and events, as runc's `events --stats` "data" object: cpu, memory
 * (with oom_kill / failcnt so that OOM kills are observable), pids (with the
 * number of times the limit was hit), blkio, hugetlb. New reference.
 * Shape: {"cpu": {"usage": {"total", "percpu", "percpu_kernel",
 * "percpu_user", "kernel", "user"}, "throttling": {"periods",
 * "throttledPeriods", "throttledTime"}}, "memory": {"cache", "usage",
 * "swap", "kernel", "kernelTCP" (each {"limit", "usage", "max",
 * "failcnt"}; swap counts memory+swap as v1 did), "raw": {memory.stat},
 * "oom_kill"}, "pids": {"current", "limit" (0: none), "failcnt" (forks
 * refused by the limit)}, "blkio": {"ioServiceBytesRecursive": [{"major",
 * "minor", "op", "value"}], ...}, "hugetlb": {"2MB": {"usage", "max",
 * "failcnt"}}}; times in ns, sizes in bytes, "unlimited" as INT64_MAX. A
 * section whose controller the cgroup lacks is left out. */
json_t *cgroup_stats(struct cgroup *cg, skiff_error_t **err);

/* Mount the container's cgroups inside its root at dest_fd (an O_PATH fd of
 * the mount point, already resolved inside the root): cgroup2 on v2, a tmpfs
 * with one bind of the container's own directory per controller on v1 and
 * hybrid. Called in the container's mount namespace before pivot_root. */
int cgroup_mount_in_container(struct cgroup *cg, int dest_fd, bool readonly,
                              skiff_error_t **err);

/* The controllers this host offers, for `skiff-oci features`: runc's
 * "cgroup" object {"v1", "v2", "systemd", "systemdUser", "rdma"} (booleans;
 * hybrid hosts have both v1 and v2). New reference. */
json_t *cgroup_features(void);

#endif
