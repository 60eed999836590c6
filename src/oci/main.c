/* skiff-oci: an OCI runtime with runc's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "oci.h"
#include "runtime/runtime.h"

static void print_usage(FILE *out)
{
  fprintf(out,
          "Usage: skiff-oci [global options] COMMAND [options] [arguments]\n\n"
          "An OCI runtime (runtime-spec 1.1), command-line compatible with runc.\n\n"
          "Commands:\n");
  for (const struct oci_command *c = oci_commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out,
          "\nGlobal options:\n"
          "  --root DIR          state directory (default " RUNTIME_DEFAULT_ROOT ")\n"
          "  --log FILE          write diagnostics to FILE\n"
          "  --log-format FMT    text or json (default text)\n"
          "  --debug             debug output\n"
          "  --systemd-cgroup    cgroupsPath is slice:prefix:name\n"
          "  -v, --version       print the version\n"
          "  -h, --help          this help; COMMAND --help for a command's\n");
}

static const struct oci_command *find_command(const char *name)
{
  if (strcmp(name, "ls") == 0)
    name = "list";
  for (const struct oci_command *c = oci_commands; c->name; c++)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

struct global_args {
  struct oci_globals globals;
  const char *log_path, *log_format;
  bool debug;
};

/* Parse the options before the command. Returns the index of the command,
 * -1 for an error, or 0 when the answer was printed (help, version). */
static int parse_globals(int argc, char **argv, struct global_args *a)
{
  enum { OPT_ROOT = 256, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD, OPT_IGNORED };
  static const struct option options[] = {
      {"root", required_argument, NULL, OPT_ROOT},
      {"log", required_argument, NULL, OPT_LOG},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"debug", no_argument, NULL, OPT_DEBUG},
      {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
      {"rootless", required_argument, NULL, OPT_IGNORED},
      {"criu", required_argument, NULL, OPT_IGNORED},
      {"version", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {0, 0, 0, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "+vh", options, NULL)) != -1) {
    switch (opt) {
    case OPT_ROOT: a->globals.root = optarg; break;
    case OPT_LOG: a->log_path = optarg; break;
    case OPT_LOG_FORMAT: a->log_format = optarg; break;
    case OPT_DEBUG: a->debug = true; break;
    case OPT_SYSTEMD: a->globals.systemd_cgroup = true; break;
    case OPT_IGNORED: break;
    case 'v': printf("skiff-oci version %s\nspec: 1.1.0\n", SKIFF_VERSION); return 0;
    case 'h': print_usage(stdout); return 0;
    default: return -1;
    }
  }
  return optind;
}

static int report(skiff_error_t *err)
{
  const char *msg = err && err->msg ? err->msg : "unknown error";
  fprintf(stderr, "skiff-oci: %s\n", msg);
  if (log_to_file())
    log_error("%s", msg);
  return 1;
}

int main(int argc, char **argv)
{
  struct global_args a = {.globals = {.root = RUNTIME_DEFAULT_ROOT}};
  int index = parse_globals(argc, argv, &a);
  if (index <= 0)
    return index == 0 ? 0 : 1;
  if (a.log_format && strcmp(a.log_format, "json") != 0 &&
      strcmp(a.log_format, "text") != 0) {
    fprintf(stderr, "skiff-oci: --log-format: \"%s\" is not text or json\n",
            a.log_format);
    return 1;
  }
  bool json = a.log_format && strcmp(a.log_format, "json") == 0;
  if (log_open(a.log_path, json, a.debug) < 0)
    fprintf(stderr, "skiff-oci: cannot open log file %s\n", a.log_path);
  if (index >= argc) {
    print_usage(stderr);
    return 1;
  }
  const struct oci_command *cmd = find_command(argv[index]);
  if (cmd == NULL) {
    fprintf(stderr, "skiff-oci: unknown command \"%s\" (see skiff-oci --help)\n",
            argv[index]);
    return 1;
  }
  skiff_error_t *err = NULL;
  if (cmd->enters_container && runtime_ensure_cloned_binary(argv, &err) < 0)
    return report(err);
  optind = 0; /* reinitialise getopt for the command's own options */
  int status = cmd->run(&a.globals, argc - index, argv + index, &err);
  if (err) {
    status = report(err);
    skiff_error_free(&err);
  }
  return status;
}
