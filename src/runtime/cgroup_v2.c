/* cgroup v2: one tree, every controller's files in the container's one
 * directory once enabled in its ancestors' cgroup.subtree_control. Limits
 * given in v1 terms by the OCI spec are converted as runc and crun do.
 * Device rules become an eBPF program (v2 has no devices controller).
 * Facts from Documentation/admin-guide/cgroup-v2.rst. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"

#define RES "linux.resources"

static bool has_word(const char *list, const char *word)
{
  size_t len = strlen(word);
  for (const char *p = list; p && (p = strstr(p, word)) != NULL; p += len) {
    bool starts = p == list || p[-1] == ' ' || p[-1] == '\n';
    bool ends = p[len] == '\0' || p[len] == ' ' || p[len] == '\n';
    if (starts && ends)
      return true;
  }
  return false;
}

/* A missing file usually means its controller is not enabled for this
 * cgroup; say that instead of "No such file or directory". */
static int explain_missing(const char *dir, const char *file, skiff_error_t **err)
{
  if (err == NULL || *err == NULL || (*err)->status != ENOENT)
    return -1;
  char controller[64];
  snprintf(controller, sizeof controller, "%.*s", (int)strcspn(file, "."), file);
  cleanup_free char *available = cg_read(dir, "cgroup.controllers", NULL);
  if (strcmp(controller, "cgroup") == 0 || available == NULL ||
      has_word(available, controller))
    return -1;
  available[strcspn(available, "\n")] = '\0';
  return skiff_error_set(
      err, ENOTSUP,
      "the %s controller is not available in %s (cgroup.controllers: "
      "\"%s\")",
      controller, dir, available);
}

static int put(const char *dir, const char *file, const char *field,
               skiff_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int put(const char *dir, const char *file, const char *field,
               skiff_error_t **err, const char *fmt, ...)
{
  cleanup_free char *value = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&value, fmt, ap);
  va_end(ap);
  if (n < 0)
    return skiff_error_set(err, ENOMEM, "%s", field);
  if (cg_write(dir, file, value, err) < 0) {
    explain_missing(dir, file, err);
    return skiff_error_wrap(err, "%s", field);
  }
  return 0;
}

static void enable_in(const char *dir, char **want)
{
  cleanup_free char *available = cg_read(dir, "cgroup.controllers", NULL);
  cleanup_free char *enabled = cg_read(dir, "cgroup.subtree_control", NULL);
  char *save = NULL;
  for (char *c = available ? strtok_r(available, " \n", &save) : NULL; c;
       c = strtok_r(NULL, " \n", &save))
    if ((want == NULL || cg_strv_contains(want, c)) && !has_word(enabled, c))
      cg_writef(NULL, dir, "cgroup.subtree_control", "+%s", c);
}

void cg_v2_enable_controllers(const char *mount, const char *path, char **controllers)
{
  /* Best effort, one controller at a time: one the kernel refuses (say,
   * cpuset in a threaded subtree) must not keep the others off. A limit
   * that then has no file is reported by explain_missing. */
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s%s", mount, path) < 0)
    return;
  size_t mount_len = strlen(mount);
  char *leaf = strrchr(dir, '/');
  for (char *p = dir + mount_len; p && p <= leaf; p = strchr(p + 1, '/')) {
    char saved = *p;
    *p = '\0';
    enable_in(dir, controllers);
    *p = saved;
  }
}

/* ---- conversions from the OCI (v1) terms ---- */

uint64_t cg_shares_to_weight(uint64_t shares)
{
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cg_blkio_weight_to_io_weight(uint64_t weight)
{
  if (weight < 10)
    weight = 10;
  if (weight > 1000)
    weight = 1000;
  return 1 + ((weight - 10) * 9999) / 990;
}

int cg_swap_to_v2(int64_t swap, int64_t limit, char buf[static 32], skiff_error_t **err)
{
  /* OCI's swap is memory+swap (the v1 memsw counter); v2 limits swap
   * alone, so memory.swap.max = swap - limit, as runc and crun convert. */
  if (swap == -1 || limit == -1) {
    strcpy(buf, "max");
    return 0;
  }
  if (limit <= 0)
    return skiff_error_invalid(err, RES ".memory.swap: cannot be set without "
                                        "memory.limit on cgroup v2");
  if (swap < limit)
    return skiff_error_invalid(err,
                               RES ".memory.swap: memory+swap limit %" PRId64
                                   " is below memory.limit %" PRId64,
                               swap, limit);
  snprintf(buf, 32, "%" PRId64, swap - limit);
  return 0;
}

/* ---- memory ---- */

static const char *max_or_number(int64_t v, char buf[static 32])
{
  if (v < 0)
    return "max";
  snprintf(buf, 32, "%" PRId64, v);
  return buf;
}

static int check_usage(const char *dir, const struct cg_memory *m, skiff_error_t **err)
{
  uint64_t current = 0;
  if (!m->limit.set || m->limit.v < 0)
    return 0;
  if (cg_read_u64(dir, "memory.current", &current, err) < 0)
    return -1;
  if ((uint64_t)m->limit.v <= current)
    return skiff_error_invalid(err,
                               RES ".memory.limit: %" PRId64
                                   " is not above the current "
                                   "usage %" PRIu64 " (checkBeforeUpdate)",
                               m->limit.v, current);
  return 0;
}

static int v2_swap(const char *dir, const struct cg_memory *m, skiff_error_t **err)
{
  int64_t limit = m->limit.v;
  if (!m->limit.set) {
    /* An update of swap alone is relative to the limit in force. */
    uint64_t current = 0;
    if (cg_read_u64(dir, "memory.max", &current, err) < 0)
      return skiff_error_wrap(err, RES ".memory.swap");
    limit = current > INT64_MAX ? -1 : (int64_t)current;
  }
  char buf[32];
  if (cg_swap_to_v2(m->swap.v, limit, buf, err) < 0)
    return -1;
  if (strcmp(buf, "max") == 0 && !cg_file_exists(dir, "memory.swap.max"))
    return 0; /* a kernel without swap: nothing to lift */
  return put(dir, "memory.swap.max", RES ".memory.swap", err, "%s", buf);
}

static void warn_memory_v1_only(const struct cg_memory *m)
{
  if (m->kernel.set || m->kernel_tcp.set)
    log_warn(RES
             ".memory.kernel and kernelTCP ignored: cgroup v2 has no separate kernel "
             "memory limits");
  if (m->swappiness.set)
    log_warn(RES ".memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness");
  if (m->disable_oom_killer.set && m->disable_oom_killer.v)
    log_warn(
        RES
        ".memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer");
  if (m->use_hierarchy.set && !m->use_hierarchy.v)
    log_warn(RES
             ".memory.useHierarchy=false ignored: cgroup v2 is always hierarchical");
}

static int v2_memory(const char *dir, const struct cg_memory *m, skiff_error_t **err)
{
  char buf[32];
  warn_memory_v1_only(m);
  if (m->check_before_update.set && m->check_before_update.v &&
      check_usage(dir, m, err) < 0)
    return -1;
  if (m->limit.set && put(dir, "memory.max", RES ".memory.limit", err, "%s",
                          max_or_number(m->limit.v, buf)) < 0)
    return -1;
  if (m->swap.set && v2_swap(dir, m, err) < 0)
    return -1;
  if (m->reservation.set && put(dir, "memory.low", RES ".memory.reservation", err, "%s",
                                max_or_number(m->reservation.v, buf)) < 0)
    return -1;
  return 0;
}

/* ---- cpu, cpuset, pids ---- */

/* cpu.max is "QUOTA PERIOD" in one file; a field not given keeps its
 * current value. */
static int v2_cpu_max(const char *dir, const struct cg_cpu *c, skiff_error_t **err)
{
  char quota[32] = "max";
  unsigned long long period = 100000;
  if (!c->quota.set && !c->period.set)
    return 0;
  cleanup_free char *current = cg_read(dir, "cpu.max", NULL);
  if (current && sscanf(current, "%31s %llu", quota, &period) < 1)
    strcpy(quota, "max");
  if (c->quota.set && c->quota.v < 0)
    strcpy(quota, "max");
  else if (c->quota.set)
    snprintf(quota, sizeof quota, "%" PRId64, c->quota.v);
  if (c->period.set)
    period = c->period.v;
  return put(dir, "cpu.max", c->quota.set ? RES ".cpu.quota" : RES ".cpu.period", err,
             "%s %llu", quota, period);
}

static int v2_cpu(const char *dir, const struct cg_cpu *c, skiff_error_t **err)
{
  if (c->realtime_period.set || c->realtime_runtime.set)
    return skiff_error_invalid(
        err, RES ".cpu.%s: realtime limits are not supported on cgroup v2",
        c->realtime_runtime.set ? "realtimeRuntime" : "realtimePeriod");
  if (c->shares.set && put(dir, "cpu.weight", RES ".cpu.shares", err, "%" PRIu64,
                           cg_shares_to_weight(c->shares.v)) < 0)
    return -1;
  if (v2_cpu_max(dir, c, err) < 0)
    return -1;
  if (c->burst.set &&
      put(dir, "cpu.max.burst", RES ".cpu.burst", err, "%" PRIu64, c->burst.v) < 0)
    return -1;
  if (c->idle.set &&
      put(dir, "cpu.idle", RES ".cpu.idle", err, "%" PRId64, c->idle.v) < 0)
    return -1;
  if (c->mems && put(dir, "cpuset.mems", RES ".cpu.mems", err, "%s", c->mems) < 0)
    return -1;
  if (c->cpus && put(dir, "cpuset.cpus", RES ".cpu.cpus", err, "%s", c->cpus) < 0)
    return -1;
  return 0;
}

static int v2_pids(const char *dir, const struct cg_i64 *limit, skiff_error_t **err)
{
  if (!limit->set)
    return 0;
  if (limit->v < 0)
    return put(dir, "pids.max", RES ".pids.limit", err, "max");
  return put(dir, "pids.max", RES ".pids.limit", err, "%" PRId64, limit->v);
}

/* ---- io ---- */

/* BFQ's io.bfq.weight takes blkio's own 10-1000 scale; io.weight (the
 * io.cost model) takes 1-10000, so the value is converted for it. 0 on a
 * device resets it to the default. */
static int v2_io_weight(const char *dir, bool bfq, const char *device, uint64_t weight,
                        skiff_error_t **err)
{
  const char *file = bfq ? "io.bfq.weight" : "io.weight";
  const char *field = *device ? RES ".blockIO.weightDevice" : RES ".blockIO.weight";
  if (weight == 0)
    return put(dir, file, field, err, "%s default", device);
  uint64_t v = bfq ? weight : cg_blkio_weight_to_io_weight(weight);
  return put(dir, file, field, err, "%s%s%" PRIu64, device, *device ? " " : "default ",
             v);
}

static int v2_io(const char *dir, const struct cg_blkio *b, skiff_error_t **err)
{
  static const char *keys[4] = {"rbps", "wbps", "riops", "wiops"};
  bool bfq = cg_file_exists(dir, "io.bfq.weight"), leaf = b->leaf_weight.set;
  if (b->weight.set && v2_io_weight(dir, bfq, "", b->weight.v, err) < 0)
    return -1;
  for (size_t i = 0; i < b->n_weight_devices; i++) {
    const struct cg_weight_device *wd = &b->weight_devices[i];
    char device[48];
    snprintf(device, sizeof device, "%" PRId64 ":%" PRId64, wd->major, wd->minor);
    leaf = leaf || wd->leaf_weight.set;
    if (wd->weight.set && v2_io_weight(dir, bfq, device, wd->weight.v, err) < 0)
      return -1;
  }
  if (leaf)
    log_warn(RES ".blockIO leaf weights ignored: cgroup v2 has none");
  for (int t = 0; t < 4; t++)
    for (size_t i = 0; i < b->throttle[t].n; i++) {
      const struct cg_throttle *th = &b->throttle[t].items[i];
      if (put(dir, "io.max", RES ".blockIO", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64,
              th->major, th->minor, keys[t], th->rate) < 0)
        return -1;
    }
  return 0;
}

/* ---- hugetlb, devices, rdma, unified ---- */

int cg_v2_apply_hugetlb(const char *dir, const struct cgroup_resources *res,
                        skiff_error_t **err)
{
  cleanup_free char *available = cg_read(dir, "cgroup.controllers", NULL);
  for (size_t i = 0; i < res->n_hugepages; i++) {
    char file[64];
    snprintf(file, sizeof file, "hugetlb.%s.max", res->hugepages[i].page_size);
    if (has_word(available, "hugetlb") && !cg_file_exists(dir, file))
      return skiff_error_set(err, ENOTSUP,
                             RES
                             ".hugepageLimits[%zu].pageSize: this host has no %s huge "
                             "pages (no %s/%s)",
                             i, res->hugepages[i].page_size, dir, file);
    if (put(dir, file, RES ".hugepageLimits", err, "%" PRIu64,
            res->hugepages[i].limit) < 0)
      return -1;
  }
  return 0;
}

static int v2_devices(const char *dir, const struct cgroup_resources *res,
                      skiff_error_t **err)
{
  if (res->n_devices == 0)
    return 0;
  skiff_error_t *bpf_err = NULL;
  if (cg_v2_set_devices(dir, res->devices, res->n_devices, &bpf_err) == 0)
    return 0;
  bool denies = false;
  for (size_t i = 0; i < res->n_devices; i++)
    denies = denies || !res->devices[i].allow;
  if (!denies) {
    /* Nothing to enforce beyond "allow": not worth failing the container. */
    log_warn(RES ".devices not applied: %s",
             bpf_err && bpf_err->msg ? bpf_err->msg : "?");
    skiff_error_free(&bpf_err);
    return 0;
  }
  if (err)
    *err = steal_pointer(&bpf_err);
  skiff_error_free(&bpf_err);
  return skiff_error_wrap(err, RES ".devices");
}

static int v2_rdma(const char *dir, const struct cgroup_resources *res,
                   skiff_error_t **err)
{
  for (size_t i = 0; i < res->n_rdma; i++) {
    const struct cg_rdma *r = &res->rdma[i];
    char handles[32] = "", objects[32] = "";
    if (r->hca_handles.set)
      snprintf(handles, sizeof handles, " hca_handle=%" PRIu64, r->hca_handles.v);
    if (r->hca_objects.set)
      snprintf(objects, sizeof objects, " hca_object=%" PRIu64, r->hca_objects.v);
    if (put(dir, "rdma.max", RES ".rdma", err, "%s%s%s", r->device, handles, objects) <
        0)
      return -1;
  }
  return 0;
}

/* Applied last, so that a unified value overrides a converted one. */
static int v2_unified(const char *dir, const struct cgroup_resources *res,
                      skiff_error_t **err)
{
  for (size_t i = 0; i < res->n_unified; i++) {
    const struct cg_kv *kv = &res->unified[i];
    if (*kv->value == '\0')
      continue;
    if (cg_write_lines(dir, kv->key, kv->value, err) < 0) {
      explain_missing(dir, kv->key, err);
      return skiff_error_wrap(err, RES ".unified.%s", kv->key);
    }
  }
  return 0;
}

int cg_v2_apply(const char *dir, const struct cgroup_resources *res,
                skiff_error_t **err)
{
  if (res->net_class_id.set || res->n_net_priorities)
    log_warn(RES ".network ignored: cgroup v2 has no net_cls or net_prio controller");
  if ((res->has_memory && v2_memory(dir, &res->memory, err) < 0) ||
      (res->has_cpu && v2_cpu(dir, &res->cpu, err) < 0) ||
      v2_pids(dir, &res->pids_limit, err) < 0 ||
      (res->has_blkio && v2_io(dir, &res->blkio, err) < 0) ||
      cg_v2_apply_hugetlb(dir, res, err) < 0 || v2_devices(dir, res, err) < 0 ||
      v2_rdma(dir, res, err) < 0)
    return -1;
  return v2_unified(dir, res, err);
}

/* ---- freezer, kill ---- */

int cg_v2_set_frozen(const char *dir, bool frozen, skiff_error_t **err)
{
  if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
    return -1;
  /* cgroup.freeze is the request; cgroup.events "frozen 1" says every
   * task has stopped (the kernel also notifies it with a file event, but
   * the wait is short enough to poll). */
  for (int i = 0; i < 300; i++) {
    cleanup_free char *events = cg_read(dir, "cgroup.events", err);
    uint64_t state = 0;
    if (events == NULL)
      return -1;
    if (cg_kv_lookup(events, "frozen", &state) && (state == 1) == frozen)
      return 0;
    cg_sleep_ms(i < 20 ? 1 : 10);
  }
  if (frozen)
    cg_write(dir, "cgroup.freeze", "0", NULL);
  return skiff_error_set(err, ETIMEDOUT,
                         "%s/cgroup.events: \"frozen\" did not become %d", dir, frozen);
}

int cg_v2_is_frozen(const char *dir, bool *frozen, skiff_error_t **err)
{
  cleanup_free char *events = cg_read(dir, "cgroup.events", err);
  uint64_t state = 0;
  if (events == NULL)
    return -1;
  if (!cg_kv_lookup(events, "frozen", &state))
    return skiff_error_set(err, ENOTSUP,
                           "%s/cgroup.events: no \"frozen\" (Linux < 5.2)", dir);
  *frozen = state == 1;
  return 0;
}

int cg_v2_kill(const char *dir, skiff_error_t **err)
{
  if (!cg_file_exists(dir, "cgroup.kill"))
    return 0;
  return cg_write(dir, "cgroup.kill", "1", err) < 0 ? -1 : 1;
}

/* ---- stats ---- */

/* Shared with cgroup_v1.c: the stats shapes are the same on both. */

json_t *cg_read_kv_json(const char *dir, const char *file)
{
  json_t *obj = json_object();
  cleanup_free char *text = cg_read(dir, file, NULL);
  if (obj == NULL || text == NULL)
    return obj;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *space = strchr(line, ' ');
    uint64_t v = 0;
    if (space == NULL || cg_parse_u64(space + 1, &v) < 0)
      continue;
    *space = '\0';
    json_object_set_new(obj, line,
                        json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
  }
  return obj;
}

char **cg_hugepage_sizes(void)
{
  static const char *units[] = {"KB", "MB", "GB", "TB", "PB"};
  char **sizes = calloc(16, sizeof(char *));
  cleanup_dir DIR *d = opendir("/sys/kernel/mm/hugepages");
  size_t n = 0;
  for (struct dirent *de; sizes && d && n < 15 && (de = readdir(d)) != NULL;) {
    unsigned long long kb = 0;
    if (sscanf(de->d_name, "hugepages-%llukB", &kb) != 1 || kb == 0)
      continue;
    size_t u = 0;
    while (kb >= 1024 && kb % 1024 == 0 && u + 1 < sizeof units / sizeof units[0]) {
      kb /= 1024;
      u++;
    }
    if (asprintf(&sizes[n], "%llu%s", kb, units[u]) < 0)
      sizes[n] = NULL;
    else
      n++;
  }
  return sizes;
}

int cg_blkio_entry_add(json_t *array, uint64_t major, uint64_t minor, const char *op,
                       uint64_t value)
{
  json_t *entry =
      json_pack("{s:I,s:I,s:I}", "major", (json_int_t)major, "minor", (json_int_t)minor,
                "value", (json_int_t)(value > INT64_MAX ? INT64_MAX : value));
  if (entry && op && *op)
    json_object_set_new(entry, "op", json_string(op));
  return entry ? json_array_append_new(array, entry) : -1;
}

static json_int_t clamp(uint64_t v)
{
  return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

static uint64_t kv_or_zero(const char *text, const char *key)
{
  uint64_t v = 0;
  return text && cg_kv_lookup(text, key, &v) ? v : 0;
}

static uint64_t read_or_zero(const char *dir, const char *file)
{
  uint64_t v = 0;
  return cg_read_u64(dir, file, &v, NULL) == 0 ? v : 0;
}

static json_t *v2_cpu_stats(const char *dir)
{
  cleanup_free char *stat = cg_read(dir, "cpu.stat", NULL);
  /* cpu.stat counts microseconds; runc's shape has nanoseconds. */
  return json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}}", "usage", "total",
                   clamp(kv_or_zero(stat, "usage_usec") * 1000), "kernel",
                   clamp(kv_or_zero(stat, "system_usec") * 1000), "user",
                   clamp(kv_or_zero(stat, "user_usec") * 1000), "throttling", "periods",
                   clamp(kv_or_zero(stat, "nr_periods")), "throttledPeriods",
                   clamp(kv_or_zero(stat, "nr_throttled")), "throttledTime",
                   clamp(kv_or_zero(stat, "throttled_usec") * 1000));
}

static json_t *memory_entry(uint64_t limit, uint64_t usage, uint64_t max,
                            uint64_t failcnt)
{
  return json_pack("{s:I,s:I,s:I,s:I}", "limit", clamp(limit), "usage", clamp(usage),
                   "max", clamp(max), "failcnt", clamp(failcnt));
}

/* v1 reported swap as memory+swap; so does runc on v2, and so do we. */
static json_t *v2_swap_entry(const char *dir, uint64_t usage, uint64_t limit)
{
  cleanup_free char *events = cg_read(dir, "memory.swap.events", NULL);
  uint64_t swap = read_or_zero(dir, "memory.swap.current");
  uint64_t swap_max =
      cg_file_exists(dir, "memory.swap.max") ? read_or_zero(dir, "memory.swap.max") : 0;
  uint64_t total_limit =
      limit == UINT64_MAX || swap_max == UINT64_MAX ? UINT64_MAX : limit + swap_max;
  return memory_entry(total_limit, usage + swap, read_or_zero(dir, "memory.swap.peak"),
                      kv_or_zero(events, "max"));
}

static json_t *v2_memory_stats(const char *dir)
{
  cleanup_free char *events = cg_read(dir, "memory.events", NULL);
  json_t *raw = cg_read_kv_json(dir, "memory.stat");
  uint64_t usage = read_or_zero(dir, "memory.current");
  uint64_t limit = read_or_zero(dir, "memory.max");
  json_int_t kernel = json_integer_value(json_object_get(raw, "kernel"));
  json_int_t sock = json_integer_value(json_object_get(raw, "sock"));
  return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "cache",
                   json_integer_value(json_object_get(raw, "file")), "usage",
                   memory_entry(limit, usage, read_or_zero(dir, "memory.peak"),
                                kv_or_zero(events, "max")),
                   "swap", v2_swap_entry(dir, usage, limit), "kernel",
                   memory_entry(0, (uint64_t)kernel, 0, 0), "kernelTCP",
                   memory_entry(0, (uint64_t)sock, 0, 0), "raw", raw, "oom_kill",
                   clamp(kv_or_zero(events, "oom_kill")));
}

json_t *cg_pids_stats(const char *dir)
{
  cleanup_free char *events = cg_read(dir, "pids.events", NULL);
  uint64_t limit = read_or_zero(dir, "pids.max");
  return json_pack("{s:I,s:I,s:I}", "current", clamp(read_or_zero(dir, "pids.current")),
                   "limit", clamp(limit == UINT64_MAX ? 0 : limit), "failcnt",
                   clamp(kv_or_zero(events, "max")));
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N". */
static json_t *v2_io_stats(const char *dir)
{
  static const struct {
    const char *key, *op;
    bool bytes;
  } map[] = {{"rbytes", "Read", true},    {"wbytes", "Write", true},
             {"dbytes", "Discard", true}, {"rios", "Read", false},
             {"wios", "Write", false},    {"dios", "Discard", false}};
  cleanup_free char *text = cg_read(dir, "io.stat", NULL);
  json_t *bytes = json_array(), *ios = json_array();
  char *save = NULL;
  for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    unsigned long long major = 0, minor = 0, v = 0;
    if (sscanf(line, "%llu:%llu", &major, &minor) != 2)
      continue;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
      char pattern[16];
      snprintf(pattern, sizeof pattern, " %s=", map[i].key);
      const char *at = strstr(line, pattern);
      if (at && sscanf(at + strlen(pattern), "%llu", &v) == 1)
        cg_blkio_entry_add(map[i].bytes ? bytes : ios, major, minor, map[i].op, v);
    }
  }
  return json_pack("{s:o,s:o}", "ioServiceBytesRecursive", bytes, "ioServicedRecursive",
                   ios);
}

int cg_v2_hugetlb_stats(const char *dir, json_t *stats)
{
  cleanup_strv char **sizes = cg_hugepage_sizes();
  json_t *hugetlb = json_object();
  for (char **s = sizes; hugetlb && s && *s; s++) {
    char current[64], events_file[64];
    snprintf(current, sizeof current, "hugetlb.%s.current", *s);
    snprintf(events_file, sizeof events_file, "hugetlb.%s.events", *s);
    if (!cg_file_exists(dir, current))
      continue;
    cleanup_free char *events = cg_read(dir, events_file, NULL);
    json_object_set_new(hugetlb, *s,
                        json_pack("{s:I,s:I}", "usage",
                                  clamp(read_or_zero(dir, current)), "failcnt",
                                  clamp(kv_or_zero(events, "max"))));
  }
  if (hugetlb == NULL || json_object_size(hugetlb) == 0) {
    json_decref(hugetlb);
    return 0;
  }
  return json_object_set_new(stats, "hugetlb", hugetlb);
}

int cg_v2_stats(const char *dir, json_t *stats, skiff_error_t **err)
{
  static const struct {
    const char *key, *probe;
    json_t *(*read)(const char *dir);
  } sections[] = {{"cpu", "cpu.stat", v2_cpu_stats},
                  {"memory", "memory.current", v2_memory_stats},
                  {"pids", "pids.current", cg_pids_stats},
                  {"blkio", "io.stat", v2_io_stats}};
  for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
    if (!cg_file_exists(dir, sections[i].probe))
      continue;
    json_t *section = sections[i].read(dir);
    if (section == NULL || json_object_set_new(stats, sections[i].key, section) < 0)
      return skiff_error_set(err, ENOMEM, "cgroup stats: %s", sections[i].key);
  }
  return cg_v2_hugetlb_stats(dir, stats) < 0
             ? skiff_error_set(err, ENOMEM, "cgroup stats")
             : 0;
}

/* ---- the container's view ---- */

/* True when this process is at the root of a cgroup namespace of its own,
 * i.e. a fresh cgroup2 mount shows exactly its cgroup: /proc/self/cgroup
 * reads "0::/" and the namespace is not init's. */
static bool in_own_cgroupns_root(void)
{
  struct stat self, init;
  if (stat("/proc/self/ns/cgroup", &self) < 0 || stat("/proc/1/ns/cgroup", &init) < 0 ||
      (self.st_ino == init.st_ino && self.st_dev == init.st_dev))
    return false;
  cleanup_free char *text = fs_read_file("/proc/self/cgroup", NULL, NULL);
  for (char *line = text; line && *line;
       line = strchr(line, '\n'), line = line ? line + 1 : NULL)
    if (strncmp(line, "0::/", 4) == 0)
      return line[4] == '\n' || line[4] == '\0';
  return false;
}

int cg_v2_mount(const struct cgroup *cg, int dest_fd, bool readonly,
                skiff_error_t **err)
{
  char target[32];
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (readonly ? MS_RDONLY : 0);
  /* Elsewhere a new cgroup2 mount would show the host's whole tree, so
   * then bind the container's own directory instead. */
  if (in_own_cgroupns_root() &&
      mount("cgroup2", fs_fd_path(dest_fd, target), "cgroup2", flags, NULL) == 0)
    return 0;
  const char *dir = cg_unified_dir(cg);
  if (dir == NULL)
    return skiff_error_set(err, ENOENT, "cgroup %s: no cgroup2 directory", cg->path);
  return cg_bind_at(dir, dest_fd, readonly, err);
}

/* ---- devices: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE ---- */

/* The program sees struct bpf_cgroup_dev_ctx: access_type (type in the
 * low 16 bits, BPF_DEVCG_ACC_* in the high ones), major, minor. It keeps
 * type in r2, access in r3, major in r4, minor in r5, and returns 1 to
 * allow, 0 to deny (EPERM). */

#define INSN(c, dst, src, o, i)                                                        \
  ((struct bpf_insn){                                                                  \
      .code = (c), .dst_reg = (dst), .src_reg = (src), .off = (o), .imm = (i)})

struct bpf_code {
  struct bpf_insn *insns;
  size_t n, cap;
};

static void cleanup_bpf_code_fn(struct bpf_code *code)
{
  free(code->insns);
}

static int emit(struct bpf_code *code, const struct bpf_insn *insns, size_t n)
{
  if (code->n + n > code->cap) {
    size_t cap = (code->n + n) * 2;
    struct bpf_insn *bigger = realloc(code->insns, cap * sizeof(*bigger));
    if (bigger == NULL)
      return -1;
    code->insns = bigger;
    code->cap = cap;
  }
  memcpy(code->insns + code->n, insns, n * sizeof(*insns));
  code->n += n;
  return 0;
}

static int32_t access_bits(const char *access)
{
  return (strchr(access, 'r') ? BPF_DEVCG_ACC_READ : 0) |
         (strchr(access, 'w') ? BPF_DEVCG_ACC_WRITE : 0) |
         (strchr(access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0);
}

/* One rule: each condition jumps past the block when it does not hold;
 * falling through returns the rule's verdict. An allow rule matches when
 * every requested access is allowed by it, a deny rule when any is denied
 * by it (as v1's devices.deny would refuse). Returns 1 when the rule
 * matches every request, so nothing after it can run. */
static int emit_rule(struct bpf_code *code, const struct cg_device_rule *r,
                     skiff_error_t **err)
{
  const int32_t all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  int32_t acc = access_bits(r->access);
  struct bpf_insn blk[10];
  size_t n = 0, jumps[4], nj = 0;
  if (r->major > INT32_MAX || r->minor > INT32_MAX)
    return skiff_error_invalid(
        err, RES ".devices: device %" PRId64 ":%" PRId64 " is out of range", r->major,
        r->minor);
  if (r->type != 'a') {
    jumps[nj++] = n;
    blk[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                    r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  }
  if (acc != all) {
    blk[n++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
    blk[n++] =
        INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, r->allow ? (~acc & all) : acc);
    jumps[nj++] = n;
    blk[n++] =
        INSN(BPF_JMP | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, BPF_REG_1, 0, 0, 0);
  }
  if (r->major >= 0) {
    jumps[nj++] = n;
    blk[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)r->major);
  }
  if (r->minor >= 0) {
    jumps[nj++] = n;
    blk[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)r->minor);
  }
  blk[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
  blk[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  for (size_t j = 0; j < nj; j++)
    blk[jumps[j]].off = (int16_t)(n - jumps[j] - 1);
  if (emit(code, blk, n) < 0)
    return skiff_error_set(err, ENOMEM, RES ".devices");
  return nj == 0;
}

/* In OCI order a later rule overrides an earlier one and the defaults
 * come after the spec's rules: so test from the last, first match wins. A
 * request no rule matches is allowed, as in a fresh v1 device cgroup; the
 * usual first rule, "deny all", ends every path before that. */
static int build_device_program(const struct cg_device_rule *rules, size_t n,
                                struct bpf_code *code, skiff_error_t **err)
{
  const struct bpf_insn prologue[] = {
      INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0),
      INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF),
      INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0),
      INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),
      INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0),
      INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0),
  };
  const struct bpf_insn allow_rest[] = {
      INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
      INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  if (emit(code, prologue, sizeof prologue / sizeof prologue[0]) < 0)
    return skiff_error_set(err, ENOMEM, RES ".devices");
  for (size_t i = cg_n_default_devices + n; i-- > 0;) {
    const struct cg_device_rule *r = i >= n ? &cg_default_devices[i - n] : &rules[i];
    int matches_all = emit_rule(code, r, err);
    if (matches_all != 0)
      return matches_all < 0 ? -1 : 0;
  }
  if (emit(code, allow_rest, 2) < 0)
    return skiff_error_set(err, ENOMEM, RES ".devices");
  return 0;
}

static int bpf_call(int cmd, union bpf_attr *attr)
{
  return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int load_program(const struct bpf_code *code, skiff_error_t **err)
{
  static char log[8192];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)code->insns;
  attr.insn_cnt = (uint32_t)code->n;
  attr.license = (uint64_t)(uintptr_t) "Apache";
  int fd = bpf_call(BPF_PROG_LOAD, &attr);
  if (fd < 0 && errno == EPERM) {
    /* Before Linux 5.11 BPF memory counted against RLIMIT_MEMLOCK. */
    struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0)
      fd = bpf_call(BPF_PROG_LOAD, &attr);
  }
  if (fd >= 0)
    return fd;
  int saved = errno;
  log[0] = '\0';
  attr.log_level = 1;
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = sizeof log;
  int again = bpf_call(BPF_PROG_LOAD, &attr);
  if (again >= 0)
    close(again);
  log[strcspn(log, "\n")] = '\0';
  return skiff_error_set(err, saved, "load the eBPF device program%s%s",
                         *log ? ": " : "", log);
}

static int query_programs(int cgfd, uint32_t ids[64], uint32_t *n, const char *dir,
                          skiff_error_t **err)
{
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)cgfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
  attr.query.prog_cnt = 64;
  if (bpf_call(BPF_PROG_QUERY, &attr) < 0)
    return skiff_error_errno(err, "query the eBPF device programs of %s", dir);
  *n = attr.query.prog_cnt;
  return 0;
}

static int detach_programs(int cgfd, const uint32_t *ids, uint32_t n, const char *dir,
                           skiff_error_t **err)
{
  for (uint32_t i = 0; i < n; i++) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_id = ids[i];
    cleanup_close int fd = bpf_call(BPF_PROG_GET_FD_BY_ID, &attr);
    if (fd < 0 && errno == ENOENT)
      continue; /* gone already */
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgfd;
    attr.attach_bpf_fd = (uint32_t)fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (fd < 0 || (bpf_call(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT))
      return skiff_error_errno(err, "detach the old eBPF device program %u from %s",
                               ids[i], dir);
  }
  return 0;
}

int cg_v2_set_devices(const char *dir, const struct cg_device_rule *rules, size_t n,
                      skiff_error_t **err)
{
  __attribute__((cleanup(cleanup_bpf_code_fn))) struct bpf_code code = {0};
  uint32_t old[64], n_old = 0;
  if (build_device_program(rules, n, &code, err) < 0)
    return -1;
  cleanup_close int prog = load_program(&code, err);
  if (prog < 0)
    return -1;
  cleanup_close int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return skiff_error_errno(err, "open %s", dir);
  if (query_programs(cgfd, old, &n_old, dir, err) < 0)
    return -1;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cgfd;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_call(BPF_PROG_ATTACH, &attr) < 0)
    return skiff_error_errno(err, "attach the eBPF device program to %s", dir);
  /* The new program is in force before the old ones go; in between both
   * apply, which can only deny more, never less. */
  return detach_programs(cgfd, old, n_old, dir, err);
}
