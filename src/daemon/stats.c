/* docker's stats objects: see stats.h. Zero values are left out where
 * docker's Go types say omitempty, so that the objects compare equal. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "resources.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

/* The memory.stat keys docker reports (sorted, as Go prints a map). */
static const char *const v1_memory_keys[] = {"active_anon",
                                             "active_file",
                                             "cache",
                                             "dirty",
                                             "hierarchical_memory_limit",
                                             "hierarchical_memsw_limit",
                                             "inactive_anon",
                                             "inactive_file",
                                             "mapped_file",
                                             "pgfault",
                                             "pgmajfault",
                                             "pgpgin",
                                             "pgpgout",
                                             "rss",
                                             "rss_huge",
                                             "total_active_anon",
                                             "total_active_file",
                                             "total_cache",
                                             "total_dirty",
                                             "total_inactive_anon",
                                             "total_inactive_file",
                                             "total_mapped_file",
                                             "total_pgfault",
                                             "total_pgmajfault",
                                             "total_pgpgin",
                                             "total_pgpgout",
                                             "total_rss",
                                             "total_rss_huge",
                                             "total_unevictable",
                                             "total_writeback",
                                             "unevictable",
                                             "writeback",
                                             NULL};
static const char *const v2_memory_keys[] = {"active_anon",
                                             "active_file",
                                             "anon",
                                             "anon_thp",
                                             "file",
                                             "file_dirty",
                                             "file_mapped",
                                             "file_writeback",
                                             "inactive_anon",
                                             "inactive_file",
                                             "kernel_stack",
                                             "pgactivate",
                                             "pgdeactivate",
                                             "pgfault",
                                             "pglazyfree",
                                             "pglazyfreed",
                                             "pgmajfault",
                                             "pgrefill",
                                             "pgscan",
                                             "pgsteal",
                                             "shmem",
                                             "slab",
                                             "slab_reclaimable",
                                             "slab_unreclaimable",
                                             "sock",
                                             "thp_collapse_alloc",
                                             "thp_fault_alloc",
                                             "unevictable",
                                             "workingset_activate",
                                             "workingset_nodereclaim",
                                             "workingset_refault",
                                             NULL};

/* runtime_stats' blkio keys → docker's, in docker's order. */
static const char *const blkio_keys[][2] = {
    {"ioServiceBytesRecursive", "io_service_bytes_recursive"},
    {"ioServicedRecursive", "io_serviced_recursive"},
    {"ioQueueRecursive", "io_queue_recursive"},
    {"ioServiceTimeRecursive", "io_service_time_recursive"},
    {"ioWaitTimeRecursive", "io_wait_time_recursive"},
    {"ioMergedRecursive", "io_merged_recursive"},
    {"ioTimeRecursive", "io_time_recursive"},
    {"sectorsRecursive", "sectors_recursive"}};
#define N_BLKIO (sizeof blkio_keys / sizeof blkio_keys[0])

static json_int_t num(json_t *obj, const char *key)
{
  return json_integer_value(json_object_get(obj, key));
}

static void set_nonzero(json_t *obj, const char *key, json_int_t v)
{
  if (v != 0)
    json_object_set_new(obj, key, json_integer(v));
}

/* ---- host numbers ------------------------------------------------------ */

/* docker's getSystemCPUUsage: the first seven fields of /proc/stat's "cpu"
 * line (user .. softirq) in ns, and the number of "cpuN" lines. */
static void system_cpu(json_int_t *usage_ns, json_int_t *online)
{
  cleanup_free char *text = fs_read_file("/proc/stat", NULL, NULL);
  unsigned long long f[7] = {0};
  *usage_ns = 0;
  *online = 0;
  if (text == NULL)
    return;
  if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
             &f[4], &f[5], &f[6]) == 7) {
    unsigned long long ticks = 0;
    for (int i = 0; i < 7; i++)
      ticks += f[i];
    *usage_ns = (json_int_t)(ticks * (1000000000ULL /
                                      (unsigned long long)sysconf(_SC_CLK_TCK)));
  }
  for (char *line = strchr(text, '\n'); line; line = strchr(line + 1, '\n'))
    if (strncmp(line + 1, "cpu", 3) == 0 && line[4] >= '0' && line[4] <= '9')
      (*online)++;
}

static json_int_t machine_memory(void)
{
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (json_int_t)pages * size : 0;
}

/* ---- sections ---------------------------------------------------------- */

static json_t *cpu_stats(json_t *cpu, bool v2)
{
  json_t *usage_in = json_object_get(cpu, "usage");
  json_t *throttling = json_object_get(cpu, "throttling");
  json_t *usage = json_pack("{s:I}", "total_usage", num(usage_in, "total"));
  json_t *percpu = json_object_get(usage_in, "percpu");
  if (!v2 && json_array_size(percpu) > 0)
    json_object_set(usage, "percpu_usage", percpu);
  json_object_set_new(usage, "usage_in_kernelmode",
                      json_integer(num(usage_in, "kernel")));
  json_object_set_new(usage, "usage_in_usermode", json_integer(num(usage_in, "user")));
  json_t *out = json_pack("{s:o}", "cpu_usage", usage);
  json_int_t system = 0, online = 0;
  system_cpu(&system, &online);
  set_nonzero(out, "system_cpu_usage", system);
  set_nonzero(out, "online_cpus", online);
  json_object_set_new(out, "throttling_data",
                      json_pack("{s:I, s:I, s:I}", "periods",
                                num(throttling, "periods"), "throttled_periods",
                                num(throttling, "throttledPeriods"), "throttled_time",
                                num(throttling, "throttledTime")));
  return out;
}

static json_t *memory_stats(json_t *memory, bool v2)
{
  json_t *usage = json_object_get(memory, "usage");
  json_t *raw = json_object_get(memory, "raw");
  json_t *out = json_object();
  if (memory == NULL)
    return out;
  set_nonzero(out, "usage", num(usage, "usage"));
  if (!v2)
    set_nonzero(out, "max_usage", num(usage, "max"));
  json_t *stats = json_object();
  for (const char *const *k = v2 ? v2_memory_keys : v1_memory_keys; *k; k++)
    json_object_set_new(stats, *k, json_integer(num(raw, *k)));
  json_object_set_new(out, "stats", stats);
  /* v2 has no failcnt: docker counts memory.events' oom there. */
  set_nonzero(out, "failcnt", v2 ? num(memory, "oom_kill") : num(usage, "failcnt"));
  /* No limit reads as a huge number: docker shows the machine's memory. */
  json_int_t limit = num(usage, "limit"), machine = machine_memory();
  set_nonzero(out, "limit", machine > 0 && limit > machine ? machine : limit);
  return out;
}

static json_t *pids_stats(json_t *pids)
{
  json_t *out = json_object();
  set_nonzero(out, "current", num(pids, "current"));
  set_nonzero(out, "limit", num(pids, "limit"));
  return out;
}

static json_t *blkio_entry(json_t *e, const char *op)
{
  return json_pack("{s:I, s:I, s:s, s:I}", "major", num(e, "major"), "minor",
                   num(e, "minor"), "op", op, "value", num(e, "value"));
}

/* v1: every counter the cgroup has, [] when empty. v2: docker reports
 * only the bytes read and written (ops "read", "write"); the rest null. */
static json_t *blkio_stats(json_t *blkio, bool v2)
{
  json_t *out = json_object();
  for (size_t i = 0; i < N_BLKIO; i++) {
    json_t *entries = json_object_get(blkio, blkio_keys[i][0]);
    json_t *list = v2 ? json_null() : json_array();
    size_t j;
    json_t *e;
    json_array_foreach(entries, j, e)
    {
      const char *op = json_string_value(json_object_get(e, "op"));
      op = op ? op : "";
      if (!v2) {
        json_array_append_new(list, blkio_entry(e, op));
      } else if (i == 0 && (strcmp(op, "Read") == 0 || strcmp(op, "Write") == 0)) {
        if (json_is_null(list))
          list = json_array();
        json_array_append_new(list, blkio_entry(e, op[0] == 'R' ? "read" : "write"));
      }
    }
    json_object_set_new(out, blkio_keys[i][1], list);
  }
  return out;
}

/* ---- networks ---------------------------------------------------------- */

static bool in_host_netns(pid_t pid)
{
  char path[64];
  struct stat self, theirs;
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
  return stat("/proc/self/ns/net", &self) == 0 && stat(path, &theirs) == 0 &&
         self.st_ino == theirs.st_ino && self.st_dev == theirs.st_dev;
}

static int cmp_keys(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The same object with its keys sorted, as Go prints a map. */
static json_t *sorted_object(json_t *obj)
{
  size_t n = json_object_size(obj), i = 0;
  cleanup_free const char **keys = calloc(n + 1, sizeof *keys);
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) keys[i++] = k;
  qsort(keys, n, sizeof *keys, cmp_keys);
  json_t *out = json_object();
  for (i = 0; i < n; i++)
    json_object_set(out, keys[i], json_object_get(obj, keys[i]));
  return out;
}

/* /proc/PID/net/dev: "  eth0: rx_bytes rx_packets errs drop fifo frame
 * compressed multicast tx_bytes tx_packets errs drop ..." */
static json_t *networks(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/net/dev", (int)pid);
  cleanup_free char *text =
      pid > 0 && !in_host_netns(pid) ? fs_read_file(path, NULL, NULL) : NULL;
  cleanup_json json_t *found = json_object();
  char *save = NULL;
  for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    char *colon = strchr(line, ':');
    unsigned long long f[16];
    if (colon == NULL)
      continue;
    *colon = '\0';
    char *name = line + strspn(line, " ");
    if (strcmp(name, "lo") == 0 ||
        sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
               &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
               &f[10], &f[11]) != 12)
      continue;
    json_object_set_new(
        found, name,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes",
                  (json_int_t)f[0], "rx_packets", (json_int_t)f[1], "rx_errors",
                  (json_int_t)f[2], "rx_dropped", (json_int_t)f[3], "tx_bytes",
                  (json_int_t)f[8], "tx_packets", (json_int_t)f[9], "tx_errors",
                  (json_int_t)f[10], "tx_dropped", (json_int_t)f[11]));
  }
  return json_object_size(found) ? sorted_object(found) : NULL;
}

/* ---- objects ----------------------------------------------------------- */

static json_t *zero_cpu(void)
{
  return json_pack("{s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}}", "cpu_usage", "total_usage",
                   0, "usage_in_kernelmode", 0, "usage_in_usermode", 0,
                   "throttling_data", "periods", 0, "throttled_periods", 0,
                   "throttled_time", 0);
}

json_t *stats_sample(json_t *cgroup, pid_t pid)
{
  bool v2 = resources_host_cgroup2();
  struct timespec ts;
  char read[48];
  clock_gettime(CLOCK_REALTIME, &ts);
  jsonlog_format_time((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, read, sizeof read);
  json_t *sample = json_pack(
      "{s:s, s:o, s:o, s:i, s:{}, s:o, s:o}", "read", read, "pids_stats",
      pids_stats(json_object_get(cgroup, "pids")), "blkio_stats",
      blkio_stats(json_object_get(cgroup, "blkio"), v2), "num_procs", 0,
      "storage_stats", "cpu_stats", cpu_stats(json_object_get(cgroup, "cpu"), v2),
      "memory_stats", memory_stats(json_object_get(cgroup, "memory"), v2));
  json_t *nets = networks(pid);
  if (nets)
    json_object_set_new(sample, "networks", nets);
  return sample;
}

json_t *stats_sample_empty(void)
{
  json_t *blkio = json_object();
  for (size_t i = 0; i < N_BLKIO; i++)
    json_object_set_new(blkio, blkio_keys[i][1], json_null());
  return json_pack("{s:s, s:{}, s:o, s:i, s:{}, s:o, s:{}}", "read", ZERO_TIME,
                   "pids_stats", "blkio_stats", blkio, "num_procs", 0, "storage_stats",
                   "cpu_stats", zero_cpu(), "memory_stats");
}

json_t *stats_response(json_t *sample, json_t *prev, const char *name, const char *id)
{
  json_t *precpu = prev ? json_incref(json_object_get(prev, "cpu_stats")) : zero_cpu();
  cleanup_json json_t *zero_read = json_string(ZERO_TIME);
  json_t *out = json_pack(
      "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o, s:O, s:s, s:s}", "read",
      json_object_get(sample, "read"), "preread",
      prev ? json_object_get(prev, "read") : zero_read, "pids_stats",
      json_object_get(sample, "pids_stats"), "blkio_stats",
      json_object_get(sample, "blkio_stats"), "num_procs",
      json_object_get(sample, "num_procs"), "storage_stats",
      json_object_get(sample, "storage_stats"), "cpu_stats",
      json_object_get(sample, "cpu_stats"), "precpu_stats", precpu, "memory_stats",
      json_object_get(sample, "memory_stats"), "name", name, "id", id);
  json_t *nets = json_object_get(sample, "networks");
  if (nets)
    json_object_set(out, "networks", nets);
  return out;
}
