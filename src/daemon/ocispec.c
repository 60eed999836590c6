#include "ocispec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "resources.h"
#include "runtime/runtime.h"

#define DEFAULT_PATH_ENV                                                               \
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Docker's default capability set. */
static const char *const default_caps[] = {"CAP_CHOWN",
                                           "CAP_DAC_OVERRIDE",
                                           "CAP_FSETID",
                                           "CAP_FOWNER",
                                           "CAP_MKNOD",
                                           "CAP_NET_RAW",
                                           "CAP_SETGID",
                                           "CAP_SETUID",
                                           "CAP_SETFCAP",
                                           "CAP_SETPCAP",
                                           "CAP_NET_BIND_SERVICE",
                                           "CAP_SYS_CHROOT",
                                           "CAP_KILL",
                                           "CAP_AUDIT_WRITE",
                                           NULL};

json_t *ocispec_command(json_t *config, json_t *image_config)
{
  json_t *entrypoint = json_object_get(config, "Entrypoint");
  json_t *cmd = json_object_get(config, "Cmd");
  /* Docker: an Entrypoint given on create resets the image's Cmd. */
  bool own_entrypoint = json_is_array(entrypoint);
  if (!own_entrypoint)
    entrypoint = json_object_get(image_config, "Entrypoint");
  if (!json_is_array(cmd) || json_array_size(cmd) == 0)
    cmd = own_entrypoint ? NULL : json_object_get(image_config, "Cmd");
  json_t *args = json_array();
  if (json_is_array(entrypoint))
    json_array_extend(args, entrypoint);
  if (json_is_array(cmd))
    json_array_extend(args, cmd);
  return args;
}

/* docker's ReplaceOrAppendEnvValues: each NAME=value of overrides replaces
 * the entry of that NAME in env or is appended; a bare NAME removes it. */
static void env_merge(json_t *env, json_t *overrides)
{
  size_t i;
  json_t *item;
  json_array_foreach(overrides, i, item)
  {
    const char *entry = json_string_value(item);
    if (entry == NULL)
      continue;
    size_t name_len = strcspn(entry, "=");
    bool unset = entry[name_len] == '\0';
    size_t k;
    json_t *have;
    bool found = false;
    json_array_foreach(env, k, have)
    {
      const char *h = json_string_value(have);
      if (strncmp(h, entry, name_len) == 0 && h[name_len] == '=') {
        if (unset)
          json_array_remove(env, k);
        else
          json_array_set_new(env, k, json_string(entry));
        found = true;
        break;
      }
    }
    if (!found && !unset)
      json_array_append_new(env, json_string(entry));
  }
}

/* The container's env, HOSTNAME first and PATH unless it has one. */
static json_t *merged_env(json_t *env, const char *hostname)
{
  json_t *out = json_array();
  env_merge(out, env);
  bool has_path = false;
  size_t i;
  json_t *item;
  json_array_foreach(out, i, item) has_path |=
      strncmp(json_string_value(item), "PATH=", 5) == 0;
  if (!has_path)
    json_array_insert_new(out, 0, json_string(DEFAULT_PATH_ENV));
  char line[300];
  snprintf(line, sizeof line, "HOSTNAME=%s", hostname);
  json_array_insert_new(out, 0, json_string(line));
  return out;
}

/* The container's /etc/<name>, opened inside its root so that a symlink in
 * the image cannot make us read the host's; NULL when it has none. */
static FILE *open_etc(const char *rootfs, const char *name)
{
  cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char path[32];
  snprintf(path, sizeof path, "etc/%s", name);
  int fd = root >= 0 ? fs_open_in_root(root, path, O_RDONLY, 0, NULL) : -1;
  FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
  if (fd >= 0 && f == NULL)
    close(fd);
  return f;
}

static bool parse_id(const char *text, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno || v < 0 || v > (long)UINT32_MAX - 1)
    return false;
  *out = v;
  return true;
}

/* user by name or uid in the container's passwd: a name must be there, a
 * uid need not (then gid 0 and no name). *name is a new string or NULL. */
static int lookup_user(const char *rootfs, const char *user, long *uid, long *gid,
                       char **name, skiff_error_t **err)
{
  bool numeric = parse_id(user, uid);
  cleanup_fclose FILE *f = open_etc(rootfs, "passwd");
  struct passwd *pw = NULL;
  while (f && (pw = fgetpwent(f)) != NULL)
    if (numeric ? (long)pw->pw_uid == *uid : strcmp(pw->pw_name, user) == 0)
      break;
  if (pw == NULL && !numeric)
    return skiff_error_invalid(err,
                               "unable to find user %s: no matching entries in passwd "
                               "file",
                               user);
  if (pw) {
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    *name = strdup(pw->pw_name);
  }
  return 0;
}

static int lookup_group(const char *rootfs, const char *group, long *gid,
                        skiff_error_t **err)
{
  if (parse_id(group, gid))
    return 0;
  cleanup_fclose FILE *f = open_etc(rootfs, "group");
  struct group *gr = NULL;
  while (f && (gr = fgetgrent(f)) != NULL)
    if (strcmp(gr->gr_name, group) == 0) {
      *gid = gr->gr_gid;
      return 0;
    }
  return skiff_error_invalid(err,
                             "unable to find group %s: no matching entries in group "
                             "file",
                             group);
}

/* The groups of the container's /etc/group that list name as a member. */
static void add_member_groups(const char *rootfs, const char *name, json_t *gids)
{
  cleanup_fclose FILE *f = open_etc(rootfs, "group");
  struct group *gr;
  while (f && (gr = fgetgrent(f)) != NULL)
    for (char **m = gr->gr_mem; m && *m; m++)
      if (strcmp(*m, name) == 0) {
        json_array_append_new(gids, json_integer(gr->gr_gid));
        break;
      }
}

/* "uid", "uid:gid", "name", "name:group" ("" is root), as dockerd resolves
 * it (user.GetExecUser): names looked up in the container's own /etc/passwd
 * and /etc/group; additionalGids are the primary group and, unless a group
 * was given, the groups that list the user. */
static int resolve_user(const char *user, const char *rootfs, json_t *process,
                        skiff_error_t **err)
{
  long uid = 0, gid = 0;
  cleanup_free char *copy = strdup(user ? user : "");
  cleanup_free char *name = NULL;
  char *group = copy ? strchr(copy, ':') : NULL;
  if (group)
    *group++ = '\0';
  if (copy == NULL ||
      lookup_user(rootfs, *copy ? copy : "0", &uid, &gid, &name, err) < 0 ||
      (group && *group && lookup_group(rootfs, group, &gid, err) < 0))
    return -1;
  json_t *gids = json_pack("[i]", (int)gid);
  if (name && !(group && *group))
    add_member_groups(rootfs, name, gids);
  json_object_set_new(process, "user",
                      json_pack("{s:i, s:i, s:o}", "uid", (int)uid, "gid", (int)gid,
                                "additionalGids", gids));
  return 0;
}

static json_t *string_array(const char *const *items)
{
  json_t *a = json_array();
  for (; *items; items++)
    json_array_append_new(a, json_string(*items));
  return a;
}

static void add_bind(json_t *spec, const char *source, const char *dest, bool ro)
{
  json_array_append_new(json_object_get(spec, "mounts"),
                        json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "destination", dest,
                                  "type", "bind", "source", source, "options", "rbind",
                                  "rprivate", ro ? "ro" : "rw"));
}

/* HostConfig's limits (resources.c), beside the default spec's devices. */
static void set_resources(json_t *spec, json_t *host)
{
  json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
  cleanup_json json_t *limits = resources_oci(host);
  json_object_update(res, limits);
}

/* HostConfig.ConsoleSize [height, width]: the terminal's size from the
 * start, so that the first prompt already fits (docker run -it sends it). */
static void set_console_size(json_t *process, json_t *host)
{
  json_t *size = json_object_get(host, "ConsoleSize");
  json_int_t h = json_integer_value(json_array_get(size, 0));
  json_int_t w = json_integer_value(json_array_get(size, 1));
  if (h > 0 && w > 0 && h <= 65535 && w <= 65535)
    json_object_set_new(process, "consoleSize",
                        json_pack("{s:I, s:I}", "height", h, "width", w));
}

/* Every capability the kernel has that skiffd holds in its bounding set:
 * docker asks for all the kernel has, and fails to start anything
 * privileged under a parent that dropped some (as on hosts whose init or
 * container manager restricts them); what we do not hold we cannot grant. */
static json_t *all_caps(void)
{
  json_t *caps = json_array();
  json_t *features = runtime_features();
  size_t i;
  json_t *name;
  json_array_foreach(
      json_object_get(json_object_get(features, "linux"), "capabilities"), i, name)
  {
    cap_value_t cap;
    if (cap_from_name(json_string_value(name), &cap) == 0 &&
        prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
      json_array_append(caps, name);
  }
  json_decref(features);
  return caps;
}

/* docker's default capabilities, or with privileged every one (all_caps),
 * as bounding, effective and permitted sets. */
static json_t *capability_sets(bool privileged)
{
  json_t *caps = privileged ? all_caps() : string_array(default_caps);
  json_t *sets = json_pack("{s:O, s:O, s:O}", "bounding", caps, "effective", caps,
                           "permitted", caps);
  json_decref(caps);
  return sets;
}

static int set_process(json_t *spec, json_t *record, const char *rootfs,
                       skiff_error_t **err)
{
  json_t *config = json_object_get(record, "Config");
  json_t *process = json_object_get(spec, "process");
  json_t *args = json_array();
  json_array_append(args, json_object_get(record, "Path"));
  json_array_extend(args, json_object_get(record, "Args"));
  json_object_set_new(process, "args", args);
  const char *hostname = json_string_value(json_object_get(config, "Hostname"));
  json_object_set_new(
      process, "env",
      merged_env(json_object_get(config, "Env"), hostname ? hostname : ""));
  const char *cwd = json_string_value(json_object_get(config, "WorkingDir"));
  json_object_set_new(process, "cwd", json_string(cwd && *cwd ? cwd : "/"));
  json_object_set_new(process, "terminal",
                      json_boolean(json_is_true(json_object_get(config, "Tty"))));
  if (json_is_true(json_object_get(config, "Tty")))
    set_console_size(process, json_object_get(record, "HostConfig"));
  json_object_set_new(process, "noNewPrivileges", json_false());
  json_object_del(process, "rlimits"); /* inherit the daemon's, as docker */
  bool privileged = json_is_true(
      json_object_get(json_object_get(record, "HostConfig"), "Privileged"));
  json_object_set_new(process, "capabilities", capability_sets(privileged));
  return resolve_user(json_string_value(json_object_get(config, "User")), rootfs,
                      process, err);
}

/* HostConfig.Binds ("/host:/ctr[:ro|rw][,...]"): host paths bound into
 * the container. Named volumes belong to the volumes issue and are refused
 * at create (ocispec_check_binds), never silently ignored. */
static void add_binds(json_t *spec, json_t *binds)
{
  size_t i;
  json_t *item;
  json_array_foreach(binds, i, item)
  {
    cleanup_free char *copy = strdup(json_string_value(item));
    char *dest = strchr(copy, ':');
    *dest++ = '\0';
    char *mode = strchr(dest, ':');
    if (mode)
      *mode++ = '\0';
    bool ro = mode && (strstr(mode, "ro") != NULL) && strstr(mode, "rw") == NULL;
    add_bind(spec, copy, dest, ro);
  }
}

/* HostConfig.Mounts (--mount): type=bind only until volumes and tmpfs
 * mounts have their issue. */
static int check_mounts(json_t *mounts, skiff_error_t **err)
{
  size_t i;
  json_t *m;
  json_array_foreach(mounts, i, m)
  {
    const char *type = json_string_value(json_object_get(m, "Type"));
    const char *source = json_string_value(json_object_get(m, "Source"));
    const char *target = json_string_value(json_object_get(m, "Target"));
    if (type == NULL || strcmp(type, "bind") != 0)
      return skiff_error_invalid(err, "mount type \"%s\" is not supported yet",
                                 type ? type : "");
    if (source == NULL || source[0] != '/' || target == NULL || target[0] != '/')
      return skiff_error_invalid(err, "invalid mount config for type \"bind\": source "
                                      "and target must be absolute paths");
    if (access(source, F_OK) < 0)
      return skiff_error_invalid(err,
                                 "invalid mount config for type \"bind\": bind "
                                 "source path does not exist: %s",
                                 source);
  }
  return 0;
}

static void add_mounts(json_t *spec, json_t *mounts)
{
  size_t i;
  json_t *m;
  json_array_foreach(mounts, i, m)
      add_bind(spec, json_string_value(json_object_get(m, "Source")),
               json_string_value(json_object_get(m, "Target")),
               json_is_true(json_object_get(m, "ReadOnly")));
}

int ocispec_check_binds(json_t *host, skiff_error_t **err)
{
  json_t *mounts = json_object_get(host, "Mounts");
  if (json_is_array(mounts) && check_mounts(mounts, err) < 0)
    return -1;
  json_t *binds = json_object_get(host, "Binds");
  if (binds == NULL || json_is_null(binds))
    return 0;
  if (!json_is_array(binds))
    return skiff_error_invalid(err, "HostConfig.Binds: expected an array of strings");
  size_t i;
  json_t *item;
  json_array_foreach(binds, i, item)
  {
    const char *bind = json_string_value(item);
    const char *colon = bind ? strchr(bind, ':') : NULL;
    if (bind == NULL || colon == NULL || colon == bind || colon[1] != '/')
      return skiff_error_invalid(err, "invalid volume specification: '%s'",
                                 bind ? bind : "(not a string)");
    if (bind[0] != '/')
      return skiff_error_invalid(err,
                                 "named volumes are not supported yet: '%s' (bind "
                                 "an absolute host path)",
                                 bind);
    cleanup_free char *source = strndup(bind, (size_t)(colon - bind));
    if (access(source, F_OK) < 0)
      return skiff_error_invalid(err,
                                 "invalid mount config for type \"bind\": bind "
                                 "source path does not exist: %s",
                                 source);
  }
  return 0;
}

/* docker run --init: our init is PID 1 and runs the command. */
static void add_init(json_t *spec, const char *init_path)
{
  add_bind(spec, init_path, "/sbin/docker-init", true);
  json_t *process = json_object_get(spec, "process");
  json_t *args = json_pack("[s,s]", "/sbin/docker-init", "--");
  json_array_extend(args, json_object_get(process, "args"));
  json_object_set_new(process, "args", args);
}

json_t *ocispec_build(json_t *record, const char *rootfs, const char *init_path,
                      skiff_error_t **err)
{
  json_t *spec = runtime_default_spec(false);
  json_t *config = json_object_get(record, "Config");
  json_t *host = json_object_get(record, "HostConfig");
  if (set_process(spec, record, rootfs, err) < 0) {
    json_decref(spec);
    return NULL;
  }
  json_object_set_new(spec, "root",
                      json_pack("{s:s, s:b}", "path", rootfs, "readonly",
                                json_is_true(json_object_get(host, "ReadonlyRootfs"))));
  json_object_set(spec, "hostname", json_object_get(config, "Hostname"));
  json_t *linux_cfg = json_object_get(spec, "linux");
  char cgroup[128];
  snprintf(cgroup, sizeof cgroup, "/skiff/%s",
           json_string_value(json_object_get(record, "Id")));
  json_object_set_new(linux_cfg, "cgroupsPath", json_string(cgroup));
  /* docker's devices rule: deny all, allow the standard nodes (the runtime
   * adds those) — the default spec's "deny all" stands. */
  set_resources(spec, host);
  static const char *const files[][2] = {{"HostnamePath", "/etc/hostname"},
                                         {"HostsPath", "/etc/hosts"},
                                         {"ResolvConfPath", "/etc/resolv.conf"}};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    add_bind(spec, json_string_value(json_object_get(record, files[i][0])), files[i][1],
             false);
  add_binds(spec, json_object_get(host, "Binds"));
  add_mounts(spec, json_object_get(host, "Mounts"));
  if (json_is_true(json_object_get(host, "Init")))
    add_init(spec, init_path);
  const char *network = json_string_value(json_object_get(host, "NetworkMode"));
  if (network && strcmp(network, "host") == 0) {
    json_t *namespaces = json_object_get(linux_cfg, "namespaces");
    size_t i;
    json_t *ns;
    json_array_foreach(namespaces, i, ns)
    {
      if (strcmp(json_string_value(json_object_get(ns, "type")), "network") == 0) {
        json_array_remove(namespaces, i);
        break;
      }
    }
  }
  return spec;
}

/* dockerd's exec environment: PATH, HOSTNAME (and TERM with a terminal),
 * then the container's Config.Env, then the exec's own, each replacing or
 * appending (container.CreateDaemonEnvironment + ReplaceOrAppendEnvValues). */
static json_t *exec_env(json_t *container_config, json_t *exec_env_list, bool tty)
{
  const char *hostname =
      json_string_value(json_object_get(container_config, "Hostname"));
  char line[300];
  snprintf(line, sizeof line, "HOSTNAME=%s", hostname ? hostname : "");
  json_t *env = json_pack("[s, s]", DEFAULT_PATH_ENV, line);
  if (tty)
    json_array_append_new(env, json_string("TERM=xterm"));
  env_merge(env, json_object_get(container_config, "Env"));
  env_merge(env, exec_env_list);
  return env;
}

json_t *ocispec_exec_process(json_t *container_process, json_t *container_config,
                             json_t *exec, const char *rootfs, skiff_error_t **err)
{
  cleanup_json json_t *p = json_deep_copy(container_process);
  if (p == NULL) {
    skiff_error_set(err, ENOMEM, "exec process");
    return NULL;
  }
  bool tty = json_is_true(json_object_get(exec, "Tty"));
  json_object_set(p, "args", json_object_get(exec, "Cmd"));
  json_object_set_new(p, "terminal", json_boolean(tty));
  json_object_del(p, "consoleSize");
  json_object_set_new(p, "env",
                      exec_env(container_config, json_object_get(exec, "Env"), tty));
  const char *cwd = json_string_value(json_object_get(exec, "WorkingDir"));
  if (cwd && *cwd)
    json_object_set_new(p, "cwd", json_string(cwd));
  if (json_is_true(json_object_get(exec, "Privileged")))
    json_object_set_new(p, "capabilities", capability_sets(true));
  const char *user = json_string_value(json_object_get(exec, "User"));
  if (user && *user && resolve_user(user, rootfs, p, err) < 0)
    return NULL;
  return steal_pointer(&p);
}
