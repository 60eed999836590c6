/* System commands: version, info, system df, system prune. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"
#include "template.h"

/* docker version's own template (cli/command/system/version.go), rendered
 * through a tabwriter with minwidth 20 and padding 1. */
static const char version_template[] =
    "{{with .Client -}}\n"
    "Client:\n"
    " Version:\t{{.Version}}\n"
    " API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} "
    "(downgraded from {{.DefaultAPIVersion}}){{end}}\n"
    " Built:\t{{.BuildTime}}\n"
    " OS/Arch:\t{{.Os}}/{{.Arch}}\n"
    " Context:\t{{.Context}}\n"
    "{{- end}}\n"
    "\n"
    "{{- if .ServerOK}}{{with .Server}}\n"
    "\n"
    "Server:{{if ne .Platform.Name \"\"}} {{.Platform.Name}}{{end}}\n"
    " {{- range $component := .Components}}\n"
    " {{$component.Name}}:\n"
    "  {{- if eq $component.Name \"Engine\" }}\n"
    "  Version:\t{{.Version}}\n"
    "  API version:\t{{index .Details \"ApiVersion\"}} (minimum version {{index "
    ".Details \"MinAPIVersion\"}})\n"
    "  Go version:\t{{index .Details \"GoVersion\"}}\n"
    "  Git commit:\t{{index .Details \"GitCommit\"}}\n"
    "  Built:\t{{index .Details \"BuildTime\"}}\n"
    "  OS/Arch:\t{{index .Details \"Os\"}}/{{index .Details \"Arch\"}}\n"
    "  Experimental:\t{{index .Details \"Experimental\"}}\n"
    "  {{- else }}\n"
    "  Version:\t{{$component.Version}}\n"
    "  {{- $detailsOrder := getDetailsOrder $component}}\n"
    "  {{- range $key := $detailsOrder}}\n"
    "  {{$key}}:\t{{index $component.Details $key}}\n"
    "   {{- end}}\n"
    "  {{- end}}\n"
    " {{- end}}\n"
    " {{- end}}{{- end}}";

/* The client's build time in time.ANSIC, from the compiler's __DATE__. */
static const char *build_time(void)
{
  static char buf[64];
  struct tm tm = {0};
  if (strptime(__DATE__ " " __TIME__, "%b %d %Y %H:%M:%S", &tm) == NULL)
    return __DATE__ " " __TIME__;
  strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

static const char *arch_name(void)
{
  static struct utsname u;
  if (uname(&u) < 0)
    return "unknown";
  if (strcmp(u.machine, "x86_64") == 0)
    return "amd64";
  if (strcmp(u.machine, "aarch64") == 0)
    return "arm64";
  return u.machine;
}

/* docker shows RFC 3339 build times as time.ANSIC ("Thu May  7 21:09:36 2026"). */
static void reformat_date(json_t *obj, const char *key)
{
  const char *v = json_string_value(json_object_get(obj, key));
  struct tm tm = {0};
  const char *end = v ? strptime(v, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (end == NULL)
    return;
  char buf[64];
  strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  json_object_set_new(obj, key, json_string(buf));
}

/* An older daemon's /version has no Components: make the Engine one. */
static void ensure_components(json_t *server)
{
  if (json_array_size(json_object_get(server, "Components")) > 0)
    return;
  json_t *details = json_object();
  const char *keys[][2] = {{"ApiVersion", "ApiVersion"},
                           {"MinAPIVersion", "MinAPIVersion"},
                           {"GitCommit", "GitCommit"},
                           {"GoVersion", "GoVersion"},
                           {"Os", "Os"},
                           {"Arch", "Arch"},
                           {"BuildTime", "BuildTime"},
                           {"KernelVersion", "KernelVersion"}};
  for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
    json_t *v = json_object_get(server, keys[i][0]);
    json_object_set_new(details, keys[i][1],
                        json_string(json_is_string(v) ? json_string_value(v) : ""));
  }
  json_object_set_new(details, "Experimental",
                      json_string(json_is_true(json_object_get(server, "Experimental"))
                                      ? "true"
                                      : "false"));
  json_t *version = json_object_get(server, "Version");
  json_object_set_new(server, "Components",
                      json_pack("[{s:s, s:O, s:o}]", "Name", "Engine", "Version",
                                version ? version : json_string(""), "Details",
                                details));
}

static json_t *version_data(struct cli *cli, skiff_error_t **server_err)
{
  const char *api = client_api_version(cli->client, server_err);
  json_t *client =
      json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform", "Name", "",
                "Version", SKIFF_VERSION, "APIVersion", api ? api : CLIENT_API_VERSION,
                "DefaultAPIVersion", CLIENT_API_VERSION, "BuildTime", build_time(),
                "Os", "linux", "Arch", arch_name(), "Context", "default");
  json_t *server =
      api ? client_json(cli->client, "GET", "/version", NULL, NULL, server_err) : NULL;
  if (server && json_is_object(server)) {
    ensure_components(server);
    reformat_date(server, "BuildTime");
    size_t i;
    json_t *component;
    json_array_foreach(json_object_get(server, "Components"), i, component)
        reformat_date(json_object_get(component, "Details"), "BuildTime");
    if (!json_is_object(json_object_get(server, "Platform")))
      json_object_set_new(server, "Platform", json_pack("{s:s}", "Name", ""));
  }
  return json_pack("{s:o, s:o, s:b}", "Client", client, "Server",
                   server ? server : json_null(), "ServerOK", server != NULL);
}

int cmd_version(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *format = NULL;
  struct opt opts[] = {
      {"format", 'f', OPT_STRING, &format, "string",
       "Format output using a custom template:\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Show the skiff version information",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (format_check_template(format, &cli->fail_status, err) < 0)
    return -1;
  skiff_error_t *server_err = NULL;
  cleanup_json json_t *data = version_data(cli, &server_err);
  json_object_del(data, "ServerOK");
  if (format && *format) {
    if (strcmp(format, "json") == 0)
      format = "{{json .}}";
    r = format_template_print(format, data, true, stdout, err);
  } else {
    json_object_set_new(data, "ServerOK", json_boolean(server_err == NULL));
    struct template *t = template_parse(version_template, err);
    cleanup_free char *text = t ? template_execute(t, data, 0, err) : NULL;
    template_free(t);
    cleanup_free char *table = text ? format_tabwriter(text, 20, 1) : NULL;
    r = table ? (printf("%s\n", table), 0) : -1;
  }
  if (r == 0 && server_err) {
    *err = steal_pointer(&server_err);
    return -1;
  }
  skiff_error_free(&server_err);
  return r;
}

/* ------------------------------------------------------------ info */

static void info_line(const char *label, json_t *info, const char *key)
{
  json_t *v = json_object_get(info, key);
  if (v == NULL)
    return;
  cleanup_free char *s = template_print_value(v);
  printf(" %s: %s\n", label, s ? s : "");
}

static void info_list(const char *title, json_t *list, const char *indent)
{
  if (json_array_size(list) == 0)
    return;
  printf("%s%s:\n", indent, title);
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v)
  {
    cleanup_free char *s = template_print_value(v);
    printf("%s %s\n", indent, s ? s : "");
  }
}

static void info_storage(json_t *info)
{
  info_line("Storage Driver", info, "Driver");
  size_t i;
  json_t *pair;
  json_array_foreach(json_object_get(info, "DriverStatus"), i, pair)
      printf("  %s: %s\n", json_string_value(json_array_get(pair, 0)) ?: "",
             json_string_value(json_array_get(pair, 1)) ?: "");
}

static void info_plugins(json_t *info)
{
  json_t *plugins = json_object_get(info, "Plugins");
  if (!json_is_object(plugins))
    return;
  printf(" Plugins:\n");
  const char *kinds[] = {"Volume", "Network", "Authorization", "Log"};
  for (size_t k = 0; k < 4; k++) {
    json_t *list = json_object_get(plugins, kinds[k]);
    if (json_array_size(list) == 0)
      continue;
    printf("  %s:", kinds[k]);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) printf(" %s", json_string_value(v) ?: "");
    printf("\n");
  }
}

static void info_print_server(json_t *info)
{
  printf("\nServer:\n");
  info_line("Containers", info, "Containers");
  info_line(" Running", info, "ContainersRunning");
  info_line(" Paused", info, "ContainersPaused");
  info_line(" Stopped", info, "ContainersStopped");
  info_line("Images", info, "Images");
  info_line("Server Version", info, "ServerVersion");
  info_storage(info);
  info_line("Logging Driver", info, "LoggingDriver");
  info_line("Cgroup Driver", info, "CgroupDriver");
  info_line("Cgroup Version", info, "CgroupVersion");
  info_plugins(info);
  info_line("Default Runtime", info, "DefaultRuntime");
  info_line("Init Binary", info, "InitBinary");
  info_list("Security Options", json_object_get(info, "SecurityOptions"), " ");
  info_line("Kernel Version", info, "KernelVersion");
  info_line("Operating System", info, "OperatingSystem");
  info_line("OSType", info, "OSType");
  info_line("Architecture", info, "Architecture");
  info_line("CPUs", info, "NCPU");
  json_t *mem = json_object_get(info, "MemTotal");
  if (mem) {
    char size[32];
    format_bytes_size((double)json_integer_value(mem), size, sizeof size);
    printf(" Total Memory: %s\n", size);
  }
  info_line("Name", info, "Name");
  info_line("ID", info, "ID");
  info_line("Docker Root Dir", info, "DockerRootDir");
  info_line("Debug Mode", info, "Debug");
  info_line("Experimental", info, "ExperimentalBuild");
  json_t *registry = json_object_get(info, "RegistryConfig");
  json_t *cidrs = json_object_get(registry, "InsecureRegistryCIDRs");
  info_list("Insecure Registries", cidrs, " ");
  info_line("Live Restore Enabled", info, "LiveRestoreEnabled");
  json_t *warnings = json_object_get(info, "Warnings");
  printf("\n");
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w)
      fprintf(stderr, "%s\n", json_string_value(w) ?: "");
}

int cmd_info(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *format = NULL;
  struct opt opts[] = {
      {"format", 'f', OPT_STRING, &format, "string",
       "Format output using a custom template:\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Display system-wide information",
                              .aliases = "skiff system info, skiff info",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (format_check_template(format, &cli->fail_status, err) < 0)
    return -1;
  skiff_error_t *server_err = NULL;
  cleanup_json json_t *info =
      client_json(cli->client, "GET", "/info", NULL, NULL, &server_err);
  if (format && *format) {
    if (strcmp(format, "json") == 0)
      format = "{{json .}}";
    /* docker's info embeds the server's fields beside ClientInfo. */
    cleanup_json json_t *data = info ? json_deep_copy(info) : json_object();
    json_object_set_new(data, "ClientInfo",
                        json_pack("{s:b, s:s, s:s}", "Debug", cli->debug, "Context",
                                  "default", "Version", SKIFF_VERSION));
    r = format_template_print(format, data, true, stdout, err);
  } else {
    printf("Client:\n Version:    %s\n Context:    default\n Debug Mode: %s\n",
           SKIFF_VERSION, cli->debug ? "true" : "false");
    if (info)
      info_print_server(info);
  }
  if (r == 0 && server_err) {
    if (!format)
      printf("\nServer:\n");
    *err = steal_pointer(&server_err);
    return -1;
  }
  skiff_error_free(&server_err);
  return r;
}

/* ------------------------------------------------------------ df */

struct df_totals {
  long long total, active, size, reclaimable;
  bool percent;
};

static long long num(json_t *obj, const char *key)
{
  return (long long)json_integer_value(json_object_get(obj, key));
}

static void df_images(json_t *du, struct df_totals *t)
{
  long long used = 0;
  size_t i;
  json_t *img;
  t->size = num(du, "LayersSize");
  json_array_foreach(json_object_get(du, "Images"), i, img)
  {
    t->total++;
    if (num(img, "Containers") > 0) {
      t->active++;
      if (num(img, "Size") != -1 && num(img, "SharedSize") != -1)
        used += num(img, "Size") - num(img, "SharedSize");
    }
  }
  t->reclaimable = t->size - used;
  t->percent = true;
}

static void df_containers(json_t *du, struct df_totals *t)
{
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(du, "Containers"), i, c)
  {
    const char *state = json_string_value(json_object_get(c, "State")) ?: "";
    bool active = strstr(state, "running") || strstr(state, "paused") ||
                  strstr(state, "restarting");
    t->total++;
    t->active += active;
    t->size += num(c, "SizeRw");
    if (!active)
      t->reclaimable += num(c, "SizeRw");
  }
  t->percent = true;
}

static void df_volumes(json_t *du, struct df_totals *t)
{
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(du, "Volumes"), i, v)
  {
    json_t *usage = json_object_get(v, "UsageData");
    long long size = num(usage, "Size"), refs = num(usage, "RefCount");
    t->total++;
    t->active += refs > 0;
    if (size != -1) {
      t->size += size;
      if (refs == 0)
        t->reclaimable += size;
    }
  }
  t->percent = true;
}

static void df_build_cache(json_t *du, struct df_totals *t)
{
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(du, "BuildCache"), i, b)
  {
    bool shared = json_is_true(json_object_get(b, "Shared"));
    bool in_use = json_is_true(json_object_get(b, "InUse"));
    t->total++;
    t->active += in_use;
    if (!shared)
      t->size += num(b, "Size");
    if (!shared && !in_use)
      t->reclaimable += num(b, "Size");
  }
}

static json_t *df_row(const char *type, const struct df_totals *t)
{
  char total[32], active[32], size[32], rec[32], reclaimable[64];
  snprintf(total, sizeof total, "%lld", t->total);
  snprintf(active, sizeof active, "%lld", t->active);
  format_human_size((double)t->size, 4, size, sizeof size);
  format_human_size((double)t->reclaimable, 4, rec, sizeof rec);
  if (t->percent && t->size > 0)
    snprintf(reclaimable, sizeof reclaimable, "%s (%lld%%)", rec,
             t->reclaimable * 100 / t->size);
  else
    snprintf(reclaimable, sizeof reclaimable, "%s", rec);
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "Active", active, "Reclaimable",
                   reclaimable, "Size", size, "TotalCount", total, "Type", type);
}

int cmd_system_df(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *format = NULL;
  bool verbose = false;
  struct opt opts[] = {
      {"format", 0, OPT_STRING, &format, "string",
       "Format output using a custom template:\n'table':            Print output in "
       "table format with column headers (default)\n'table TEMPLATE':   Print output "
       "in table format using the given Go template\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {"verbose", 'v', OPT_BOOL, &verbose, NULL,
       "Show detailed information on space usage", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Show skiff disk usage",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (verbose)
    return skiff_error_invalid(err, "system df --verbose is not supported yet");
  cleanup_json json_t *du =
      client_json(cli->client, "GET", "/system/df", NULL, NULL, err);
  if (du == NULL)
    return -1;
  struct df_totals t[4] = {{0}};
  df_images(du, &t[0]);
  df_containers(du, &t[1]);
  df_volumes(du, &t[2]);
  df_build_cache(du, &t[3]);
  const char *types[] = {"Images", "Containers", "Local Volumes", "Build Cache"};
  struct listfmt lf;
  if (listfmt_init(
          &lf, format,
          "table "
          "{{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}",
          err) < 0)
    return -1;
  for (int i = 0; i < 4 && r == 0; i++) {
    cleanup_json json_t *row = df_row(types[i], &t[i]);
    r = listfmt_row(&lf, row, err);
  }
  cleanup_json json_t *headers =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", "TYPE", "TotalCount", "TOTAL",
                "Active", "ACTIVE", "Size", "SIZE", "Reclaimable", "RECLAIMABLE");
  if (r == 0)
    r = listfmt_flush(&lf, headers, stdout, err);
  listfmt_clear(&lf);
  return r;
}

/* ------------------------------------------------------------ prune */

/* POST /KIND/prune; adds the reclaimed bytes. A daemon without the route
 * (404) has nothing of that kind to prune. */
static int prune_kind(struct cli *cli, const char *kind, const char *filters,
                      const char *list_key, const char *title, long long *reclaimed,
                      skiff_error_t **err)
{
  cleanup_free char *q = NULL, *path = NULL;
  if (filters)
    client_query_add(&q, "filters", filters);
  if (asprintf(&path, "/%s/prune%s", kind, q ? q : "") < 0)
    return skiff_error_errno(err, "prune");
  long status = 0;
  cleanup_json json_t *report =
      client_json(cli->client, "POST", path, NULL, &status, err);
  if (report == NULL && status == 404) {
    skiff_error_free(err);
    return 0;
  }
  if (report == NULL)
    return -1;
  json_t *list = json_object_get(report, list_key);
  if (json_array_size(list) > 0) {
    printf("%s:\n", title);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
      if (json_is_string(item)) {
        printf("%s\n", json_string_value(item));
        continue;
      }
      const char *u = json_string_value(json_object_get(item, "Untagged"));
      const char *d = json_string_value(json_object_get(item, "Deleted"));
      if (u)
        printf("untagged: %s\n", u);
      if (d)
        printf("deleted: %s\n", d);
    }
    printf("\n");
  }
  *reclaimed +=
      num(report, strcmp(kind, "build") == 0 ? "SpaceReclaimed" : "SpaceReclaimed");
  return 0;
}

int cmd_system_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool all = false, force = false, volumes = false;
  struct strlist filters = {0};
  struct opt opts[] = {
      {"all", 'a', OPT_BOOL, &all, NULL,
       "Remove all unused images not just dangling ones", NULL},
      {"filter", 0, OPT_FILTER, &filters, "filter",
       "Provide filter values (e.g. \"label=<key>=<value>\")", NULL},
      {"force", 'f', OPT_BOOL, &force, NULL, "Do not prompt for confirmation", NULL},
      {"volumes", 0, OPT_BOOL, &volumes, NULL, "Prune anonymous volumes", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Remove unused data",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  cleanup_free char *given = r == OPTS_OK ? cli_filters_json(&filters, err) : NULL;
  strlist_free(&filters);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  /* The filters go to every kind; images also get dangling, as docker's. */
  cleanup_json json_t *image_filters =
      given ? json_loads(given, 0, NULL) : json_object();
  json_object_set_new(image_filters, "dangling",
                      json_pack("{s:b}", all ? "false" : "true", 1));
  cleanup_free char *images = json_dumps(image_filters, JSON_COMPACT);
  char warning[512];
  snprintf(warning, sizeof warning,
           "WARNING! This will remove:\n  - all stopped containers\n"
           "  - all networks not used by at least one container\n%s  - %s\n  - unused "
           "build cache\n",
           volumes ? "  - all anonymous volumes not used by at least one container\n"
                   : "",
           all ? "all images without at least one container associated to them"
               : "all dangling images");
  if (!force && !cli_confirm(warning))
    return 0;
  long long reclaimed = 0;
  if (prune_kind(cli, "containers", given, "ContainersDeleted", "Deleted Containers",
                 &reclaimed, err) < 0 ||
      prune_kind(cli, "networks", given, "NetworksDeleted", "Deleted Networks",
                 &reclaimed, err) < 0 ||
      (volumes && prune_kind(cli, "volumes", given, "VolumesDeleted", "Deleted Volumes",
                             &reclaimed, err) < 0) ||
      prune_kind(cli, "images", images, "ImagesDeleted", "Deleted Images", &reclaimed,
                 err) < 0 ||
      prune_kind(cli, "build", given, "CachesDeleted", "Deleted build cache objects",
                 &reclaimed, err) < 0)
    return -1;
  char size[32];
  format_human_size((double)reclaimed, 4, size, sizeof size);
  printf("Total reclaimed space: %s\n", size);
  return 0;
}
