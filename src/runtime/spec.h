/* config.json (runtime-spec 1.1), loaded and validated in full before the
 * runtime creates anything: a bad field is reported by name and nothing is
 * left behind. The parsed form keeps the original JSON for the parts that
 * other modules interpret (resources, seccomp) and for the hooks. Internal
 * to src/runtime. */
#ifndef SKIFF_RUNTIME_SPEC_H
#define SKIFF_RUNTIME_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "caps.h"
#include "cgroup.h"
#include "common/error.h"
#include "seccomp.h"

struct spec_rlimit {
  int resource;
  struct rlimit limit;
};

struct spec_process {
  bool terminal;
  unsigned short console_height, console_width;
  char **args;
  char **env;
  char *cwd;
  uid_t uid;
  gid_t gid;
  bool has_umask;
  mode_t umask;
  gid_t *groups;
  size_t ngroups;
  struct caps_sets *caps;
  struct spec_rlimit *rlimits;
  size_t nrlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
};

struct spec_mount {
  char *destination;
  char *type;
  char *source;
  unsigned long flags;       /* MS_* for the mount itself */
  unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (|MS_REC) */
  char *data;                /* filesystem options not known as flags */
  bool bind;                 /* a bind (MS_BIND, maybe MS_REC) */
  bool readonly_remount;     /* bind + ro needs a second remount */
};

struct spec_namespace {
  int flag;   /* CLONE_NEW* */
  char *path; /* join this one, or NULL to create */
};

struct spec_id_map {
  uint32_t container_id, host_id, size;
};

struct spec_device {
  char *path;
  char type; /* 'c', 'b', 'u' or 'p' */
  int64_t major, minor;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

struct spec {
  json_t *json; /* the whole config.json */
  char *bundle; /* absolute */
  char *rootfs; /* absolute */
  bool root_readonly;
  struct spec_process *process;
  char *hostname, *domainname;
  struct spec_mount *mounts;
  size_t nmounts;
  struct spec_namespace *namespaces;
  size_t nnamespaces;
  struct spec_id_map *uid_maps, *gid_maps;
  size_t nuid_maps, ngid_maps;
  struct spec_device *devices;
  size_t ndevices;
  char *cgroups_path;
  struct cgroup_resources *resources;
  struct seccomp_program *seccomp;
  json_t *sysctl; /* borrowed from json: object of string values */
  json_t *hooks;  /* borrowed from json: may be NULL */
  json_t *annotations;
  char **masked_paths, **readonly_paths;
  unsigned long rootfs_propagation; /* 0: the default (MS_SLAVE|MS_REC) */
  bool has_personality;
  unsigned long personality;
  json_t *time_offsets; /* borrowed: linux.timeOffsets */
};

/* Load <bundle>/config.json and validate all of it. Warnings about fields
 * this host cannot honour (apparmor, selinux labels...) are appended to
 * *warnings (newline separated; caller frees). */
struct spec *spec_load(const char *bundle, char **warnings, skiff_error_t **err);
void spec_free(struct spec *spec);

/* Parse a process object (config.json's, or exec --process). */
struct spec_process *spec_process_parse(json_t *process, const char *where,
                                        char **warnings, skiff_error_t **err);
void spec_process_free(struct spec_process *process);

/* The namespace entry for flag, or NULL when the config does not list it. */
const struct spec_namespace *spec_namespace_find(const struct spec *spec, int flag);

/* Map a namespace type name ("pid", "network", ...) to CLONE_NEW*, or 0. */
int spec_namespace_flag(const char *type);

/* The /proc/PID/ns/<name> file name for a CLONE_NEW* flag. */
const char *spec_namespace_proc_name(int flag);

/* Parse a mount option list into flags/propagation/data. */
int spec_mount_options(json_t *options, struct spec_mount *mount, const char *where,
                       char **warnings, skiff_error_t **err);

/* Append a line to a warnings string. */
void spec_warn(char **warnings, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
