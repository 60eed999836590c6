/* What cgroup.c, cgroup_v1.c and cgroup_v2.c share: the parsed resources,
 * the host's hierarchies, an opened container cgroup, and small file
 * helpers whose errors name the full path. Private to those three files
 * (and the unit tests). */
#ifndef SKIFF_RUNTIME_CGROUP_INTERNAL_H
#define SKIFF_RUNTIME_CGROUP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "common/error.h"

/* An optional value of linux.resources: set is false when the field was
 * absent, null, or (for the fields runc treats that way: memory limit,
 * reservation and swap, cpu shares, quota, period and realtime values,
 * pids.limit, blockIO weights) zero. */
struct cg_i64 {
  bool set;
  int64_t v;
};
struct cg_u64 {
  bool set;
  uint64_t v;
};
struct cg_bool {
  bool set;
  bool v;
};

struct cg_memory {
  struct cg_i64 limit, reservation, swap, kernel, kernel_tcp;
  struct cg_u64 swappiness;
  struct cg_bool disable_oom_killer, use_hierarchy, check_before_update;
};

struct cg_cpu {
  struct cg_u64 shares, period, burst, realtime_period;
  struct cg_i64 quota, realtime_runtime, idle;
  char *cpus, *mems; /* NULL when absent */
};

struct cg_weight_device {
  int64_t major, minor;
  struct cg_u64 weight, leaf_weight;
};

struct cg_throttle {
  int64_t major, minor;
  uint64_t rate;
};

struct cg_throttle_list {
  struct cg_throttle *items;
  size_t n;
};

struct cg_blkio {
  struct cg_u64 weight, leaf_weight;
  struct cg_weight_device *weight_devices;
  size_t n_weight_devices;
  /* read bps, write bps, read iops, write iops */
  struct cg_throttle_list throttle[4];
};

struct cg_hugepage {
  char *page_size; /* "2MB" */
  uint64_t limit;
};

/* One linux.resources.devices rule; major/minor -1 is the wildcard. */
struct cg_device_rule {
  bool allow;
  char type; /* 'a', 'b' or 'c' */
  int64_t major, minor;
  char access[4]; /* a non-empty subset of "rwm" */
};

struct cg_ifprio {
  char *name;
  uint32_t priority;
};

struct cg_rdma {
  char *device;
  struct cg_u64 hca_handles, hca_objects;
};

struct cg_kv {
  char *key, *value;
};

struct cgroup_resources {
  bool has_memory, has_cpu, has_pids, has_blkio, has_network;
  struct cg_memory memory;
  struct cg_cpu cpu;
  struct cg_i64 pids_limit;
  struct cg_blkio blkio;
  struct cg_hugepage *hugepages;
  size_t n_hugepages;
  struct cg_device_rule *devices;
  size_t n_devices;
  struct cg_u64 net_class_id;
  struct cg_ifprio *net_priorities;
  size_t n_net_priorities;
  struct cg_rdma *rdma;
  size_t n_rdma;
  struct cg_kv *unified;
  size_t n_unified;
};

/* ---- the host ---- */

/* One mounted hierarchy: a v1 mount (controllers from its options, e.g.
 * {"cpu", "cpuacct"} or {"name=systemd"}) or the unified v2 mount
 * (controllers from its root's cgroup.controllers). */
struct cg_hierarchy {
  char *mount;
  char **controllers; /* NULL-terminated */
  bool unified;
};

struct cg_host {
  enum cgroup_layout layout;
  struct cg_hierarchy *hier; /* v1 hierarchies first, the unified one last */
  size_t n_hier;
};

/* The host's hierarchies, read once from /proc/self/mountinfo and cached
 * for the life of the process. NULL with *err set when unreadable. */
const struct cg_host *cg_host_get(skiff_error_t **err);

/* Parse mountinfo text into the v1 hierarchies (cgroup_v1.c).
 * known is the NULL-terminated list of controller names (from
 * /proc/cgroups). Pure: for the unit tests. Caller frees with
 * cg_host_clear. */
int cg_host_parse_mountinfo(const char *text, char **known, enum cgroup_layout layout,
                            struct cg_host *host, skiff_error_t **err);
void cg_host_clear(struct cg_host *host);

/* Names of the controllers the kernel has (first column of /proc/cgroups). */
char **cg_v1_known_controllers(skiff_error_t **err);

bool cg_strv_contains(char **v, const char *s);
/* text split at any of the characters of sep, empty pieces dropped; a
 * NULL-terminated vector (cleanup_strv), NULL when out of memory. */
char **cg_split(const char *text, const char *sep);
/* A decimal number, or "max" as UINT64_MAX; -1 when text is neither. */
int cg_parse_u64(const char *text, uint64_t *out);

/* ---- an opened cgroup ---- */

struct cg_dir {
  const struct cg_hierarchy *h;
  char *path; /* h->mount + cgroup path */
};

struct cgroup {
  const struct cg_host *host;
  char *path; /* "/skiff/<id>" */
  struct cg_dir *dirs;
  size_t n_dirs;
};

/* The directory that holds controller's files for cg, or NULL when no
 * hierarchy in use has it. On v2 every controller is in the one directory
 * (availability is checked when a file is written); on hybrid a controller
 * not mounted as v1 is looked up in the unified hierarchy. */
const char *cg_dir_for(const struct cgroup *cg, const char *controller);

/* The unified-hierarchy directory of cg (v2 and hybrid), else NULL. */
const char *cg_unified_dir(const struct cgroup *cg);

/* ---- files ---- */

/* Write value to dir/file; the error names the full path and the value. */
int cg_write(const char *dir, const char *file, const char *value, skiff_error_t **err);
int cg_writef(skiff_error_t **err, const char *dir, const char *file, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
/* Write each line of value with its own write(2), as cgroup files that
 * take one entry per write need. */
int cg_write_lines(const char *dir, const char *file, const char *value,
                   skiff_error_t **err);
/* Contents of dir/file (trailing newline kept), NULL on error. */
char *cg_read(const char *dir, const char *file, skiff_error_t **err);
/* A single number ("max" reads as UINT64_MAX). */
int cg_read_u64(const char *dir, const char *file, uint64_t *out, skiff_error_t **err);
bool cg_file_exists(const char *dir, const char *file);
/* The value of "key N" in a flat-keyed file's text, false when absent. */
bool cg_kv_lookup(const char *text, const char *key, uint64_t *out);
/* A flat-keyed file ("key N" lines) as a JSON object of integers; an
 * empty object when the file is missing. New reference. */
json_t *cg_read_kv_json(const char *dir, const char *file);
/* Every PID in dir/cgroup.procs and in those of its sub-cgroups. */
int cg_read_pids_recursive(const char *dir, pid_t **pids, size_t *count,
                           skiff_error_t **err);
/* Sleep for ms milliseconds (the freezer and rmdir retry loops). */
void cg_sleep_ms(unsigned ms);
/* Huge page sizes of this host ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
 * NULL-terminated, caller frees with cleanup_strv. */
char **cg_hugepage_sizes(void);
/* Add one BlkioEntry-shaped object {"major","minor","op","value"} to array
 * (op omitted when NULL). */
int cg_blkio_entry_add(json_t *array, uint64_t major, uint64_t minor, const char *op,
                       uint64_t value);

/* ---- conversions (pure, unit-tested) ---- */

/* cpu.shares [2, 262144] to cpu.weight [1, 10000], linearly as runc/crun. */
uint64_t cg_shares_to_weight(uint64_t shares);
/* blkio.weight [10, 1000] to io.weight [1, 10000], linearly. */
uint64_t cg_blkio_weight_to_io_weight(uint64_t weight);
/* OCI memory.swap (memory+swap) to memory.swap.max; buf gets "max" or a
 * number. -1 on an impossible pair (error names the field). */
int cg_swap_to_v2(int64_t swap, int64_t limit, char buf[static 32],
                  skiff_error_t **err);

/* ---- the default devices every container may use (as runc/crun) ---- */
extern const struct cg_device_rule cg_default_devices[];
extern const size_t cg_n_default_devices;

/* ---- v1 (cgroup_v1.c) ---- */

/* Make dir usable by a task: copy cpuset.cpus/mems from the parent when
 * empty (a new v1 cpuset starts with none). */
int cg_v1_cpuset_init(const char *dir, skiff_error_t **err);
int cg_v1_apply(const struct cgroup *cg, const struct cgroup_resources *res,
                skiff_error_t **err);
int cg_v1_set_frozen(const char *freezer_dir, bool frozen, skiff_error_t **err);
int cg_v1_is_frozen(const char *freezer_dir, bool *frozen, skiff_error_t **err);
int cg_v1_stats(const struct cgroup *cg, json_t *stats, skiff_error_t **err);
int cg_v1_mount(const struct cgroup *cg, int dest_fd, bool readonly,
                skiff_error_t **err);
/* Bind-mount the directory src on the directory target (an fd, O_PATH is
 * fine), nosuid, nodev, noexec, and read-only when asked. */
int cg_bind_at(const char *src, int target, bool readonly, skiff_error_t **err);

/* ---- v2 (cgroup_v2.c) ---- */

/* Enable controllers (all available when NULL) in the cgroup.subtree_control
 * of every ancestor of mount+path, best effort. */
void cg_v2_enable_controllers(const char *mount, const char *path, char **controllers);
int cg_v2_apply(const char *dir, const struct cgroup_resources *res,
                skiff_error_t **err);
int cg_v2_apply_hugetlb(const char *dir, const struct cgroup_resources *res,
                        skiff_error_t **err);
int cg_v2_set_frozen(const char *dir, bool frozen, skiff_error_t **err);
int cg_v2_is_frozen(const char *dir, bool *frozen, skiff_error_t **err);
/* Write 1 to cgroup.kill; 1 when done, 0 when the kernel has no such file. */
int cg_v2_kill(const char *dir, skiff_error_t **err);
int cg_v2_stats(const char *dir, json_t *stats, skiff_error_t **err);
/* {"current","limit","failcnt"} from pids.current, pids.max and pids.events
 * (the same files on v1 and v2); "failcnt" counts forks refused by the
 * limit, as memory's failcnt counts allocations refused. */
json_t *cg_pids_stats(const char *dir);
int cg_v2_hugetlb_stats(const char *dir, json_t *stats);
int cg_v2_mount(const struct cgroup *cg, int dest_fd, bool readonly,
                skiff_error_t **err);
/* Replace the eBPF device program of the cgroup at dir with one that
 * enforces rules (then cg_default_devices), in OCI order: the last matching
 * rule wins. */
int cg_v2_set_devices(const char *dir, const struct cg_device_rule *rules, size_t n,
                      skiff_error_t **err);

#endif
