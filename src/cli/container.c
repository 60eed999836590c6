/* Container commands: ps, start, stop, restart, kill, wait, rm, rename,
 * logs, inspect, attach, container prune. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/timestamp.h"
#include "common/jsonutil.h"
#include "format.h"
#include "stream.h"
#include "template.h"
#include "term.h"

#define PS_TABLE                                                                       \
  "table "                                                                             \
  "{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}"   \
  "\\t{{.Names}}"

static json_t *ps_headers(void)
{
  return json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID",
      "CONTAINER ID", "Names", "NAMES", "Image", "IMAGE", "Command", "COMMAND",
      "CreatedAt", "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS", "State",
      "STATE", "Status", "STATUS", "Size", "SIZE", "Labels", "LABELS", "Mounts",
      "MOUNTS", "LocalVolumes", "LOCAL VOLUMES", "Networks", "NETWORKS");
}

static const char *str(json_t *obj, const char *key)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Join strings sorted, with sep. */
static char *join_sorted(const char **items, size_t n, const char *sep)
{
  qsort(items, n, sizeof(*items), cmp_str);
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  for (size_t i = 0; i < n; i++) {
    if (i)
      strbuf_puts(&b, sep);
    strbuf_puts(&b, items[i]);
  }
  return strbuf_steal(&b);
}

/* "docker.io/library/busybox:latest" → "busybox:latest" (FamiliarString). */
static const char *familiar(const char *ref)
{
  if (strncmp(ref, "docker.io/library/", 18) == 0)
    return ref + 18;
  if (strncmp(ref, "docker.io/", 10) == 0)
    return ref + 10;
  return ref;
}

static char *ps_image(json_t *c, bool trunc)
{
  const char *image = str(c, "Image");
  if (*image == '\0')
    return strdup("<no image>");
  if (!trunc)
    return strdup(image);
  char a[16], b[16];
  cli_short_id(str(c, "ImageID"), a, sizeof a);
  cli_short_id(image, b, sizeof b);
  if (strcmp(a, b) == 0)
    return strdup(a);
  /* A digest reference shows as its name (and tag). */
  const char *at = strchr(image, '@');
  return strndup(familiar(image),
                 at ? (size_t)(at - familiar(image)) : strlen(familiar(image)));
}

static char *ps_names(json_t *c, bool trunc)
{
  json_t *names = json_object_get(c, "Names");
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n)
  {
    const char *s = json_string_value(n);
    if (s == NULL)
      continue;
    if (*s == '/')
      s++;
    /* Truncated, only the first name that is not a link ("other/alias"). */
    if (trunc && strchr(s, '/'))
      continue;
    if (b.len)
      strbuf_puts(&b, ",");
    strbuf_puts(&b, s);
    if (trunc)
      break;
  }
  return strbuf_steal(&b);
}

static char *ps_ports(json_t *c)
{
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(c, "Ports"), i, p)
  {
    const char *ip = str(p, "IP");
    long long priv = json_integer_value(json_object_get(p, "PrivatePort"));
    long long pub = json_integer_value(json_object_get(p, "PublicPort"));
    if (b.len)
      strbuf_puts(&b, ", ");
    if (*ip)
      strbuf_printf(&b, strchr(ip, ':') ? "[%s]:%lld->%lld/%s" : "%s:%lld->%lld/%s", ip,
                    pub, priv, str(p, "Type"));
    else
      strbuf_printf(&b, "%lld/%s", priv, str(p, "Type"));
  }
  return strbuf_steal(&b);
}

static char *ps_labels(json_t *c)
{
  json_t *labels = json_object_get(c, "Labels");
  size_t n = json_object_size(labels), i = 0;
  cleanup_strv char **kv = calloc(n + 1, sizeof(char *));
  const char *k;
  json_t *v;
  json_object_foreach(
      labels, k, v) if (asprintf(&kv[i], "%s=%s", k,
                                 json_string_value(v) ? json_string_value(v) : "") >= 0)
      i++;
  return join_sorted((const char **)kv, i, ",");
}

static char *ps_mounts(json_t *c, bool trunc, int *local_volumes)
{
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  size_t i;
  json_t *m;
  *local_volumes = 0;
  json_array_foreach(json_object_get(c, "Mounts"), i, m)
  {
    const char *name = *str(m, "Name") ? str(m, "Name") : str(m, "Source");
    cleanup_free char *shown = trunc ? format_ellipsis(name, 15) : strdup(name);
    if (b.len)
      strbuf_puts(&b, ",");
    strbuf_puts(&b, shown ? shown : "");
    *local_volumes += strcmp(str(m, "Driver"), "local") == 0;
  }
  return strbuf_steal(&b);
}

static char *ps_networks(json_t *c)
{
  json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"), "Networks");
  size_t n = json_object_size(nets), i = 0;
  cleanup_free const char **names = calloc(n + 1, sizeof(char *));
  const char *k;
  json_t *v;
  json_object_foreach(nets, k, v) names[i++] = k;
  return join_sorted(names, i, ",");
}

static char *ps_size(json_t *c)
{
  char rw[32], root[32];
  long long size_rw = json_integer_value(json_object_get(c, "SizeRw"));
  long long size_root = json_integer_value(json_object_get(c, "SizeRootFs"));
  format_human_size((double)size_rw, 3, rw, sizeof rw);
  format_human_size((double)size_root, 3, root, sizeof root);
  char *out = NULL;
  int n = size_root > 0 ? asprintf(&out, "%s (virtual %s)", rw, root)
                        : asprintf(&out, "%s", rw);
  if (n < 0)
    return NULL;
  return out;
}

/* One row of docker ps's ContainerContext (keys sorted, as its JSON). */
static json_t *ps_row(json_t *c, bool trunc)
{
  char id[80], created_at[64], running_for[64];
  snprintf(id, sizeof id, trunc ? "%.12s" : "%s", str(c, "Id"));
  long long created = json_integer_value(json_object_get(c, "Created"));
  format_go_time(created, created_at, sizeof created_at);
  format_since(created, running_for, sizeof running_for);
  cleanup_free char *cmd =
      trunc ? format_ellipsis(str(c, "Command"), 20) : strdup(str(c, "Command"));
  cleanup_free char *quoted = format_go_quote(cmd ? cmd : "");
  int local_volumes = 0;
  cleanup_free char *mounts = ps_mounts(c, trunc, &local_volumes);
  cleanup_free char *image = ps_image(c, trunc);
  cleanup_free char *labels = ps_labels(c);
  cleanup_free char *names = ps_names(c, trunc);
  cleanup_free char *networks = ps_networks(c);
  cleanup_free char *ports = ps_ports(c);
  cleanup_free char *size = ps_size(c);
  char lv[16];
  snprintf(lv, sizeof lv, "%d", local_volumes);
  json_t *label_map = json_object_get(c, "Labels");
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:s, "
                   "s:s, s:s, s:O}",
                   "Command", quoted, "CreatedAt", created_at, "ID", id, "Image", image,
                   "Labels", labels, "LocalVolumes", lv, "Mounts", mounts, "Names",
                   names, "Networks", networks, "Platform", "Ports", ports,
                   "RunningFor", running_for, "Size", size ? size : "", "State",
                   str(c, "State"), "Status", str(c, "Status"), "Label()",
                   json_is_object(label_map) ? label_map : json_object());
}

struct ps_flags {
  bool all, quiet, latest, no_trunc, size;
  long long last;
  const char *format;
  struct strlist filters;
};

static char *ps_query(const struct ps_flags *f, skiff_error_t **err)
{
  cleanup_free char *q = NULL;
  char n[32];
  if (f->all || f->last > 0 || f->latest)
    client_query_add(&q, "all", "1");
  snprintf(n, sizeof n, "%lld", f->latest ? 1 : f->last);
  if (f->latest || f->last > 0)
    client_query_add(&q, "limit", n);
  /* docker asks for sizes when the template uses .Size, which {{json .}} does. */
  if (f->size || (!f->quiet && f->format &&
                  (strstr(f->format, ".Size") || strstr(f->format, "json .}}") ||
                   strstr(f->format, "json . "))))
    client_query_add(&q, "size", "1");
  cleanup_free char *filters = cli_filters_json(&f->filters, err);
  if (filters == NULL && f->filters.n)
    return NULL;
  if (filters)
    client_query_add(&q, "filters", filters);
  char *path = NULL;
  if (asprintf(&path, "/containers/json%s", q ? q : "") < 0)
    return NULL;
  return path;
}

/* docker's ps words a template that does not parse its own way. */
static int ps_template_error(skiff_error_t **err)
{
  const char *msg = strstr((*err)->msg, "template: ");
  cleanup_free char *why = strdup(msg ? msg : (*err)->msg);
  skiff_error_free(err);
  return skiff_error_invalid(err, "failed to parse template: %s", why ? why : "");
}

static int ps_print(json_t *list, const struct ps_flags *f, skiff_error_t **err)
{
  const char *format = f->format;
  if (f->quiet) {
    if (format && *format)
      fprintf(stderr, "WARNING: Ignoring custom format, because both --format and "
                      "--quiet are set.\n");
    format = "{{.ID}}";
  } else if (f->size &&
             (format == NULL || *format == '\0' || strcmp(format, "table") == 0)) {
    format = PS_TABLE "\\t{{.Size}}";
  }
  struct listfmt lf;
  if (listfmt_init(&lf, format, PS_TABLE, err) < 0)
    return ps_template_error(err);
  size_t i;
  json_t *c;
  int r = 0;
  json_array_foreach(list, i, c)
  {
    cleanup_json json_t *row = ps_row(c, !f->no_trunc);
    if ((r = listfmt_row(&lf, row, err)) < 0)
      break;
  }
  cleanup_json json_t *headers = ps_headers();
  if (r == 0)
    r = listfmt_flush(&lf, headers, stdout, err);
  listfmt_clear(&lf);
  return r;
}

int cmd_ps(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct ps_flags f = {.last = -1};
  struct opt opts[] = {
      {"all", 'a', OPT_BOOL, &f.all, NULL,
       "Show all containers (default shows just running)", NULL},
      {"filter", 'f', OPT_FILTER, &f.filters, "filter",
       "Filter output based on conditions provided", NULL},
      {"format", 0, OPT_STRING, &f.format, "string",
       "Format output using a custom template:\n'table':            Print output in "
       "table format with column headers (default)\n'table TEMPLATE':   Print output "
       "in table format using the given Go template\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {"last", 'n', OPT_INT, &f.last, "int",
       "Show n last created containers (includes all states) (default -1)", NULL},
      {"latest", 'l', OPT_BOOL, &f.latest, NULL,
       "Show the latest created container (includes all states)", NULL},
      {"no-trunc", 0, OPT_BOOL, &f.no_trunc, NULL, "Don't truncate output", NULL},
      {"quiet", 'q', OPT_BOOL, &f.quiet, NULL, "Only display container IDs", NULL},
      {"size", 's', OPT_BOOL, &f.size, NULL, "Display total file sizes", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "[OPTIONS]",
      .summary = "List containers",
      .aliases =
          "skiff container ls, skiff container list, skiff container ps, skiff ps",
      .min_args = 0,
      .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r == OPTS_OK) {
    cleanup_free char *path = ps_query(&f, err);
    cleanup_json json_t *list =
        path ? client_json(cli->client, "GET", path, NULL, NULL, err) : NULL;
    r = list ? ps_print(list, &f, err) : -1;
  }
  strlist_free(&f.filters);
  return r == OPTS_HELP ? 0 : r;
}

/* ------------------------------------------------------------ simple verbs */

/* POST /containers/{name}/VERB[query] */
static int post_verb(struct cli *cli, const char *name, const char *verb,
                     const char *query, skiff_error_t **err)
{
  char fmt[64];
  snprintf(fmt, sizeof fmt, "/containers/%%s/%s", verb);
  cleanup_free char *base = cli_path(fmt, name);
  cleanup_free char *path = NULL;
  if (base == NULL || asprintf(&path, "%s%s", base, query ? query : "") < 0)
    return skiff_error_errno(err, "%s", verb);
  return client_simple(cli->client, "POST", path, NULL, NULL, err);
}

struct verb_arg {
  const char *verb;
  char *query;
};

static int do_verb(struct cli *cli, const char *name, void *arg, skiff_error_t **err)
{
  struct verb_arg *v = arg;
  return post_verb(cli, name, v->verb, v->query, err);
}

/* stop and restart share -t/--timeout and -s/--signal. */
static int stop_like(struct cli *cli, const char *verb, const char *summary, int argc,
                     char **argv, skiff_error_t **err)
{
  long long timeout = 0;
  bool timeout_given = false;
  const char *signal = NULL;
  struct opt opts[] = {{"signal", 's', OPT_STRING, &signal, "string",
                        "Signal to send to the container", NULL},
                       {"timeout", 't', OPT_INT, &timeout, "int",
                        "Seconds to wait before killing the container", &timeout_given},
                       {"time", 0, OPT_INT, &timeout, "int", NULL, /* hidden */
                        &timeout_given},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  char aliases[64];
  snprintf(aliases, sizeof aliases, "skiff container %s, skiff %s", verb, verb);
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary = summary,
                              .aliases = aliases,
                              .min_args = 1,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  struct verb_arg v = {.verb = verb};
  char t[32];
  snprintf(t, sizeof t, "%lld", timeout);
  if (timeout_given)
    client_query_add(&v.query, "t", t);
  if (signal)
    client_query_add(&v.query, "signal", signal);
  r = cli_for_each(cli, args, nargs, do_verb, &v);
  free(v.query);
  return r;
}

int cmd_stop(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return stop_like(cli, "stop", "Stop one or more running containers", argc, argv, err);
}

int cmd_restart(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return stop_like(cli, "restart", "Restart one or more containers", argc, argv, err);
}

int cmd_kill(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *signal = NULL;
  struct opt opts[] = {{"signal", 's', OPT_STRING, &signal, "string",
                        "Signal to send to the container", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary = "Kill one or more running containers",
                              .aliases = "skiff container kill, skiff kill",
                              .min_args = 1,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  struct verb_arg v = {.verb = "kill"};
  if (signal)
    client_query_add(&v.query, "signal", signal);
  r = cli_for_each(cli, args, nargs, do_verb, &v);
  free(v.query);
  return r;
}

/* pause and unpause: no options, a POST per container. */
static int plain_verb(struct cli *cli, const char *verb, const char *summary, int argc,
                      char **argv, skiff_error_t **err)
{
  char aliases[64];
  snprintf(aliases, sizeof aliases, "skiff container %s, skiff %s", verb, verb);
  struct command_spec spec = {.usage = "CONTAINER [CONTAINER...]",
                              .summary = summary,
                              .aliases = aliases,
                              .min_args = 1,
                              .max_args = -1};
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  struct verb_arg v = {.verb = verb};
  return cli_for_each(cli, args, nargs, do_verb, &v);
}

int cmd_pause(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return plain_verb(cli, "pause", "Pause all processes within one or more containers",
                    argc, argv, err);
}

int cmd_unpause(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return plain_verb(cli, "unpause",
                    "Unpause all processes within one or more containers", argc, argv,
                    err);
}

static int start_attached(struct cli *cli, const char *name, bool interactive,
                          const char *detach_keys, skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/containers/%s/json", name);
  cleanup_json json_t *c = client_json(cli->client, "GET", path, NULL, NULL, err);
  if (c == NULL)
    return -1;
  json_t *config = json_object_get(c, "Config");
  const char *id = str(c, "Id");
  struct attach_opts o = {.in = interactive &&
                                json_is_true(json_object_get(config, "OpenStdin")),
                          .out = true,
                          .err = true,
                          .tty = json_is_true(json_object_get(config, "Tty")),
                          .detach_keys = detach_keys};
  o.proxy_signals = !o.tty;
  /* As docker's start (and run): an AutoRemove container's status is the
   * answer to a wait for its removal, which follows its exit (and outlasts
   * a restart, which keeps the container). */
  bool auto_remove =
      json_is_true(json_object_get(json_object_get(c, "HostConfig"), "AutoRemove"));
  struct attachment *a = run_attach_open(cli, id, &o, err);
  if (a == NULL)
    return -1;
  struct waiter *w =
      run_wait_begin(cli, id, auto_remove ? "removed" : "next-exit", err);
  if (w == NULL || post_verb(cli, id, "start", NULL, err) < 0) {
    run_attach_close(a);
    if (w && auto_remove) /* the daemon removes it: let it finish, as docker */
      run_wait_settle(w, 10);
    if (w)
      run_wait_cancel(w);
    return -1;
  }
  int r = run_attach_pump(cli, a, id, err);
  run_attach_close(a);
  if (r < 0 || r == ATTACH_DETACHED) { /* detached: docker's start says nothing */
    run_wait_cancel(w);
    return r < 0 ? -1 : 0;
  }
  int status = run_wait_end(w, err);
  if (status < 0)
    cli->fail_status = 125; /* docker's start, as its run, for a failed wait */
  return status;
}

int cmd_start(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool attach = false, interactive = false;
  const char *detach_keys = NULL;
  struct opt opts[] = {{"attach", 'a', OPT_BOOL, &attach, NULL,
                        "Attach STDOUT/STDERR and forward signals", NULL},
                       {"detach-keys", 0, OPT_STRING, &detach_keys, "string",
                        "Override the key sequence for detaching a container", NULL},
                       {"interactive", 'i', OPT_BOOL, &interactive, NULL,
                        "Attach container's STDIN", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary = "Start one or more stopped containers",
                              .aliases = "skiff container start, skiff start",
                              .min_args = 1,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if ((attach || interactive) && nargs > 1)
    return skiff_error_invalid(
        err, "you cannot start and attach multiple containers at once");
  if (attach || interactive)
    return start_attached(cli, args[0], interactive, detach_keys, err);
  struct strbuf failed = {0};
  for (int i = 0; i < nargs; i++) {
    skiff_error_t *e = NULL;
    if (post_verb(cli, args[i], "start", NULL, &e) == 0) {
      printf("%s\n", args[i]);
      fflush(stdout);
      continue;
    }
    cli_report(e);
    skiff_error_free(&e);
    strbuf_printf(&failed, "%s%s", failed.len ? ", " : "", args[i]);
  }
  if (failed.len == 0)
    return 0;
  skiff_error_invalid(err, "Error: failed to start containers: %s", failed.s);
  strbuf_free(&failed);
  return -1;
}

static int do_wait(struct cli *cli, const char *name, void *arg, skiff_error_t **err)
{
  cleanup_free char *path = cli_path("/containers/%s/wait", name);
  cleanup_json json_t *answer = client_json(cli->client, "POST", path, NULL, NULL, err);
  if (answer == NULL)
    return -1;
  printf("%lld\n",
         (long long)json_integer_value(json_object_get(answer, "StatusCode")));
  fflush(stdout);
  return 1; /* printed its own line */
}

int cmd_wait(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "CONTAINER [CONTAINER...]",
      .summary = "Block until one or more containers stop, then print their exit codes",
      .aliases = "skiff container wait, skiff wait",
      .min_args = 1,
      .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  return cli_for_each(cli, args, nargs, do_wait, NULL);
}

struct rm_arg {
  bool force, volumes, link;
};

static int do_rm(struct cli *cli, const char *name, void *arg, skiff_error_t **err)
{
  struct rm_arg *o = arg;
  cleanup_free char *base = cli_path("/containers/%s", name);
  cleanup_free char *path = NULL;
  if (base == NULL || asprintf(&path, "%s?force=%d&v=%d&link=%d", base, o->force,
                               o->volumes, o->link) < 0)
    return skiff_error_errno(err, "rm");
  if (client_simple(cli->client, "DELETE", path, NULL, NULL, err) == 0)
    return 0;
  /* docker rm -f is quiet about containers that do not exist. */
  if (o->force && (*err)->status == 404) {
    skiff_error_free(err);
    return 1;
  }
  return -1;
}

int cmd_rm(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct rm_arg o = {0};
  struct opt opts[] = {
      {"force", 'f', OPT_BOOL, &o.force, NULL,
       "Force the removal of a running container (uses SIGKILL)", NULL},
      {"link", 'l', OPT_BOOL, &o.link, NULL, "Remove the specified link", NULL},
      {"volumes", 'v', OPT_BOOL, &o.volumes, NULL,
       "Remove anonymous volumes associated with the container", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = "Remove one or more containers",
      .aliases = "skiff container rm, skiff container remove, skiff rm",
      .min_args = 1,
      .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  return cli_for_each(cli, args, nargs, do_rm, &o);
}

int cmd_rename(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "CONTAINER NEW_NAME",
                              .summary = "Rename a container",
                              .aliases = "skiff container rename, skiff rename",
                              .min_args = 2,
                              .max_args = 2};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (*args[1] == '\0')
    return skiff_error_invalid(err, "Error: Neither old nor new names may be empty");
  cleanup_free char *query = NULL;
  client_query_add(&query, "name", args[1]);
  if (post_verb(cli, args[0], "rename", query, err) == 0)
    return 0;
  cli_report(*err); /* docker prints the daemon's error, then its own */
  skiff_error_free(err);
  return skiff_error_invalid(err, "Error: failed to rename container named %s",
                             args[0]);
}

/* ------------------------------------------------------------ logs */

struct logs_flags {
  bool follow, timestamps, details;
  const char *since, *until, *tail;
};

static int logs_query(const struct logs_flags *f, char **q, skiff_error_t **err)
{
  client_query_add(q, "stdout", "1");
  client_query_add(q, "stderr", "1");
  const char *times[][2] = {{"since", f->since}, {"until", f->until}};
  for (int i = 0; i < 2; i++) {
    if (times[i][1] == NULL)
      continue;
    cleanup_free char *ts = timestamp_from_api(times[i][1], timestamp_now_ns(), err);
    if (ts == NULL)
      return skiff_error_wrap(err, "invalid value for \"%s\"", times[i][0]);
    client_query_add(q, times[i][0], ts);
  }
  if (f->timestamps)
    client_query_add(q, "timestamps", "1");
  if (f->details)
    client_query_add(q, "details", "1");
  if (f->follow)
    client_query_add(q, "follow", "1");
  client_query_add(q, "tail", f->tail ? f->tail : "all");
  return 0;
}

struct logs_sink {
  bool tty;
  struct stdcopy demux;
  int fds[2];
  skiff_error_t *err;
};

static int logs_data(const char *buf, size_t len, void *arg)
{
  struct logs_sink *s = arg;
  if (s->tty)
    return fs_write_all(STDOUT_FILENO, buf, len);
  return stdcopy_feed(&s->demux, buf, len, &s->err);
}

int cmd_logs(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct logs_flags f = {0};
  struct opt opts[] = {
      {"details", 0, OPT_BOOL, &f.details, NULL, "Show extra details provided to logs",
       NULL},
      {"follow", 'f', OPT_BOOL, &f.follow, NULL, "Follow log output", NULL},
      {"since", 0, OPT_STRING, &f.since, "string",
       "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. "
       "\"42m\" for 42 minutes)",
       NULL},
      {"tail", 'n', OPT_STRING, &f.tail, "string",
       "Number of lines to show from the end of the logs (default \"all\")", NULL},
      {"timestamps", 't', OPT_BOOL, &f.timestamps, NULL, "Show timestamps", NULL},
      {"until", 0, OPT_STRING, &f.until, "string",
       "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. "
       "\"42m\" for 42 minutes)",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER",
                              .summary = "Fetch the logs of a container",
                              .aliases = "skiff container logs, skiff logs",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *info_path = cli_path("/containers/%s/json", args[0]);
  cleanup_json json_t *c = client_json(cli->client, "GET", info_path, NULL, NULL, err);
  cleanup_free char *query = NULL;
  if (c == NULL || logs_query(&f, &query, err) < 0)
    return -1;
  cleanup_free char *base = cli_path("/containers/%s/logs", str(c, "Id"));
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s%s", base, query) < 0)
    return skiff_error_errno(err, "logs");
  struct logs_sink sink = {
      .tty = json_is_true(json_object_get(json_object_get(c, "Config"), "Tty")),
      .fds = {STDOUT_FILENO, STDERR_FILENO}};
  stdcopy_init(&sink.demux, stream_sink_fds, sink.fds);
  struct client_call call = {
      .method = "GET", .path = path, .body_fd = -1, .on_data = logs_data, .arg = &sink};
  struct client_reply reply;
  r = client_do(cli->client, &call, &reply, err);
  if (r == 0 && reply.status >= 400)
    r = client_error_from_reply(&reply, err);
  else if (r == 0 && sink.err)
    *err = steal_pointer(&sink.err), r = -1;
  client_reply_clear(&reply);
  stdcopy_clear(&sink.demux);
  skiff_error_free(&sink.err);
  return r;
}

/* ------------------------------------------------------------ inspect */

enum inspect_kind { INSPECT_ANY, INSPECT_CONTAINER, INSPECT_IMAGE };

/* The raw JSON of one object, trying containers then images for ANY. */
static int inspect_fetch(struct cli *cli, const char *name, enum inspect_kind kind,
                         bool size, struct client_reply *reply, skiff_error_t **err)
{
  const char *fmts[] = {size ? "/containers/%s/json?size=1" : "/containers/%s/json",
                        "/images/%s/json"};
  for (int i = 0; i < 2; i++) {
    if ((kind == INSPECT_CONTAINER && i == 1) || (kind == INSPECT_IMAGE && i == 0))
      continue;
    cleanup_free char *path = cli_path(fmts[i], name);
    struct client_call call = {.method = "GET", .path = path, .body_fd = -1};
    if (client_do(cli->client, &call, reply, err) < 0)
      return -1;
    if (reply->status < 400)
      return 0;
    if (reply->status != 404 || kind != INSPECT_ANY) {
      int e = client_error_from_reply(reply, err);
      client_reply_clear(reply);
      return e;
    }
    client_reply_clear(reply);
  }
  return skiff_error_invalid(err, "Error: No such object: %s", name);
}

static int inspect_objects(struct cli *cli, char **args, int nargs,
                           enum inspect_kind kind, const char *format, bool size,
                           skiff_error_t **err)
{
  struct strbuf raw = {0};
  strbuf_puts(&raw, "[");
  int status = 0, count = 0;
  for (int i = 0; i < nargs; i++) {
    struct client_reply reply;
    skiff_error_t *e = NULL;
    if (inspect_fetch(cli, args[i], kind, size, &reply, &e) < 0) {
      cli_report(e);
      skiff_error_free(&e);
      status = 1;
      continue;
    }
    if (format) {
      json_error_t jerr;
      cleanup_json json_t *obj = json_loadb(reply.body, reply.len, 0, &jerr);
      if (obj == NULL || format_template_print(format, obj, true, stdout, &e) < 0) {
        if (e == NULL)
          skiff_error_invalid(&e, "cannot decode the daemon's answer: %s", jerr.text);
        cli_report(e);
        skiff_error_free(&e);
        status = 1;
      } else {
        count++;
      }
    } else {
      strbuf_puts(&raw, count++ ? "," : "");
      strbuf_append(&raw, reply.body, reply.len);
    }
    client_reply_clear(&reply);
  }
  strbuf_puts(&raw, "]");
  if (format && count == 0)
    putchar('\n'); /* docker's template inspector flushes a newline for nothing */
  if (!format) {
    /* docker indents the daemon's bytes themselves (json.Indent). */
    cleanup_free char *out =
        count ? format_json_indent(raw.s, raw.len, "    ") : strdup("[]");
    printf("%s\n", out ? out : raw.s);
  }
  strbuf_free(&raw);
  (void)err;
  return status;
}

static int inspect_command(struct cli *cli, enum inspect_kind kind, const char *summary,
                           int argc, char **argv, skiff_error_t **err)
{
  const char *format = NULL, *type = NULL;
  bool size = false;
  struct opt opts[] = {
      {"format", 'f', OPT_STRING, &format, "string",
       "Format output using a custom template:\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {"size", 's', OPT_BOOL, &size, NULL,
       kind == INSPECT_CONTAINER ? "Display total file sizes"
                                 : "Display total file sizes if the type is container",
       NULL},
      {"type", 0, OPT_STRING, &type, "string", "Only inspect objects of the given type",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  if (kind != INSPECT_ANY)
    opts[2] = (struct opt){0};
  if (kind == INSPECT_IMAGE)
    opts[1] = (struct opt){0};
  struct command_spec spec = {
      .usage = kind == INSPECT_ANY     ? "[OPTIONS] NAME|ID [NAME|ID...]"
               : kind == INSPECT_IMAGE ? "[OPTIONS] IMAGE [IMAGE...]"
                                       : "[OPTIONS] CONTAINER [CONTAINER...]",
      .summary = summary,
      .min_args = 1,
      .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (type && strcmp(type, "container") == 0)
    kind = INSPECT_CONTAINER;
  else if (type && strcmp(type, "image") == 0)
    kind = INSPECT_IMAGE;
  else if (type && *type)
    return skiff_error_invalid(err,
                               "unknown type: \"%s\": must be one of \"config\", "
                               "\"container\", \"image\", \"network\", \"node\", "
                               "\"plugin\", \"secret\", \"service\", \"task\", "
                               "\"volume\"",
                               type);
  if (format_check_template(format, &cli->fail_status, err) < 0)
    return -1;
  if (format && strcmp(format, "json") == 0)
    format = "{{json .}}";
  return inspect_objects(cli, args, nargs, kind, format, size, err);
}

int cmd_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return inspect_command(cli, INSPECT_ANY,
                         "Return low-level information on skiff objects", argc, argv,
                         err);
}

int cmd_container_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return inspect_command(cli, INSPECT_CONTAINER,
                         "Display detailed information on one or more containers", argc,
                         argv, err);
}

int cmd_image_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  return inspect_command(cli, INSPECT_IMAGE,
                         "Display detailed information on one or more images", argc,
                         argv, err);
}

/* ------------------------------------------------------------ prune, attach */

int cmd_container_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool force = false;
  struct strlist filters = {0};
  struct opt opts[] = {
      {"filter", 0, OPT_FILTER, &filters, "filter",
       "Provide filter values (e.g. \"until=<timestamp>\")", NULL},
      {"force", 'f', OPT_BOOL, &force, NULL, "Do not prompt for confirmation", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Remove all stopped containers",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  cleanup_free char *filter_json =
      r == OPTS_OK ? cli_filters_json(&filters, err) : NULL;
  bool bad_filter = filter_json == NULL && filters.n;
  strlist_free(&filters);
  if (r != OPTS_OK || bad_filter)
    return r == OPTS_HELP ? 0 : -1;
  if (!force && !cli_confirm("WARNING! This will remove all stopped containers."))
    return 0;
  cleanup_free char *path = NULL;
  if (filter_json)
    client_query_add(&path, "filters", filter_json);
  cleanup_free char *full = NULL;
  if (asprintf(&full, "/containers/prune%s", path ? path : "") < 0)
    return skiff_error_errno(err, "prune");
  cleanup_json json_t *report = client_json(cli->client, "POST", full, NULL, NULL, err);
  if (report == NULL)
    return -1;
  json_t *deleted = json_object_get(report, "ContainersDeleted");
  double reclaimed = 0;
  if (json_array_size(deleted) > 0) {
    printf("Deleted Containers:\n");
    size_t i;
    json_t *id;
    json_array_foreach(deleted, i, id)
        printf("%s\n", json_string_value(id) ? json_string_value(id) : "");
    printf("\n");
    reclaimed = (double)json_integer_value(json_object_get(report, "SpaceReclaimed"));
  }
  char size[32];
  format_human_size(reclaimed, 4, size, sizeof size);
  printf("Total reclaimed space: %s\n", size);
  return 0;
}

int cmd_attach(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool no_stdin = false, sig_proxy = true;
  const char *detach_keys = NULL;
  struct opt opts[] = {
      {"detach-keys", 0, OPT_STRING, &detach_keys, "string",
       "Override the key sequence for detaching a container", NULL},
      {"no-stdin", 0, OPT_BOOL, &no_stdin, NULL, "Do not attach STDIN", NULL},
      {"sig-proxy", 0, OPT_BOOL, &sig_proxy, NULL,
       "Proxy all received signals to the process (default true)", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER",
                              .summary = "Attach local standard input, output, and "
                                         "error streams to a running container",
                              .aliases = "skiff container attach, skiff attach",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *path = cli_path("/containers/%s/json", args[0]);
  cleanup_json json_t *c = client_json(cli->client, "GET", path, NULL, NULL, err);
  if (c == NULL)
    return -1;
  json_t *state = json_object_get(c, "State");
  if (!json_is_true(json_object_get(state, "Running")))
    return skiff_error_invalid(
        err, "You cannot attach to a stopped container, start it first");
  if (json_is_true(json_object_get(state, "Paused")))
    return skiff_error_invalid(
        err, "You cannot attach to a paused container, unpause it first");
  if (json_is_true(json_object_get(state, "Restarting")))
    return skiff_error_invalid(
        err, "You cannot attach to a restarting container, wait until it is running");
  json_t *config = json_object_get(c, "Config");
  const char *id = str(c, "Id");
  struct attach_opts o = {.in = !no_stdin &&
                                json_is_true(json_object_get(config, "OpenStdin")),
                          .out = true,
                          .err = true,
                          .tty = json_is_true(json_object_get(config, "Tty")),
                          .redraw = true,
                          .detach_keys = detach_keys};
  o.proxy_signals = sig_proxy && !o.tty;
  if (term_check_stdin(!no_stdin, o.tty, err) < 0)
    return -1;
  struct waiter *w = NULL;
  struct attachment *a = run_attach_open(cli, id, &o, err);
  if (a == NULL || (w = run_wait_begin(cli, id, "next-exit", err)) == NULL) {
    run_attach_close(a);
    return -1;
  }
  r = run_attach_pump(cli, a, id, err);
  run_attach_close(a);
  if (r < 0 || r == ATTACH_DETACHED) {
    run_wait_cancel(w);
    /* docker's attach reports the detach as an error (its exit status 1). */
    return r < 0 ? -1 : skiff_error_invalid(err, "read escape sequence");
  }
  return run_wait_end(w, err);
}
