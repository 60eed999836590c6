/* skiff-oci exec and update: both build an OCI object (a process, a
 * resources object) from a file or from runc's flags, then call the
 * runtime. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "commands.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "runtime/runtime.h"

struct exec_flags {
  const char *process_file, *cwd, *user;
  bool tty, no_new_privs;
  json_t *env, *caps, *groups; /* arrays, owned */
};

/* Set or replace NAME=VALUE in an env array. */
static void env_set(json_t *env, const char *entry)
{
  size_t name_len = strcspn(entry, "=");
  size_t i;
  json_t *item;
  json_array_foreach(env, i, item)
  {
    const char *have = json_string_value(item);
    if (have && strncmp(have, entry, name_len) == 0 && have[name_len] == '=') {
      json_array_set_new(env, i, json_string(entry));
      return;
    }
  }
  json_array_append_new(env, json_string(entry));
}

static int apply_user(json_t *process, const char *spec, skiff_error_t **err)
{
  char *end;
  long uid = strtol(spec, &end, 10);
  long gid = 0;
  if (end == spec || (*end != '\0' && *end != ':') || uid < 0)
    return skiff_error_invalid(err, "exec: --user \"%s\" is not UID[:GID]", spec);
  if (*end == ':') {
    char *gid_text = end + 1;
    gid = strtol(gid_text, &end, 10);
    if (end == gid_text || *end != '\0' || gid < 0)
      return skiff_error_invalid(err, "exec: --user \"%s\" is not UID[:GID]", spec);
  }
  json_t *user = json_object_get(process, "user");
  if (!json_is_object(user)) {
    user = json_object();
    json_object_set_new(process, "user", user);
  }
  json_object_set_new(user, "uid", json_integer(uid));
  json_object_set_new(user, "gid", json_integer(gid));
  return 0;
}

static void add_caps(json_t *process, json_t *caps)
{
  static const char *sets[] = {"bounding", "effective", "permitted"};
  json_t *all = json_object_get(process, "capabilities");
  if (!json_is_object(all)) {
    all = json_object();
    json_object_set_new(process, "capabilities", all);
  }
  for (size_t s = 0; s < 3; s++) {
    json_t *set = json_object_get(all, sets[s]);
    if (!json_is_array(set)) {
      set = json_array();
      json_object_set_new(all, sets[s], set);
    }
    json_array_extend(set, caps);
  }
}

/* The process for an inline exec: the container's own process with the
 * command line's changes, as runc builds it. */
static json_t *process_from_flags(const struct oci_globals *g, const char *id,
                                  struct exec_flags *f, int argc, char **argv,
                                  skiff_error_t **err)
{
  cleanup_json json_t *config = runtime_config(g->root, id, err);
  if (config == NULL)
    return NULL;
  cleanup_json json_t *process = json_deep_copy(json_object_get(config, "process"));
  if (!json_is_object(process)) {
    skiff_error_invalid(err, "exec: the container's config has no process");
    return NULL;
  }
  json_t *args = json_array();
  for (int i = 0; i < argc; i++)
    json_array_append_new(args, json_string(argv[i]));
  json_object_set_new(process, "args", args);
  json_object_set_new(process, "terminal", json_boolean(f->tty));
  json_object_del(process, "consoleSize");
  if (f->cwd)
    json_object_set_new(process, "cwd", json_string(f->cwd));
  json_t *env = json_object_get(process, "env");
  if (!json_is_array(env)) {
    env = json_array();
    json_object_set_new(process, "env", env);
  }
  size_t i;
  json_t *item;
  json_array_foreach(f->env, i, item) env_set(env, json_string_value(item));
  if (f->user && apply_user(process, f->user, err) < 0)
    return NULL;
  if (json_array_size(f->groups))
    json_object_set(json_object_get(process, "user"), "additionalGids", f->groups);
  if (json_array_size(f->caps))
    add_caps(process, f->caps);
  if (f->no_new_privs)
    json_object_set_new(process, "noNewPrivileges", json_true());
  return steal_pointer(&process);
}

static void set_console_size_from_stdin(json_t *process)
{
  struct winsize ws;
  if (!json_is_true(json_object_get(process, "terminal")) ||
      json_object_get(process, "consoleSize") || ioctl(0, TIOCGWINSZ, &ws) < 0)
    return;
  json_object_set_new(process, "consoleSize",
                      json_pack("{s:i, s:i}", "height", ws.ws_row, "width", ws.ws_col));
}

static int parse_exec_flags(int argc, char **argv, struct exec_flags *f,
                            struct runtime_options *o, skiff_error_t **err)
{
  enum { OPT_PID_FILE = 256, OPT_CONSOLE, OPT_CWD, OPT_NNP, OPT_PRESERVE, OPT_IGNORED };
  static const struct option options[] = {
      {"process", required_argument, NULL, 'p'},
      {"tty", no_argument, NULL, 't'},
      {"detach", no_argument, NULL, 'd'},
      {"env", required_argument, NULL, 'e'},
      {"user", required_argument, NULL, 'u'},
      {"cap", required_argument, NULL, 'c'},
      {"additional-gids", required_argument, NULL, 'g'},
      {"pid-file", required_argument, NULL, OPT_PID_FILE},
      {"console-socket", required_argument, NULL, OPT_CONSOLE},
      {"cwd", required_argument, NULL, OPT_CWD},
      {"no-new-privs", no_argument, NULL, OPT_NNP},
      {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
      {"process-label", required_argument, NULL, OPT_IGNORED},
      {"apparmor", required_argument, NULL, OPT_IGNORED},
      {"cgroup", required_argument, NULL, OPT_IGNORED},
      {"ignore-paused", no_argument, NULL, OPT_IGNORED},
      {0, 0, 0, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "+p:tde:u:c:g:", options, NULL)) != -1) {
    switch (opt) {
    case 'p': f->process_file = optarg; break;
    case 't': f->tty = true; break;
    case 'd': o->detach = true; break;
    case 'e': json_array_append_new(f->env, json_string(optarg)); break;
    case 'u': f->user = optarg; break;
    case 'c': json_array_append_new(f->caps, json_string(optarg)); break;
    case 'g': json_array_append_new(f->groups, json_integer(atoi(optarg))); break;
    case OPT_PID_FILE: o->pid_file = optarg; break;
    case OPT_CONSOLE: o->console_socket = optarg; break;
    case OPT_CWD: f->cwd = optarg; break;
    case OPT_NNP: f->no_new_privs = true; break;
    case OPT_PRESERVE: o->preserve_fds = atoi(optarg); break;
    case OPT_IGNORED: break;
    default: return oci_bad_usage("exec", "unknown option", err);
    }
  }
  if (optind >= argc)
    return oci_bad_usage("exec", "a container id is required", err);
  o->id = argv[optind++];
  if (f->process_file == NULL && optind >= argc)
    return oci_bad_usage("exec", "a command or --process is required", err);
  return 0;
}

int oci_cmd_exec(const struct oci_globals *g, int argc, char **argv,
                 skiff_error_t **err)
{
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return oci_wants_help(2, (char *[]){argv[0], "--help"}, "exec"), 0;
  struct runtime_options o = {.root = g->root, .systemd_cgroup = g->systemd_cgroup};
  cleanup_json json_t *env = json_array();
  cleanup_json json_t *caps = json_array();
  cleanup_json json_t *groups = json_array();
  struct exec_flags f = {.env = env, .caps = caps, .groups = groups};
  if (parse_exec_flags(argc, argv, &f, &o, err) < 0)
    return 1;
  cleanup_json json_t *process =
      f.process_file
          ? jsonutil_load_file(f.process_file, err)
          : process_from_flags(g, o.id, &f, argc - optind, argv + optind, err);
  if (process == NULL)
    return 1;
  set_console_size_from_stdin(process);
  int status = 0;
  return runtime_exec(&o, process, &status, err) < 0 ? 1 : status;
}

/* "512m", "1g", "1048576", "-1": runc's units.RAMInBytes. */
static int parse_bytes(const char *text, int64_t *out)
{
  char *end;
  double value = strtod(text, &end);
  if (end == text)
    return -1;
  int64_t scale = 1;
  switch (tolower((unsigned char)*end)) {
  case '\0': break;
  case 'k': scale = 1LL << 10; break;
  case 'm': scale = 1LL << 20; break;
  case 'g': scale = 1LL << 30; break;
  case 't': scale = 1LL << 40; break;
  default: return -1;
  }
  if (*end && end[1] != '\0' && strcasecmp(end + 1, "b") != 0 &&
      strcasecmp(end + 1, "ib") != 0)
    return -1;
  *out = (int64_t)(value * (double)scale);
  return 0;
}

static json_t *section(json_t *resources, const char *name)
{
  json_t *s = json_object_get(resources, name);
  if (!json_is_object(s)) {
    s = json_object();
    json_object_set_new(resources, name, s);
  }
  return s;
}

struct update_flag {
  const char *name;
  const char *section;
  const char *field;
  enum { UPDATE_BYTES, UPDATE_INT, UPDATE_STRING } kind;
};

static const struct update_flag update_flags[] = {
    {"memory", "memory", "limit", UPDATE_BYTES},
    {"memory-swap", "memory", "swap", UPDATE_BYTES},
    {"memory-reservation", "memory", "reservation", UPDATE_BYTES},
    {"cpu-shares", "cpu", "shares", UPDATE_INT},
    {"cpu-quota", "cpu", "quota", UPDATE_INT},
    {"cpu-period", "cpu", "period", UPDATE_INT},
    {"cpu-rt-period", "cpu", "realtimePeriod", UPDATE_INT},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", UPDATE_INT},
    {"cpuset-cpus", "cpu", "cpus", UPDATE_STRING},
    {"cpuset-mems", "cpu", "mems", UPDATE_STRING},
    {"pids-limit", "pids", "limit", UPDATE_INT},
    {"blkio-weight", "blockIO", "weight", UPDATE_INT},
};
#define NUPDATE (sizeof update_flags / sizeof update_flags[0])

static int apply_update_flag(json_t *resources, const struct update_flag *flag,
                             const char *value, skiff_error_t **err)
{
  json_t *s = section(resources, flag->section);
  if (flag->kind == UPDATE_STRING) {
    json_object_set_new(s, flag->field, json_string(value));
    return 0;
  }
  int64_t n = 0;
  char *end = NULL;
  if (flag->kind == UPDATE_BYTES ? parse_bytes(value, &n) < 0
                                 : (n = strtoll(value, &end, 10), *end != '\0'))
    return skiff_error_invalid(err, "update: --%s: \"%s\" is not a valid value",
                               flag->name, value);
  json_object_set_new(s, flag->field, json_integer(n));
  return 0;
}

static json_t *load_resources(const char *file, skiff_error_t **err)
{
  if (strcmp(file, "-") != 0)
    return jsonutil_load_file(file, err);
  json_error_t jerr;
  json_t *json = json_loadf(stdin, 0, &jerr);
  if (json == NULL)
    skiff_error_invalid(err, "update: --resources -: line %d: %s", jerr.line,
                        jerr.text);
  return json;
}

int oci_cmd_update(const struct oci_globals *g, int argc, char **argv,
                   skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "update"))
    return 0;
  struct option options[NUPDATE + 2];
  for (size_t i = 0; i < NUPDATE; i++)
    options[i] =
        (struct option){update_flags[i].name, required_argument, NULL, (int)i + 256};
  options[NUPDATE] = (struct option){"resources", required_argument, NULL, 'r'};
  options[NUPDATE + 1] = (struct option){0, 0, 0, 0};
  cleanup_json json_t *resources = json_object();
  cleanup_json json_t *from_file = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "+r:", options, NULL)) != -1) {
    if (opt == 'r') {
      json_decref(from_file);
      if ((from_file = load_resources(optarg, err)) == NULL)
        return 1;
    } else if (opt >= 256 && opt < 256 + (int)NUPDATE) {
      if (apply_update_flag(resources, &update_flags[opt - 256], optarg, err) < 0)
        return 1;
    } else {
      return oci_bad_usage("update", "unknown option", err), 1;
    }
  }
  if (optind != argc - 1)
    return oci_bad_usage("update", "expects exactly one container id", err), 1;
  json_t *chosen = from_file ? from_file : resources;
  return runtime_update(g->root, argv[optind], chosen, err) < 0 ? 1 : 0;
}
