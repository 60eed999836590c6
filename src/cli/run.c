/* run and create: docker's container flags turned into the create
 * request, and the foreground run (create → attach → wait → start). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "stream.h"
#include "term.h"

struct run_flags {
  bool detach, rm, interactive, tty, init, privileged, read_only, sig_proxy, quiet;
  bool entrypoint_given, stop_timeout_given;
  const char *name, *workdir, *user, *hostname, *entrypoint, *restart, *stop_signal;
  const char *log_driver, *network, *platform, *pull, *cidfile;
  const char *pid, *ipc, *uts, *shm_size, *detach_keys;
  long long stop_timeout;
  struct resource_flags res; /* -m, --cpus, --pids-limit, ... (resources.c) */
  struct strlist env, env_file, labels, log_opts, volumes, cap_add, cap_drop, attach,
      publish, dns, add_host, tmpfs, expose;
};

static void run_flags_free(struct run_flags *f)
{
  struct strlist *lists[] = {&f->env,     &f->env_file, &f->labels,   &f->log_opts,
                             &f->volumes, &f->cap_add,  &f->cap_drop, &f->attach,
                             &f->publish, &f->dns,      &f->add_host, &f->tmpfs,
                             &f->expose};
  for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++)
    strlist_free(lists[i]);
}

#define RUN_OPTS_MAX 64

/* The flags of create (and, with_run, of run). */
static void run_options(struct run_flags *f, struct opt *o, bool with_run)
{
  struct opt all[] = {
      {"add-host", 0, OPT_LIST, &f->add_host, "list",
       "Add a custom host-to-IP mapping (host:ip)", NULL},
      {"attach", 'a', OPT_LIST, &f->attach, "list", "Attach to STDIN, STDOUT or STDERR",
       NULL},
      {"cap-add", 0, OPT_LIST, &f->cap_add, "list", "Add Linux capabilities", NULL},
      {"cap-drop", 0, OPT_LIST, &f->cap_drop, "list", "Drop Linux capabilities", NULL},
      {"cidfile", 0, OPT_STRING, &f->cidfile, "string",
       "Write the container ID to the file", NULL},
      {"detach", 'd', OPT_BOOL, &f->detach, NULL,
       "Run container in background and print container ID", NULL},
      {"detach-keys", 0, OPT_STRING, &f->detach_keys, "string",
       "Override the key sequence for detaching a container", NULL},
      {"dns", 0, OPT_LIST, &f->dns, "list", "Set custom DNS servers", NULL},
      {"entrypoint", 0, OPT_STRING, &f->entrypoint, "string",
       "Overwrite the default ENTRYPOINT of the image", &f->entrypoint_given},
      {"env", 'e', OPT_ENV, &f->env, "list", "Set environment variables", NULL},
      {"env-file", 0, OPT_LIST, &f->env_file, "list",
       "Read in a file of environment variables", NULL},
      {"expose", 0, OPT_LIST, &f->expose, "list", "Expose a port or a range of ports",
       NULL},
      {"hostname", 'h', OPT_STRING, &f->hostname, "string", "Container host name",
       NULL},
      {"init", 0, OPT_BOOL, &f->init, NULL,
       "Run an init inside the container that forwards signals and reaps processes",
       NULL},
      {"interactive", 'i', OPT_BOOL, &f->interactive, NULL,
       "Keep STDIN open even if not attached", NULL},
      {"ipc", 0, OPT_STRING, &f->ipc, "string", "IPC mode to use", NULL},
      {"label", 'l', OPT_LIST, &f->labels, "list", "Set meta data on a container",
       NULL},
      {"log-driver", 0, OPT_STRING, &f->log_driver, "string",
       "Logging driver for the container", NULL},
      {"log-opt", 0, OPT_LIST, &f->log_opts, "list", "Log driver options", NULL},
      {"name", 0, OPT_STRING, &f->name, "string", "Assign a name to the container",
       NULL},
      {"network", 0, OPT_STRING, &f->network, "network",
       "Connect a container to a network", NULL},
      {"net", 0, OPT_STRING, &f->network, "network", NULL,
       NULL}, /* hidden, as docker's */
      {"pid", 0, OPT_STRING, &f->pid, "string", "PID namespace to use", NULL},
      {"platform", 0, OPT_STRING, &f->platform, "string",
       "Set platform if server is multi-platform capable", NULL},
      {"privileged", 0, OPT_BOOL, &f->privileged, NULL,
       "Give extended privileges to this container", NULL},
      {"publish", 'p', OPT_LIST, &f->publish, "list",
       "Publish a container's port(s) to the host", NULL},
      {"pull", 0, OPT_STRING, &f->pull, "string",
       with_run
           ? "Pull image before running (\"always\", \"missing\", \"never\")\n(default "
             "\"missing\")"
           : "Pull image before creating (\"always\", \"missing\", "
             "\"never\")\n(default "
             "\"missing\")",
       NULL},
      {"quiet", 'q', OPT_BOOL, &f->quiet, NULL, "Suppress the pull output", NULL},
      {"read-only", 0, OPT_BOOL, &f->read_only, NULL,
       "Mount the container's root filesystem as read only", NULL},
      {"restart", 0, OPT_STRING, &f->restart, "string",
       "Restart policy to apply when a container exits (default \"no\")", NULL},
      {"rm", 0, OPT_BOOL, &f->rm, NULL,
       "Automatically remove the container and its associated anonymous volumes\nwhen "
       "it exits",
       NULL},
      {"shm-size", 0, OPT_BYTES, &f->shm_size, "bytes", "Size of /dev/shm", NULL},
      {"sig-proxy", 0, OPT_BOOL, &f->sig_proxy, NULL,
       "Proxy received signals to the process (default true)", NULL},
      {"stop-signal", 0, OPT_STRING, &f->stop_signal, "string",
       "Signal to stop the container", NULL},
      {"stop-timeout", 0, OPT_INT, &f->stop_timeout, "int",
       "Timeout (in seconds) to stop a container", &f->stop_timeout_given},
      {"tmpfs", 0, OPT_LIST, &f->tmpfs, "list", "Mount a tmpfs directory", NULL},
      {"tty", 't', OPT_BOOL, &f->tty, NULL, "Allocate a pseudo-TTY", NULL},
      {"user", 'u', OPT_STRING, &f->user, "string",
       "Username or UID (format: <name|uid>[:<group|gid>])", NULL},
      {"uts", 0, OPT_STRING, &f->uts, "string", "UTS namespace to use", NULL},
      {"volume", 'v', OPT_LIST, &f->volumes, "list", "Bind mount a volume", NULL},
      {"workdir", 'w', OPT_STRING, &f->workdir, "string",
       "Working directory inside the container", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL},
  };
  int n = 0;
  for (struct opt *a = all; a->name; a++) {
    bool run_only = strcmp(a->name, "detach") == 0 ||
                    strcmp(a->name, "sig-proxy") == 0 ||
                    strcmp(a->name, "detach-keys") == 0;
    if (run_only && !with_run)
      continue;
    o[n++] = *a;
  }
  n = resource_options(&f->res, o, n);
  o[n] = (struct opt){0};
}

/* ------------------------------------------------------------ flag values */

/* -e NAME takes NAME's value from our environment when it is set. */
static int add_env(json_t *env, const char *item, skiff_error_t **err)
{
  const char *eq = strchr(item, '=');
  if (eq == item || *item == '\0')
    return skiff_error_invalid(err, "invalid environment variable: %s", item);
  if (eq) {
    json_array_append_new(env, json_string(item));
    return 0;
  }
  const char *value = getenv(item);
  cleanup_free char *kv = NULL;
  if (value && asprintf(&kv, "%s=%s", item, value) < 0)
    return skiff_error_errno(err, "env");
  json_array_append_new(env, json_string(kv ? kv : item));
  return 0;
}

/* docker's --env-file: KEY=VALUE lines (the value verbatim), KEY alone taken
 * from our environment when set, blank lines and # comments skipped. */
static int read_env_file(json_t *env, const char *path, skiff_error_t **err)
{
  cleanup_fclose FILE *f = fopen(path, "re");
  if (f == NULL)
    return skiff_error_invalid(err, "open %s: %s", path, cli_go_strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, r = 0;
  errno = 0;
  while (r == 0 && getline(&line, &cap, f) >= 0) {
    char *s = line;
    if (lineno++ == 0 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
      s += 3;
    s[strcspn(s, "\r\n")] = '\0';
    while (isspace((unsigned char)*s))
      s++;
    if (*s == '\0' || *s == '#')
      continue;
    char *eq = strchr(s, '=');
    size_t name_len = eq ? (size_t)(eq - s) : strlen(s);
    if (name_len == 0)
      r = skiff_error_invalid(err, "no variable name on line '%s'", s);
    else if (strcspn(s, " \t\n\v\f\r") < name_len)
      r = skiff_error_invalid(err, "variable '%.*s' contains whitespaces",
                              (int)name_len, s);
    else if (eq || getenv(s))
      r = add_env(env, s, err);
  }
  free(line);
  if (r == 0 && ferror(f))
    r = skiff_error_invalid(err, "invalid env file (%s): read %s: %s", path, path,
                            cli_go_strerror(errno));
  return r;
}

json_t *cli_build_env(const struct strlist *env_flags, const struct strlist *env_files,
                      skiff_error_t **err)
{
  cleanup_json json_t *env = json_array();
  for (size_t i = 0; i < env_files->n; i++)
    if (read_env_file(env, env_files->items[i], err) < 0)
      return NULL;
  for (size_t i = 0; i < env_flags->n; i++)
    if (add_env(env, env_flags->items[i], err) < 0)
      return NULL;
  return steal_pointer(&env);
}

/* "k=v" items into an object; "k" alone maps to "" unless need_value. */
static json_t *build_map(const struct strlist *l, bool need_value, const char *what,
                         skiff_error_t **err)
{
  cleanup_json json_t *map = json_object();
  for (size_t i = 0; i < l->n; i++) {
    const char *eq = strchr(l->items[i], '=');
    if (eq == NULL && need_value) {
      skiff_error_invalid(err, "invalid %s format %s: expected key=value", what,
                          l->items[i]);
      return NULL;
    }
    cleanup_free char *key =
        strndup(l->items[i], eq ? (size_t)(eq - l->items[i]) : strlen(l->items[i]));
    json_object_set_new(map, key, json_string(eq ? eq + 1 : ""));
  }
  return steal_pointer(&map);
}

/* -p [IP:][HOSTPORT:]PORT[/PROTO] into ExposedPorts and PortBindings. */
static int add_publish(json_t *exposed, json_t *bindings, const char *spec,
                       skiff_error_t **err)
{
  cleanup_free char *copy = strdup(spec);
  char *proto = strchr(copy, '/');
  if (proto)
    *proto++ = '\0';
  char *parts[3] = {NULL, NULL, NULL};
  int n = 0;
  for (char *p = copy, *tok; n < 3 && (tok = strsep(&p, ":")) != NULL;)
    parts[n++] = tok;
  const char *ip = n == 3 ? parts[0] : "";
  const char *host = n >= 2 ? parts[n - 2] : "";
  const char *port = parts[n - 1];
  if (port == NULL || *port == '\0' || strspn(port, "0123456789-") != strlen(port))
    return skiff_error_invalid(err, "invalid containerPort: %s", port ? port : spec);
  char key[64];
  snprintf(key, sizeof key, "%s/%s", port, proto && *proto ? proto : "tcp");
  json_object_set_new(exposed, key, json_object());
  json_t *list = json_object_get(bindings, key);
  if (list == NULL)
    json_object_set_new(bindings, key, list = json_array());
  json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", host));
  return 0;
}

static json_t *strv_json(const struct strlist *l)
{
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++)
    json_array_append_new(a, json_string(l->items[i]));
  return a;
}

/* ------------------------------------------------------------ the request */

static int attach_flags(const struct run_flags *f, json_t *config, skiff_error_t **err)
{
  bool in = f->interactive, out = !f->detach, errs = !f->detach;
  if (f->attach.n) {
    if (f->detach)
      return skiff_error_invalid(err,
                                 "conflicting options: cannot specify both --attach "
                                 "and --detach");
    in = out = errs = false;
    for (size_t i = 0; i < f->attach.n; i++) {
      const char *s = f->attach.items[i];
      if (strcasecmp(s, "stdin") == 0)
        in = true;
      else if (strcasecmp(s, "stdout") == 0)
        out = true;
      else if (strcasecmp(s, "stderr") == 0)
        errs = true;
      else
        return skiff_error_invalid(err,
                                   "invalid argument \"%s\" for \"-a, --attach\" flag: "
                                   "valid streams are STDIN, STDOUT and STDERR",
                                   s);
    }
  }
  if (f->detach)
    in = false;
  json_object_set_new(config, "AttachStdin", json_boolean(in));
  json_object_set_new(config, "AttachStdout", json_boolean(out));
  json_object_set_new(config, "AttachStderr", json_boolean(errs));
  json_object_set_new(config, "OpenStdin", json_boolean(f->interactive));
  json_object_set_new(config, "StdinOnce", json_boolean(f->interactive && in));
  return 0;
}

static json_t *build_host_config(const struct run_flags *f, json_t *exposed,
                                 skiff_error_t **err)
{
  cleanup_json json_t *restart =
      cli_restart_policy(f->restart ? f->restart : "no", err);
  /* docker: a --log-opt without "=" is an option with an empty value. */
  cleanup_json json_t *log_config =
      restart ? build_map(&f->log_opts, false, "log-opt", err) : NULL;
  if (restart == NULL || log_config == NULL)
    return NULL;
  const char *policy = json_string_value(json_object_get(restart, "Name"));
  if (f->rm && strcmp(policy, "no") != 0 && *policy) {
    skiff_error_invalid(err,
                        "conflicting options: cannot specify both --restart and --rm");
    return NULL;
  }
  json_t *hc = json_pack(
      "{s:o, s:s, s:O, s:b, s:{s:s, s:O}, s:b, s:b, s:o, s:o, s:o, s:o}", "Binds",
      strv_json(&f->volumes), "NetworkMode", f->network ? f->network : "default",
      "RestartPolicy", restart, "AutoRemove", f->rm, "LogConfig", "Type",
      f->log_driver ? f->log_driver : "", "Config", log_config, "Privileged",
      f->privileged, "ReadonlyRootfs", f->read_only, "CapAdd", strv_json(&f->cap_add),
      "CapDrop", strv_json(&f->cap_drop), "Dns", strv_json(&f->dns), "ExtraHosts",
      strv_json(&f->add_host));
  if (hc == NULL) {
    skiff_error_invalid(err, "cannot build the container configuration");
    return NULL;
  }
  cleanup_json json_t *hold = hc;
  unsigned rows, cols;
  /* The terminal's size from the start, as docker's CLI sends it. */
  if (f->tty && term_size(STDOUT_FILENO, &rows, &cols))
    json_object_set_new(hc, "ConsoleSize", json_pack("[i, i]", rows, cols));
  if (f->init)
    json_object_set_new(hc, "Init", json_true());
  const char *modes[][2] = {
      {"PidMode", f->pid}, {"IpcMode", f->ipc}, {"UTSMode", f->uts}};
  for (size_t i = 0; i < 3; i++)
    if (modes[i][1])
      json_object_set_new(hc, modes[i][0], json_string(modes[i][1]));
  resource_flags_put(&f->res, hc);
  long long bytes;
  if (f->shm_size && (cli_parse_bytes("--shm-size", f->shm_size, &bytes, err) < 0 ||
                      json_object_set_new(hc, "ShmSize", json_integer(bytes)) < 0))
    return NULL;
  json_t *tmpfs = json_object();
  json_object_set_new(hc, "Tmpfs", tmpfs);
  for (size_t i = 0; i < f->tmpfs.n; i++) {
    const char *colon = strchr(f->tmpfs.items[i], ':');
    cleanup_free char *dest =
        strndup(f->tmpfs.items[i], colon ? (size_t)(colon - f->tmpfs.items[i])
                                         : strlen(f->tmpfs.items[i]));
    json_object_set_new(tmpfs, dest, json_string(colon ? colon + 1 : ""));
  }
  json_t *bindings = json_object();
  json_object_set_new(hc, "PortBindings", bindings);
  for (size_t i = 0; i < f->publish.n; i++)
    if (add_publish(exposed, bindings, f->publish.items[i], err) < 0)
      return NULL;
  return steal_pointer(&hold);
}

static json_t *build_entrypoint(const struct run_flags *f)
{
  if (f->entrypoint && *f->entrypoint)
    return json_pack("[s]", f->entrypoint);
  /* --entrypoint="" resets the image's entrypoint, as docker sends [""]. */
  return f->entrypoint_given ? json_pack("[s]", "") : json_null();
}

static json_t *build_create_body(const struct run_flags *f, char **args, int nargs,
                                 skiff_error_t **err)
{
  cleanup_json json_t *env = cli_build_env(&f->env, &f->env_file, err);
  cleanup_json json_t *labels = env ? build_map(&f->labels, false, "label", err) : NULL;
  cleanup_json json_t *exposed = json_object();
  if (labels == NULL)
    return NULL;
  for (size_t i = 0; i < f->expose.n; i++) {
    char key[64];
    snprintf(key, sizeof key, "%s%s", f->expose.items[i],
             strchr(f->expose.items[i], '/') ? "" : "/tcp");
    json_object_set_new(exposed, key, json_object());
  }
  cleanup_json json_t *hc = build_host_config(f, exposed, err);
  if (hc == NULL)
    return NULL;
  json_t *cmd = nargs > 1 ? json_array() : json_null();
  for (int i = 1; i < nargs; i++)
    json_array_append_new(cmd, json_string(args[i]));
  cleanup_json json_t *body = json_pack(
      "{s:s, s:s, s:s, s:b, s:O, s:o, s:s, s:s, s:o, s:O, s:O, s:O, s:{s:{}}}",
      "Hostname", f->hostname ? f->hostname : "", "Domainname", "", "User",
      f->user ? f->user : "", "Tty", f->tty, "Env", env, "Cmd", cmd, "Image", args[0],
      "WorkingDir", f->workdir ? f->workdir : "", "Entrypoint", build_entrypoint(f),
      "Labels", labels, "ExposedPorts", exposed, "HostConfig", hc, "NetworkingConfig",
      "EndpointsConfig");
  if (body == NULL || attach_flags(f, body, err) < 0) {
    if (err && *err == NULL)
      skiff_error_invalid(err, "cannot build the container configuration");
    return NULL;
  }
  if (f->stop_signal)
    json_object_set_new(body, "StopSignal", json_string(f->stop_signal));
  if (f->stop_timeout_given)
    json_object_set_new(body, "StopTimeout", json_integer(f->stop_timeout));
  return steal_pointer(&body);
}

/* ------------------------------------------------------------ create */

static bool is_missing_image(const skiff_error_t *e)
{
  return e && e->status == 404 && e->msg && strcasestr(e->msg, "no such image");
}

static json_t *post_create(struct cli *cli, const struct run_flags *f, json_t *body,
                           long *status, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (f->name && client_query_add(&path, "name", f->name) < 0)
    return NULL;
  if (f->platform && client_query_add(&path, "platform", f->platform) < 0)
    return NULL;
  cleanup_free char *full = NULL;
  if (asprintf(&full, "/containers/create%s", path ? path : "") < 0)
    return NULL;
  return client_json(cli->client, "POST", full, body, status, err);
}

/* What run and create check before they ask the daemon anything. */
static json_t *local_create_body(const struct run_flags *f, char **args, int nargs,
                                 skiff_error_t **err)
{
  if (f->pull && strcmp(f->pull, "always") != 0 && strcmp(f->pull, "missing") != 0 &&
      strcmp(f->pull, "never") != 0) {
    skiff_error_invalid(err,
                        "invalid pull option: '%s': must be one of \"always\", "
                        "\"missing\" or \"never\"",
                        f->pull);
    return NULL;
  }
  return build_create_body(f, args, nargs, err);
}

/* docker's withHelp: "skiff: MESSAGE" and where to read more. */
static void with_help(skiff_error_t **err, const char *command)
{
  cleanup_free char *msg = (*err)->msg;
  (*err)->msg = NULL;
  int status = (*err)->status;
  skiff_error_free(err);
  skiff_error_status(err, status,
                     "skiff: %s\n\nRun 'skiff %s --help' for more information",
                     msg ? msg : "error", command);
}

/* Create the container from body, pulling a missing image first as
 * docker does. Returns the new id or NULL. */
static char *create_container(struct cli *cli, const struct run_flags *f, json_t *body,
                              char **args, skiff_error_t **err)
{
  long status = 0;
  cleanup_json json_t *answer = NULL;
  if (f->pull && strcmp(f->pull, "always") == 0 &&
      image_pull_platform(cli, args[0], f->platform, false, stderr, err) < 0)
    return NULL;
  answer = post_create(cli, f, body, &status, err);
  if (answer == NULL && is_missing_image(*err) &&
      !(f->pull && strcmp(f->pull, "never") == 0)) {
    cleanup_free char *tagged = image_tagged_name(args[0]);
    fprintf(stderr, "Unable to find image '%s' locally\n", tagged ? tagged : args[0]);
    skiff_error_free(err);
    if (image_pull_platform(cli, args[0], f->platform, false, f->quiet ? NULL : stderr,
                            err) < 0)
      return NULL;
    answer = post_create(cli, f, body, &status, err);
  }
  if (answer == NULL)
    return NULL;
  cli_print_warnings(answer);
  const char *id = json_string_value(json_object_get(answer, "Id"));
  if (id == NULL) {
    skiff_error_invalid(err, "the daemon's answer to create has no Id");
    return NULL;
  }
  if (f->cidfile) {
    cleanup_fclose FILE *cf = fopen(f->cidfile, "wxe");
    if (cf == NULL) {
      skiff_error_errno(err,
                        "Container ID file found, make sure the other container isn't "
                        "running or delete %s",
                        f->cidfile);
      return NULL;
    }
    fputs(id, cf);
  }
  return strdup(id);
}

static int parse_run_flags(struct cli *cli, struct run_flags *f, struct opt *opts,
                           bool run, int argc, char **argv, char ***args, int *nargs,
                           skiff_error_t **err)
{
  struct command_spec spec = {.usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
                              .summary =
                                  run ? "Create and run a new container from an image"
                                      : "Create a new container",
                              .aliases = run ? "skiff container run, skiff run"
                                             : "skiff container create, skiff create",
                              .min_args = 1,
                              .max_args = -1,
                              .stop_at_arg = true};
  f->sig_proxy = true;
  run_options(f, opts, run);
  int r = cli_parse(cli, &spec, opts, argc, argv, args, nargs, err);
  return r == OPTS_OK && resource_flags_parse(cli, &f->res, err) < 0 ? -1 : r;
}

int cmd_create(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct run_flags f = {0};
  struct opt opts[RUN_OPTS_MAX];
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = parse_run_flags(cli, &f, opts, false, argc, argv, &args, &nargs, err);
  cleanup_json json_t *body =
      r == OPTS_OK ? local_create_body(&f, args, nargs, err) : NULL;
  if (r == OPTS_OK && body == NULL) {
    with_help(err, "create");
    cli->fail_status = 125;
    r = -1;
  } else if (r == OPTS_OK) {
    cleanup_free char *id = create_container(cli, &f, body, args, err);
    r = id ? (printf("%s\n", id), 0) : -1;
  }
  run_flags_free(&f);
  return r == OPTS_HELP ? 0 : r;
}

/* ------------------------------------------------------------ run */

int run_start_error_status(const char *message)
{
  if (strstr(message, "executable file not found") ||
      strstr(message, "no such file or directory") ||
      strstr(message, "system error: exec"))
    return 127;
  if (strstr(message, "permission denied") || strstr(message, "is a directory"))
    return 126;
  return 125;
}

static int start_container(struct cli *cli, const char *id, skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/containers/%s/start", id);
  if (path == NULL)
    return skiff_error_errno(err, "start");
  return client_simple(cli->client, "POST", path, NULL, NULL, err);
}

static int run_detached(struct cli *cli, const char *id, skiff_error_t **err)
{
  if (start_container(cli, id, err) < 0) {
    cli->fail_status = run_start_error_status((*err)->msg);
    with_help(err, "run");
    return -1;
  }
  printf("%s\n", id);
  return 0;
}

/* --rm promised no leftover: clean up a container that never started. */
static void remove_container(struct cli *cli, const char *id)
{
  cleanup_free char *base = cli_path("/containers/%s", id);
  cleanup_free char *path = NULL;
  skiff_error_t *e = NULL;
  if (base && asprintf(&path, "%s?force=1&v=1", base) >= 0)
    client_simple(cli->client, "DELETE", path, NULL, NULL, &e);
  skiff_error_free(&e);
}

/* The foreground run: attach, register the wait, start, copy the streams,
 * and exit with the container's status. */
static int run_attached(struct cli *cli, const struct run_flags *f, const char *id,
                        json_t *attach_cfg, skiff_error_t **err)
{
  struct attach_opts o = {
      .in = json_is_true(json_object_get(attach_cfg, "AttachStdin")),
      .out = json_is_true(json_object_get(attach_cfg, "AttachStdout")),
      .err = json_is_true(json_object_get(attach_cfg, "AttachStderr")),
      .tty = f->tty,
      .proxy_signals = f->sig_proxy, /* with a tty too, as docker's run */
      .detach_keys = f->detach_keys};
  struct attachment *a = NULL;
  struct waiter *w = NULL;
  bool attach = o.in || o.out || o.err;
  if ((attach && (a = run_attach_open(cli, id, &o, err)) == NULL) ||
      (w = run_wait_begin(cli, id, f->rm ? "removed" : "next-exit", err)) == NULL) {
    if (attach && a == NULL)
      cli->fail_status = 1; /* docker's run returns attach errors as they are */
    run_attach_close(a);
    if (f->rm)
      remove_container(cli, id);
    return -1;
  }
  if (start_container(cli, id, err) < 0) {
    run_attach_close(a);
    cli->fail_status = run_start_error_status((*err)->msg);
    with_help(err, "run");
    /* With --rm the daemon removes the container; let it finish first (as
     * docker does), but not forever, and remove it ourselves if it did not. */
    bool removed = f->rm && run_wait_settle(w, 10);
    run_wait_cancel(w);
    if (f->rm && !removed)
      remove_container(cli, id);
    return -1;
  }
  int r = a ? run_attach_pump(cli, a, id, err) : 0;
  run_attach_close(a);
  if (r < 0 || r == ATTACH_DETACHED) { /* detached: the container runs on */
    run_wait_cancel(w);
    return r < 0 ? -1 : 0;
  }
  int status = run_wait_end(w, err);
  if (status < 0)
    cli->fail_status = 125;
  return status;
}

int cmd_run(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct run_flags f = {0};
  struct opt opts[RUN_OPTS_MAX];
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = parse_run_flags(cli, &f, opts, true, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK) {
    run_flags_free(&f);
    return r == OPTS_HELP ? 0 : r;
  }
  cleanup_json json_t *attach_cfg = json_object();
  cleanup_json json_t *body = NULL;
  cleanup_free char *id = NULL;
  if (f.attach.n && f.detach) { /* docker: a plain error, 1 */
    run_flags_free(&f);
    return skiff_error_invalid(err, "conflicting options: cannot specify both --attach "
                                    "and --detach");
  }
  /* Every failure before the container runs is docker's 125, with help. */
  cli->fail_status = 125;
  bool no_tty = false;
  if (attach_flags(&f, attach_cfg, err) == 0 && !f.detach &&
      term_check_stdin(json_is_true(json_object_get(attach_cfg, "AttachStdin")), f.tty,
                       err) < 0) {
    cli->fail_status = 1; /* docker's, for this one, without help */
    no_tty = true;
  } else if (*err == NULL && (body = local_create_body(&f, args, nargs, err)) != NULL)
    id = create_container(cli, &f, body, args, err);
  if (id == NULL) {
    if (!no_tty)
      with_help(err, "run");
    r = -1;
  } else if (f.detach)
    r = run_detached(cli, id, err);
  else
    r = run_attached(cli, &f, id, attach_cfg, err);
  run_flags_free(&f);
  return r;
}
