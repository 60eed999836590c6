#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "hooks.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

void spec_warn(char **warnings, const char *fmt, ...)
{
  if (warnings == NULL)
    return;
  char *line = NULL, *joined = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (asprintf(&joined, "%s%s%s", *warnings ? *warnings : "", *warnings ? "\n" : "",
               line) >= 0) {
    free(*warnings);
    *warnings = joined;
  }
  free(line);
}

static const struct {
  const char *type;
  int flag;
  const char *proc;
} namespace_types[] = {
    {"pid", CLONE_NEWPID, "pid"},          {"network", CLONE_NEWNET, "net"},
    {"mount", CLONE_NEWNS, "mnt"},         {"ipc", CLONE_NEWIPC, "ipc"},
    {"uts", CLONE_NEWUTS, "uts"},          {"user", CLONE_NEWUSER, "user"},
    {"cgroup", CLONE_NEWCGROUP, "cgroup"}, {"time", CLONE_NEWTIME, "time"},
};

int spec_namespace_flag(const char *type)
{
  for (size_t i = 0; i < sizeof namespace_types / sizeof namespace_types[0]; i++)
    if (strcmp(type, namespace_types[i].type) == 0)
      return namespace_types[i].flag;
  return 0;
}

const char *spec_namespace_proc_name(int flag)
{
  for (size_t i = 0; i < sizeof namespace_types / sizeof namespace_types[0]; i++)
    if (namespace_types[i].flag == flag)
      return namespace_types[i].proc;
  return NULL;
}

const struct spec_namespace *spec_namespace_find(const struct spec *spec, int flag)
{
  for (size_t i = 0; i < spec->nnamespaces; i++)
    if (spec->namespaces[i].flag == flag)
      return &spec->namespaces[i];
  return NULL;
}

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int parse_rlimits(json_t *array, struct spec_process *p, const char *where,
                         skiff_error_t **err)
{
  size_t n = json_array_size(array);
  p->rlimits = calloc(n ? n : 1, sizeof *p->rlimits);
  if (p->rlimits == NULL)
    return skiff_error_set(err, ENOMEM, "%s.rlimits", where);
  for (size_t i = 0; i < n; i++) {
    char at[64];
    snprintf(at, sizeof at, "%s.rlimits[%zu]", where, i);
    json_t *item = json_array_get(array, i);
    const char *type = NULL;
    uint64_t soft = 0, hard = 0;
    if (jsonutil_req_string(item, "type", &type, at, err) < 0 ||
        jsonutil_opt_uint64(item, "soft", &soft, at, err) < 0 ||
        jsonutil_opt_uint64(item, "hard", &hard, at, err) < 0)
      return -1;
    int resource = -1;
    for (size_t k = 0; k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
      if (strcmp(type, rlimit_names[k].name) == 0)
        resource = rlimit_names[k].resource;
    if (resource < 0)
      return skiff_error_invalid(err, "%s.type: unknown rlimit \"%s\"", at, type);
    if (soft > hard)
      return skiff_error_invalid(err, "%s: soft limit %llu is above hard limit %llu",
                                 at, (unsigned long long)soft,
                                 (unsigned long long)hard);
    p->rlimits[p->nrlimits].resource = resource;
    p->rlimits[p->nrlimits].limit.rlim_cur = soft;
    p->rlimits[p->nrlimits].limit.rlim_max = hard;
    p->nrlimits++;
  }
  return 0;
}

static int parse_user(json_t *process, struct spec_process *p, const char *where,
                      skiff_error_t **err)
{
  json_t *user = NULL, *groups = NULL;
  char at[64];
  snprintf(at, sizeof at, "%s.user", where);
  if (jsonutil_opt_object(process, "user", &user, where, err) < 0)
    return -1;
  int64_t uid = 0, gid = 0, umask = -1;
  if (jsonutil_opt_int64(user, "uid", &uid, at, err) < 0 ||
      jsonutil_opt_int64(user, "gid", &gid, at, err) < 0 ||
      jsonutil_opt_int64(user, "umask", &umask, at, err) < 0 ||
      jsonutil_opt_array(user, "additionalGids", &groups, at, err) < 0)
    return -1;
  if (uid < 0 || uid > UINT32_MAX - 1 || gid < 0 || gid > UINT32_MAX - 1)
    return skiff_error_invalid(err, "%s: uid and gid must be 0..4294967294", at);
  if (user && json_object_get(user, "username"))
    return skiff_error_invalid(err, "%s.username: only valid on Windows", at);
  p->uid = (uid_t)uid;
  p->gid = (gid_t)gid;
  if (umask >= 0) {
    p->has_umask = true;
    p->umask = (mode_t)(umask & 0777);
  }
  p->ngroups = json_array_size(groups);
  p->groups = calloc(p->ngroups ? p->ngroups : 1, sizeof(gid_t));
  if (p->groups == NULL)
    return skiff_error_set(err, ENOMEM, "%s.additionalGids", at);
  for (size_t i = 0; i < p->ngroups; i++) {
    json_t *g = json_array_get(groups, i);
    if (!json_is_integer(g) || json_integer_value(g) < 0)
      return skiff_error_invalid(err, "%s.additionalGids[%zu]: expected a gid", at, i);
    p->groups[i] = (gid_t)json_integer_value(g);
  }
  return 0;
}

static int parse_console(json_t *process, struct spec_process *p, const char *where,
                         skiff_error_t **err)
{
  json_t *size = NULL;
  char at[64];
  snprintf(at, sizeof at, "%s.consoleSize", where);
  if (jsonutil_opt_object(process, "consoleSize", &size, where, err) < 0)
    return -1;
  uint64_t h = 0, w = 0;
  if (jsonutil_opt_uint64(size, "height", &h, at, err) < 0 ||
      jsonutil_opt_uint64(size, "width", &w, at, err) < 0)
    return -1;
  if (h > USHRT_MAX || w > USHRT_MAX)
    return skiff_error_invalid(err, "%s: height and width must be below 65536", at);
  p->console_height = (unsigned short)h;
  p->console_width = (unsigned short)w;
  return 0;
}

static void warn_unsupported_labels(json_t *process, const char *where, char **warnings)
{
  const char *apparmor = json_string_value(json_object_get(process, "apparmorProfile"));
  const char *selinux = json_string_value(json_object_get(process, "selinuxLabel"));
  if (apparmor && *apparmor)
    spec_warn(warnings,
              "%s.apparmorProfile \"%s\" ignored: AppArmor is not supported "
              "by skiff-oci",
              where, apparmor);
  if (selinux && *selinux)
    spec_warn(warnings,
              "%s.selinuxLabel \"%s\" ignored: SELinux is not supported by "
              "skiff-oci",
              where, selinux);
  if (json_object_get(process, "ioPriority"))
    spec_warn(warnings, "%s.ioPriority ignored: not supported yet", where);
  if (json_object_get(process, "scheduler"))
    spec_warn(warnings, "%s.scheduler ignored: not supported yet", where);
}

static int parse_process_fields(json_t *process, struct spec_process *p,
                                const char *where, char **warnings, skiff_error_t **err)
{
  const char *cwd = "/";
  json_t *caps = NULL, *rlimits = NULL;
  int64_t oom = 0;
  if (jsonutil_opt_bool(process, "terminal", &p->terminal, where, err) < 0 ||
      jsonutil_opt_strv(process, "args", &p->args, where, err) < 0 ||
      jsonutil_opt_strv(process, "env", &p->env, where, err) < 0 ||
      jsonutil_opt_string(process, "cwd", &cwd, where, err) < 0 ||
      jsonutil_opt_bool(process, "noNewPrivileges", &p->no_new_privileges, where, err) <
          0 ||
      jsonutil_opt_object(process, "capabilities", &caps, where, err) < 0 ||
      jsonutil_opt_array(process, "rlimits", &rlimits, where, err) < 0 ||
      jsonutil_opt_int64(process, "oomScoreAdj", &oom, where, err) < 0)
    return -1;
  if (p->args[0] == NULL)
    return skiff_error_invalid(err, "%s.args: must name a program to run", where);
  if (cwd[0] != '/')
    return skiff_error_invalid(err, "%s.cwd: \"%s\" is not an absolute path", where,
                               cwd);
  if (oom < -1000 || oom > 1000)
    return skiff_error_invalid(err, "%s.oomScoreAdj: %lld is outside -1000..1000",
                               where, (long long)oom);
  p->has_oom_score_adj = json_object_get(process, "oomScoreAdj") != NULL;
  p->oom_score_adj = (int)oom;
  p->cwd = strdup(cwd);
  char at[64];
  snprintf(at, sizeof at, "%s.capabilities", where);
  char *cap_warnings = NULL;
  if (caps_parse(caps, &p->caps, &cap_warnings, err) < 0)
    return skiff_error_wrap(err, "%s", at);
  if (cap_warnings) {
    spec_warn(warnings, "%s", cap_warnings);
    free(cap_warnings);
  }
  warn_unsupported_labels(process, where, warnings);
  if (parse_rlimits(rlimits, p, where, err) < 0 ||
      parse_user(process, p, where, err) < 0)
    return -1;
  return parse_console(process, p, where, err);
}

struct spec_process *spec_process_parse(json_t *process, const char *where,
                                        char **warnings, skiff_error_t **err)
{
  if (!json_is_object(process)) {
    skiff_error_invalid(err, "%s: expected object, got %s", where,
                        process ? jsonutil_type_name(process) : "nothing");
    return NULL;
  }
  struct spec_process *p = calloc(1, sizeof *p);
  if (p == NULL) {
    skiff_error_set(err, ENOMEM, "%s", where);
    return NULL;
  }
  if (parse_process_fields(process, p, where, warnings, err) < 0) {
    spec_process_free(p);
    return NULL;
  }
  return p;
}

void spec_process_free(struct spec_process *p)
{
  if (p == NULL)
    return;
  cleanup_strv char **args = p->args;
  cleanup_strv char **env = p->env;
  free(p->cwd);
  free(p->groups);
  free(p->rlimits);
  caps_sets_free(p->caps);
  free(p);
}

/* The mount(8) option words that are flags, as runc and crun read them.
 * clear: the word turns the flag off ("rw", "suid", ...). */
static const struct {
  const char *name;
  bool clear;
  unsigned long flag;
} mount_flags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

static const struct {
  const char *name;
  unsigned long flag;
} propagation_flags[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static bool apply_flag_word(const char *word, struct spec_mount *m)
{
  for (size_t i = 0; i < sizeof mount_flags / sizeof mount_flags[0]; i++) {
    if (strcmp(word, mount_flags[i].name) != 0)
      continue;
    if (mount_flags[i].clear)
      m->flags &= ~mount_flags[i].flag;
    else
      m->flags |= mount_flags[i].flag;
    return true;
  }
  for (size_t i = 0; i < sizeof propagation_flags / sizeof propagation_flags[0]; i++) {
    if (strcmp(word, propagation_flags[i].name) == 0) {
      m->propagation = propagation_flags[i].flag;
      return true;
    }
  }
  if (strcmp(word, "bind") == 0 || strcmp(word, "rbind") == 0) {
    m->bind = true;
    m->flags |= MS_BIND | (word[0] == 'r' ? MS_REC : 0);
    return true;
  }
  return false;
}

static int append_data(char **data, const char *word)
{
  char *joined = NULL;
  if (asprintf(&joined, "%s%s%s", *data ? *data : "", *data ? "," : "", word) < 0)
    return -1;
  free(*data);
  *data = joined;
  return 0;
}

int spec_mount_options(json_t *options, struct spec_mount *m, const char *where,
                       char **warnings, skiff_error_t **err)
{
  size_t i;
  json_t *item;
  json_array_foreach(options, i, item)
  {
    if (!json_is_string(item))
      return skiff_error_invalid(err, "%s.options[%zu]: expected string, got %s", where,
                                 i, jsonutil_type_name(item));
    const char *word = json_string_value(item);
    if (apply_flag_word(word, m))
      continue;
    if (strcmp(word, "tmpcopyup") == 0 || strcmp(word, "idmap") == 0 ||
        strcmp(word, "ridmap") == 0) {
      spec_warn(warnings, "%s.options: \"%s\" is not supported and was ignored", where,
                word);
      continue;
    }
    if (append_data(&m->data, word) < 0)
      return skiff_error_set(err, ENOMEM, "%s.options", where);
  }
  /* A read-only bind needs a second mount call: MS_RDONLY is ignored on
   * the first MS_BIND (the kernel applies it only on MS_REMOUNT|MS_BIND). */
  m->readonly_remount = m->bind && (m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV |
                                                MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                                MS_RELATIME | MS_STRICTATIME));
  return 0;
}

static int parse_mount(json_t *item, struct spec_mount *m, const char *at,
                       char **warnings, skiff_error_t **err)
{
  const char *destination = NULL, *type = NULL, *source = NULL;
  json_t *options = NULL;
  if (!json_is_object(item))
    return skiff_error_invalid(err, "%s: expected object, got %s", at,
                               jsonutil_type_name(item));
  if (jsonutil_req_string(item, "destination", &destination, at, err) < 0 ||
      jsonutil_opt_string(item, "type", &type, at, err) < 0 ||
      jsonutil_opt_string(item, "source", &source, at, err) < 0 ||
      jsonutil_opt_array(item, "options", &options, at, err) < 0)
    return -1;
  if (destination[0] != '/')
    return skiff_error_invalid(err, "%s.destination: \"%s\" is not an absolute path",
                               at, destination);
  if (json_object_get(item, "uidMappings") || json_object_get(item, "gidMappings"))
    spec_warn(warnings, "%s: idmapped mounts are not supported; mappings ignored", at);
  m->destination = strdup(destination);
  m->type = strdup(type ? type : "none");
  m->source = strdup(source ? source : "none");
  if (spec_mount_options(options, m, at, warnings, err) < 0)
    return -1;
  if (strcmp(m->type, "bind") == 0 && !m->bind) {
    m->bind = true;
    m->flags |= MS_BIND;
  }
  if (!m->bind && type == NULL)
    return skiff_error_invalid(err, "%s.type: missing (and not a bind mount)", at);
  return 0;
}

static int parse_mounts(json_t *config, struct spec *s, char **warnings,
                        skiff_error_t **err)
{
  json_t *mounts = NULL;
  if (jsonutil_opt_array(config, "mounts", &mounts, "", err) < 0)
    return -1;
  size_t n = json_array_size(mounts);
  s->mounts = calloc(n ? n : 1, sizeof *s->mounts);
  if (s->mounts == NULL)
    return skiff_error_set(err, ENOMEM, "mounts");
  for (; s->nmounts < n; s->nmounts++) {
    char at[64];
    snprintf(at, sizeof at, "mounts[%zu]", s->nmounts);
    if (parse_mount(json_array_get(mounts, s->nmounts), &s->mounts[s->nmounts], at,
                    warnings, err) < 0) {
      s->nmounts++; /* so that spec_free releases the partial entry */
      return -1;
    }
  }
  return 0;
}

static int parse_namespaces(json_t *linux_cfg, struct spec *s, skiff_error_t **err)
{
  json_t *list = NULL;
  if (jsonutil_opt_array(linux_cfg, "namespaces", &list, "linux", err) < 0)
    return -1;
  size_t n = json_array_size(list);
  s->namespaces = calloc(n ? n : 1, sizeof *s->namespaces);
  if (s->namespaces == NULL)
    return skiff_error_set(err, ENOMEM, "linux.namespaces");
  for (size_t i = 0; i < n; i++) {
    char at[64];
    snprintf(at, sizeof at, "linux.namespaces[%zu]", i);
    const char *type = NULL, *path = NULL;
    json_t *item = json_array_get(list, i);
    if (jsonutil_req_string(item, "type", &type, at, err) < 0 ||
        jsonutil_opt_string(item, "path", &path, at, err) < 0)
      return -1;
    int flag = spec_namespace_flag(type);
    if (flag == 0)
      return skiff_error_invalid(err, "%s.type: unknown namespace \"%s\"", at, type);
    if (spec_namespace_find(s, flag))
      return skiff_error_invalid(err, "%s.type: namespace \"%s\" listed twice", at,
                                 type);
    if (path && path[0] != '/')
      return skiff_error_invalid(err, "%s.path: \"%s\" is not an absolute path", at,
                                 path);
    s->namespaces[s->nnamespaces].flag = flag;
    s->namespaces[s->nnamespaces].path = (path && *path) ? strdup(path) : NULL;
    s->nnamespaces++;
  }
  return 0;
}

static int parse_id_maps(json_t *linux_cfg, const char *key, struct spec_id_map **out,
                         size_t *count, skiff_error_t **err)
{
  json_t *list = NULL;
  if (jsonutil_opt_array(linux_cfg, key, &list, "linux", err) < 0)
    return -1;
  size_t n = json_array_size(list);
  *out = calloc(n ? n : 1, sizeof **out);
  if (*out == NULL)
    return skiff_error_set(err, ENOMEM, "linux.%s", key);
  for (size_t i = 0; i < n; i++) {
    char at[64];
    snprintf(at, sizeof at, "linux.%s[%zu]", key, i);
    uint64_t c = 0, h = 0, size = 0;
    json_t *item = json_array_get(list, i);
    if (jsonutil_opt_uint64(item, "containerID", &c, at, err) < 0 ||
        jsonutil_opt_uint64(item, "hostID", &h, at, err) < 0 ||
        jsonutil_opt_uint64(item, "size", &size, at, err) < 0)
      return -1;
    if (size == 0 || c > UINT32_MAX || h > UINT32_MAX || size > UINT32_MAX)
      return skiff_error_invalid(err, "%s: ids and a non-zero size must fit in 32 bits",
                                 at);
    (*out)[i] = (struct spec_id_map){(uint32_t)c, (uint32_t)h, (uint32_t)size};
  }
  *count = n;
  return 0;
}

static int parse_device(json_t *item, struct spec_device *d, const char *at,
                        skiff_error_t **err)
{
  const char *path = NULL, *type = NULL;
  int64_t mode = 0666, uid = 0, gid = 0;
  if (jsonutil_req_string(item, "path", &path, at, err) < 0 ||
      jsonutil_req_string(item, "type", &type, at, err) < 0 ||
      jsonutil_opt_int64(item, "major", &d->major, at, err) < 0 ||
      jsonutil_opt_int64(item, "minor", &d->minor, at, err) < 0 ||
      jsonutil_opt_int64(item, "fileMode", &mode, at, err) < 0 ||
      jsonutil_opt_int64(item, "uid", &uid, at, err) < 0 ||
      jsonutil_opt_int64(item, "gid", &gid, at, err) < 0)
    return -1;
  if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
    return skiff_error_invalid(err, "%s.type: \"%s\" is not one of c, b, u, p", at,
                               type);
  if (path[0] != '/')
    return skiff_error_invalid(err, "%s.path: \"%s\" is not an absolute path", at,
                               path);
  if (type[0] != 'p' && (json_object_get(item, "major") == NULL ||
                         json_object_get(item, "minor") == NULL))
    return skiff_error_invalid(err, "%s: major and minor are required for type %s", at,
                               type);
  d->path = strdup(path);
  d->type = type[0];
  d->mode = (mode_t)mode;
  d->uid = (uid_t)uid;
  d->gid = (gid_t)gid;
  return 0;
}

static int parse_devices(json_t *linux_cfg, struct spec *s, skiff_error_t **err)
{
  json_t *list = NULL;
  if (jsonutil_opt_array(linux_cfg, "devices", &list, "linux", err) < 0)
    return -1;
  size_t n = json_array_size(list);
  s->devices = calloc(n ? n : 1, sizeof *s->devices);
  if (s->devices == NULL)
    return skiff_error_set(err, ENOMEM, "linux.devices");
  for (; s->ndevices < n; s->ndevices++) {
    char at[64];
    snprintf(at, sizeof at, "linux.devices[%zu]", s->ndevices);
    if (parse_device(json_array_get(list, s->ndevices), &s->devices[s->ndevices], at,
                     err) < 0) {
      s->ndevices++;
      return -1;
    }
  }
  return 0;
}

static int parse_propagation(const char *value, unsigned long *out, skiff_error_t **err)
{
  for (size_t i = 0; i < sizeof propagation_flags / sizeof propagation_flags[0]; i++) {
    if (strcmp(value, propagation_flags[i].name) == 0) {
      *out = propagation_flags[i].flag;
      return 0;
    }
  }
  return skiff_error_invalid(err, "linux.rootfsPropagation: unknown value \"%s\"",
                             value);
}

static int parse_personality(json_t *linux_cfg, struct spec *s, skiff_error_t **err)
{
  json_t *p = NULL;
  const char *domain = NULL;
  if (jsonutil_opt_object(linux_cfg, "personality", &p, "linux", err) < 0 ||
      jsonutil_opt_string(p, "domain", &domain, "linux.personality", err) < 0)
    return -1;
  if (p == NULL)
    return 0;
  if (domain == NULL || strcmp(domain, "LINUX") == 0)
    s->personality = PER_LINUX;
  else if (strcmp(domain, "LINUX32") == 0)
    s->personality = PER_LINUX32;
  else
    return skiff_error_invalid(err, "linux.personality.domain: unknown \"%s\"", domain);
  s->has_personality = true;
  return 0;
}

static int check_sysctl(json_t *sysctl, skiff_error_t **err)
{
  const char *key;
  json_t *value;
  json_object_foreach(sysctl, key, value)
  {
    if (!json_is_string(value))
      return skiff_error_invalid(err, "linux.sysctl.%s: expected string, got %s", key,
                                 jsonutil_type_name(value));
    if (strstr(key, "..") || key[0] == '/' || key[0] == '.')
      return skiff_error_invalid(err, "linux.sysctl: invalid key \"%s\"", key);
  }
  return 0;
}

static void warn_unsupported_linux(json_t *linux_cfg, char **warnings)
{
  const char *label = json_string_value(json_object_get(linux_cfg, "mountLabel"));
  if (label && *label)
    spec_warn(warnings,
              "linux.mountLabel \"%s\" ignored: SELinux is not supported by "
              "skiff-oci",
              label);
  if (json_object_get(linux_cfg, "intelRdt"))
    spec_warn(warnings, "linux.intelRdt ignored: not supported");
  if (json_object_get(linux_cfg, "memoryPolicy"))
    spec_warn(warnings, "linux.memoryPolicy ignored: not supported");
}

static int parse_linux_lists(json_t *linux_cfg, struct spec *s, skiff_error_t **err)
{
  const char *cgroups_path = NULL, *propagation = NULL;
  if (jsonutil_opt_string(linux_cfg, "cgroupsPath", &cgroups_path, "linux", err) < 0 ||
      jsonutil_opt_string(linux_cfg, "rootfsPropagation", &propagation, "linux", err) <
          0 ||
      jsonutil_opt_object(linux_cfg, "sysctl", &s->sysctl, "linux", err) < 0 ||
      jsonutil_opt_object(linux_cfg, "timeOffsets", &s->time_offsets, "linux", err) <
          0 ||
      jsonutil_opt_strv(linux_cfg, "maskedPaths", &s->masked_paths, "linux", err) < 0 ||
      jsonutil_opt_strv(linux_cfg, "readonlyPaths", &s->readonly_paths, "linux", err) <
          0)
    return -1;
  if (cgroups_path && *cgroups_path)
    s->cgroups_path = strdup(cgroups_path);
  if (propagation && *propagation &&
      parse_propagation(propagation, &s->rootfs_propagation, err) < 0)
    return -1;
  return check_sysctl(s->sysctl, err);
}

static int parse_linux(json_t *config, struct spec *s, char **warnings,
                       skiff_error_t **err)
{
  json_t *linux_cfg = NULL, *resources = NULL, *seccomp = NULL;
  if (jsonutil_opt_object(config, "linux", &linux_cfg, "", err) < 0 ||
      jsonutil_opt_object(linux_cfg, "resources", &resources, "linux", err) < 0 ||
      jsonutil_opt_object(linux_cfg, "seccomp", &seccomp, "linux", err) < 0)
    return -1;
  warn_unsupported_linux(linux_cfg, warnings);
  if (parse_linux_lists(linux_cfg, s, err) < 0 ||
      parse_namespaces(linux_cfg, s, err) < 0 ||
      parse_id_maps(linux_cfg, "uidMappings", &s->uid_maps, &s->nuid_maps, err) < 0 ||
      parse_id_maps(linux_cfg, "gidMappings", &s->gid_maps, &s->ngid_maps, err) < 0 ||
      parse_devices(linux_cfg, s, err) < 0 || parse_personality(linux_cfg, s, err) < 0)
    return -1;
  if (cgroup_resources_parse(resources, &s->resources, err) < 0)
    return -1;
  return seccomp_program_build(seccomp, &s->seccomp, err);
}

/* The sysctls that belong to a namespace, as runc allows them: anything
 * else would change the host's kernel. */
static const char *const ipc_sysctls[] = {
    "kernel.msgmax", "kernel.msgmnb",          "kernel.msgmni",
    "kernel.sem",    "kernel.shmall",          "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced", NULL};

static bool sysctl_in(const char *key, const char *const *list)
{
  for (; *list; list++)
    if (strcmp(key, *list) == 0)
      return true;
  return false;
}

static int check_sysctl_namespaces(struct spec *s, skiff_error_t **err)
{
  const char *key;
  json_t *value;
  json_object_foreach(s->sysctl, key, value)
  {
    int needs = 0;
    if (sysctl_in(key, ipc_sysctls) || strncmp(key, "fs.mqueue.", 10) == 0)
      needs = CLONE_NEWIPC;
    else if (strncmp(key, "net.", 4) == 0)
      needs = CLONE_NEWNET;
    else if (strcmp(key, "kernel.hostname") == 0 ||
             strcmp(key, "kernel.domainname") == 0)
      needs = CLONE_NEWUTS;
    const struct spec_namespace *ns = needs ? spec_namespace_find(s, needs) : NULL;
    if (ns == NULL)
      return skiff_error_invalid(err,
                                 "linux.sysctl.%s: not in a namespace of the "
                                 "container (it would change the host)",
                                 key);
  }
  return 0;
}

/* Combinations that cannot work, caught before anything is created. */
static int check_consistency(struct spec *s, skiff_error_t **err)
{
  const struct spec_namespace *user = spec_namespace_find(s, CLONE_NEWUSER);
  bool new_user = user && user->path == NULL;
  if (new_user && (s->nuid_maps == 0 || s->ngid_maps == 0))
    return skiff_error_invalid(err,
                               "linux.uidMappings/gidMappings: required when a new "
                               "user namespace is created");
  if (!new_user && (s->nuid_maps || s->ngid_maps))
    return skiff_error_invalid(err,
                               "linux.uidMappings: mappings given without a new user "
                               "namespace");
  if (s->hostname && *s->hostname && !spec_namespace_find(s, CLONE_NEWUTS))
    return skiff_error_invalid(err, "hostname: setting it needs a uts namespace");
  if (s->time_offsets && !spec_namespace_find(s, CLONE_NEWTIME))
    return skiff_error_invalid(err, "linux.timeOffsets: needs a time namespace");
  return check_sysctl_namespaces(s, err);
}

static int parse_root(json_t *config, struct spec *s, skiff_error_t **err)
{
  json_t *root = NULL;
  const char *path = NULL;
  if (jsonutil_opt_object(config, "root", &root, "", err) < 0)
    return -1;
  if (root == NULL)
    return skiff_error_invalid(err, "root: missing");
  if (jsonutil_req_string(root, "path", &path, "root", err) < 0 ||
      jsonutil_opt_bool(root, "readonly", &s->root_readonly, "root", err) < 0)
    return -1;
  if (path[0] == '/')
    s->rootfs = realpath(path, NULL);
  else {
    cleanup_free char *joined = NULL;
    if (asprintf(&joined, "%s/%s", s->bundle, path) < 0)
      return skiff_error_set(err, ENOMEM, "root.path");
    s->rootfs = realpath(joined, NULL);
  }
  struct stat st;
  if (s->rootfs == NULL || stat(s->rootfs, &st) < 0)
    return skiff_error_errno(err, "root.path: rootfs \"%s\"", path);
  if (!S_ISDIR(st.st_mode))
    return skiff_error_invalid(err, "root.path: rootfs \"%s\" is not a directory",
                               path);
  return 0;
}

static int parse_top(json_t *config, struct spec *s, char **warnings,
                     skiff_error_t **err)
{
  const char *version = NULL, *hostname = NULL, *domainname = NULL;
  if (!json_is_object(config))
    return skiff_error_invalid(err, "config.json: expected an object");
  if (jsonutil_req_string(config, "ociVersion", &version, "", err) < 0 ||
      jsonutil_opt_string(config, "hostname", &hostname, "", err) < 0 ||
      jsonutil_opt_string(config, "domainname", &domainname, "", err) < 0 ||
      jsonutil_opt_object(config, "hooks", &s->hooks, "", err) < 0 ||
      jsonutil_opt_object(config, "annotations", &s->annotations, "", err) < 0)
    return -1;
  if (strncmp(version, "1.", 2) != 0)
    return skiff_error_invalid(err, "ociVersion: \"%s\" is not a 1.x version", version);
  if (hooks_validate(s->hooks, err) < 0)
    return -1;
  s->hostname = hostname ? strdup(hostname) : NULL;
  s->domainname = domainname ? strdup(domainname) : NULL;
  if (parse_root(config, s, err) < 0)
    return -1;
  s->process =
      spec_process_parse(json_object_get(config, "process"), "process", warnings, err);
  if (s->process == NULL)
    return -1;
  if (parse_mounts(config, s, warnings, err) < 0 ||
      parse_linux(config, s, warnings, err) < 0)
    return -1;
  return check_consistency(s, err);
}

struct spec *spec_load(const char *bundle, char **warnings, skiff_error_t **err)
{
  struct spec *s = calloc(1, sizeof *s);
  if (s == NULL) {
    skiff_error_set(err, ENOMEM, "load spec");
    return NULL;
  }
  s->bundle = realpath(bundle, NULL);
  if (s->bundle == NULL) {
    skiff_error_errno(err, "bundle %s", bundle);
    spec_free(s);
    return NULL;
  }
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/config.json", s->bundle) < 0 ||
      (s->json = jsonutil_load_file(path, err)) == NULL ||
      parse_top(s->json, s, warnings, err) < 0) {
    if (s->json)
      skiff_error_wrap(err, "%s", path);
    spec_free(s);
    return NULL;
  }
  return s;
}

void spec_free(struct spec *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->nmounts; i++) {
    free(s->mounts[i].destination);
    free(s->mounts[i].type);
    free(s->mounts[i].source);
    free(s->mounts[i].data);
  }
  for (size_t i = 0; i < s->nnamespaces; i++)
    free(s->namespaces[i].path);
  for (size_t i = 0; i < s->ndevices; i++)
    free(s->devices[i].path);
  cleanup_strv char **masked = s->masked_paths;
  cleanup_strv char **readonly = s->readonly_paths;
  free(s->mounts);
  free(s->namespaces);
  free(s->devices);
  free(s->uid_maps);
  free(s->gid_maps);
  free(s->bundle);
  free(s->rootfs);
  free(s->hostname);
  free(s->domainname);
  free(s->cgroups_path);
  spec_process_free(s->process);
  cgroup_resources_free(s->resources);
  seccomp_program_free(s->seccomp);
  json_decref(s->json);
  free(s);
}
