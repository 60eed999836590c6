/* cgroup v1: one hierarchy per controller (or co-mounted group), each with
 * its own file names. Also serves hybrid hosts, where v1 carries the
 * controllers and the unified tree is joined beside them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"

#define RES "linux.resources"

/* ---- the host's v1 hierarchies ---- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
  char *out = s;
  for (char *in = s; *in;) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
        in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
}

/* The controllers named by a v1 mount's super options: known controller
 * names and "name=..." hierarchies; the rest (rw, clone_children, ...) are
 * options. */
static char **v1_controllers_of(const char *superopts, char **known)
{
  cleanup_strv char **opts = cg_split(superopts, ",");
  if (opts == NULL)
    return NULL;
  size_t n = 0;
  for (char **o = opts; *o; o++)
    if (cg_strv_contains(known, *o) || strncmp(*o, "name=", 5) == 0)
      opts[n++] = *o;
    else
      free(*o);
  opts[n] = NULL;
  return steal_pointer(&opts);
}

static bool same_controllers(char **a, char **b)
{
  size_t na = 0, nb = 0;
  for (; a[na]; na++)
    if (!cg_strv_contains(b, a[na]))
      return false;
  for (; b[nb]; nb++)
    ;
  return na == nb;
}

/* Add a v1 hierarchy from one mountinfo line; duplicates (bind mounts of
 * the same hierarchy) keep the first mount seen. */
static int add_v1_mount(struct cg_host *host, char *mountpoint, char **controllers)
{
  for (size_t i = 0; i < host->n_hier; i++)
    if (same_controllers(host->hier[i].controllers, controllers)) {
      cleanup_strv char **drop = controllers;
      return 0;
    }
  struct cg_hierarchy *bigger =
      realloc(host->hier, (host->n_hier + 1) * sizeof(*bigger));
  char *mount = strdup(mountpoint);
  if (bigger == NULL || mount == NULL) {
    cleanup_strv char **drop = controllers;
    free(mount);
    if (bigger)
      host->hier = bigger;
    return -1;
  }
  host->hier = bigger;
  host->hier[host->n_hier++] = (struct cg_hierarchy){
      .mount = mount, .controllers = controllers, .unified = false};
  return 0;
}

static int parse_mountinfo_line(char *line, char **known, struct cg_host *host)
{
  /* id parent major:minor root mountpoint options [optional...] - fstype
   * source superoptions */
  char *fields[6] = {0};
  char *save = NULL, *tok = strtok_r(line, " ", &save);
  for (int i = 0; tok && i < 6; i++, tok = strtok_r(NULL, " ", &save))
    fields[i] = tok;
  while (tok && strcmp(tok, "-") != 0)
    tok = strtok_r(NULL, " ", &save);
  char *fstype = strtok_r(NULL, " ", &save);
  char *source = strtok_r(NULL, " ", &save);
  char *superopts = strtok_r(NULL, " ", &save);
  if (fields[4] == NULL || fstype == NULL || source == NULL || superopts == NULL ||
      strcmp(fstype, "cgroup") != 0)
    return 0;
  char **controllers = v1_controllers_of(superopts, known);
  if (controllers == NULL)
    return -1;
  if (controllers[0] == NULL) {
    cleanup_strv char **drop = controllers;
    return 0;
  }
  unescape_octal(fields[4]);
  return add_v1_mount(host, fields[4], controllers);
}

int cg_host_parse_mountinfo(const char *text, char **known, enum cgroup_layout layout,
                            struct cg_host *host, skiff_error_t **err)
{
  *host = (struct cg_host){.layout = layout};
  if (layout == CGROUP_LAYOUT_V2)
    return 0; /* v1 hierarchies mounted beside a pure v2 tree are not ours */
  cleanup_free char *copy = strdup(text);
  if (copy == NULL)
    return skiff_error_set(err, ENOMEM, "parse /proc/self/mountinfo");
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    if (parse_mountinfo_line(line, known, host) < 0) {
      cg_host_clear(host);
      return skiff_error_set(err, ENOMEM, "parse /proc/self/mountinfo");
    }
  return 0;
}

void cg_host_clear(struct cg_host *host)
{
  for (size_t i = 0; i < host->n_hier; i++) {
    free(host->hier[i].mount);
    cleanup_strv char **drop = host->hier[i].controllers;
  }
  free(host->hier);
  host->hier = NULL;
  host->n_hier = 0;
}

/* Names of the controllers the kernel has, first column of /proc/cgroups. */
char **cg_v1_known_controllers(skiff_error_t **err)
{
  cleanup_free char *text = fs_read_file("/proc/cgroups", NULL, err);
  if (text == NULL)
    return NULL;
  cleanup_strv char **lines = cg_split(text, "\n");
  if (lines == NULL) {
    skiff_error_set(err, ENOMEM, "read /proc/cgroups");
    return NULL;
  }
  for (char **l = lines; *l; l++) {
    char *tab = strpbrk(*l, " \t");
    if (tab)
      *tab = '\0';
    if (**l == '#')
      **l = '\0';
  }
  return steal_pointer(&lines);
}

/* ---- resources ---- */

/* The directory of controller on a v1 hierarchy (never the unified one). */
static const char *v1_dir(const struct cgroup *cg, const char *controller)
{
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (!cg->dirs[i].h->unified &&
        cg_strv_contains(cg->dirs[i].h->controllers, controller))
      return cg->dirs[i].path;
  return NULL;
}

static const char *need_dir(const struct cgroup *cg, const char *controller,
                            const char *field, skiff_error_t **err)
{
  const char *dir = v1_dir(cg, controller);
  if (dir == NULL)
    skiff_error_set(err, ENOTSUP, "%s: the %s controller is not mounted", field,
                    controller);
  return dir;
}

/* Write and, on failure, say which field of linux.resources it was for. */
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
  if (cg_write(dir, file, value, err) < 0)
    return skiff_error_wrap(err, "%s", field);
  return 0;
}

/* The first of two names the kernel has (CFQ's blkio.weight or BFQ's
 * blkio.bfq.weight), the first when neither exists, for the error. */
static const char *pick(const char *dir, const char *name, const char *alias)
{
  return !cg_file_exists(dir, name) && cg_file_exists(dir, alias) ? alias : name;
}

int cg_v1_cpuset_init(const char *dir, skiff_error_t **err)
{
  static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
  cleanup_free char *parent = strdup(dir);
  char *slash = parent ? strrchr(parent, '/') : NULL;
  if (slash == NULL)
    return skiff_error_set(err, ENOMEM, "cpuset %s", dir);
  *slash = '\0';
  for (int i = 0; i < 2; i++) {
    cleanup_free char *mine = cg_read(dir, files[i], err);
    if (mine == NULL)
      return -1;
    if (mine[strspn(mine, " \n")] != '\0')
      continue;
    cleanup_free char *inherited = cg_read(parent, files[i], err);
    if (inherited == NULL)
      return -1;
    inherited[strcspn(inherited, "\n")] = '\0';
    if (*inherited && cg_write(dir, files[i], inherited, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- memory ---- */

static int v1_memsw(const char *dir, int64_t swap, skiff_error_t **err)
{
  if (!cg_file_exists(dir, "memory.memsw.limit_in_bytes")) {
    if (swap == -1)
      return 0;
    return skiff_error_set(err, ENOTSUP,
                           RES ".memory.swap: swap accounting is off in this kernel "
                               "(no %s/memory.memsw.limit_in_bytes)",
                           dir);
  }
  return put(dir, "memory.memsw.limit_in_bytes", RES ".memory.swap", err, "%" PRId64,
             swap);
}

static int v1_memory_limit(const char *dir, int64_t limit, skiff_error_t **err)
{
  return put(dir, "memory.limit_in_bytes", RES ".memory.limit", err, "%" PRId64, limit);
}

/* memory.memsw.limit_in_bytes may never be below memory.limit_in_bytes,
 * so the order of the two writes depends on whether limits go up or down
 * (as runc does it). */
static int v1_memory_and_swap(const char *dir, const struct cg_memory *m,
                              skiff_error_t **err)
{
  struct cg_i64 limit = m->limit, swap = m->swap;
  if (limit.set && limit.v == -1 && !swap.set)
    swap = (struct cg_i64){true, -1};
  if (limit.set && swap.set) {
    uint64_t current = 0;
    if (cg_read_u64(dir, "memory.limit_in_bytes", &current, err) < 0)
      return -1;
    if (swap.v == -1 || current < (uint64_t)swap.v)
      return v1_memsw(dir, swap.v, err) < 0 ? -1 : v1_memory_limit(dir, limit.v, err);
    return v1_memory_limit(dir, limit.v, err) < 0 ? -1 : v1_memsw(dir, swap.v, err);
  }
  if (limit.set && v1_memory_limit(dir, limit.v, err) < 0)
    return -1;
  return swap.set ? v1_memsw(dir, swap.v, err) : 0;
}

static int v1_kernel_memory(const char *dir, const struct cg_memory *m,
                            skiff_error_t **err)
{
  /* Deprecated by the runtime spec and gone from recent kernels: warn
   * rather than fail when the file is missing, as runc does. */
  if (m->kernel.set) {
    if (!cg_file_exists(dir, "memory.kmem.limit_in_bytes"))
      log_warn(RES ".memory.kernel ignored: this kernel has no kernel memory limit");
    else if (put(dir, "memory.kmem.limit_in_bytes", RES ".memory.kernel", err,
                 "%" PRId64, m->kernel.v) < 0)
      return -1;
  }
  if (m->kernel_tcp.set) {
    if (!cg_file_exists(dir, "memory.kmem.tcp.limit_in_bytes"))
      log_warn(RES ".memory.kernelTCP ignored: this kernel has no kernel TCP limit");
    else if (put(dir, "memory.kmem.tcp.limit_in_bytes", RES ".memory.kernelTCP", err,
                 "%" PRId64, m->kernel_tcp.v) < 0)
      return -1;
  }
  return 0;
}

static int v1_memory(const struct cgroup *cg, const struct cg_memory *m,
                     skiff_error_t **err)
{
  const char *dir = need_dir(cg, "memory", RES ".memory", err);
  if (dir == NULL || v1_memory_and_swap(dir, m, err) < 0 ||
      v1_kernel_memory(dir, m, err) < 0)
    return -1;
  if (m->reservation.set &&
      put(dir, "memory.soft_limit_in_bytes", RES ".memory.reservation", err, "%" PRId64,
          m->reservation.v) < 0)
    return -1;
  if (m->swappiness.set && put(dir, "memory.swappiness", RES ".memory.swappiness", err,
                               "%" PRIu64, m->swappiness.v) < 0)
    return -1;
  if (m->disable_oom_killer.set &&
      put(dir, "memory.oom_control", RES ".memory.disableOOMKiller", err, "%d",
          m->disable_oom_killer.v) < 0)
    return -1;
  if (m->use_hierarchy.set &&
      put(dir, "memory.use_hierarchy", RES ".memory.useHierarchy", err, "%d",
          m->use_hierarchy.v) < 0)
    return -1;
  return 0;
}

/* ---- cpu, cpuset, pids ---- */

/* A period shorter than the current one can be refused (EINVAL) while the
 * old quota is in place; write it again after the quota then (as crun). */
static int v1_quota_period(const char *dir, const struct cg_cpu *c, skiff_error_t **err)
{
  skiff_error_t *period_err = NULL;
  bool retry_period = false;
  if (c->period.set && put(dir, "cpu.cfs_period_us", RES ".cpu.period", &period_err,
                           "%" PRIu64, c->period.v) < 0) {
    if (!c->quota.set || period_err == NULL || period_err->status != EINVAL) {
      if (err)
        *err = steal_pointer(&period_err);
      skiff_error_free(&period_err);
      return -1;
    }
    skiff_error_free(&period_err);
    retry_period = true;
  }
  if (c->quota.set &&
      put(dir, "cpu.cfs_quota_us", RES ".cpu.quota", err, "%" PRId64, c->quota.v) < 0)
    return -1;
  if (retry_period && put(dir, "cpu.cfs_period_us", RES ".cpu.period", err, "%" PRIu64,
                          c->period.v) < 0)
    return -1;
  return 0;
}

static int v1_cpu(const struct cgroup *cg, const struct cg_cpu *c, skiff_error_t **err)
{
  bool any = c->shares.set || c->quota.set || c->period.set || c->burst.set ||
             c->realtime_period.set || c->realtime_runtime.set || c->idle.set;
  const char *dir = any ? need_dir(cg, "cpu", RES ".cpu", err) : NULL;
  if (!any)
    return 0;
  if (dir == NULL)
    return -1;
  if (c->shares.set &&
      put(dir, "cpu.shares", RES ".cpu.shares", err, "%" PRIu64, c->shares.v) < 0)
    return -1;
  if (v1_quota_period(dir, c, err) < 0)
    return -1;
  if (c->burst.set &&
      put(dir, "cpu.cfs_burst_us", RES ".cpu.burst", err, "%" PRIu64, c->burst.v) < 0)
    return -1;
  /* The period first: a runtime is checked against it. */
  if (c->realtime_period.set && put(dir, "cpu.rt_period_us", RES ".cpu.realtimePeriod",
                                    err, "%" PRIu64, c->realtime_period.v) < 0)
    return -1;
  if (c->realtime_runtime.set &&
      put(dir, "cpu.rt_runtime_us", RES ".cpu.realtimeRuntime", err, "%" PRId64,
          c->realtime_runtime.v) < 0)
    return -1;
  if (c->idle.set &&
      put(dir, "cpu.idle", RES ".cpu.idle", err, "%" PRId64, c->idle.v) < 0)
    return -1;
  return 0;
}

static int v1_cpuset(const struct cgroup *cg, const struct cg_cpu *c,
                     skiff_error_t **err)
{
  if (c->cpus == NULL && c->mems == NULL)
    return 0;
  const char *dir = need_dir(cg, "cpuset", RES ".cpu.cpus", err);
  if (dir == NULL)
    return -1;
  if (c->mems && put(dir, "cpuset.mems", RES ".cpu.mems", err, "%s", c->mems) < 0)
    return -1;
  if (c->cpus && put(dir, "cpuset.cpus", RES ".cpu.cpus", err, "%s", c->cpus) < 0)
    return -1;
  return 0;
}

static int v1_pids(const struct cgroup *cg, const struct cg_i64 *limit,
                   skiff_error_t **err)
{
  if (!limit->set)
    return 0;
  const char *dir = need_dir(cg, "pids", RES ".pids", err);
  if (dir == NULL)
    return -1;
  if (limit->v < 0)
    return put(dir, "pids.max", RES ".pids.limit", err, "max");
  return put(dir, "pids.max", RES ".pids.limit", err, "%" PRId64, limit->v);
}

/* ---- blkio ---- */

static int v1_weight_devices(const char *dir, const struct cg_blkio *b,
                             skiff_error_t **err)
{
  for (size_t i = 0; i < b->n_weight_devices; i++) {
    const struct cg_weight_device *wd = &b->weight_devices[i];
    if (wd->weight.set &&
        put(dir, pick(dir, "blkio.weight_device", "blkio.bfq.weight_device"),
            RES ".blockIO.weightDevice", err, "%" PRId64 ":%" PRId64 " %" PRIu64,
            wd->major, wd->minor, wd->weight.v) < 0)
      return -1;
    if (wd->leaf_weight.set &&
        put(dir, "blkio.leaf_weight_device", RES ".blockIO.weightDevice", err,
            "%" PRId64 ":%" PRId64 " %" PRIu64, wd->major, wd->minor,
            wd->leaf_weight.v) < 0)
      return -1;
  }
  return 0;
}

static int v1_blkio(const struct cgroup *cg, const struct cg_blkio *b,
                    skiff_error_t **err)
{
  static const char *files[4] = {
      "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
      "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
  const char *dir = need_dir(cg, "blkio", RES ".blockIO", err);
  if (dir == NULL)
    return -1;
  if (b->weight.set && put(dir, pick(dir, "blkio.weight", "blkio.bfq.weight"),
                           RES ".blockIO.weight", err, "%" PRIu64, b->weight.v) < 0)
    return -1;
  if (b->leaf_weight.set && put(dir, "blkio.leaf_weight", RES ".blockIO.leafWeight",
                                err, "%" PRIu64, b->leaf_weight.v) < 0)
    return -1;
  if (v1_weight_devices(dir, b, err) < 0)
    return -1;
  for (int t = 0; t < 4; t++)
    for (size_t i = 0; i < b->throttle[t].n; i++) {
      const struct cg_throttle *th = &b->throttle[t].items[i];
      if (put(dir, files[t], RES ".blockIO", err, "%" PRId64 ":%" PRId64 " %" PRIu64,
              th->major, th->minor, th->rate) < 0)
        return -1;
    }
  return 0;
}

/* ---- hugetlb, devices, network, rdma ---- */

static int v1_hugetlb(const struct cgroup *cg, const struct cgroup_resources *res,
                      skiff_error_t **err)
{
  if (res->n_hugepages == 0)
    return 0;
  const char *dir = v1_dir(cg, "hugetlb");
  if (dir == NULL && cg_dir_for(cg, "hugetlb") != NULL)
    return cg_v2_apply_hugetlb(cg_dir_for(cg, "hugetlb"), res, err);
  if (dir == NULL)
    return skiff_error_set(err, ENOTSUP,
                           RES ".hugepageLimits: the hugetlb controller is not "
                               "mounted");
  for (size_t i = 0; i < res->n_hugepages; i++) {
    char file[64];
    snprintf(file, sizeof file, "hugetlb.%s.limit_in_bytes",
             res->hugepages[i].page_size);
    if (!cg_file_exists(dir, file))
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

static int v1_device_rule(const char *dir, const struct cg_device_rule *r,
                          skiff_error_t **err)
{
  const char *file = r->allow ? "devices.allow" : "devices.deny";
  if (r->type == 'a')
    return put(dir, file, RES ".devices", err, "a");
  char major[24] = "*", minor[24] = "*";
  if (r->major >= 0)
    snprintf(major, sizeof major, "%" PRId64, r->major);
  if (r->minor >= 0)
    snprintf(minor, sizeof minor, "%" PRId64, r->minor);
  return put(dir, file, RES ".devices", err, "%c %s:%s %s", r->type, major, minor,
             r->access);
}

static int v1_devices(const struct cgroup *cg, const struct cgroup_resources *res,
                      skiff_error_t **err)
{
  if (res->n_devices == 0)
    return 0;
  const char *dir = need_dir(cg, "devices", RES ".devices", err);
  if (dir == NULL)
    return -1;
  for (size_t i = 0; i < res->n_devices; i++)
    if (v1_device_rule(dir, &res->devices[i], err) < 0)
      return -1;
  for (size_t i = 0; i < cg_n_default_devices; i++)
    if (v1_device_rule(dir, &cg_default_devices[i], err) < 0)
      return -1;
  return 0;
}

static int v1_network(const struct cgroup *cg, const struct cgroup_resources *res,
                      skiff_error_t **err)
{
  const char *cls = v1_dir(cg, "net_cls"), *prio = v1_dir(cg, "net_prio");
  if (res->net_class_id.set && cls == NULL)
    log_warn(RES ".network.classID ignored: the net_cls controller is not mounted");
  else if (res->net_class_id.set && put(cls, "net_cls.classid", RES ".network.classID",
                                        err, "%" PRIu64, res->net_class_id.v) < 0)
    return -1;
  if (res->n_net_priorities && prio == NULL)
    log_warn(RES ".network.priorities ignored: the net_prio controller is not mounted");
  for (size_t i = 0; prio && i < res->n_net_priorities; i++)
    if (put(prio, "net_prio.ifpriomap", RES ".network.priorities", err, "%s %u",
            res->net_priorities[i].name, res->net_priorities[i].priority) < 0)
      return -1;
  return 0;
}

static int v1_rdma(const struct cgroup *cg, const struct cgroup_resources *res,
                   skiff_error_t **err)
{
  if (res->n_rdma == 0)
    return 0;
  const char *dir = need_dir(cg, "rdma", RES ".rdma", err);
  for (size_t i = 0; dir && i < res->n_rdma; i++) {
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
  return dir ? 0 : -1;
}

/* ---- unified on v1 ---- */

/* v2 files with an exact v1 counterpart ("max" becomes -1). */
static const struct {
  const char *key, *controller, *file;
} v1_equivalents[] = {
    {"pids.max", "pids", "pids.max"},
    {"cpuset.cpus", "cpuset", "cpuset.cpus"},
    {"cpuset.mems", "cpuset", "cpuset.mems"},
    {"memory.max", "memory", "memory.limit_in_bytes"},
    {"memory.low", "memory", "memory.soft_limit_in_bytes"},
    {"cpu.max.burst", "cpu", "cpu.cfs_burst_us"},
    {"cpu.idle", "cpu", "cpu.idle"},
};

/* cpu.max "QUOTA PERIOD" (QUOTA may be "max", PERIOD optional). */
static int v1_cpu_max(const struct cgroup *cg, const char *value, const char *field,
                      skiff_error_t **err)
{
  char quota[32] = "";
  unsigned long long period = 0;
  int n = sscanf(value, "%31s %llu", quota, &period);
  const char *dir = need_dir(cg, "cpu", field, err);
  if (dir == NULL)
    return -1;
  if (n < 1)
    return skiff_error_invalid(err, "%s: \"%s\" is not \"QUOTA [PERIOD]\"", field,
                               value);
  if (n == 2 && put(dir, "cpu.cfs_period_us", field, err, "%llu", period) < 0)
    return -1;
  return put(dir, "cpu.cfs_quota_us", field, err, "%s",
             strcmp(quota, "max") == 0 ? "-1" : quota);
}

static int v1_unified_entry(const struct cgroup *cg, const struct cg_kv *kv,
                            skiff_error_t **err)
{
  char field[160];
  snprintf(field, sizeof field, RES ".unified.%s", kv->key);
  /* Hybrid: what the unified tree itself has is written there. */
  const char *unified = cg_unified_dir(cg);
  char controller[64];
  snprintf(controller, sizeof controller, "%.*s", (int)strcspn(kv->key, "."), kv->key);
  if (unified && (strcmp(controller, "cgroup") == 0 ||
                  (cg_dir_for(cg, controller) == unified && !v1_dir(cg, controller))))
    return cg_write_lines(unified, kv->key, kv->value, err) < 0
               ? skiff_error_wrap(err, "%s", field)
               : 0;
  if (strcmp(kv->key, "cpu.max") == 0)
    return v1_cpu_max(cg, kv->value, field, err);
  for (size_t i = 0; i < sizeof v1_equivalents / sizeof v1_equivalents[0]; i++) {
    if (strcmp(kv->key, v1_equivalents[i].key) != 0)
      continue;
    const char *dir = need_dir(cg, v1_equivalents[i].controller, field, err);
    if (dir == NULL)
      return -1;
    bool max = strcmp(kv->value, "max") == 0 && strcmp(kv->key, "pids.max") != 0;
    return put(dir, v1_equivalents[i].file, field, err, "%s", max ? "-1" : kv->value);
  }
  return skiff_error_invalid(err,
                             "%s: cgroup v2 setting with no cgroup v1 equivalent "
                             "(this host uses cgroup v1)",
                             field);
}

int cg_v1_apply(const struct cgroup *cg, const struct cgroup_resources *res,
                skiff_error_t **err)
{
  if ((res->has_memory && v1_memory(cg, &res->memory, err) < 0) ||
      (res->has_cpu &&
       (v1_cpuset(cg, &res->cpu, err) < 0 || v1_cpu(cg, &res->cpu, err) < 0)) ||
      v1_pids(cg, &res->pids_limit, err) < 0 ||
      (res->has_blkio && v1_blkio(cg, &res->blkio, err) < 0) ||
      v1_hugetlb(cg, res, err) < 0 || v1_devices(cg, res, err) < 0 ||
      v1_network(cg, res, err) < 0 || v1_rdma(cg, res, err) < 0)
    return -1;
  for (size_t i = 0; i < res->n_unified; i++)
    if (v1_unified_entry(cg, &res->unified[i], err) < 0)
      return -1;
  return 0;
}

/* ---- freezer ---- */

int cg_v1_set_frozen(const char *dir, bool frozen, skiff_error_t **err)
{
  const char *want = frozen ? "FROZEN" : "THAWED";
  /* The state goes through FREEZING while tasks are stopped one by one;
   * writing FROZEN again retries the ones that could not be frozen yet
   * (a task in vfork, for one). */
  for (int i = 0; i < 300; i++) {
    if (cg_write(dir, "freezer.state", want, err) < 0)
      return -1;
    cleanup_free char *state = cg_read(dir, "freezer.state", err);
    if (state == NULL)
      return -1;
    if (strncmp(state, want, strlen(want)) == 0)
      return 0;
    cg_sleep_ms(i < 20 ? 1 : 10);
  }
  if (frozen)
    cg_write(dir, "freezer.state", "THAWED", NULL);
  return skiff_error_set(err, ETIMEDOUT, "%s/freezer.state: did not become %s", dir,
                         want);
}

int cg_v1_is_frozen(const char *dir, bool *frozen, skiff_error_t **err)
{
  cleanup_free char *state = cg_read(dir, "freezer.state", err);
  if (state == NULL)
    return -1;
  *frozen = strncmp(state, "FROZEN", 6) == 0;
  return 0;
}

/* ---- stats ---- */

static json_int_t clamp(uint64_t v)
{
  return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

static uint64_t read_or_zero(const char *dir, const char *file)
{
  uint64_t v = 0;
  if (dir && cg_read_u64(dir, file, &v, NULL) < 0)
    v = 0;
  return v;
}

static json_t *numbers(const char *text)
{
  json_t *array = json_array();
  for (const char *p = text; array && p && *p;) {
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p)
      break;
    json_array_append_new(array, json_integer(clamp(v)));
    p = end;
  }
  return array;
}

/* cpuacct.usage_all: a header, then "CPU USER SYSTEM" per CPU, in ns. */
static void add_percpu_modes(json_t *usage, const char *acct)
{
  cleanup_free char *text = cg_read(acct, "cpuacct.usage_all", NULL);
  json_t *user = json_array(), *kernel = json_array();
  char *save = NULL;
  char *line = text ? strtok_r(text, "\n", &save) : NULL;
  while (line && (line = strtok_r(NULL, "\n", &save)) != NULL) {
    unsigned long long u = 0, s = 0;
    if (sscanf(line, "%*u %llu %llu", &u, &s) == 2) {
      json_array_append_new(user, json_integer(clamp(u)));
      json_array_append_new(kernel, json_integer(clamp(s)));
    }
  }
  json_object_set_new(usage, "percpu_user", user);
  json_object_set_new(usage, "percpu_kernel", kernel);
}

static json_t *v1_cpu_stats(const char *acct, const char *cpu)
{
  cleanup_free char *percpu = acct ? cg_read(acct, "cpuacct.usage_percpu", NULL) : NULL;
  cleanup_free char *stat = acct ? cg_read(acct, "cpuacct.stat", NULL) : NULL;
  cleanup_free char *cpu_stat = cpu ? cg_read(cpu, "cpu.stat", NULL) : NULL;
  uint64_t user = 0, system = 0, periods = 0, throttled = 0, throttled_ns = 0;
  /* cpuacct.stat counts USER_HZ ticks. */
  uint64_t tick_ns = 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
  if (stat &&
      (!cg_kv_lookup(stat, "user", &user) || !cg_kv_lookup(stat, "system", &system)))
    user = system = 0;
  if (cpu_stat) {
    cg_kv_lookup(cpu_stat, "nr_periods", &periods);
    cg_kv_lookup(cpu_stat, "nr_throttled", &throttled);
    cg_kv_lookup(cpu_stat, "throttled_time", &throttled_ns);
  }
  json_t *usage =
      json_pack("{s:I,s:o,s:I,s:I}", "total",
                clamp(read_or_zero(acct, "cpuacct.usage")), "percpu", numbers(percpu),
                "kernel", clamp(system * tick_ns), "user", clamp(user * tick_ns));
  if (usage && acct)
    add_percpu_modes(usage, acct);
  return json_pack("{s:o,s:{s:I,s:I,s:I}}", "usage", usage, "throttling", "periods",
                   clamp(periods), "throttledPeriods", clamp(throttled),
                   "throttledTime", clamp(throttled_ns));
}

/* {"limit","usage","max","failcnt"} of one memory counter ("memory.",
 * "memory.memsw.", "memory.kmem.", "memory.kmem.tcp."). */
static json_t *v1_memory_entry(const char *dir, const char *prefix)
{
  static const char *suffix[4] = {"limit_in_bytes", "usage_in_bytes",
                                  "max_usage_in_bytes", "failcnt"};
  uint64_t v[4];
  for (int i = 0; i < 4; i++) {
    char file[64];
    snprintf(file, sizeof file, "%s%s", prefix, suffix[i]);
    v[i] = read_or_zero(dir, file);
  }
  return json_pack("{s:I,s:I,s:I,s:I}", "limit", clamp(v[0]), "usage", clamp(v[1]),
                   "max", clamp(v[2]), "failcnt", clamp(v[3]));
}

static json_t *v1_memory_stats(const char *dir)
{
  json_t *raw = cg_read_kv_json(dir, "memory.stat");
  cleanup_free char *oom = cg_read(dir, "memory.oom_control", NULL);
  uint64_t oom_kill = 0;
  if (oom && !cg_kv_lookup(oom, "oom_kill", &oom_kill))
    oom_kill = 0;
  json_int_t cache = json_integer_value(json_object_get(raw, "cache"));
  return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "cache", cache, "usage",
                   v1_memory_entry(dir, "memory."), "swap",
                   v1_memory_entry(dir, "memory.memsw."), "kernel",
                   v1_memory_entry(dir, "memory.kmem."), "kernelTCP",
                   v1_memory_entry(dir, "memory.kmem.tcp."), "raw", raw, "oom_kill",
                   clamp(oom_kill));
}

/* "MAJ:MIN [OP] VALUE" lines; the "Total" line is a sum, not a device. */
static json_t *blkio_entries(const char *dir, const char *file)
{
  cleanup_free char *text = cg_read(dir, file, NULL);
  json_t *array = json_array();
  char *save = NULL;
  for (char *line = text ? strtok_r(text, "\n", &save) : NULL; array && line;
       line = strtok_r(NULL, "\n", &save)) {
    unsigned long long major = 0, minor = 0, value = 0;
    char op[32] = "";
    if (sscanf(line, "%llu:%llu %31s %llu", &major, &minor, op, &value) == 4)
      cg_blkio_entry_add(array, major, minor, op, value);
    else if (sscanf(line, "%llu:%llu %llu", &major, &minor, &value) == 3)
      cg_blkio_entry_add(array, major, minor, NULL, value);
  }
  return array;
}

static json_t *v1_blkio_stats(const char *dir)
{
  static const struct {
    const char *key, *file;
  } files[] = {
      {"ioServiceBytesRecursive", "io_service_bytes_recursive"},
      {"ioServicedRecursive", "io_serviced_recursive"},
      {"ioQueueRecursive", "io_queued_recursive"},
      {"ioServiceTimeRecursive", "io_service_time_recursive"},
      {"ioWaitTimeRecursive", "io_wait_time_recursive"},
      {"ioMergedRecursive", "io_merged_recursive"},
      {"ioTimeRecursive", "time_recursive"},
      {"sectorsRecursive", "sectors_recursive"},
  };
  /* CFQ's full set, else BFQ's, else the throttle layer's two counters. */
  const char *prefix =
      cg_file_exists(dir, "blkio.io_service_bytes_recursive")       ? "blkio."
      : cg_file_exists(dir, "blkio.bfq.io_service_bytes_recursive") ? "blkio.bfq."
                                                                    : "blkio.throttle.";
  json_t *blkio = json_object();
  for (size_t i = 0; blkio && i < sizeof files / sizeof files[0]; i++) {
    char file[96];
    snprintf(file, sizeof file, "%s%s", prefix, files[i].file);
    json_t *entries = blkio_entries(dir, file);
    if (entries && json_array_size(entries) > 0)
      json_object_set_new(blkio, files[i].key, entries);
    else
      json_decref(entries);
  }
  return blkio;
}

static json_t *v1_hugetlb_stats(const char *dir)
{
  cleanup_strv char **sizes = cg_hugepage_sizes();
  json_t *hugetlb = json_object();
  for (char **s = sizes; hugetlb && s && *s; s++) {
    char usage[64], max[64], failcnt[64];
    snprintf(usage, sizeof usage, "hugetlb.%s.usage_in_bytes", *s);
    snprintf(max, sizeof max, "hugetlb.%s.max_usage_in_bytes", *s);
    snprintf(failcnt, sizeof failcnt, "hugetlb.%s.failcnt", *s);
    json_object_set_new(hugetlb, *s,
                        json_pack("{s:I,s:I,s:I}", "usage",
                                  clamp(read_or_zero(dir, usage)), "max",
                                  clamp(read_or_zero(dir, max)), "failcnt",
                                  clamp(read_or_zero(dir, failcnt))));
  }
  return hugetlb;
}

static int set_section(json_t *stats, const char *key, json_t *value,
                       skiff_error_t **err)
{
  if (value == NULL || json_object_set_new(stats, key, value) < 0)
    return skiff_error_set(err, ENOMEM, "cgroup stats: %s", key);
  return 0;
}

int cg_v1_stats(const struct cgroup *cg, json_t *stats, skiff_error_t **err)
{
  const char *acct = v1_dir(cg, "cpuacct"), *cpu = v1_dir(cg, "cpu");
  const char *memory = v1_dir(cg, "memory"), *pids = v1_dir(cg, "pids");
  const char *blkio = v1_dir(cg, "blkio"), *hugetlb = v1_dir(cg, "hugetlb");
  if ((acct || cpu) && set_section(stats, "cpu", v1_cpu_stats(acct, cpu), err) < 0)
    return -1;
  if (memory && set_section(stats, "memory", v1_memory_stats(memory), err) < 0)
    return -1;
  if (pids && set_section(stats, "pids", cg_pids_stats(pids), err) < 0)
    return -1;
  if (blkio && set_section(stats, "blkio", v1_blkio_stats(blkio), err) < 0)
    return -1;
  if (hugetlb)
    return set_section(stats, "hugetlb", v1_hugetlb_stats(hugetlb), err);
  /* Hybrid: hugetlb may live in the unified tree. */
  const char *unified = cg_dir_for(cg, "hugetlb");
  return unified ? cg_v2_hugetlb_stats(unified, stats) : 0;
}

/* ---- the container's view: a tmpfs of per-hierarchy binds ---- */

/* A tmpfs made with the new mount API, so that we hold its root: after
 * mount(2) on /proc/self/fd/N, that path still leads to the directory
 * underneath, never into the new mount. */
static int open_tmpfs(skiff_error_t **err)
{
  cleanup_close int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return skiff_error_errno(err, "fsopen tmpfs for the cgroup mount");
  if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "755", 0) < 0 ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return skiff_error_errno(err, "create tmpfs for the cgroup mount");
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC,
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0)
    return skiff_error_errno(err, "fsmount tmpfs for the cgroup mount");
  return mnt;
}

static int attach_at(int tree, int target, const char *what, skiff_error_t **err)
{
  if (move_mount(tree, "", target, "",
                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return skiff_error_errno(err, "mount %s in the container", what);
  return 0;
}

/* Set the flags of the (attached) mount whose root mnt_fd is. */
static int restrict_mount(int mnt_fd, bool readonly, const char *what,
                          skiff_error_t **err)
{
  char path[32];
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount(NULL, fs_fd_path(mnt_fd, path), NULL, flags | (readonly ? MS_RDONLY : 0),
            NULL) < 0)
    return skiff_error_errno(err, "remount %s%s", what, readonly ? " read-only" : "");
  return 0;
}

int cg_bind_at(const char *src, int target, bool readonly, skiff_error_t **err)
{
  cleanup_close int tree =
      open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    return skiff_error_errno(err, "open_tree %s", src);
  if (attach_at(tree, target, src, err) < 0)
    return -1;
  return restrict_mount(tree, readonly, src, err);
}

static int bind_hierarchy(int tmpfs, const char *name, const char *src, bool readonly,
                          skiff_error_t **err)
{
  if (mkdirat(tmpfs, name, 0755) < 0 && errno != EEXIST)
    return skiff_error_errno(err, "mkdir %s in the cgroup tmpfs", name);
  cleanup_close int target =
      openat(tmpfs, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0)
    return skiff_error_errno(err, "open %s in the cgroup tmpfs", name);
  return cg_bind_at(src, target, readonly, err);
}

/* Docker's layout: "cpu,cpuacct" with symlinks "cpu" and "cpuacct". */
static int link_comounted(int tmpfs, const char *name, char **controllers,
                          skiff_error_t **err)
{
  if (controllers[0] == NULL || controllers[1] == NULL)
    return 0;
  for (char **c = controllers; *c; c++)
    if (strcmp(*c, name) != 0 && strchr(*c, '=') == NULL &&
        symlinkat(name, tmpfs, *c) < 0 && errno != EEXIST)
      return skiff_error_errno(err, "symlink %s to %s in the cgroup tmpfs", *c, name);
  return 0;
}

int cg_v1_mount(const struct cgroup *cg, int dest_fd, bool readonly,
                skiff_error_t **err)
{
  cleanup_close int tmpfs = open_tmpfs(err);
  if (tmpfs < 0 || attach_at(tmpfs, dest_fd, "the cgroup tmpfs", err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n_dirs; i++) {
    const struct cg_dir *d = &cg->dirs[i];
    const char *name = strrchr(d->h->mount, '/');
    name = name ? name + 1 : d->h->mount;
    if (bind_hierarchy(tmpfs, name, d->path, readonly, err) < 0 ||
        (!d->h->unified && link_comounted(tmpfs, name, d->h->controllers, err) < 0))
      return skiff_error_wrap(err, "cgroup %s", cg->path);
  }
  return readonly ? restrict_mount(tmpfs, true, "the cgroup tmpfs", err) : 0;
}
