/* events: the daemon's event stream, printed as docker prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/timestamp.h"
#include "common/jsonutil.h"
#include "format.h"
#include "template.h"

struct events_out {
  struct template *tmpl; /* --format, or NULL for docker's line */
  skiff_error_t *err;
};

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "TIME TYPE ACTION ID (k=v, k=v)" with attributes sorted by key. */
static void print_event(json_t *ev)
{
  char when[64] = "";
  long long ns = (long long)json_integer_value(json_object_get(ev, "timeNano"));
  long long s = (long long)json_integer_value(json_object_get(ev, "time"));
  if (ns || s)
    format_rfc3339_nano(ns ? ns : s * 1000000000LL, when, sizeof when);
  json_t *actor = json_object_get(ev, "Actor");
  printf("%s%s%s %s %s", when, *when ? " " : "",
         json_string_value(json_object_get(ev, "Type")) ?: "",
         json_string_value(json_object_get(ev, "Action")) ?: "",
         json_string_value(json_object_get(actor, "ID")) ?: "");
  json_t *attrs = json_object_get(actor, "Attributes");
  size_t n = json_object_size(attrs), i = 0;
  if (n > 0) {
    cleanup_free const char **keys = calloc(n, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) if (keys) keys[i++] = k;
    qsort(keys, i, sizeof(*keys), cmp_str);
    printf(" (");
    for (size_t j = 0; j < i; j++)
      printf("%s%s=%s", j ? ", " : "", keys[j],
             json_string_value(json_object_get(attrs, keys[j])) ?: "");
    printf(")");
  }
  printf("\n");
}

static int on_event(json_t *ev, void *arg)
{
  struct events_out *o = arg;
  if (o->tmpl == NULL) {
    print_event(ev);
  } else {
    cleanup_free char *line = template_execute(o->tmpl, ev, 0, &o->err);
    if (line == NULL)
      return -1;
    printf("%s\n", line);
  }
  fflush(stdout);
  return 0;
}

static int on_data(const char *buf, size_t len, void *arg)
{
  return jsonstream_feed(arg, buf, len);
}

static char *events_path(const char *since, const char *until,
                         const struct strlist *filters, skiff_error_t **err)
{
  cleanup_free char *q = NULL;
  const char *times[][2] = {{"since", since}, {"until", until}};
  for (int i = 0; i < 2; i++) {
    if (times[i][1] == NULL)
      continue;
    cleanup_free char *ts = timestamp_from_api(times[i][1], timestamp_now_ns(), err);
    if (ts == NULL)
      return NULL;
    client_query_add(&q, times[i][0], ts);
  }
  cleanup_free char *json = cli_filters_json(filters, err);
  if (json == NULL && filters->n)
    return NULL;
  if (json)
    client_query_add(&q, "filters", json);
  char *path = NULL;
  if (asprintf(&path, "/events%s", q ? q : "") < 0)
    return NULL;
  return path;
}

static int stream_events(struct cli *cli, const char *path, struct events_out *o,
                         skiff_error_t **err)
{
  struct jsonstream *js = jsonstream_new(on_event, o);
  if (js == NULL)
    return skiff_error_errno(err, "events");
  struct client_call call = {
      .method = "GET", .path = path, .body_fd = -1, .on_data = on_data, .arg = js};
  struct client_reply reply;
  int r = client_do(cli->client, &call, &reply, err);
  if (r == 0 && reply.status >= 400)
    r = client_error_from_reply(&reply, err);
  else if (r == 0 && reply.aborted)
    r = o->err ? (*err = steal_pointer(&o->err), -1)
               : skiff_error_invalid(err, "events: malformed stream");
  client_reply_clear(&reply);
  jsonstream_free(js);
  return r;
}

int cmd_events(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *since = NULL, *until = NULL, *format = NULL;
  struct strlist filters = {0};
  struct opt opts[] = {
      {"filter", 'f', OPT_FILTER, &filters, "filter",
       "Filter output based on conditions provided", NULL},
      {"format", 0, OPT_STRING, &format, "string",
       "Format output using a custom template:\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {"since", 0, OPT_STRING, &since, "string",
       "Show all events created since timestamp", NULL},
      {"until", 0, OPT_STRING, &until, "string", "Stream events until this timestamp",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Get real time events from the server",
                              .aliases = "skiff system events, skiff events",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  cleanup_free char *path =
      r == OPTS_OK ? events_path(since, until, &filters, err) : NULL;
  strlist_free(&filters);
  if (r != OPTS_OK || path == NULL)
    return r == OPTS_HELP ? 0 : -1;
  struct events_out o = {0};
  if (format && *format) {
    o.tmpl = template_parse(strcmp(format, "json") == 0 ? "{{json .}}" : format, err);
    if (o.tmpl == NULL) { /* docker: "Error parsing format: ...", status 64 */
      const char *msg = strstr((*err)->msg, "template: ");
      cleanup_free char *why = strdup(msg ? msg : (*err)->msg);
      skiff_error_free(err);
      cli->fail_status = 64;
      return skiff_error_invalid(err, "Error parsing format: %s", why ? why : "");
    }
  }
  r = stream_events(cli, path, &o, err);
  template_free(o.tmpl);
  skiff_error_free(&o.err);
  return r;
}
