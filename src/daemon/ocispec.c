#include "ocispec.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "resources.h"
#include "runtime/runtime.h"

/* Docker's default capability set. */
static const char *const default_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FSETID", "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",          "CAP_SETGID", "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",         "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL",         "CAP_AUDIT_WRITE", NULL};

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

/* Image env, then the container's, a later NAME replacing an earlier one. */
static json_t *merged_env(json_t *image_env, json_t *env, const char *hostname)
{
  json_t *out = json_array();
  json_t *lists[] = {image_env, env};
  for (size_t l = 0; l < 2; l++) {
    size_t i;
    json_t *item;
    json_array_foreach(lists[l], i, item)
    {
      const char *entry = json_string_value(item);
      if (entry == NULL)
        continue;
      size_t name_len = strcspn(entry, "=");
      size_t k;
      json_t *have;
      bool replaced = false;
      json_array_foreach(out, k, have)
      {
        const char *h = json_string_value(have);
        if (strncmp(h, entry, name_len) == 0 && h[name_len] == '=') {
          json_array_set_new(out, k, json_string(entry));
          replaced = true;
          break;
        }
      }
      if (!replaced)
        json_array_append_new(out, json_string(entry));
    }
  }
  bool has_path = false;
  size_t i;
  json_t *item;
  json_array_foreach(out, i, item) has_path |= strncmp(json_string_value(item), "PATH=", 5) == 0;
  if (!has_path)
    json_array_insert_new(out, 0, json_string("PATH=/usr/local/sbin:/usr/local/bin:"
                                              "/usr/sbin:/usr/bin:/sbin:/bin"));
  char line[300];
  snprintf(line, sizeof line, "HOSTNAME=%s", hostname);
  json_array_insert_new(out, 0, json_string(line));
  return out;
}

/* "uid", "uid:gid", "name", "name:group": names looked up in the
 * container's own /etc/passwd and /etc/group. */
static int resolve_user(const char *user, const char *rootfs, json_t *process,
                        skiff_error_t **err)
{
  long uid = 0, gid = 0;
  cleanup_free char *copy = strdup(user ? user : "");
  char *group = strchr(copy, ':');
  if (group)
    *group++ = '\0';
  if (*copy) {
    char *end;
    uid = strtol(copy, &end, 10);
    if (*end != '\0') {
      cleanup_free char *path = NULL;
      if (asprintf(&path, "%s/etc/passwd", rootfs) < 0)
        return -1;
      FILE *f = fopen(path, "re");
      struct passwd *pw = NULL;
      while (f && (pw = fgetpwent(f)) != NULL && strcmp(pw->pw_name, copy) != 0)
        ;
      if (pw) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
      }
      if (f)
        fclose(f);
      if (pw == NULL)
        return skiff_error_invalid(err, "unable to find user %s: no matching entries in "
                                   "passwd file", copy);
    }
  }
  if (group && *group)
    gid = strtol(group, NULL, 10);
  json_object_set_new(process, "user", json_pack("{s:i, s:i}", "uid", (int)uid, "gid",
                                                 (int)gid));
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
    json_object_set_new(process, "consoleSize", json_pack("{s:I, s:I}", "height", h,
                                                          "width", w));
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
  json_object_set_new(process, "env", merged_env(NULL, json_object_get(config, "Env"),
                                                 hostname ? hostname : ""));
  const char *cwd = json_string_value(json_object_get(config, "WorkingDir"));
  json_object_set_new(process, "cwd", json_string(cwd && *cwd ? cwd : "/"));
  json_object_set_new(process, "terminal", json_boolean(json_is_true(json_object_get(config, "Tty"))));
  if (json_is_true(json_object_get(config, "Tty")))
    set_console_size(process, json_object_get(record, "HostConfig"));
  json_object_set_new(process, "noNewPrivileges", json_false());
  json_object_del(process, "rlimits"); /* inherit the daemon's, as docker */
  json_t *caps = string_array(default_caps);
  bool privileged = json_is_true(json_object_get(json_object_get(record, "HostConfig"),
                                                 "Privileged"));
  if (privileged) {
    json_decref(caps);
    caps = json_array(); /* filled below from the full list */
    json_t *features = runtime_features();
    json_array_extend(caps, json_object_get(json_object_get(features, "linux"),
                                            "capabilities"));
    json_decref(features);
  }
  json_object_set_new(process, "capabilities",
                      json_pack("{s:O, s:O, s:O}", "bounding", caps, "effective", caps,
                                "permitted", caps));
  json_decref(caps);
  return resolve_user(json_string_value(json_object_get(config, "User")), rootfs, process,
                      err);
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
      return skiff_error_invalid(err, "invalid mount config for type \"bind\": bind "
                                 "source path does not exist: %s", source);
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
      return skiff_error_invalid(err, "named volumes are not supported yet: '%s' (bind "
                                 "an absolute host path)", bind);
    cleanup_free char *source = strndup(bind, (size_t)(colon - bind));
    if (access(source, F_OK) < 0)
      return skiff_error_invalid(err, "invalid mount config for type \"bind\": bind "
                                 "source path does not exist: %s", source);
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

json_t *ocispec_build(json_t *record, const char *rootfs, const char *dir,
                      const char *init_path, skiff_error_t **err)
{
  json_t *spec = runtime_default_spec(false);
  json_t *config = json_object_get(record, "Config");
  json_t *host = json_object_get(record, "HostConfig");
  if (set_process(spec, record, rootfs, err) < 0) {
    json_decref(spec);
    return NULL;
  }
  json_object_set_new(spec, "root", json_pack("{s:s, s:b}", "path", rootfs, "readonly",
                                              json_is_true(json_object_get(host, "ReadonlyRootfs"))));
  json_object_set(spec, "hostname", json_object_get(config, "Hostname"));
  json_t *linux_cfg = json_object_get(spec, "linux");
  char cgroup[128];
  snprintf(cgroup, sizeof cgroup, "/skiff/%s", json_string_value(json_object_get(record, "Id")));
  json_object_set_new(linux_cfg, "cgroupsPath", json_string(cgroup));
  /* docker's devices rule: deny all, allow the standard nodes (the runtime
   * adds those) — the default spec's "deny all" stands. */
  set_resources(spec, host);
  static const char *const files[] = {"hostname", "hosts", "resolv.conf", NULL};
  for (const char *const *f = files; *f; f++) {
    char source[4096], dest[64];
    snprintf(source, sizeof source, "%s/%s", dir, *f);
    snprintf(dest, sizeof dest, "/etc/%s", *f);
    add_bind(spec, source, dest, false);
  }
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
