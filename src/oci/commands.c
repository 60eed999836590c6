/* The lifecycle commands of skiff-oci: create, start, run, state, list,
 * kill, delete, pause, resume, ps, spec, features, events. exec and update
 * are in exec_update.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "runtime/runtime.h"

bool oci_wants_help(int argc, char **argv, const char *name)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return false;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      for (const struct oci_command *c = oci_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
          oci_print_command_help(c);
      return true;
    }
  }
  return false;
}

void oci_print_command_help(const struct oci_command *cmd)
{
  printf("Usage: skiff-oci %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
}

int oci_bad_usage(const char *name, const char *what, skiff_error_t **err)
{
  return skiff_error_invalid(err, "%s: %s (see skiff-oci %s --help)", name, what, name);
}

int oci_print_json(json_t *json)
{
  char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text == NULL)
    return 1;
  puts(text);
  free(text);
  return 0;
}

/* The single container id after the options. */
static const char *one_id(const char *name, int argc, char **argv, skiff_error_t **err)
{
  if (optind != argc - 1) {
    oci_bad_usage(name,
                  optind >= argc ? "a container id is required"
                                 : "expects exactly one container id",
                  err);
    return NULL;
  }
  return argv[optind];
}

/* Options shared by create and run (and their names in runc). */
static int parse_create_options(const char *name, int argc, char **argv,
                                struct runtime_options *o, skiff_error_t **err)
{
  enum {
    OPT_CONSOLE = 256,
    OPT_PID_FILE,
    OPT_NO_PIVOT,
    OPT_NO_KEYRING,
    OPT_PRESERVE,
    OPT_IGNORED_FLAG,
    OPT_IGNORED_ARG
  };
  static const struct option options[] = {
      {"bundle", required_argument, NULL, 'b'},
      {"console-socket", required_argument, NULL, OPT_CONSOLE},
      {"pid-file", required_argument, NULL, OPT_PID_FILE},
      {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
      {"no-new-keyring", no_argument, NULL, OPT_NO_KEYRING},
      {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
      {"detach", no_argument, NULL, 'd'},
      {"keep", no_argument, NULL, OPT_IGNORED_FLAG},
      {"no-subreaper", no_argument, NULL, OPT_IGNORED_FLAG},
      {"pidfd-socket", required_argument, NULL, OPT_IGNORED_ARG},
      {0, 0, 0, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "+b:d", options, NULL)) != -1) {
    switch (opt) {
    case 'b': o->bundle = optarg; break;
    case 'd': o->detach = true; break;
    case OPT_CONSOLE: o->console_socket = optarg; break;
    case OPT_PID_FILE: o->pid_file = optarg; break;
    case OPT_NO_PIVOT: o->no_pivot = true; break;
    case OPT_NO_KEYRING: o->no_new_keyring = true; break;
    case OPT_PRESERVE: o->preserve_fds = atoi(optarg); break;
    case OPT_IGNORED_FLAG:
    case OPT_IGNORED_ARG: break;
    default: return oci_bad_usage(name, "unknown option", err);
    }
  }
  if (o->preserve_fds < 0)
    return oci_bad_usage(name, "--preserve-fds must not be negative", err);
  o->id = one_id(name, argc, argv, err);
  return o->id ? 0 : -1;
}

static int cmd_create(const struct oci_globals *g, int argc, char **argv,
                      skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "create"))
    return 0;
  struct runtime_options o = {.root = g->root, .systemd_cgroup = g->systemd_cgroup};
  if (parse_create_options("create", argc, argv, &o, err) < 0)
    return 1;
  return runtime_create(&o, NULL, err) < 0 ? 1 : 0;
}

static int cmd_run(const struct oci_globals *g, int argc, char **argv,
                   skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "run"))
    return 0;
  struct runtime_options o = {.root = g->root, .systemd_cgroup = g->systemd_cgroup};
  if (parse_create_options("run", argc, argv, &o, err) < 0)
    return 1;
  int status = 0;
  return runtime_run(&o, &status, err) < 0 ? 1 : status;
}

static int cmd_start(const struct oci_globals *g, int argc, char **argv,
                     skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "start"))
    return 0;
  optind = 1;
  const char *id = one_id("start", argc, argv, err);
  return (id == NULL || runtime_start(g->root, id, err) < 0) ? 1 : 0;
}

static int cmd_state(const struct oci_globals *g, int argc, char **argv,
                     skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "state"))
    return 0;
  optind = 1;
  const char *id = one_id("state", argc, argv, err);
  cleanup_json json_t *state = id ? runtime_state(g->root, id, err) : NULL;
  return state ? oci_print_json(state) : 1;
}

static int cmd_kill(const struct oci_globals *g, int argc, char **argv,
                    skiff_error_t **err)
{
  static const struct option options[] = {{"all", no_argument, NULL, 'a'},
                                          {0, 0, 0, 0}};
  if (oci_wants_help(argc, argv, "kill"))
    return 0;
  bool all = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "+a", options, NULL)) != -1) {
    if (opt != 'a')
      return oci_bad_usage("kill", "unknown option", err), 1;
    all = true;
  }
  if (optind >= argc || argc - optind > 2)
    return oci_bad_usage("kill", "expects a container id and an optional signal", err),
           1;
  const char *signame = argc - optind == 2 ? argv[optind + 1] : "SIGTERM";
  int sig = proc_parse_signal(signame);
  if (sig < 0)
    return skiff_error_invalid(err, "kill: unknown signal \"%s\"", signame), 1;
  return runtime_kill(g->root, argv[optind], sig, all, err) < 0 ? 1 : 0;
}

static int cmd_delete(const struct oci_globals *g, int argc, char **argv,
                      skiff_error_t **err)
{
  static const struct option options[] = {{"force", no_argument, NULL, 'f'},
                                          {0, 0, 0, 0}};
  if (oci_wants_help(argc, argv, "delete"))
    return 0;
  bool force = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "+f", options, NULL)) != -1) {
    if (opt != 'f')
      return oci_bad_usage("delete", "unknown option", err), 1;
    force = true;
  }
  const char *id = one_id("delete", argc, argv, err);
  if (id == NULL)
    return 1;
  if (runtime_delete(g->root, id, force, err) == 0)
    return 0;
  /* Like runc: deleting with --force what is already gone succeeds. */
  if (force && (*err)->status == ENOENT) {
    skiff_error_free(err);
    return 0;
  }
  return 1;
}

static int cmd_pause(const struct oci_globals *g, int argc, char **argv,
                     skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, argv[0]))
    return 0;
  optind = 1;
  const char *id = one_id(argv[0], argc, argv, err);
  if (id == NULL)
    return 1;
  int ret = strcmp(argv[0], "pause") == 0 ? runtime_pause(g->root, id, err)
                                          : runtime_resume(g->root, id, err);
  return ret < 0 ? 1 : 0;
}

static const char *format_option(const char *name, int argc, char **argv, bool *quiet,
                                 skiff_error_t **err)
{
  static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {0, 0, 0, 0}};
  const char *format = "table";
  int opt;
  while ((opt = getopt_long(argc, argv, "+f:q", options, NULL)) != -1) {
    if (opt == 'f')
      format = optarg;
    else if (opt == 'q' && quiet)
      *quiet = true;
    else
      return oci_bad_usage(name, "unknown option", err), NULL;
  }
  if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
    return skiff_error_invalid(err, "%s: --format must be table or json", name), NULL;
  return format;
}

static int cmd_list(const struct oci_globals *g, int argc, char **argv,
                    skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "list"))
    return 0;
  bool quiet = false;
  const char *format = format_option("list", argc, argv, &quiet, err);
  if (format == NULL)
    return 1;
  cleanup_json json_t *list = runtime_list(g->root, err);
  if (list == NULL)
    return 1;
  if (strcmp(format, "json") == 0)
    return oci_print_json(list);
  if (!quiet)
    printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE",
           "CREATED", "OWNER");
  size_t i;
  json_t *s;
  json_array_foreach(list, i, s)
  {
    const char *id = json_string_value(json_object_get(s, "id"));
    if (quiet) {
      puts(id);
      continue;
    }
    printf("%-12s %-10lld %-10s %-40s %-30s %s\n", id,
           (long long)json_integer_value(json_object_get(s, "pid")),
           json_string_value(json_object_get(s, "status")),
           json_string_value(json_object_get(s, "bundle")),
           json_string_value(json_object_get(s, "created")), "root");
  }
  return 0;
}

static bool pid_in(pid_t pid, const pid_t *pids, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

static int filter_ps_output(FILE *ps, const char *cmd, const pid_t *pids, size_t n,
                            skiff_error_t **err);

/* Like runc: run ps(1) with the given options and keep its header and the
 * lines of the container's processes. */
static int print_ps_table(const pid_t *pids, size_t n, int argc, char **argv,
                          skiff_error_t **err)
{
  cleanup_free char *cmd = strdup("ps");
  for (int i = 0; i < argc; i++) {
    char *joined = NULL;
    if (asprintf(&joined, "%s '%s'", cmd, argv[i]) < 0)
      return skiff_error_set(err, ENOMEM, "ps"), 1;
    free(cmd);
    cmd = joined;
  }
  if (argc == 0) {
    free(cmd);
    cmd = strdup("ps -ef");
  }
  FILE *ps = popen(cmd, "re");
  if (ps == NULL)
    return skiff_error_errno(err, "run %s", cmd), 1;
  int ret = filter_ps_output(ps, cmd, pids, n, err);
  pclose(ps);
  return ret;
}

static int filter_ps_output(FILE *ps, const char *cmd, const pid_t *pids, size_t n,
                            skiff_error_t **err)
{
  char line[4096];
  int pid_column = -1;
  while (fgets(line, sizeof line, ps)) {
    if (pid_column < 0) {
      fputs(line, stdout);
      cleanup_free char *header = strdup(line);
      char *save = NULL;
      int col = 0;
      for (char *w = strtok_r(header, " \t\n", &save); w;
           w = strtok_r(NULL, " \t\n", &save), col++)
        if (strcmp(w, "PID") == 0)
          pid_column = col;
      if (pid_column < 0)
        return skiff_error_invalid(err, "ps: no PID column in the output of %s", cmd),
               1;
      continue;
    }
    cleanup_free char *copy = strdup(line);
    char *save = NULL, *w = strtok_r(copy, " \t\n", &save);
    for (int col = 0; w && col < pid_column; col++)
      w = strtok_r(NULL, " \t\n", &save);
    if (w && pid_in((pid_t)atoi(w), pids, n))
      fputs(line, stdout);
  }
  return 0;
}

static int cmd_ps(const struct oci_globals *g, int argc, char **argv,
                  skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "ps"))
    return 0;
  const char *format = format_option("ps", argc, argv, NULL, err);
  if (format == NULL)
    return 1;
  if (optind >= argc)
    return oci_bad_usage("ps", "a container id is required", err), 1;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (runtime_pids(g->root, argv[optind], &pids, &n, err) < 0)
    return 1;
  if (strcmp(format, "json") == 0) {
    cleanup_json json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(list, json_integer(pids[i]));
    char *text = json_dumps(list, JSON_COMPACT);
    puts(text);
    free(text);
    return 0;
  }
  return print_ps_table(pids, n, argc - optind - 1, argv + optind + 1, err);
}

static int cmd_spec(const struct oci_globals *g, int argc, char **argv,
                    skiff_error_t **err)
{
  static const struct option options[] = {{"bundle", required_argument, NULL, 'b'},
                                          {"rootless", no_argument, NULL, 'r'},
                                          {0, 0, 0, 0}};
  if (oci_wants_help(argc, argv, "spec"))
    return 0;
  const char *bundle = ".";
  bool rootless = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "+b:", options, NULL)) != -1) {
    if (opt == 'b')
      bundle = optarg;
    else if (opt == 'r')
      rootless = true;
    else
      return oci_bad_usage("spec", "unknown option", err), 1;
  }
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/config.json", bundle) < 0)
    return 1;
  if (access(path, F_OK) == 0)
    return skiff_error_set(err, EEXIST, "spec: %s already exists; remove it first",
                           path),
           1;
  cleanup_json json_t *spec = runtime_default_spec(rootless);
  cleanup_free char *text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text == NULL || fs_write_file_atomic(path, text, strlen(text), 0644, 0, err) < 0)
    return 1;
  return 0;
}

static int cmd_features(const struct oci_globals *g, int argc, char **argv,
                        skiff_error_t **err)
{
  if (oci_wants_help(argc, argv, "features"))
    return 0;
  cleanup_json json_t *features = runtime_features();
  return oci_print_json(features);
}

/* events --stats: one stats event, as runc prints it. */
static int cmd_events(const struct oci_globals *g, int argc, char **argv,
                      skiff_error_t **err)
{
  static const struct option options[] = {{"stats", no_argument, NULL, 's'},
                                          {"interval", required_argument, NULL, 'i'},
                                          {0, 0, 0, 0}};
  if (oci_wants_help(argc, argv, "events"))
    return 0;
  bool stats_once = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
    if (opt == 's')
      stats_once = true;
    else if (opt != 'i')
      return oci_bad_usage("events", "unknown option", err), 1;
  }
  const char *id = one_id("events", argc, argv, err);
  if (id == NULL)
    return 1;
  if (!stats_once)
    return skiff_error_invalid(err, "events: only --stats is supported so far"), 1;
  json_t *data = runtime_stats(g->root, id, err);
  if (data == NULL)
    return 1;
  cleanup_json json_t *event =
      json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
  char *text = json_dumps(event, JSON_COMPACT);
  puts(text);
  free(text);
  return 0;
}

const struct oci_command oci_commands[] = {
    {"create", cmd_create,
     "[--bundle DIR] [--console-socket PATH] [--pid-file PATH] [--no-pivot]\n"
     "       [--no-new-keyring] [--preserve-fds N] <container-id>",
     "Create a container from a bundle; it waits for `start`.", true},
    {"start", cmd_start, "<container-id>", "Run the process of a created container.",
     false},
    {"run", cmd_run,
     "[--bundle DIR] [--detach] [--console-socket PATH] [--pid-file PATH]\n"
     "       [--no-pivot] [--no-new-keyring] [--preserve-fds N] <container-id>",
     "Create and start a container; without --detach wait for it and delete it.", true},
    {"state", cmd_state, "<container-id>", "Print the state of a container as JSON.",
     false},
    {"list", cmd_list, "[--format table|json] [--quiet]", "List containers.", false},
    {"kill", cmd_kill, "[--all] <container-id> [SIGNAL]",
     "Send a signal (default SIGTERM) to the container's init, or to all its "
     "processes.",
     false},
    {"delete", cmd_delete, "[--force] <container-id>",
     "Delete a stopped container; with --force kill it first.", false},
    {"pause", cmd_pause, "<container-id>", "Freeze every process of a container.",
     false},
    {"resume", cmd_pause, "<container-id>", "Thaw a paused container.", false},
    {"ps", cmd_ps, "[--format table|json] <container-id> [ps options]",
     "List the processes of a container.", false},
    {"exec", oci_cmd_exec,
     "[--process FILE] [--tty] [--detach] [--pid-file PATH] [--console-socket PATH]\n"
     "       [--cwd DIR] [--env K=V]... [--user UID[:GID]] [--additional-gids GID]...\n"
     "       [--cap CAP]... [--no-new-privs] [--preserve-fds N] <container-id> "
     "[COMMAND...]",
     "Run a new process in a running container.", true},
    {"update", oci_cmd_update,
     "[--resources FILE|-] [--memory N] [--memory-swap N] [--memory-reservation N]\n"
     "       [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus LIST]\n"
     "       [--cpuset-mems LIST] [--pids-limit N] [--blkio-weight N] <container-id>",
     "Change the resource limits of a running container.", false},
    {"events", cmd_events, "--stats <container-id>",
     "Print the container's cgroup statistics (OOM kills, pids limit hits...).", false},
    {"spec", cmd_spec, "[--bundle DIR] [--rootless]", "Write a default config.json.",
     false},
    {"features", cmd_features, "", "Print what this runtime supports, as JSON.", false},
    {NULL, NULL, NULL, NULL, false},
};
