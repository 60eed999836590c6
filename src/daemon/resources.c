/* Resource limits in HostConfig: see resources.h. The messages are
 * docker's, word for word, since clients and scripts match on them. */
#include "resources.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"

#define MIN_MEMORY (6 * 1024 * 1024) /* docker's linuxMinMemory */
#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270

/* The integer fields, with the Go type docker decodes them into. */
static const struct {
  const char *key;
  const char *go_type;
  bool nullable;
} int_fields[] = {
    {"Memory", "int64", false},
    {"MemorySwap", "int64", false},
    {"MemoryReservation", "int64", false},
    {"NanoCpus", "int64", false},
    {"CpuShares", "int64", false},
    {"CpuPeriod", "int64", false},
    {"CpuQuota", "int64", false},
    {"BlkioWeight", "uint16", false},
    {"PidsLimit", "int64", true},
    {"KernelMemory", "int64", false},
    {"CpuRealtimePeriod", "int64", false},
    {"CpuRealtimeRuntime", "int64", false},
};
static const char *const string_fields[] = {"CpusetCpus", "CpusetMems"};

static json_int_t get_int(json_t *obj, const char *key)
{
  return json_integer_value(json_object_get(obj, key));
}

static const char *get_str(json_t *obj, const char *key)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

/* ---- what this host offers ------------------------------------------- */

bool resources_host_cgroup2(void)
{
  struct statfs fs;
  return statfs(CGROUP_ROOT, &fs) == 0 && fs.f_type == CGROUP2_MAGIC;
}

static bool v2_controller(const char *name)
{
  cleanup_free char *text = fs_read_file(CGROUP_ROOT "/cgroup.controllers", NULL, NULL);
  for (char *save = NULL, *w = text ? strtok_r(text, " \n", &save) : NULL; w;
       w = strtok_r(NULL, " \n", &save))
    if (strcmp(w, name) == 0)
      return true;
  return false;
}

/* Swap accounting: v1 has memory.memsw.* only when the kernel counts it. */
static bool host_swap_limit(void)
{
  if (resources_host_cgroup2())
    return v2_controller("memory");
  return access(CGROUP_ROOT "/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
}

/* A blkio weight needs a proportional scheduler (CFQ or BFQ on v1). */
static bool host_blkio_weight(void)
{
  if (resources_host_cgroup2())
    return v2_controller("io");
  return access(CGROUP_ROOT "/blkio/blkio.weight", F_OK) == 0 ||
         access(CGROUP_ROOT "/blkio/blkio.bfq.weight", F_OK) == 0;
}

/* The CPUs or memory nodes of the root cpuset ("0-1"), or NULL. */
static char *host_cpuset(const char *what)
{
  char path[128];
  if (resources_host_cgroup2())
    snprintf(path, sizeof path, CGROUP_ROOT "/cpuset.%s.effective", what);
  else
    snprintf(path, sizeof path, CGROUP_ROOT "/cpuset/cpuset.%s", what);
  char *text = fs_read_file(path, NULL, NULL);
  if (text)
    text[strcspn(text, "\n")] = '\0';
  return text;
}

/* Go's runtime.NumCPU: the CPUs this process may run on. */
static int host_cpus(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- cpuset lists ("0-3,8") ------------------------------------------ */

#define CPUSET_MAX 8192

/* docker's parsers.ParseUintList into a bitmap of CPUSET_MAX entries. */
static int parse_list(const char *text, unsigned char *bits, skiff_error_t **err)
{
  memset(bits, 0, CPUSET_MAX / 8);
  if (*text == '\0')
    return 0;
  cleanup_free char *copy = strdup(text);
  for (char *save = NULL, *part = strtok_r(copy, ",", &save); part;
       part = strtok_r(NULL, ",", &save)) {
    char *end = NULL;
    unsigned long lo = strtoul(part, &end, 10), hi = lo;
    if (end == part)
      return skiff_error_invalid(err, "invalid format: %s", text);
    if (*end == '-') {
      char *start = end + 1;
      hi = strtoul(start, &end, 10);
      if (end == start || hi < lo)
        return skiff_error_invalid(err, "invalid format: %s", text);
    }
    if (*end != '\0' || hi >= CPUSET_MAX)
      return skiff_error_invalid(err, "invalid format: %s", text);
    for (unsigned long i = lo; i <= hi; i++)
      bits[i / 8] |= (unsigned char)(1u << (i % 8));
  }
  if (text[strlen(text) - 1] == ',' || text[0] == ',' || strstr(text, ",,"))
    return skiff_error_invalid(err, "invalid format: %s", text);
  return 0;
}

static int check_cpuset(json_t *host, const char *key, const char *what,
                        const char *label, const char *unavailable, skiff_error_t **err)
{
  const char *requested = get_str(host, key);
  unsigned char want[CPUSET_MAX / 8], have[CPUSET_MAX / 8];
  if (*requested == '\0')
    return 0;
  skiff_error_t *parse_err = NULL;
  if (parse_list(requested, want, &parse_err) < 0) {
    skiff_error_invalid(err, "Invalid value %s for cpuset %s: %s", requested, label,
                        parse_err->msg);
    skiff_error_free(&parse_err);
    return -1;
  }
  cleanup_free char *available = host_cpuset(what);
  if (available == NULL || parse_list(available, have, NULL) < 0)
    return 0; /* no cpuset controller to ask: the runtime will tell */
  for (size_t i = 0; i < sizeof want; i++)
    if (want[i] & ~have[i])
      return skiff_error_invalid(err, "%s - requested %s, available: %s", unavailable,
                                 requested, available);
  return 0;
}

/* ---- checks ------------------------------------------------------------ */

static int check_memory(json_t *host, bool update, json_t *warnings,
                        skiff_error_t **err)
{
  json_int_t memory = get_int(host, "Memory"), swap = get_int(host, "MemorySwap");
  json_int_t reservation = get_int(host, "MemoryReservation");
  if (memory != 0 && memory < MIN_MEMORY)
    return skiff_error_invalid(err, "Minimum memory limit allowed is 6MB");
  if (memory > 0 && swap != -1 && !host_swap_limit()) {
    json_array_append_new(
        warnings, json_string("Your kernel does not support swap limit capabilities "
                              "or the cgroup is not mounted. Memory limited without "
                              "swap."));
    json_object_set_new(host, "MemorySwap", json_integer(swap = -1));
  }
  if (memory > 0 && swap > 0 && swap < memory)
    return skiff_error_invalid(err,
                               "Minimum memoryswap limit should be larger than memory "
                               "limit, see usage");
  if (memory == 0 && swap > 0 && !update)
    return skiff_error_invalid(err, "You should always set the Memory limit when using "
                                    "Memoryswap limit, see usage");
  if (reservation > 0 && reservation < MIN_MEMORY)
    return skiff_error_invalid(err, "Minimum memory reservation allowed is 6MB");
  if (memory > 0 && reservation > 0 && memory < reservation)
    return skiff_error_invalid(err, "Minimum memory limit can not be less than memory "
                                    "reservation limit, see usage");
  return 0;
}

static int check_cpu(json_t *host, skiff_error_t **err)
{
  json_int_t nano = get_int(host, "NanoCpus"), period = get_int(host, "CpuPeriod");
  json_int_t quota = get_int(host, "CpuQuota");
  int cpus = host_cpus();
  if (nano > 0 && period > 0)
    return skiff_error_invalid(err,
                               "Conflicting options: Nano CPUs and CPU Period cannot "
                               "both be set");
  if (nano > 0 && quota > 0)
    return skiff_error_invalid(err,
                               "Conflicting options: Nano CPUs and CPU Quota cannot "
                               "both be set");
  if (nano < 0 || nano > (json_int_t)cpus * 1000000000)
    return skiff_error_invalid(err,
                               "Range of CPUs is from 0.01 to %d.00, as there are only "
                               "%d CPUs available",
                               cpus, cpus);
  if (period != 0 && (period < 1000 || period > 1000000))
    return skiff_error_invalid(err,
                               "CPU cfs period can not be less than 1ms (i.e. 1000) or "
                               "larger than 1s (i.e. 1000000)");
  if (quota > 0 && quota < 1000)
    return skiff_error_invalid(err,
                               "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (check_cpuset(host, "CpusetCpus", "cpus", "cpus",
                   "Requested CPUs are not available", err) < 0)
    return -1;
  return check_cpuset(host, "CpusetMems", "mems", "mems",
                      "Requested memory nodes are not available", err);
}

static int check_blkio(json_t *host, json_t *warnings, skiff_error_t **err)
{
  json_int_t weight = get_int(host, "BlkioWeight");
  if (weight > 0 && !host_blkio_weight()) {
    json_array_append_new(warnings,
                          json_string("Your kernel does not support Block I/O "
                                      "weight or the cgroup is not mounted. "
                                      "Weight discarded."));
    json_object_set_new(host, "BlkioWeight", json_integer(0));
    return 0;
  }
  if (weight > 0 && (weight < 10 || weight > 1000))
    return skiff_error_invalid(err, "Range of blkio weight is from 10 to 1000");
  return 0;
}

/* docker's container.ValidateRestartPolicy. */
static int check_restart_policy(json_t *policy, skiff_error_t **err)
{
  const char *name = get_str(policy, "Name");
  json_int_t retries = get_int(policy, "MaximumRetryCount");
  if (*name == '\0')
    return 0;
  if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0 ||
      strcmp(name, "no") == 0) {
    if (retries != 0)
      return skiff_error_invalid(err,
                                 "invalid restart policy: maximum retry count can only "
                                 "be used with 'on-failure'%s",
                                 retries < 0 ? " and cannot be negative" : "");
    return 0;
  }
  if (strcmp(name, "on-failure") == 0) {
    if (retries < 0)
      return skiff_error_invalid(
          err, "invalid restart policy: maximum retry count cannot be "
               "negative");
    return 0;
  }
  return skiff_error_invalid(err,
                             "invalid restart policy: unknown policy '%s'; use one of "
                             "'no', 'always', 'on-failure', or 'unless-stopped'",
                             name);
}

int resources_check(json_t *host, bool update, json_t *warnings, skiff_error_t **err)
{
  if (check_memory(host, update, warnings, err) < 0 || check_cpu(host, err) < 0 ||
      check_blkio(host, warnings, err) < 0)
    return -1;
  return check_restart_policy(json_object_get(host, "RestartPolicy"), err);
}

/* ---- create ------------------------------------------------------------ */

void resources_adapt(json_t *host)
{
  json_int_t memory = get_int(host, "Memory"), shares = get_int(host, "CpuShares");
  if (memory > 0 && get_int(host, "MemorySwap") == 0)
    json_object_set_new(host, "MemorySwap", json_integer(memory * 2));
  if (shares < 0)
    json_object_set_new(host, "CpuShares", json_integer(2));
  else if (shares > 262144)
    json_object_set_new(host, "CpuShares", json_integer(262144));
  json_t *pids = json_object_get(host, "PidsLimit");
  if (json_is_integer(pids) && json_integer_value(pids) <= 0)
    json_object_set_new(host, "PidsLimit", json_null());
  for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
    json_t *v = json_object_get(host, int_fields[i].key);
    if (v == NULL || (json_is_null(v) && !int_fields[i].nullable))
      json_object_set_new(host, int_fields[i].key,
                          int_fields[i].nullable ? json_null() : json_integer(0));
  }
  for (size_t i = 0; i < 2; i++)
    if (!json_is_string(json_object_get(host, string_fields[i])))
      json_object_set_new(host, string_fields[i], json_string(""));
}

/* ---- update ------------------------------------------------------------ */

static int type_error(const char *field, json_t *v, const char *go_type,
                      skiff_error_t **err)
{
  return skiff_error_invalid(err,
                             "json: cannot unmarshal %s into Go struct field "
                             "UpdateConfig.%s of type %s",
                             jsonutil_type_name(v), field, go_type);
}

int resources_check_update_body(json_t *body, skiff_error_t **err)
{
  if (!json_is_object(body))
    return skiff_error_invalid(err,
                               "json: cannot unmarshal %s into Go value of type "
                               "container.UpdateConfig",
                               jsonutil_type_name(body));
  for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
    json_t *v = json_object_get(body, int_fields[i].key);
    if (v == NULL || json_is_null(v))
      continue;
    bool u16 = strcmp(int_fields[i].go_type, "uint16") == 0;
    if (!json_is_integer(v) ||
        (u16 && (json_integer_value(v) < 0 || json_integer_value(v) > 65535)))
      return type_error(int_fields[i].key, v, int_fields[i].go_type, err);
  }
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(body, string_fields[i]);
    if (v && !json_is_null(v) && !json_is_string(v))
      return type_error(string_fields[i], v, "string", err);
  }
  json_t *policy = json_object_get(body, "RestartPolicy");
  if (policy && !json_is_null(policy)) {
    if (!json_is_object(policy))
      return type_error("RestartPolicy", policy, "container.RestartPolicy", err);
    json_t *name = json_object_get(policy, "Name");
    json_t *count = json_object_get(policy, "MaximumRetryCount");
    if (name && !json_is_null(name) && !json_is_string(name))
      return type_error("RestartPolicy.Name", name, "container.RestartPolicyMode", err);
    if (count && !json_is_null(count) && !json_is_integer(count))
      return type_error("RestartPolicy.MaximumRetryCount", count, "int", err);
  }
  json_t *pids = json_object_get(body, "PidsLimit");
  if (json_is_integer(pids) && json_integer_value(pids) <= 0)
    json_object_set_new(body, "PidsLimit", json_integer(0));
  return 0;
}

static int conflict(const char *id, const char *msg, skiff_error_t **err)
{
  return skiff_error_status(err, EBUSY, "Cannot update container %s: %s", id, msg);
}

/* The updates that cannot go together with what the container has. */
static int check_conflicts(json_t *host, json_t *update, const char *id,
                           skiff_error_t **err)
{
  json_int_t nano = get_int(update, "NanoCpus");
  if (nano > 0 && get_int(host, "CpuPeriod") > 0)
    return conflict(id,
                    "Conflicting options: Nano CPUs cannot be updated as CPU Period "
                    "has already been set",
                    err);
  if (nano > 0 && get_int(host, "CpuQuota") > 0)
    return conflict(id,
                    "Conflicting options: Nano CPUs cannot be updated as CPU Quota "
                    "has already been set",
                    err);
  if (get_int(update, "CpuPeriod") > 0 && get_int(host, "NanoCpus") > 0)
    return conflict(id,
                    "Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                    "already been set",
                    err);
  if (get_int(update, "CpuQuota") > 0 && get_int(host, "NanoCpus") > 0)
    return conflict(id,
                    "Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                    "already been set",
                    err);
  /* docker compares with the swap limit as set, 0 included: a container
   * without one needs --memory-swap with --memory. */
  json_int_t memory = get_int(update, "Memory");
  if (memory != 0 && memory > get_int(host, "MemorySwap") &&
      get_int(update, "MemorySwap") == 0)
    return conflict(id,
                    "Memory limit should be smaller than already set memoryswap limit, "
                    "update the memoryswap at the same time",
                    err);
  const char *policy = get_str(json_object_get(update, "RestartPolicy"), "Name");
  if (*policy && strcmp(policy, "no") != 0 &&
      json_is_true(json_object_get(host, "AutoRemove")))
    return conflict(
        id,
        "Restart policy cannot be updated because AutoRemove is enabled for "
        "the container",
        err);
  return 0;
}

int resources_merge(json_t *host, json_t *update, const char *id, skiff_error_t **err)
{
  if (check_conflicts(host, update, id, err) < 0)
    return -1;
  json_int_t memory = get_int(update, "Memory"), swap = get_int(update, "MemorySwap");
  json_int_t merged_memory = memory ? memory : get_int(host, "Memory");
  json_int_t merged_swap = swap ? swap : get_int(host, "MemorySwap");
  /* docker leaves this to the runtime's EINVAL (or to the next start);
   * refusing it here keeps the record startable. */
  if (merged_memory > 0 && merged_swap > 0 && merged_swap < merged_memory)
    return skiff_error_invalid(err,
                               "Cannot update container %s: Minimum memoryswap limit "
                               "should be larger than memory limit, see usage",
                               id);
  static const char *const changed_if_nonzero[] = {
      "BlkioWeight", "CpuShares", "NanoCpus",   "CpuPeriod",
      "CpuQuota",    "Memory",    "MemorySwap", "MemoryReservation"};
  for (size_t i = 0; i < sizeof changed_if_nonzero / sizeof *changed_if_nonzero; i++) {
    json_int_t v = get_int(update, changed_if_nonzero[i]);
    if (v != 0)
      json_object_set_new(host, changed_if_nonzero[i], json_integer(v));
  }
  for (size_t i = 0; i < 2; i++)
    if (*get_str(update, string_fields[i]))
      json_object_set(host, string_fields[i],
                      json_object_get(update, string_fields[i]));
  json_t *pids = json_object_get(update, "PidsLimit");
  if (json_is_integer(pids))
    json_object_set(host, "PidsLimit", pids);
  json_t *policy = json_object_get(update, "RestartPolicy");
  if (*get_str(policy, "Name"))
    json_object_set_new(host, "RestartPolicy",
                        json_pack("{s:s, s:I}", "Name", get_str(policy, "Name"),
                                  "MaximumRetryCount",
                                  get_int(policy, "MaximumRetryCount")));
  return 0;
}

/* ---- OCI --------------------------------------------------------------- */

static json_t *oci_memory(json_t *host)
{
  json_t *memory = json_object();
  json_int_t limit = get_int(host, "Memory"), swap = get_int(host, "MemorySwap");
  json_int_t reservation = get_int(host, "MemoryReservation");
  if (limit > 0)
    json_object_set_new(memory, "limit", json_integer(limit));
  if (limit > 0 && (swap > 0 || swap == -1))
    json_object_set_new(memory, "swap", json_integer(swap));
  if (reservation > 0)
    json_object_set_new(memory, "reservation", json_integer(reservation));
  return memory;
}

static json_t *oci_cpu(json_t *host)
{
  json_t *cpu = json_object();
  json_int_t shares = get_int(host, "CpuShares"), quota = get_int(host, "CpuQuota");
  json_int_t period = get_int(host, "CpuPeriod"), nano = get_int(host, "NanoCpus");
  if (nano > 0) { /* --cpus: a quota over docker's 100 ms period */
    period = 100000;
    quota = nano * period / 1000000000;
  }
  if (shares > 0)
    json_object_set_new(cpu, "shares", json_integer(shares));
  if (quota > 0 || quota == -1)
    json_object_set_new(cpu, "quota", json_integer(quota));
  if (period > 0)
    json_object_set_new(cpu, "period", json_integer(period));
  if (*get_str(host, "CpusetCpus"))
    json_object_set(cpu, "cpus", json_object_get(host, "CpusetCpus"));
  if (*get_str(host, "CpusetMems"))
    json_object_set(cpu, "mems", json_object_get(host, "CpusetMems"));
  return cpu;
}

static void set_unless_empty(json_t *obj, const char *key, json_t *value)
{
  if (json_object_size(value))
    json_object_set_new(obj, key, value);
  else
    json_decref(value);
}

json_t *resources_oci(json_t *host)
{
  json_t *res = json_object();
  set_unless_empty(res, "memory", oci_memory(host));
  set_unless_empty(res, "cpu", oci_cpu(host));
  /* 0 after an update to "unlimited": the runtime needs -1 to lift a limit. */
  json_t *pids = json_object_get(host, "PidsLimit");
  if (json_is_integer(pids))
    json_object_set_new(res, "pids",
                        json_pack("{s:I}", "limit",
                                  json_integer_value(pids) > 0
                                      ? json_integer_value(pids)
                                      : (json_int_t)-1));
  json_int_t weight = get_int(host, "BlkioWeight");
  if (weight > 0)
    json_object_set_new(res, "blockIO", json_pack("{s:I}", "weight", weight));
  return res;
}
