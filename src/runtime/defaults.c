/* runtime.h's `spec` and `features`: the default config.json, and what
 * this runtime supports. */
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "runtime.h"
#include "seccomp.h"

static json_t *default_mounts(void)
{
  return json_pack(
      "[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s,s,s,s]},"
      " {s:s, s:s, s:s, s:[s,s,s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s,s]},"
      " {s:s, s:s, s:s, s:[s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s]},"
      " {s:s, s:s, s:s, s:[s,s,s,s,s]}]",
      "destination", "/proc", "type", "proc", "source", "proc", "destination", "/dev",
      "type", "tmpfs", "source", "tmpfs", "options", "nosuid", "strictatime",
      "mode=755", "size=65536k", "destination", "/dev/pts", "type", "devpts", "source",
      "devpts", "options", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
      "mode=0620", "gid=5", "destination", "/dev/shm", "type", "tmpfs", "source", "shm",
      "options", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", "destination",
      "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid",
      "noexec", "nodev", "destination", "/sys", "type", "sysfs", "source", "sysfs",
      "options", "nosuid", "noexec", "nodev", "ro", "destination", "/sys/fs/cgroup",
      "type", "cgroup", "source", "cgroup", "options", "nosuid", "noexec", "nodev",
      "relatime", "ro");
}

static json_t *default_linux(void)
{
  return json_pack(
      "{s:{s:[{s:b, s:s}]}, s:[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}],"
      " s:[s,s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s,s]}",
      "resources", "devices", "allow", false, "access", "rwm", "namespaces", "type",
      "pid", "type", "network", "type", "ipc", "type", "uts", "type", "mount", "type",
      "cgroup", "maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore",
      "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "readonlyPaths", "/proc/bus",
      "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys/fs/cgroup");
}

static void make_rootless(json_t *spec)
{
  json_t *linux_cfg = json_object_get(spec, "linux");
  json_object_del(linux_cfg, "resources");
  /* Like runc: without privileges there is no way to give a new network
   * namespace any connectivity, so rootless containers share the host's. */
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
  json_array_append_new(namespaces, json_pack("{s:s}", "type", "user"));
  json_object_set_new(linux_cfg, "uidMappings",
                      json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                (int)getuid(), "size", 1));
  json_object_set_new(linux_cfg, "gidMappings",
                      json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                (int)getgid(), "size", 1));
  /* A user namespace cannot mount sysfs without its own network namespace
   * nor make device nodes: bind what the host has instead. */
  json_t *mounts = json_object_get(spec, "mounts");
  json_t *m;
  json_array_foreach(mounts, i, m)
  {
    const char *dest = json_string_value(json_object_get(m, "destination"));
    if (strcmp(dest, "/sys") == 0)
      json_array_set_new(mounts, i,
                         json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination",
                                   "/sys", "type", "none", "source", "/sys", "options",
                                   "rbind", "nosuid", "noexec", "nodev", "ro"));
  }
}

json_t *runtime_default_spec(bool rootless)
{
  json_t *caps =
      json_pack("[s,s,s]", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");
  json_t *spec = json_pack(
      "{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s,s], s:s,"
      "  s:{s:O, s:O, s:O}, s:[{s:s, s:i, s:i}], s:b},"
      " s:{s:s, s:b}, s:s, s:o, s:o}",
      "ociVersion", "1.1.0", "process", "terminal", true, "user", "uid", 0, "gid", 0,
      "args", "sh", "env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
      "cwd", "/", "capabilities", "bounding", caps, "effective", caps, "permitted",
      caps, "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
      "noNewPrivileges", true, "root", "path", "rootfs", "readonly", true, "hostname",
      "skiff", "mounts", default_mounts(), "linux", default_linux());
  json_decref(caps);
  if (spec && rootless)
    make_rootless(spec);
  return spec;
}

static json_t *string_array(const char *const *items)
{
  json_t *array = json_array();
  for (; *items; items++)
    json_array_append_new(array, json_string(*items));
  return array;
}

json_t *runtime_features(void)
{
  static const char *const hooks[] = {"prestart",
                                      "createRuntime",
                                      "createContainer",
                                      "startContainer",
                                      "poststart",
                                      "poststop",
                                      NULL};
  static const char *const mount_options[] = {
      "async",      "atime",         "bind",       "defaults", "dev",
      "diratime",   "dirsync",       "exec",       "loud",     "mand",
      "noatime",    "nodev",         "nodiratime", "noexec",   "nomand",
      "norelatime", "nostrictatime", "nosuid",     "private",  "rbind",
      "relatime",   "remount",       "ro",         "rprivate", "rshared",
      "rslave",     "runbindable",   "rw",         "shared",   "silent",
      "slave",      "strictatime",   "suid",       "sync",     "unbindable",
      NULL};
  static const char *const namespaces[] = {"cgroup", "ipc",  "mount", "network", "pid",
                                           "time",   "user", "uts",   NULL};
  json_t *linux_features =
      json_pack("{s:o, s:o, s:o, s:o, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}}",
                "namespaces", string_array(namespaces), "capabilities",
                caps_known_names(), "cgroup", cgroup_features(), "seccomp",
                seccomp_features(), "apparmor", "enabled", false, "selinux", "enabled",
                false, "intelRdt", "enabled", false, "mountExtensions", "idmap", false);
  return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:s}}", "ociVersionMin", "1.0.0",
                   "ociVersionMax", "1.1.0", "hooks", string_array(hooks),
                   "mountOptions", string_array(mount_options), "linux", linux_features,
                   "annotations", "io.github.skiff.runtime", "skiff-oci");
}
