/* skiff: the command line. Global flags, the command table, and the one
 * place where a command's error is printed and turned into an exit status. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/cleanup.h"

struct command {
  const char *name;
  cli_command_fn fn;
  const char *summary; /* NULL: an alias, not listed */
};

static const struct command container_commands[] = {
    {"attach", cmd_attach,
     "Attach local standard input, output, and error streams to a running container"},
    {"commit", cmd_commit, "Create a new image from a container's changes"},
    {"cp", cmd_cp, "Copy files/folders between a container and the local filesystem"},
    {"create", cmd_create, "Create a new container"},
    {"diff", cmd_diff,
     "Inspect changes to files or directories on a container's filesystem"},
    {"exec", cmd_exec, "Execute a command in a running container"},
    {"export", cmd_export, "Export a container's filesystem as a tar archive"},
    {"inspect", cmd_container_inspect,
     "Display detailed information on one or more containers"},
    {"kill", cmd_kill, "Kill one or more running containers"},
    {"logs", cmd_logs, "Fetch the logs of a container"},
    {"ls", cmd_ps, "List containers"},
    {"list", cmd_ps, NULL},
    {"ps", cmd_ps, NULL},
    {"pause", cmd_pause, "Pause all processes within one or more containers"},
    {"prune", cmd_container_prune, "Remove all stopped containers"},
    {"rename", cmd_rename, "Rename a container"},
    {"restart", cmd_restart, "Restart one or more containers"},
    {"rm", cmd_rm, "Remove one or more containers"},
    {"remove", cmd_rm, NULL},
    {"run", cmd_run, "Create and run a new container from an image"},
    {"start", cmd_start, "Start one or more stopped containers"},
    {"stats", cmd_stats,
     "Display a live stream of container(s) resource usage statistics"},
    {"stop", cmd_stop, "Stop one or more running containers"},
    {"top", cmd_top, "Display the running processes of a container"},
    {"unpause", cmd_unpause, "Unpause all processes within one or more containers"},
    {"update", cmd_update, "Update configuration of one or more containers"},
    {"wait", cmd_wait,
     "Block until one or more containers stop, then print their exit codes"},
    {NULL, NULL, NULL}};

static const struct command image_commands[] = {
    {"import", cmd_import,
     "Import the contents from a tarball to create a filesystem image"},
    {"inspect", cmd_image_inspect,
     "Display detailed information on one or more images"},
    {"load", cmd_load, "Load an image from a tar archive or STDIN"},
    {"ls", cmd_images, "List images"},
    {"list", cmd_images, NULL},
    {"prune", cmd_image_prune, "Remove unused images"},
    {"pull", cmd_pull, "Download an image from a registry"},
    {"push", cmd_push, "Upload an image to a registry"},
    {"rm", cmd_rmi, "Remove one or more images"},
    {"remove", cmd_rmi, NULL},
    {"save", cmd_save,
     "Save one or more images to a tar archive (streamed to STDOUT by default)"},
    {"tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {NULL, NULL, NULL}};

static const struct command system_commands[] = {
    {"df", cmd_system_df, "Show skiff disk usage"},
    {"events", cmd_events, "Get real time events from the server"},
    {"info", cmd_info, "Display system-wide information"},
    {"prune", cmd_system_prune, "Remove unused data"},
    {NULL, NULL, NULL}};

static const struct command top_commands[] = {
    {"run", cmd_run, "Create and run a new container from an image"},
    {"exec", cmd_exec, "Execute a command in a running container"},
    {"ps", cmd_ps, "List containers"},
    {"images", cmd_images, "List images"},
    {"pull", cmd_pull, "Download an image from a registry"},
    {"push", cmd_push, "Upload an image to a registry"},
    {"version", cmd_version, "Show the skiff version information"},
    {"info", cmd_info, "Display system-wide information"},
    {"attach", cmd_attach,
     "Attach local standard input, output, and error streams to a running container"},
    {"commit", cmd_commit, "Create a new image from a container's changes"},
    {"cp", cmd_cp, "Copy files/folders between a container and the local filesystem"},
    {"create", cmd_create, "Create a new container"},
    {"diff", cmd_diff,
     "Inspect changes to files or directories on a container's filesystem"},
    {"events", cmd_events, "Get real time events from the server"},
    {"export", cmd_export, "Export a container's filesystem as a tar archive"},
    {"import", cmd_import,
     "Import the contents from a tarball to create a filesystem image"},
    {"inspect", cmd_inspect, "Return low-level information on skiff objects"},
    {"kill", cmd_kill, "Kill one or more running containers"},
    {"load", cmd_load, "Load an image from a tar archive or STDIN"},
    {"login", cmd_login, "Authenticate to a registry"},
    {"logout", cmd_logout, "Log out from a registry"},
    {"logs", cmd_logs, "Fetch the logs of a container"},
    {"pause", cmd_pause, "Pause all processes within one or more containers"},
    {"rename", cmd_rename, "Rename a container"},
    {"restart", cmd_restart, "Restart one or more containers"},
    {"rm", cmd_rm, "Remove one or more containers"},
    {"rmi", cmd_rmi, "Remove one or more images"},
    {"save", cmd_save,
     "Save one or more images to a tar archive (streamed to STDOUT by default)"},
    {"search", cmd_search, "Search Docker Hub for images"},
    {"start", cmd_start, "Start one or more stopped containers"},
    {"stats", cmd_stats,
     "Display a live stream of container(s) resource usage statistics"},
    {"stop", cmd_stop, "Stop one or more running containers"},
    {"tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"top", cmd_top, "Display the running processes of a container"},
    {"unpause", cmd_unpause, "Unpause all processes within one or more containers"},
    {"update", cmd_update, "Update configuration of one or more containers"},
    {"wait", cmd_wait,
     "Block until one or more containers stop, then print their exit codes"},
    {NULL, NULL, NULL}};

static const struct {
  const char *name;
  const struct command *commands;
  const char *summary;
} groups[] = {
    {"container", container_commands, "Manage containers"},
    {"image", image_commands, "Manage images"},
    {"system", system_commands, "Manage skiff"},
};

static const struct command *find(const struct command *table, const char *name)
{
  for (const struct command *c = table; c->name; c++)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

static void print_commands(const char *title, const struct command *table)
{
  printf("\n%s:\n", title);
  for (const struct command *c = table; c->name; c++)
    if (c->summary)
      printf("  %-10s  %s\n", c->name, c->summary);
}

static void print_usage(void)
{
  printf("\nUsage:  skiff [OPTIONS] COMMAND\n\nA self-sufficient runtime for "
         "containers\n");
  print_commands("Commands", top_commands);
  printf("\nManagement Commands:\n");
  for (size_t i = 0; i < sizeof(groups) / sizeof(*groups); i++)
    printf("  %-10s  %s\n", groups[i].name, groups[i].summary);
  printf("\nGlobal Options:\n"
         "  -D, --debug            Enable debug mode\n"
         "  -H, --host string      Daemon socket to connect to (default $SKIFF_HOST,\n"
         "                         $DOCKER_HOST, " CLIENT_DEFAULT_HOST ")\n"
         "  -l, --log-level string Set the logging level (default \"info\")\n"
         "  -v, --version          Print version information and quit\n"
         "\nRun 'skiff COMMAND --help' for more information on a command.\n");
}

static void print_group_usage(const char *group, const struct command *table)
{
  printf("\nUsage:  skiff %s COMMAND\n", group);
  print_commands("Commands", table);
  printf("\nRun 'skiff %s COMMAND --help' for more information on a command.\n", group);
}

/* A bad global flag, as docker 28 reports it. */
static int global_flag_error(skiff_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int global_flag_error(skiff_error_t **err, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *what = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&what, fmt, ap);
  va_end(ap);
  return skiff_error_invalid(
      err,
      "%s\n\nUsage:  skiff [OPTIONS] COMMAND [ARG...]\n\nRun 'skiff "
      "--help' for more information",
      n < 0 ? "bad flag" : what);
}

/* Global flags end at the command name. Returns the index of the command,
 * argc when there is none, or -1 with *err. */
static int parse_globals(struct cli *cli, int argc, char **argv, bool *version,
                         skiff_error_t **err)
{
  const char *host = NULL;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0 || strcmp(a, "-l") == 0 ||
        strcmp(a, "--log-level") == 0 || strcmp(a, "--config") == 0 ||
        strcmp(a, "-c") == 0 || strcmp(a, "--context") == 0) {
      if (i + 1 >= argc && a[1] != '-')
        return global_flag_error(err, "flag needs an argument: '%c' in %s", a[1], a);
      if (i + 1 >= argc)
        return global_flag_error(err, "flag needs an argument: %s", a);
      if (a[1] == 'H' || strcmp(a, "--host") == 0)
        host = argv[i + 1];
      i++;
    } else if (strncmp(a, "--host=", 7) == 0) {
      host = a + 7;
    } else if (strncmp(a, "-H", 2) == 0) {
      host = a + 2;
    } else if (strcmp(a, "-D") == 0 || strcmp(a, "--debug") == 0) {
      cli->debug = true;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      *version = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      return argc;
    } else if (strncmp(a, "--log-level=", 12) != 0 && strncmp(a, "--config=", 9) != 0) {
      return global_flag_error(err, "unknown %s: %s",
                               a[1] == '-' ? "flag" : "shorthand flag", a);
    }
  }
  cli->host = client_pick_host(host);
  return i;
}

/* Resolve "container ls" or "ps" to its function; sets cli->name. */
static cli_command_fn resolve(struct cli *cli, int argc, char **argv, int *consumed,
                              char *name, size_t name_len)
{
  for (size_t g = 0; g < sizeof(groups) / sizeof(*groups); g++) {
    if (strcmp(argv[0], groups[g].name) != 0)
      continue;
    const struct command *c = argc > 1 ? find(groups[g].commands, argv[1]) : NULL;
    if (c == NULL && argc > 1 && argv[1][0] != '-') {
      snprintf(name, name_len, "%s %s", argv[0], argv[1]);
      *consumed = -2; /* an unknown command of the group */
      return NULL;
    }
    if (c == NULL) {
      print_group_usage(groups[g].name, groups[g].commands);
      *consumed = 0;
      return NULL;
    }
    snprintf(name, name_len, "%s %s", argv[0], argv[1]);
    *consumed = 2;
    return c->fn;
  }
  const struct command *c = find(top_commands, argv[0]);
  snprintf(name, name_len, "%s", argv[0]);
  *consumed = c ? 1 : -1;
  return c ? c->fn : NULL;
}

static int finish(struct cli *cli, int status, skiff_error_t *err)
{
  if (status < 0) {
    cli_report(err);
    status = cli->fail_status;
  }
  skiff_error_free(&err);
  client_free(cli->client);
  fflush(stdout);
  return status;
}

int main(int argc, char **argv)
{
  struct cli cli = {.fail_status = 1};
  skiff_error_t *err = NULL;
  bool version = false;
  int at = parse_globals(&cli, argc, argv, &version, &err);
  if (at < 0) {
    cli.fail_status = 125;
    return finish(&cli, -1, err);
  }
  if (version) {
    printf("skiff version %s\n", SKIFF_VERSION);
    return finish(&cli, 0, NULL);
  }
  if (at >= argc) {
    print_usage();
    return finish(&cli, 0, NULL);
  }
  char name[64];
  int consumed = 0;
  cli_command_fn fn = resolve(&cli, argc - at, argv + at, &consumed, name, sizeof name);
  if (fn == NULL) {
    if (consumed == 0)
      return finish(&cli, 0, NULL);
    if (consumed == -2)
      skiff_error_invalid(&err,
                          "skiff: unknown command: skiff %s\n\nUsage:  skiff %s\n\nRun "
                          "'skiff %s --help' for more information",
                          name, argv[at], argv[at]);
    else
      skiff_error_invalid(
          &err,
          "skiff: unknown command: skiff %s\n\nRun 'skiff --help' for more "
          "information",
          argv[at]);
    return finish(&cli, -1, err);
  }
  cli.name = name;
  cli.client = client_new(cli.host, &err);
  if (cli.client == NULL)
    return finish(&cli, -1, err);
  /* argv[0] of the command is its (last) name, as opts_parse expects. */
  int cmd_argc = argc - at - consumed + 1;
  char **cmd_argv = argv + at + consumed - 1;
  int status = fn(&cli, cmd_argc, cmd_argv, &err);
  return finish(&cli, status, err);
}
