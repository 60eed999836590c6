/* cgroups, the layout-independent half: which hierarchies the host has,
 * linux.resources parsing and validation, cgroupsPath computation, and the
 * lifecycle (create, join, freeze, kill, destroy) dispatched to
 * cgroup_v1.c and cgroup_v2.c. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_UNIFIED CGROUP_ROOT "/unified"
#define RES "linux.resources"

/* ------------------------------------------------------------------ */
/* Small helpers shared with cgroup_v1.c and cgroup_v2.c               */
/* ------------------------------------------------------------------ */

bool cg_strv_contains(char **v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp(*v, s) == 0)
      return true;
  return false;
}

static char *path_join(const char *dir, const char *file)
{
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, file) < 0)
    return NULL;
  return p;
}

int cg_write(const char *dir, const char *file, const char *value, skiff_error_t **err)
{
  cleanup_free char *path = path_join(dir, file);
  if (path == NULL)
    return skiff_error_set(err, ENOMEM, "write %s", file);
  return fs_write_string(path, value, err);
}

int cg_writef(skiff_error_t **err, const char *dir, const char *file, const char *fmt,
              ...)
{
  cleanup_free char *value = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&value, fmt, ap);
  va_end(ap);
  if (n < 0)
    return skiff_error_set(err, ENOMEM, "write %s", file);
  return cg_write(dir, file, value, err);
}

int cg_write_lines(const char *dir, const char *file, const char *value,
                   skiff_error_t **err)
{
  cleanup_free char *copy = strdup(value);
  if (copy == NULL)
    return skiff_error_set(err, ENOMEM, "write %s", file);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    if (cg_write(dir, file, line, err) < 0)
      return -1;
  return 0;
}

char *cg_read(const char *dir, const char *file, skiff_error_t **err)
{
  cleanup_free char *path = path_join(dir, file);
  if (path == NULL) {
    skiff_error_set(err, ENOMEM, "read %s", file);
    return NULL;
  }
  return fs_read_file(path, NULL, err);
}

int cg_parse_u64(const char *text, uint64_t *out)
{
  while (*text == ' ')
    text++;
  if (strncmp(text, "max", 3) == 0) {
    *out = UINT64_MAX;
    return 0;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || end == text || (*end != '\0' && *end != '\n' && *end != ' '))
    return -1;
  *out = v;
  return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out, skiff_error_t **err)
{
  cleanup_free char *text = cg_read(dir, file, err);
  if (text == NULL)
    return -1;
  if (cg_parse_u64(text, out) < 0)
    return skiff_error_invalid(err, "%s/%s: expected a number, got \"%.32s\"", dir,
                               file, text);
  return 0;
}

bool cg_file_exists(const char *dir, const char *file)
{
  cleanup_free char *path = path_join(dir, file);
  return path != NULL && access(path, F_OK) == 0;
}

bool cg_kv_lookup(const char *text, const char *key, uint64_t *out)
{
  size_t klen = strlen(key);
  for (const char *line = text; line && *line;) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
      return cg_parse_u64(line + klen + 1, out) == 0;
    line = strchr(line, '\n');
    if (line)
      line++;
  }
  return false;
}

static int pids_append(pid_t **pids, size_t *count, size_t *cap, pid_t pid)
{
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 32;
    pid_t *bigger = realloc(*pids, ncap * sizeof(pid_t));
    if (bigger == NULL)
      return -1;
    *pids = bigger;
    *cap = ncap;
  }
  (*pids)[(*count)++] = pid;
  return 0;
}

static int read_pids_into(const char *dir, pid_t **pids, size_t *count, size_t *cap,
                          skiff_error_t **err)
{
  cleanup_free char *text = cg_read(dir, "cgroup.procs", err);
  if (text == NULL)
    return -1;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    if (pids_append(pids, count, cap, (pid_t)atoi(line)) < 0)
      return skiff_error_set(err, ENOMEM, "read %s/cgroup.procs", dir);

  cleanup_dir DIR *d = opendir(dir);
  if (d == NULL)
    return skiff_error_errno(err, "open %s", dir);
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    cleanup_free char *sub = path_join(dir, de->d_name);
    if (sub == NULL)
      return skiff_error_set(err, ENOMEM, "read %s", dir);
    /* A sub-cgroup removed while we walk is not an error. */
    skiff_error_t *sub_err = NULL;
    if (read_pids_into(sub, pids, count, cap, &sub_err) == 0)
      continue;
    if (sub_err && sub_err->status == ENOENT) {
      skiff_error_free(&sub_err);
      continue;
    }
    if (err)
      *err = steal_pointer(&sub_err);
    skiff_error_free(&sub_err);
    return -1;
  }
  return 0;
}

int cg_read_pids_recursive(const char *dir, pid_t **pids, size_t *count,
                           skiff_error_t **err)
{
  pid_t *list = NULL;
  size_t n = 0, cap = 0;
  if (read_pids_into(dir, &list, &n, &cap, err) < 0) {
    free(list);
    return -1;
  }
  *pids = list;
  *count = n;
  return 0;
}

void cg_sleep_ms(unsigned ms)
{
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ------------------------------------------------------------------ */
/* The host's hierarchies                                              */
/* ------------------------------------------------------------------ */

static bool is_cgroup2(const char *path)
{
  struct statfs st;
  return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

static enum cgroup_layout detect_layout_uncached(void)
{
  if (is_cgroup2(CGROUP_ROOT))
    return CGROUP_LAYOUT_V2;
  if (is_cgroup2(CGROUP_UNIFIED))
    return CGROUP_LAYOUT_HYBRID;
  return CGROUP_LAYOUT_V1;
}

static enum cgroup_layout cached_layout;

static void detect_layout_once(void)
{
  cached_layout = detect_layout_uncached();
}

enum cgroup_layout cgroup_detect_layout(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, detect_layout_once);
  return cached_layout;
}

char **cg_split(const char *text, const char *sep)
{
  cleanup_free char *copy = strdup(text);
  size_t cap = 8, n = 0;
  char **v = calloc(cap, sizeof(char *));
  if (copy == NULL || v == NULL) {
    free(v);
    return NULL;
  }
  char *save = NULL;
  for (char *tok = strtok_r(copy, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
    if (n + 1 >= cap) {
      char **bigger = realloc(v, (cap *= 2) * sizeof(char *));
      if (bigger == NULL) {
        cleanup_strv char **drop = v;
        return NULL;
      }
      v = bigger;
    }
    if ((v[n] = strdup(tok)) == NULL) {
      cleanup_strv char **drop = v;
      return NULL;
    }
    v[++n] = NULL;
  }
  return v;
}

static int add_unified(struct cg_host *host, const char *mount, skiff_error_t **err)
{
  cleanup_free char *text = cg_read(mount, "cgroup.controllers", err);
  if (text == NULL)
    return -1;
  char **controllers = cg_split(text, " \n");
  struct cg_hierarchy *bigger =
      realloc(host->hier, (host->n_hier + 1) * sizeof(*bigger));
  char *copy = strdup(mount);
  if (bigger)
    host->hier = bigger;
  if (controllers == NULL || bigger == NULL || copy == NULL) {
    cleanup_strv char **drop = controllers;
    free(copy);
    return skiff_error_set(err, ENOMEM, "read %s/cgroup.controllers", mount);
  }
  host->hier[host->n_hier++] =
      (struct cg_hierarchy){.mount = copy, .controllers = controllers, .unified = true};
  return 0;
}

static int detect_host(struct cg_host *host, skiff_error_t **err)
{
  enum cgroup_layout layout = cgroup_detect_layout();
  cleanup_strv char **known = cg_v1_known_controllers(err);
  if (known == NULL)
    return -1;
  cleanup_free char *mountinfo = fs_read_file("/proc/self/mountinfo", NULL, err);
  if (mountinfo == NULL)
    return -1;
  if (cg_host_parse_mountinfo(mountinfo, known, layout, host, err) < 0)
    return -1;
  if (layout != CGROUP_LAYOUT_V1 &&
      add_unified(host, layout == CGROUP_LAYOUT_V2 ? CGROUP_ROOT : CGROUP_UNIFIED,
                  err) < 0) {
    cg_host_clear(host);
    return -1;
  }
  if (host->n_hier == 0)
    return skiff_error_set(err, ENOENT,
                           "no cgroup hierarchy is mounted under " CGROUP_ROOT);
  return 0;
}

const struct cg_host *cg_host_get(skiff_error_t **err)
{
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static struct cg_host host;
  static bool ready;
  pthread_mutex_lock(&lock);
  if (!ready && detect_host(&host, err) == 0)
    ready = true;
  pthread_mutex_unlock(&lock);
  return ready ? &host : NULL;
}

json_t *cgroup_features(void)
{
  const struct cg_host *host = cg_host_get(NULL);
  enum cgroup_layout layout = cgroup_detect_layout();
  bool rdma = false;
  for (size_t i = 0; host && i < host->n_hier; i++)
    rdma = rdma || cg_strv_contains(host->hier[i].controllers, "rdma");
  return json_pack("{s:b,s:b,s:b,s:b,s:b}", "v1", layout != CGROUP_LAYOUT_V2, "v2",
                   layout != CGROUP_LAYOUT_V1, "systemd", 0, "systemdUser", 0, "rdma",
                   rdma);
}

/* ------------------------------------------------------------------ */
/* linux.resources                                                     */
/* ------------------------------------------------------------------ */

enum field_type { F_I64, F_U64, F_BOOL };

/* A scalar field of a linux.resources section and where it lands in
 * struct cgroup_resources. zero_unset: 0 means "not set", as runc reads
 * these fields (Docker sends 0 for "no limit"). */
struct field {
  const char *key;
  enum field_type type;
  size_t offset;
  bool zero_unset;
};

#define FIELD(key, type, member, zero_unset)                                           \
  {                                                                                    \
    key, type, offsetof(struct cgroup_resources, member), zero_unset                   \
  }

static const struct field memory_fields[] = {
    FIELD("limit", F_I64, memory.limit, true),
    FIELD("reservation", F_I64, memory.reservation, true),
    FIELD("swap", F_I64, memory.swap, true),
    FIELD("kernel", F_I64, memory.kernel, true),
    FIELD("kernelTCP", F_I64, memory.kernel_tcp, true),
    FIELD("swappiness", F_U64, memory.swappiness, false),
    FIELD("disableOOMKiller", F_BOOL, memory.disable_oom_killer, false),
    FIELD("useHierarchy", F_BOOL, memory.use_hierarchy, false),
    FIELD("checkBeforeUpdate", F_BOOL, memory.check_before_update, false),
};
static const struct field cpu_fields[] = {
    FIELD("shares", F_U64, cpu.shares, true),
    FIELD("quota", F_I64, cpu.quota, true),
    FIELD("burst", F_U64, cpu.burst, false),
    FIELD("period", F_U64, cpu.period, true),
    FIELD("realtimeRuntime", F_I64, cpu.realtime_runtime, true),
    FIELD("realtimePeriod", F_U64, cpu.realtime_period, true),
    FIELD("idle", F_I64, cpu.idle, false),
};
static const struct field pids_fields[] = {FIELD("limit", F_I64, pids_limit, true)};
static const struct field blkio_fields[] = {
    FIELD("weight", F_U64, blkio.weight, true),
    FIELD("leafWeight", F_U64, blkio.leaf_weight, true),
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static bool present(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return v != NULL && !json_is_null(v);
}

static int parse_field(json_t *obj, const char *where, const struct field *f,
                       struct cgroup_resources *res, skiff_error_t **err)
{
  char *p = (char *)res + f->offset;
  if (!present(obj, f->key))
    return 0;
  if (f->type == F_I64) {
    struct cg_i64 *o = (struct cg_i64 *)p;
    if (jsonutil_opt_int64(obj, f->key, &o->v, where, err) < 0)
      return -1;
    o->set = !(f->zero_unset && o->v == 0);
  } else if (f->type == F_U64) {
    struct cg_u64 *o = (struct cg_u64 *)p;
    if (jsonutil_opt_uint64(obj, f->key, &o->v, where, err) < 0)
      return -1;
    o->set = !(f->zero_unset && o->v == 0);
  } else {
    struct cg_bool *o = (struct cg_bool *)p;
    if (jsonutil_opt_bool(obj, f->key, &o->v, where, err) < 0)
      return -1;
    o->set = true;
  }
  return 0;
}

static int parse_fields(json_t *obj, const char *where, const struct field *fields,
                        size_t n, struct cgroup_resources *res, skiff_error_t **err)
{
  for (size_t i = 0; i < n; i++)
    if (parse_field(obj, where, &fields[i], res, err) < 0)
      return -1;
  return 0;
}

static int req_int64(json_t *obj, const char *key, int64_t *out, const char *where,
                     skiff_error_t **err)
{
  if (!present(obj, key))
    return skiff_error_invalid(err, "%s.%s: missing", where, key);
  return jsonutil_opt_int64(obj, key, out, where, err);
}

static int req_uint64(json_t *obj, const char *key, uint64_t *out, const char *where,
                      skiff_error_t **err)
{
  if (!present(obj, key))
    return skiff_error_invalid(err, "%s.%s: missing", where, key);
  return jsonutil_opt_uint64(obj, key, out, where, err);
}

static int check_object(json_t *v, const char *where, skiff_error_t **err)
{
  if (!json_is_object(v))
    return skiff_error_invalid(err, "%s: expected object, got %s", where,
                               jsonutil_type_name(v));
  return 0;
}

static int check_max(uint64_t v, uint64_t max, const char *where, const char *key,
                     skiff_error_t **err)
{
  if (v > max)
    return skiff_error_invalid(
        err, "%s.%s: %" PRIu64 " is out of range (at most %" PRIu64 ")", where, key, v,
        max);
  return 0;
}

static int check_bytes(const struct cg_i64 *v, const char *key, skiff_error_t **err)
{
  if (v->set && v->v < -1)
    return skiff_error_invalid(err,
                               RES ".memory.%s: must be -1 (unlimited) or a number of "
                                   "bytes, got %" PRId64,
                               key, v->v);
  return 0;
}

static int validate_memory(const struct cg_memory *m, skiff_error_t **err)
{
  if (check_bytes(&m->limit, "limit", err) < 0 ||
      check_bytes(&m->reservation, "reservation", err) < 0 ||
      check_bytes(&m->swap, "swap", err) < 0 ||
      check_bytes(&m->kernel, "kernel", err) < 0 ||
      check_bytes(&m->kernel_tcp, "kernelTCP", err) < 0)
    return -1;
  if (m->swappiness.set &&
      check_max(m->swappiness.v, 100, RES ".memory", "swappiness", err))
    return -1;
  if (m->swap.set && m->limit.set && m->swap.v > 0 && m->limit.v > 0 &&
      m->swap.v < m->limit.v)
    return skiff_error_invalid(err,
                               RES ".memory.swap: memory+swap limit %" PRId64
                                   " is below memory.limit %" PRId64,
                               m->swap.v, m->limit.v);
  return 0;
}

static int validate_cpu(const struct cg_cpu *c, skiff_error_t **err)
{
  if (c->quota.set && c->quota.v < -1)
    return skiff_error_invalid(err,
                               RES ".cpu.quota: must be -1 (unlimited) or a number of "
                                   "microseconds, got %" PRId64,
                               c->quota.v);
  if (c->realtime_runtime.set && c->realtime_runtime.v < -1)
    return skiff_error_invalid(err,
                               RES ".cpu.realtimeRuntime: must be -1 (unlimited) or a "
                                   "number of microseconds, got %" PRId64,
                               c->realtime_runtime.v);
  if (c->idle.set && c->idle.v != 0 && c->idle.v != 1)
    return skiff_error_invalid(err, RES ".cpu.idle: must be 0 or 1, got %" PRId64,
                               c->idle.v);
  if (c->shares.set && check_max(c->shares.v, 262144, RES ".cpu", "shares", err) < 0)
    return -1;
  return 0;
}

/* cpuset lists are "0-3,8"; the kernel checks the CPUs exist. */
static int parse_cpuset_list(json_t *cpu, const char *key, char **out,
                             skiff_error_t **err)
{
  const char *text = NULL;
  if (jsonutil_opt_string(cpu, key, &text, RES ".cpu", err) < 0)
    return -1;
  if (text == NULL || *text == '\0')
    return 0;
  if (text[strspn(text, "0123456789,- ")] != '\0')
    return skiff_error_invalid(err, RES ".cpu.%s: \"%s\" is not a list like \"0-3,8\"",
                               key, text);
  *out = strdup(text);
  return *out ? 0 : skiff_error_set(err, ENOMEM, RES ".cpu.%s", key);
}

static int parse_cpu(json_t *cpu, struct cgroup_resources *res, skiff_error_t **err)
{
  if (parse_fields(cpu, RES ".cpu", cpu_fields, N_ELEMS(cpu_fields), res, err) < 0 ||
      parse_cpuset_list(cpu, "cpus", &res->cpu.cpus, err) < 0 ||
      parse_cpuset_list(cpu, "mems", &res->cpu.mems, err) < 0)
    return -1;
  return validate_cpu(&res->cpu, err);
}

static int check_blkio_weight(const char *where, const char *key, uint64_t v,
                              bool zero_ok, skiff_error_t **err)
{
  if ((v == 0 && zero_ok) || (v >= 10 && v <= 1000))
    return 0;
  return skiff_error_invalid(err, "%s.%s: must be between 10 and 1000, got %" PRIu64,
                             where, key, v);
}

static int parse_weight_device(json_t *item, const char *where,
                               struct cg_weight_device *wd, skiff_error_t **err)
{
  if (check_object(item, where, err) < 0 ||
      req_int64(item, "major", &wd->major, where, err) ||
      req_int64(item, "minor", &wd->minor, where, err) < 0)
    return -1;
  if (wd->major < 0 || wd->minor < 0)
    return skiff_error_invalid(err, "%s: major and minor must not be negative", where);
  wd->weight.set = present(item, "weight");
  wd->leaf_weight.set = present(item, "leafWeight");
  if (jsonutil_opt_uint64(item, "weight", &wd->weight.v, where, err) < 0 ||
      jsonutil_opt_uint64(item, "leafWeight", &wd->leaf_weight.v, where, err) < 0)
    return -1;
  /* 0 removes a device's weight on v1, so it is allowed here. */
  if ((wd->weight.set &&
       check_blkio_weight(where, "weight", wd->weight.v, true, err) < 0) ||
      (wd->leaf_weight.set &&
       check_blkio_weight(where, "leafWeight", wd->leaf_weight.v, true, err) < 0))
    return -1;
  return 0;
}

static int parse_throttle(json_t *item, const char *where, struct cg_throttle *t,
                          skiff_error_t **err)
{
  if (check_object(item, where, err) < 0 ||
      req_int64(item, "major", &t->major, where, err) ||
      req_int64(item, "minor", &t->minor, where, err) < 0 ||
      req_uint64(item, "rate", &t->rate, where, err) < 0)
    return -1;
  if (t->major < 0 || t->minor < 0)
    return skiff_error_invalid(err, "%s: major and minor must not be negative", where);
  return 0;
}

/* Allocate *items for the array at obj.key and call parse on each element
 * with its "where.key[i]". */
typedef int (*item_parser)(json_t *item, const char *where, void *out,
                           skiff_error_t **err);

static int parse_array(json_t *obj, const char *key, const char *where, size_t size,
                       item_parser parse, void **items, size_t *n, skiff_error_t **err)
{
  json_t *array = NULL;
  if (jsonutil_opt_array(obj, key, &array, where, err) < 0)
    return -1;
  size_t count = array ? json_array_size(array) : 0;
  if (count == 0)
    return 0;
  *items = calloc(count, size);
  if (*items == NULL)
    return skiff_error_set(err, ENOMEM, "%s.%s", where, key);
  *n = count; /* so that free() sees every element, parsed or not */
  for (size_t i = 0; i < count; i++) {
    char item_where[128];
    snprintf(item_where, sizeof item_where, "%s.%s[%zu]", where, key, i);
    if (parse(json_array_get(array, i), item_where, (char *)*items + i * size, err) < 0)
      return -1;
  }
  return 0;
}

static int parse_blkio(json_t *blkio, struct cgroup_resources *res, skiff_error_t **err)
{
  static const char *throttle_keys[4] = {
      "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
      "throttleWriteIOPSDevice"};
  const char *where = RES ".blockIO";
  struct cg_blkio *b = &res->blkio;
  if (parse_fields(blkio, where, blkio_fields, N_ELEMS(blkio_fields), res, err) < 0)
    return -1;
  if ((b->weight.set &&
       check_blkio_weight(where, "weight", b->weight.v, false, err) < 0) ||
      (b->leaf_weight.set &&
       check_blkio_weight(where, "leafWeight", b->leaf_weight.v, false, err) < 0))
    return -1;
  if (parse_array(blkio, "weightDevice", where, sizeof(struct cg_weight_device),
                  (item_parser)parse_weight_device, (void **)&b->weight_devices,
                  &b->n_weight_devices, err) < 0)
    return -1;
  for (int i = 0; i < 4; i++)
    if (parse_array(blkio, throttle_keys[i], where, sizeof(struct cg_throttle),
                    (item_parser)parse_throttle, (void **)&b->throttle[i].items,
                    &b->throttle[i].n, err) < 0)
      return -1;
  return 0;
}

static int parse_hugepage(json_t *item, const char *where, struct cg_hugepage *hp,
                          skiff_error_t **err)
{
  const char *size = NULL;
  if (check_object(item, where, err) < 0 ||
      jsonutil_req_string(item, "pageSize", &size, where, err) < 0 ||
      req_uint64(item, "limit", &hp->limit, where, err) < 0)
    return -1;
  size_t digits = strspn(size, "0123456789");
  static const char *units[] = {"KB", "MB", "GB", "TB", "PB"};
  bool unit_ok = false;
  for (size_t i = 0; i < N_ELEMS(units); i++)
    unit_ok = unit_ok || strcmp(size + digits, units[i]) == 0;
  if (digits == 0 || size[0] == '0' || !unit_ok)
    return skiff_error_invalid(
        err, "%s.pageSize: \"%s\" is not a size like \"2MB\" or \"1GB\"", where, size);
  hp->page_size = strdup(size);
  return hp->page_size ? 0 : skiff_error_set(err, ENOMEM, "%s", where);
}

static int parse_access(const char *access, char out[4], const char *where,
                        skiff_error_t **err)
{
  bool r = false, w = false, m = false, bad = *access == '\0';
  for (const char *c = access; *c; c++) {
    r = r || *c == 'r';
    w = w || *c == 'w';
    m = m || *c == 'm';
    bad = bad || strchr("rwm", *c) == NULL;
  }
  if (bad)
    return skiff_error_invalid(
        err, "%s.access: must be a combination of r, w and m, got \"%s\"", where,
        access);
  snprintf(out, 4, "%s%s%s", r ? "r" : "", w ? "w" : "", m ? "m" : "");
  return 0;
}

static int parse_device(json_t *item, const char *where, struct cg_device_rule *rule,
                        skiff_error_t **err)
{
  const char *type = "a", *access = "rwm";
  rule->major = rule->minor = -1;
  if (check_object(item, where, err) < 0)
    return -1;
  if (!present(item, "allow"))
    return skiff_error_invalid(err, "%s.allow: missing", where);
  if (jsonutil_opt_bool(item, "allow", &rule->allow, where, err) < 0 ||
      jsonutil_opt_string(item, "type", &type, where, err) < 0 ||
      jsonutil_opt_int64(item, "major", &rule->major, where, err) < 0 ||
      jsonutil_opt_int64(item, "minor", &rule->minor, where, err) < 0 ||
      jsonutil_opt_string(item, "access", &access, where, err) < 0)
    return -1;
  if (strlen(type) != 1 || strchr("abc", type[0]) == NULL)
    return skiff_error_invalid(
        err, "%s.type: must be \"a\", \"b\" or \"c\", got \"%s\"", where, type);
  rule->type = type[0];
  if (rule->major < -1 || rule->major > UINT32_MAX)
    return skiff_error_invalid(
        err, "%s.major: %" PRId64 " is not a device major number", where, rule->major);
  if (rule->minor < -1 || rule->minor > UINT32_MAX)
    return skiff_error_invalid(
        err, "%s.minor: %" PRId64 " is not a device minor number", where, rule->minor);
  return parse_access(access, rule->access, where, err);
}

static bool is_plain_name(const char *s)
{
  return *s != '\0' && s[strcspn(s, " \t\n/")] == '\0';
}

static int parse_ifprio(json_t *item, const char *where, struct cg_ifprio *p,
                        skiff_error_t **err)
{
  const char *name = NULL;
  uint64_t prio = 0;
  if (check_object(item, where, err) < 0 ||
      jsonutil_req_string(item, "name", &name, where, err) < 0 ||
      req_uint64(item, "priority", &prio, where, err) < 0 ||
      check_max(prio, UINT32_MAX, where, "priority", err) < 0)
    return -1;
  if (!is_plain_name(name))
    return skiff_error_invalid(err, "%s.name: \"%s\" is not an interface name", where,
                               name);
  p->priority = (uint32_t)prio;
  p->name = strdup(name);
  return p->name ? 0 : skiff_error_set(err, ENOMEM, "%s", where);
}

static int parse_network(json_t *net, struct cgroup_resources *res, skiff_error_t **err)
{
  const char *where = RES ".network";
  uint64_t class_id = 0;
  res->net_class_id.set = present(net, "classID");
  if (jsonutil_opt_uint64(net, "classID", &class_id, where, err) < 0 ||
      check_max(class_id, UINT32_MAX, where, "classID", err) < 0)
    return -1;
  res->net_class_id.v = class_id;
  return parse_array(net, "priorities", where, sizeof(struct cg_ifprio),
                     (item_parser)parse_ifprio, (void **)&res->net_priorities,
                     &res->n_net_priorities, err);
}

static int parse_rdma_entry(const char *device, json_t *limits, struct cg_rdma *r,
                            skiff_error_t **err)
{
  char where[128];
  snprintf(where, sizeof where, RES ".rdma.%s", device);
  if (!is_plain_name(device))
    return skiff_error_invalid(err, "%s: \"%s\" is not an RDMA device name",
                               RES ".rdma", device);
  r->device = strdup(device);
  if (r->device == NULL)
    return skiff_error_set(err, ENOMEM, "%s", where);
  r->hca_handles.set = present(limits, "hcaHandles");
  r->hca_objects.set = present(limits, "hcaObjects");
  if (check_object(limits, where, err) < 0 ||
      jsonutil_opt_uint64(limits, "hcaHandles", &r->hca_handles.v, where, err) < 0 ||
      jsonutil_opt_uint64(limits, "hcaObjects", &r->hca_objects.v, where, err) < 0 ||
      check_max(r->hca_handles.v, UINT32_MAX, where, "hcaHandles", err) < 0 ||
      check_max(r->hca_objects.v, UINT32_MAX, where, "hcaObjects", err) < 0)
    return -1;
  return 0;
}

static int parse_rdma(json_t *rdma, struct cgroup_resources *res, skiff_error_t **err)
{
  size_t n = json_object_size(rdma);
  if (n == 0)
    return 0;
  res->rdma = calloc(n, sizeof(struct cg_rdma));
  if (res->rdma == NULL)
    return skiff_error_set(err, ENOMEM, RES ".rdma");
  const char *device;
  json_t *limits;
  json_object_foreach(rdma, device, limits)
  {
    if (parse_rdma_entry(device, limits, &res->rdma[res->n_rdma++], err) < 0)
      return -1;
  }
  return 0;
}

/* A unified key names one file of the cgroup's own directory:
 * "controller.file", no slashes, nothing hidden; and not one of the files
 * through which the runtime itself moves, freezes or kills processes (a
 * config must not move a host PID into the container's cgroup). */
static int check_unified_key(const char *key, skiff_error_t **err)
{
  static const char *runtime_owned[] = {"cgroup.procs", "cgroup.threads", "cgroup.kill",
                                        "cgroup.freeze", "cgroup.type"};
  const char *dot = strchr(key, '.');
  if (strchr(key, '/') || key[0] == '.' || dot == NULL || dot[1] == '\0')
    return skiff_error_invalid(err,
                               RES
                               ".unified: key \"%s\" is not a cgroup file name like "
                               "\"memory.high\"",
                               key);
  for (size_t i = 0; i < N_ELEMS(runtime_owned); i++)
    if (strcmp(key, runtime_owned[i]) == 0)
      return skiff_error_invalid(err, RES ".unified.%s: managed by the runtime", key);
  return 0;
}

static int parse_unified(json_t *unified, struct cgroup_resources *res,
                         skiff_error_t **err)
{
  size_t n = json_object_size(unified);
  if (n == 0)
    return 0;
  res->unified = calloc(n, sizeof(struct cg_kv));
  if (res->unified == NULL)
    return skiff_error_set(err, ENOMEM, RES ".unified");
  const char *key;
  json_t *value;
  json_object_foreach(unified, key, value)
  {
    if (check_unified_key(key, err) < 0)
      return -1;
    if (!json_is_string(value))
      return skiff_error_invalid(err, RES ".unified.%s: expected string, got %s", key,
                                 jsonutil_type_name(value));
    struct cg_kv *kv = &res->unified[res->n_unified++];
    kv->key = strdup(key);
    kv->value = strdup(json_string_value(value));
    if (kv->key == NULL || kv->value == NULL)
      return skiff_error_set(err, ENOMEM, RES ".unified.%s", key);
  }
  return 0;
}

static int parse_sections(json_t *resources, struct cgroup_resources *res,
                          skiff_error_t **err)
{
  json_t *memory = NULL, *cpu = NULL, *pids = NULL, *blkio = NULL, *net = NULL;
  json_t *rdma = NULL, *unified = NULL;
  if (jsonutil_opt_object(resources, "memory", &memory, RES, err) < 0 ||
      jsonutil_opt_object(resources, "cpu", &cpu, RES, err) < 0 ||
      jsonutil_opt_object(resources, "pids", &pids, RES, err) < 0 ||
      jsonutil_opt_object(resources, "blockIO", &blkio, RES, err) < 0 ||
      jsonutil_opt_object(resources, "network", &net, RES, err) < 0 ||
      jsonutil_opt_object(resources, "rdma", &rdma, RES, err) < 0 ||
      jsonutil_opt_object(resources, "unified", &unified, RES, err) < 0)
    return -1;
  res->has_memory = memory != NULL;
  res->has_cpu = cpu != NULL;
  res->has_pids = pids != NULL;
  res->has_network = net != NULL;
  if ((memory && (parse_fields(memory, RES ".memory", memory_fields,
                               N_ELEMS(memory_fields), res, err) < 0 ||
                  validate_memory(&res->memory, err) < 0)) ||
      (cpu && parse_cpu(cpu, res, err) < 0) ||
      (pids && parse_fields(pids, RES ".pids", pids_fields, 1, res, err) < 0) ||
      (blkio && parse_blkio(blkio, res, err) < 0) ||
      (net && parse_network(net, res, err) < 0) ||
      (rdma && parse_rdma(rdma, res, err) < 0) ||
      (unified && parse_unified(unified, res, err) < 0))
    return -1;
  /* An empty blockIO object must not require the controller. */
  struct cg_blkio *b = &res->blkio;
  res->has_blkio = b->weight.set || b->leaf_weight.set || b->n_weight_devices ||
                   b->throttle[0].n || b->throttle[1].n || b->throttle[2].n ||
                   b->throttle[3].n;
  if (parse_array(resources, "hugepageLimits", RES, sizeof(struct cg_hugepage),
                  (item_parser)parse_hugepage, (void **)&res->hugepages,
                  &res->n_hugepages, err) < 0)
    return -1;
  return parse_array(resources, "devices", RES, sizeof(struct cg_device_rule),
                     (item_parser)parse_device, (void **)&res->devices, &res->n_devices,
                     err);
}

int cgroup_resources_parse(json_t *resources, struct cgroup_resources **out,
                           skiff_error_t **err)
{
  struct cgroup_resources *res = calloc(1, sizeof(*res));
  if (res == NULL)
    return skiff_error_set(err, ENOMEM, RES);
  if (resources != NULL && !json_is_null(resources) &&
      (check_object(resources, RES, err) < 0 ||
       parse_sections(resources, res, err) < 0)) {
    cgroup_resources_free(res);
    return -1;
  }
  *out = res;
  return 0;
}

void cgroup_resources_free(struct cgroup_resources *res)
{
  if (res == NULL)
    return;
  free(res->cpu.cpus);
  free(res->cpu.mems);
  free(res->blkio.weight_devices);
  for (int i = 0; i < 4; i++)
    free(res->blkio.throttle[i].items);
  for (size_t i = 0; i < res->n_hugepages; i++)
    free(res->hugepages[i].page_size);
  free(res->hugepages);
  free(res->devices);
  for (size_t i = 0; i < res->n_net_priorities; i++)
    free(res->net_priorities[i].name);
  free(res->net_priorities);
  for (size_t i = 0; i < res->n_rdma; i++)
    free(res->rdma[i].device);
  free(res->rdma);
  for (size_t i = 0; i < res->n_unified; i++) {
    free(res->unified[i].key);
    free(res->unified[i].value);
  }
  free(res->unified);
  free(res);
}

/* What every container may use whatever its rules say (runc's and crun's
 * list): mknod of any node, the standard character devices, ptys, tun. */
const struct cg_device_rule cg_default_devices[] = {
    {true, 'c', -1, -1, "m"},    {true, 'b', -1, -1, "m"}, {true, 'c', 1, 3, "rwm"},
    {true, 'c', 1, 8, "rwm"},    {true, 'c', 1, 7, "rwm"}, {true, 'c', 5, 0, "rwm"},
    {true, 'c', 1, 5, "rwm"},    {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 1, "rwm"},
    {true, 'c', 136, -1, "rwm"}, {true, 'c', 5, 2, "rwm"}, {true, 'c', 10, 200, "rwm"},
};
const size_t cg_n_default_devices = N_ELEMS(cg_default_devices);

/* ------------------------------------------------------------------ */
/* cgroupsPath                                                         */
/* ------------------------------------------------------------------ */

/* "/a//b/./c" -> "/a/b/c". ".." is refused: a cgroupsPath must not climb
 * out of the hierarchy roots, and "/" itself is not a container's. */
static char *normalize_path(const char *path, skiff_error_t **err)
{
  cleanup_strv char **parts = cg_split(path, "/");
  cleanup_free char *out = calloc(1, strlen(path) + 2);
  if (parts == NULL || out == NULL) {
    skiff_error_set(err, ENOMEM, "cgroupsPath %s", path);
    return NULL;
  }
  for (char **p = parts; *p; p++) {
    if (strcmp(*p, ".") == 0)
      continue;
    if (strcmp(*p, "..") == 0) {
      skiff_error_invalid(err, "cgroupsPath \"%s\": \"..\" is not allowed", path);
      return NULL;
    }
    strcat(strcat(out, "/"), *p);
  }
  if (*out == '\0') {
    skiff_error_invalid(err, "cgroupsPath \"%s\": must name a cgroup below the root",
                        path);
    return NULL;
  }
  return steal_pointer(&out);
}

/* systemd nests slice "a-b-c.slice" as a.slice/a-b.slice/a-b-c.slice, and
 * "-.slice" is the root; *out gets "/a.slice/a-b.slice/a-b-c.slice". */
static int expand_slice(const char *slice, char **out, skiff_error_t **err)
{
  size_t len = strlen(slice);
  if (strcmp(slice, "-.slice") == 0)
    return (*out = strdup("")) ? 0 : skiff_error_set(err, ENOMEM, "%s", slice);
  if (len <= 6 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/') ||
      slice[0] == '-' || slice[len - 7] == '-' || strstr(slice, "--"))
    return skiff_error_invalid(err, "cgroupsPath: \"%s\" is not a systemd slice name",
                               slice);
  cleanup_free char *expanded = calloc(1, len * len + 1);
  if (expanded == NULL)
    return skiff_error_set(err, ENOMEM, "%s", slice);
  for (size_t i = 0; i < len - 6; i++)
    if (slice[i] == '-')
      sprintf(expanded + strlen(expanded), "/%.*s.slice", (int)i, slice);
  strcat(strcat(expanded, "/"), slice);
  *out = steal_pointer(&expanded);
  return 0;
}

/* "slice:prefix:name", split in place; an empty slice keeps the default. */
static int split_systemd(char *copy, const char *given, char **slice, char **prefix,
                         char **name, skiff_error_t **err)
{
  char *c1 = strchr(copy, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (c2 == NULL || strchr(c2 + 1, ':'))
    return skiff_error_invalid(
        err,
        "cgroupsPath \"%s\": expected \"slice:prefix:name\" with "
        "the systemd cgroup driver",
        given);
  *c1 = *c2 = '\0';
  if (*copy)
    *slice = copy;
  *prefix = c1 + 1;
  *name = c2 + 1;
  if (**name == '\0' || strchr(*name, '/') || strchr(*prefix, '/'))
    return skiff_error_invalid(err, "cgroupsPath \"%s\": bad unit name", given);
  return 0;
}

/* "slice:prefix:name" -> "/<expanded slice>/prefix-name.scope", the path
 * systemd would give the unit (we write cgroupfs ourselves). */
static char *systemd_path(const char *cgroups_path, const char *id, skiff_error_t **err)
{
  cleanup_free char *copy = strdup(cgroups_path ? cgroups_path : "");
  cleanup_free char *expanded = NULL;
  char *slice = "system.slice", *prefix = "skiff", *name = (char *)id, *out = NULL;
  if (copy == NULL) {
    skiff_error_set(err, ENOMEM, "cgroupsPath");
    return NULL;
  }
  if ((*copy && split_systemd(copy, cgroups_path, &slice, &prefix, &name, err) < 0) ||
      expand_slice(slice, &expanded, err) < 0)
    return NULL;
  size_t nlen = strlen(name);
  bool is_slice = nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0;
  int n = is_slice ? asprintf(&out, "%s/%s", expanded, name)
                   : asprintf(&out, "%s/%s%s%s.scope", expanded, prefix,
                              *prefix ? "-" : "", name);
  if (n < 0) {
    skiff_error_set(err, ENOMEM, "cgroupsPath");
    return NULL;
  }
  return out;
}

char *cgroup_path_for(const char *cgroups_path, const char *id, bool systemd,
                      skiff_error_t **err)
{
  if (id == NULL || *id == '\0' || strchr(id, '/') || strcmp(id, ".") == 0 ||
      strcmp(id, "..") == 0) {
    skiff_error_invalid(err, "container id \"%s\" cannot name a cgroup", id ? id : "");
    return NULL;
  }
  if (systemd)
    return systemd_path(cgroups_path, id, err);
  cleanup_free char *joined = NULL;
  int n = 0;
  if (cgroups_path == NULL || *cgroups_path == '\0')
    n = asprintf(&joined, "/skiff/%s", id);
  else if (cgroups_path[0] == '/')
    joined = strdup(cgroups_path);
  else
    n = asprintf(&joined, "/skiff/%s", cgroups_path);
  if (n < 0 || joined == NULL) {
    skiff_error_set(err, ENOMEM, "cgroupsPath");
    return NULL;
  }
  return normalize_path(joined, err);
}

/* ------------------------------------------------------------------ */
/* Opened cgroups                                                      */
/* ------------------------------------------------------------------ */

void cgroup_free(struct cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n_dirs; i++)
    free(cg->dirs[i].path);
  free(cg->dirs);
  free(cg->path);
  free(cg);
}

static void cleanup_cgroup_fn(struct cgroup **cg)
{
  cgroup_free(*cg);
}
#define cleanup_cgroup __attribute__((cleanup(cleanup_cgroup_fn)))

/* The cgroup at path on every hierarchy of the host (directories may not
 * exist yet). */
static struct cgroup *cgroup_new(const char *path, skiff_error_t **err)
{
  if (path == NULL || path[0] != '/') {
    skiff_error_invalid(err, "cgroup path \"%s\" is not absolute", path ? path : "");
    return NULL;
  }
  const struct cg_host *host = cg_host_get(err);
  if (host == NULL)
    return NULL;
  cleanup_cgroup struct cgroup *cg = calloc(1, sizeof(*cg));
  if (cg == NULL || (cg->dirs = calloc(host->n_hier, sizeof(struct cg_dir))) == NULL) {
    skiff_error_set(err, ENOMEM, "cgroup %s", path);
    return NULL;
  }
  cg->host = host;
  if ((cg->path = normalize_path(path, err)) == NULL)
    return NULL;
  for (size_t i = 0; i < host->n_hier; i++, cg->n_dirs++) {
    cg->dirs[i].h = &host->hier[i];
    if (asprintf(&cg->dirs[i].path, "%s%s", host->hier[i].mount, cg->path) < 0) {
      skiff_error_set(err, ENOMEM, "cgroup %s", path);
      return NULL;
    }
  }
  return steal_pointer(&cg);
}

const char *cg_dir_for(const struct cgroup *cg, const char *controller)
{
  const struct cg_dir *unified = NULL;
  for (size_t i = 0; i < cg->n_dirs; i++) {
    if (cg->dirs[i].h->unified)
      unified = &cg->dirs[i];
    else if (cg_strv_contains(cg->dirs[i].h->controllers, controller))
      return cg->dirs[i].path;
  }
  if (unified == NULL)
    return NULL;
  if (cg->host->layout == CGROUP_LAYOUT_V2 ||
      cg_strv_contains(unified->h->controllers, controller))
    return unified->path;
  return NULL;
}

const char *cg_unified_dir(const struct cgroup *cg)
{
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (cg->dirs[i].h->unified)
      return cg->dirs[i].path;
  return NULL;
}

/* Directories made by cgroup_create, in creation order, for the undo. */
struct made_dirs {
  char **paths;
  size_t n;
};

static void made_dirs_undo(struct made_dirs *made, bool remove)
{
  for (size_t i = made->n; i-- > 0;) {
    if (remove)
      rmdir(made->paths[i]);
    free(made->paths[i]);
  }
  free(made->paths);
  *made = (struct made_dirs){0};
}

static int mkdir_tracked(const char *path, struct made_dirs *made, skiff_error_t **err)
{
  if (mkdir(path, 0755) < 0)
    return errno == EEXIST ? 0 : skiff_error_errno(err, "mkdir %s", path);
  char **bigger = realloc(made->paths, (made->n + 1) * sizeof(char *));
  char *copy = strdup(path);
  if (bigger)
    made->paths = bigger;
  if (bigger == NULL || copy == NULL) {
    rmdir(path);
    free(copy);
    return skiff_error_set(err, ENOMEM, "mkdir %s", path);
  }
  made->paths[made->n++] = copy;
  return 0;
}

/* mkdir -p of one hierarchy's directory, a level at a time: a new v1
 * cpuset level has no CPUs or memory nodes and no task can join below it
 * until they are copied from its parent. */
static int make_dir(const struct cg_dir *d, struct made_dirs *made, skiff_error_t **err)
{
  bool cpuset = !d->h->unified && cg_strv_contains(d->h->controllers, "cpuset");
  size_t mount_len = strlen(d->h->mount);
  cleanup_free char *level = strdup(d->path);
  if (level == NULL)
    return skiff_error_set(err, ENOMEM, "mkdir %s", d->path);
  for (char *p = level + mount_len + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char saved = *p;
    *p = '\0';
    if (mkdir_tracked(level, made, err) < 0 ||
        (cpuset && cg_v1_cpuset_init(level, err) < 0))
      return -1;
    if (saved == '\0')
      return 0;
    *p = saved;
  }
}

/* On hybrid hosts the unified tree carries controllers v1 lacks (here:
 * hugetlb). Enable hugetlb in it only when limits ask for it. */
static bool hybrid_needs_unified_hugetlb(const struct cgroup *cg,
                                         const struct cgroup_resources *res)
{
  if (cg->host->layout != CGROUP_LAYOUT_HYBRID || res == NULL || res->n_hugepages == 0)
    return false;
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (!cg->dirs[i].h->unified &&
        cg_strv_contains(cg->dirs[i].h->controllers, "hugetlb"))
      return false;
  return cg_dir_for(cg, "hugetlb") != NULL;
}

static void enable_controllers(const struct cgroup *cg,
                               const struct cgroup_resources *res)
{
  static char *hugetlb[] = {"hugetlb", NULL};
  for (size_t i = 0; i < cg->n_dirs; i++) {
    const struct cg_hierarchy *h = cg->dirs[i].h;
    if (h->unified && cg->host->layout == CGROUP_LAYOUT_V2)
      cg_v2_enable_controllers(h->mount, cg->path, NULL);
    else if (h->unified && hybrid_needs_unified_hugetlb(cg, res))
      cg_v2_enable_controllers(h->mount, cg->path, hugetlb);
  }
}

static int apply(const struct cgroup *cg, const struct cgroup_resources *res,
                 skiff_error_t **err)
{
  if (res == NULL)
    return 0;
  if (cg->host->layout == CGROUP_LAYOUT_V2)
    return cg_v2_apply(cg_unified_dir(cg), res, err);
  return cg_v1_apply(cg, res, err);
}

/* The path of pid's cgroup on hierarchy h, from /proc/PID/cgroup text
 * ("id:controllers:path" lines; "0::path" is the unified one). */
static const char *origin_of(char *text, const struct cg_hierarchy *h, size_t *len)
{
  for (char *line = text; line && *line;
       line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    char *end = c2 ? strchrnul(c2, '\n') : NULL;
    if (c2 == NULL)
      return NULL;
    cleanup_free char *controllers = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
    cleanup_strv char **list = controllers ? cg_split(controllers, ",") : NULL;
    bool match = h->unified ? c2 == c1 + 1
                            : list && h->controllers[0] &&
                                  cg_strv_contains(list, h->controllers[0]);
    if (match) {
      *len = (size_t)(end - c2 - 1);
      return c2 + 1;
    }
  }
  return NULL;
}

/* Put pid back where it was on the first n hierarchies (undo of a partial
 * join), best effort. */
static void join_undo(const struct cgroup *cg, size_t n, pid_t pid, char *origin)
{
  for (size_t i = 0; origin && i < n; i++) {
    size_t len = 0;
    const char *path = origin_of(origin, cg->dirs[i].h, &len);
    cleanup_free char *dir = NULL;
    if (path && asprintf(&dir, "%s%.*s", cg->dirs[i].h->mount, (int)len, path) >= 0)
      cg_writef(NULL, dir, "cgroup.procs", "%d", (int)pid);
  }
}

static int join_all(const struct cgroup *cg, pid_t pid, skiff_error_t **err)
{
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
  cleanup_free char *origin = fs_read_file(proc, NULL, NULL);
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (cg_writef(err, cg->dirs[i].path, "cgroup.procs", "%d", (int)pid) < 0) {
      join_undo(cg, i, pid, origin);
      return -1;
    }
  return 0;
}

struct cgroup *cgroup_create(const char *path, const struct cgroup_resources *res,
                             pid_t pid, skiff_error_t **err)
{
  cleanup_cgroup struct cgroup *cg = cgroup_new(path, err);
  if (cg == NULL)
    return NULL;
  struct made_dirs made = {0};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < cg->n_dirs; i++)
    rc = make_dir(&cg->dirs[i], &made, err);
  if (rc == 0)
    enable_controllers(cg, res);
  if (rc == 0)
    rc = apply(cg, res, err);
  if (rc == 0 && pid > 0)
    rc = join_all(cg, pid, err);
  made_dirs_undo(&made, rc < 0);
  return rc < 0 ? NULL : steal_pointer(&cg);
}

struct cgroup *cgroup_open(const char *path, skiff_error_t **err)
{
  cleanup_cgroup struct cgroup *cg = cgroup_new(path, err);
  if (cg == NULL)
    return NULL;
  /* Keep the hierarchies where the cgroup exists: one mounted after the
   * container started has no directory for it. */
  size_t kept = 0;
  for (size_t i = 0; i < cg->n_dirs; i++) {
    struct stat st;
    if (stat(cg->dirs[i].path, &st) == 0 && S_ISDIR(st.st_mode))
      cg->dirs[kept++] = cg->dirs[i];
    else
      free(cg->dirs[i].path);
  }
  cg->n_dirs = kept;
  if (kept == 0) {
    skiff_error_set(err, ENOENT, "cgroup %s", cg->path);
    return NULL;
  }
  return steal_pointer(&cg);
}

int cgroup_enter(struct cgroup *cg, pid_t pid, skiff_error_t **err)
{
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (cg_writef(err, cg->dirs[i].path, "cgroup.procs", "%d", (int)pid) < 0)
      return -1;
  return 0;
}

int cgroup_update(struct cgroup *cg, const struct cgroup_resources *res,
                  skiff_error_t **err)
{
  if (hybrid_needs_unified_hugetlb(cg, res))
    enable_controllers(cg, res);
  return apply(cg, res, err);
}

/* Where to freeze: v1's freezer; on a hybrid host without one, the
 * unified tree's cgroup.freeze (a core file, no controller needed). */
static const char *freezer_dir(const struct cgroup *cg, bool *v2)
{
  const char *dir = NULL;
  *v2 = cg->host->layout == CGROUP_LAYOUT_V2;
  if (!*v2 && (dir = cg_dir_for(cg, "freezer")) != NULL)
    return dir;
  *v2 = true;
  return cg_unified_dir(cg);
}

int cgroup_set_frozen(struct cgroup *cg, bool frozen, skiff_error_t **err)
{
  bool v2 = false;
  const char *dir = freezer_dir(cg, &v2);
  if (dir == NULL)
    return skiff_error_set(
        err, ENOTSUP, "cgroup %s: the freezer controller is not mounted", cg->path);
  return v2 ? cg_v2_set_frozen(dir, frozen, err) : cg_v1_set_frozen(dir, frozen, err);
}

int cgroup_is_frozen(struct cgroup *cg, bool *frozen, skiff_error_t **err)
{
  bool v2 = false;
  const char *dir = freezer_dir(cg, &v2);
  if (dir == NULL) {
    *frozen = false;
    return 0;
  }
  return v2 ? cg_v2_is_frozen(dir, frozen, err) : cg_v1_is_frozen(dir, frozen, err);
}

int cgroup_list_pids(struct cgroup *cg, pid_t **pids, size_t *count,
                     skiff_error_t **err)
{
  static const char *order[] = {"freezer", "memory", "pids", "cpu"};
  const char *dir = cg->host->layout == CGROUP_LAYOUT_V2 ? cg_unified_dir(cg) : NULL;
  for (size_t i = 0; dir == NULL && i < N_ELEMS(order); i++)
    dir = cg_dir_for(cg, order[i]);
  if (dir == NULL)
    dir = cg->dirs[0].path;
  return cg_read_pids_recursive(dir, pids, count, err);
}

static int signal_pids(struct cgroup *cg, int sig, skiff_error_t **err)
{
  pid_t *pids = NULL;
  size_t n = 0;
  if (cgroup_list_pids(cg, &pids, &n, err) < 0)
    return -1;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    if (kill(pids[i], sig) < 0 && errno != ESRCH)
      rc = skiff_error_errno(err, "kill %d (cgroup %s)", (int)pids[i], cg->path);
  free(pids);
  return rc;
}

int cgroup_kill_all(struct cgroup *cg, int sig, skiff_error_t **err)
{
  /* cgroup.kill (Linux 5.14) kills the whole tree at once, also in the
   * unified half of a hybrid host, where the container's processes live
   * too. */
  const char *unified = cg_unified_dir(cg);
  if (sig == SIGKILL && unified) {
    int done = cg_v2_kill(unified, err);
    if (done != 0)
      return done < 0 ? -1 : 0;
  }
  /* Freeze so that no process forks a child past the loop; without a
   * freezer, signal anyway. */
  skiff_error_t *freeze_err = NULL;
  bool frozen = cgroup_set_frozen(cg, true, &freeze_err) == 0;
  skiff_error_free(&freeze_err);
  int rc = signal_pids(cg, sig, err);
  if (frozen && cgroup_set_frozen(cg, false, rc < 0 ? NULL : err) < 0)
    rc = -1;
  return rc;
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rmdir a cgroup and its sub-cgroups (a container may make its own),
 * retrying EBUSY until deadline while exiting processes leave. */
static int remove_tree(const char *path, long long deadline, skiff_error_t **err)
{
  cleanup_dir DIR *d = opendir(path);
  if (d == NULL)
    return errno == ENOENT ? 0 : skiff_error_errno(err, "open %s", path);
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    cleanup_free char *sub = path_join(path, de->d_name);
    if (sub == NULL)
      return skiff_error_set(err, ENOMEM, "rmdir %s", path);
    if (remove_tree(sub, deadline, err) < 0)
      return -1;
  }
  while (rmdir(path) < 0) {
    if (errno == ENOENT)
      return 0;
    if (errno != EBUSY || now_ms() >= deadline)
      return skiff_error_errno(err, "rmdir %s", path);
    cg_sleep_ms(10);
  }
  return 0;
}

int cgroup_destroy(struct cgroup *cg, skiff_error_t **err)
{
  long long deadline = now_ms() + 2000;
  int rc = 0;
  for (size_t i = 0; i < cg->n_dirs; i++) {
    skiff_error_t *one = NULL;
    if (remove_tree(cg->dirs[i].path, deadline, &one) == 0)
      continue;
    if (rc == 0 && err)
      *err = steal_pointer(&one);
    skiff_error_free(&one);
    rc = -1;
  }
  return rc;
}

json_t *cgroup_stats(struct cgroup *cg, skiff_error_t **err)
{
  cleanup_json json_t *stats = json_object();
  if (stats == NULL) {
    skiff_error_set(err, ENOMEM, "cgroup %s stats", cg->path);
    return NULL;
  }
  int rc = cg->host->layout == CGROUP_LAYOUT_V2
               ? cg_v2_stats(cg_unified_dir(cg), stats, err)
               : cg_v1_stats(cg, stats, err);
  if (rc < 0)
    return NULL;
  return steal_pointer(&stats);
}

int cgroup_mount_in_container(struct cgroup *cg, int dest_fd, bool readonly,
                              skiff_error_t **err)
{
  if (cg->host->layout == CGROUP_LAYOUT_V2)
    return cg_v2_mount(cg, dest_fd, readonly, err);
  return cg_v1_mount(cg, dest_fd, readonly, err);
}
