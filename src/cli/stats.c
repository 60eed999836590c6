/* top and stats: a container's processes as docker's top table, and the
 * live resource usage table of docker stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"

/* ---- top --------------------------------------------------------------- */

static void add_cells(struct strbuf *b, json_t *cells)
{
  size_t i;
  json_t *cell;
  json_array_foreach(cells, i, cell)
  {
    if (i)
      strbuf_puts(b, "\t");
    strbuf_puts(b, json_string_value(cell) ? json_string_value(cell) : "");
  }
  strbuf_puts(b, "\n");
}

int cmd_top(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "CONTAINER [ps OPTIONS]",
                              .summary = "Display the running processes of a container",
                              .aliases = "skiff container top, skiff top",
                              .min_args = 1,
                              .max_args = -1,
                              .stop_at_arg = true};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  struct strbuf ps_args = {0};
  for (int i = 1; i < nargs; i++)
    strbuf_printf(&ps_args, i > 1 ? " %s" : "%s", args[i]);
  cleanup_free char *joined = strbuf_steal(&ps_args);
  cleanup_free char *base = cli_path("/containers/%s/top", args[0]);
  cleanup_free char *query = NULL, *path = NULL;
  if (base == NULL || (nargs > 1 && client_query_add(&query, "ps_args", joined) < 0) ||
      asprintf(&path, "%s%s", base, query ? query : "") < 0)
    return skiff_error_errno(err, "top");
  cleanup_json json_t *answer = client_json(cli->client, "GET", path, NULL, NULL, err);
  if (answer == NULL)
    return -1;
  struct strbuf text = {0};
  add_cells(&text, json_object_get(answer, "Titles"));
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(answer, "Processes"), i, row)
      add_cells(&text, row);
  cleanup_free char *raw = strbuf_steal(&text);
  cleanup_free char *table = format_tabwriter(raw, 20, 3); /* docker's top writer */
  fputs(table ? table : raw, stdout);
  return 0;
}

/* ---- stats ------------------------------------------------------------- */

#define STATS_TABLE                                                                    \
  "table "                                                                             \
  "{{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}"     \
  "\\t{{.BlockIO}}\\t{{.PIDs}}"

/* One container of the table. */
struct stats_entry {
  char *container; /* as given, or the full id when listing */
  json_t *last;    /* the latest answer, NULL until there is one */
  json_t *before;  /* the one before it: CPU % is the change between them */
  char *error;     /* the latest request's failure */
  bool seen;       /* still listed (for the listing mode) */
};

struct stats_table {
  struct stats_entry *items;
  size_t n, cap;
};

static struct stats_entry *table_add(struct stats_table *t, const char *container)
{
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->items[i].container, container) == 0)
      return &t->items[i];
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct stats_entry *bigger = realloc(t->items, cap * sizeof *bigger);
    if (bigger == NULL)
      return NULL;
    t->items = bigger;
    t->cap = cap;
  }
  t->items[t->n] = (struct stats_entry){.container = strdup(container)};
  return &t->items[t->n++];
}

static void entry_clear(struct stats_entry *e)
{
  free(e->container);
  free(e->error);
  json_decref(e->last);
  json_decref(e->before);
}

static void table_clear(struct stats_table *t)
{
  for (size_t i = 0; i < t->n; i++)
    entry_clear(&t->items[i]);
  free(t->items);
}

/* Without names on the command line: the running (or all) containers,
 * in ps's order; entries no longer listed are dropped. */
static int table_list(struct cli *cli, struct stats_table *t, bool all,
                      skiff_error_t **err)
{
  cleanup_json json_t *list =
      client_json(cli->client, "GET",
                  all ? "/containers/json?all=1" : "/containers/json", NULL, NULL, err);
  if (list == NULL)
    return -1;
  for (size_t i = 0; i < t->n; i++)
    t->items[i].seen = false;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c)
  {
    struct stats_entry *e = table_add(t, json_string_value(json_object_get(c, "Id")));
    if (e)
      e->seen = true;
  }
  size_t kept = 0;
  for (i = 0; i < t->n; i++) {
    if (t->items[i].seen)
      t->items[kept++] = t->items[i];
    else
      entry_clear(&t->items[i]);
  }
  t->n = kept;
  return 0;
}

/* One sample of every entry (one-shot answers, so that all are taken at
 * about the same time; CPU % comes from two rounds a second apart). */
static void table_sample(struct cli *cli, struct stats_table *t)
{
  for (size_t i = 0; i < t->n; i++) {
    struct stats_entry *e = &t->items[i];
    skiff_error_t *err = NULL;
    cleanup_free char *path =
        cli_path("/containers/%s/stats?stream=0&one-shot=1", e->container);
    json_t *answer =
        path ? client_json(cli->client, "GET", path, NULL, NULL, &err) : NULL;
    free(e->error);
    e->error = answer ? NULL : strdup(err && err->msg ? err->msg : "stats failed");
    skiff_error_free(&err);
    if (answer == NULL)
      continue;
    json_decref(e->before);
    e->before = e->last;
    e->last = answer;
  }
}

static json_int_t num(json_t *obj, const char *key)
{
  return json_integer_value(json_object_get(obj, key));
}

/* The docker CLI's calculateCPUPercentUnix, the same on cgroup v1 and v2:
 * the container's share of the host's CPU time, times the CPUs. */
static double cpu_percent(json_t *now, json_t *before)
{
  json_t *cpu = json_object_get(now, "cpu_stats");
  json_t *pre = before ? json_object_get(before, "cpu_stats")
                       : json_object_get(now, "precpu_stats");
  double cpu_delta = (double)num(json_object_get(cpu, "cpu_usage"), "total_usage") -
                     (double)num(json_object_get(pre, "cpu_usage"), "total_usage");
  double system_delta =
      (double)num(cpu, "system_cpu_usage") - (double)num(pre, "system_cpu_usage");
  double online = (double)num(cpu, "online_cpus");
  if (online == 0)
    online = (double)json_array_size(
        json_object_get(json_object_get(cpu, "cpu_usage"), "percpu_usage"));
  if (system_delta > 0 && cpu_delta > 0)
    return cpu_delta / system_delta * online * 100.0;
  return 0;
}

/* calculateMemUsageUnixNoCache: usage less the inactive page cache, which
 * cgroup v1 calls total_inactive_file and v2 inactive_file. */
static double memory_usage(json_t *mem)
{
  json_int_t usage = num(mem, "usage");
  json_t *stats = json_object_get(mem, "stats");
  json_t *v1 = json_object_get(stats, "total_inactive_file");
  if (v1 && json_integer_value(v1) < usage)
    return (double)(usage - json_integer_value(v1));
  json_int_t v2 = num(stats, "inactive_file");
  return v2 < usage ? (double)(usage - v2) : (double)usage;
}

static void io_totals(json_t *answer, double *net_rx, double *net_tx, double *blk_read,
                      double *blk_write)
{
  *net_rx = *net_tx = *blk_read = *blk_write = 0;
  const char *name;
  json_t *net;
  json_object_foreach(json_object_get(answer, "networks"), name, net)
  {
    *net_rx += (double)num(net, "rx_bytes");
    *net_tx += (double)num(net, "tx_bytes");
  }
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(json_object_get(answer, "blkio_stats"),
                                     "io_service_bytes_recursive"),
                     i, e)
  {
    const char *op = json_string_value(json_object_get(e, "op"));
    if (op && (op[0] == 'r' || op[0] == 'R'))
      *blk_read += (double)num(e, "value");
    else if (op && (op[0] == 'w' || op[0] == 'W'))
      *blk_write += (double)num(e, "value");
  }
}

/* "1.5MiB / 7.7GiB" (binary) or "1.2kB / 0B" (decimal, 3 digits). */
static json_t *pair(double a, double b, bool binary)
{
  char x[32], y[32], both[72];
  if (binary) {
    format_bytes_size(a, x, sizeof x);
    format_bytes_size(b, y, sizeof y);
  } else {
    format_human_size(a, 3, x, sizeof x);
    format_human_size(b, 3, y, sizeof y);
  }
  snprintf(both, sizeof both, "%s / %s", x, y);
  return json_string(both);
}

/* The row of docker's stats formatter (keys sorted, as its JSON). */
static json_t *stats_row(const struct stats_entry *e, bool trunc)
{
  const char *id = json_string_value(json_object_get(e->last, "id"));
  const char *name = json_string_value(json_object_get(e->last, "name"));
  char short_id[80];
  snprintf(short_id, sizeof short_id, trunc ? "%.12s" : "%s", id ? id : e->container);
  json_t *shown_name = json_string(name && strlen(name) > 1 ? name + 1 : "--");
  if (e->error || e->last == NULL)
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "BlockIO", "--",
                     "CPUPerc", "--", "Container", e->container, "ID", short_id,
                     "MemPerc", "--", "MemUsage", "-- / --", "Name", shown_name,
                     "NetIO", "--", "PIDs", "--");
  json_t *mem = json_object_get(e->last, "memory_stats");
  double used = memory_usage(mem), limit = (double)num(mem, "limit");
  double rx, tx, rd, wr;
  io_totals(e->last, &rx, &tx, &rd, &wr);
  char cpu[32], mem_pct[32], pids[32];
  snprintf(cpu, sizeof cpu, "%.2f%%", cpu_percent(e->last, e->before));
  snprintf(mem_pct, sizeof mem_pct, "%.2f%%", limit != 0 ? used / limit * 100.0 : 0.0);
  snprintf(pids, sizeof pids, "%lld",
           (long long)num(json_object_get(e->last, "pids_stats"), "current"));
  return json_pack("{s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "BlockIO",
                   pair(rd, wr, false), "CPUPerc", cpu, "Container", e->container, "ID",
                   short_id, "MemPerc", mem_pct, "MemUsage", pair(used, limit, true),
                   "Name", shown_name, "NetIO", pair(rx, tx, false), "PIDs", pids);
}

static json_t *stats_headers(void)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Container",
                   "CONTAINER", "ID", "CONTAINER ID", "Name", "NAME", "CPUPerc",
                   "CPU %", "MemUsage", "MEM USAGE / LIMIT", "MemPerc", "MEM %",
                   "NetIO", "NET I/O", "BlockIO", "BLOCK I/O", "PIDs", "PIDS");
}

/* The whole table as text. */
static char *render(struct listfmt *f, struct stats_table *t, bool trunc,
                    skiff_error_t **err)
{
  cleanup_json json_t *headers = stats_headers();
  strbuf_free(&f->rows);
  strbuf_puts(&f->rows, "");
  for (size_t i = 0; i < t->n; i++) {
    cleanup_json json_t *row = stats_row(&t->items[i], trunc);
    if (listfmt_row(f, row, err) < 0)
      return NULL;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (out == NULL) {
    skiff_error_errno(err, "stats");
    return NULL;
  }
  int r = listfmt_flush(f, headers, out, err);
  fclose(out);
  if (r < 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* What docker stats leaves on a terminal each tick: the cursor home, every
 * line ended by "erase to the end of line", then "erase below". */
static void redraw(const char *text)
{
  fputs("\033[H", stdout);
  for (const char *line = text;;) {
    size_t len = strcspn(line, "\n");
    printf("%.*s \033[K\n", (int)len, line);
    if (line[len] == '\0')
      break;
    line += len + 1;
  }
  fputs("\033[J", stdout);
  fflush(stdout);
}

/* Named containers that cannot be read: docker's errors, one a line. */
static int first_errors(struct stats_table *t, skiff_error_t **err)
{
  struct strbuf b = {0};
  for (size_t i = 0; i < t->n; i++)
    if (t->items[i].error)
      strbuf_printf(&b, "%s%s", b.len ? "\n" : "", t->items[i].error);
  if (b.len == 0)
    return 0;
  cleanup_free char *msg = strbuf_steal(&b);
  return skiff_error_invalid(err, "%s", msg);
}

static void sleep_second(void)
{
  struct timespec ts = {1, 0};
  while (nanosleep(&ts, &ts) < 0)
    ;
}

struct stats_opts {
  bool all, no_stream, no_trunc;
  const char *format;
};

static int stats_loop(struct cli *cli, const struct stats_opts *o, char **args,
                      int nargs, skiff_error_t **err)
{
  struct listfmt f;
  if (listfmt_init(&f, o->format, STATS_TABLE, err) < 0)
    return -1;
  struct stats_table t = {0};
  int r = 0;
  for (int i = 0; i < nargs; i++)
    table_add(&t, args[i]);
  for (unsigned round = 0; r == 0; round++) {
    if (nargs == 0 && (r = table_list(cli, &t, o->all, err)) < 0)
      break;
    table_sample(cli, &t);
    if (round == 0 && nargs > 0 && (r = first_errors(&t, err)) < 0)
      break;
    if (round > 0) {
      cleanup_free char *text = render(&f, &t, !o->no_trunc, err);
      if (text == NULL) {
        r = -1;
        break;
      }
      if (o->no_stream) {
        fputs(text, stdout);
        break;
      }
      redraw(text);
    }
    sleep_second();
  }
  table_clear(&t);
  listfmt_clear(&f);
  return r;
}

int cmd_stats(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct stats_opts o = {0};
  struct opt opts[] = {
      {"all", 'a', OPT_BOOL, &o.all, NULL,
       "Show all containers (default shows just running)", NULL},
      {"format", 0, OPT_STRING, &o.format, "string",
       "Format output using a custom template:\n'table':            Print output in "
       "table "
       "format with column headers (default)\n'table TEMPLATE':   Print output in "
       "table "
       "format using the given Go template\n'json':             Print in JSON format\n"
       "'TEMPLATE':         Print output using the given Go template.",
       NULL},
      {"no-stream", 0, OPT_BOOL, &o.no_stream, NULL,
       "Disable streaming stats and only pull the first result", NULL},
      {"no-trunc", 0, OPT_BOOL, &o.no_trunc, NULL, "Do not truncate output", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL},
  };
  struct command_spec spec = {.usage = "[OPTIONS] [CONTAINER...]",
                              .summary =
                                  "Display a live stream of container(s) resource "
                                  "usage statistics",
                              .aliases = "skiff container stats, skiff stats",
                              .min_args = 0,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  return stats_loop(cli, &o, args, nargs, err);
}
