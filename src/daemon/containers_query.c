/* Read-only views of the containers: list (with docker's filters),
 * inspect, df, and prune. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/humanize.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "common/timestamp.h"
#include "containers_internal.h"
#include "daemon.h"
#include "image/image.h"

/* Created-time bounds from the before/since/until filters (ns; 0: none). */
struct bounds {
  int64_t before, since, until;
};

/* strconv.ParseBool's spellings. */
static bool opts_true(const char *v)
{
  return strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 || strcasecmp(v, "true") == 0;
}

static bool opts_false(const char *v)
{
  return strcmp(v, "0") == 0 || strcasecmp(v, "f") == 0 || strcasecmp(v, "false") == 0;
}

/* Docker's filters: {"name": {"x": true}} or {"name": ["x"]}. */
static json_t *filter_values(json_t *filters, const char *key)
{
  json_t *v = json_object_get(filters, key);
  if (json_is_array(v))
    return json_incref(v);
  json_t *list = json_array();
  const char *k;
  json_t *ignored;
  json_object_foreach(v, k, ignored) json_array_append_new(list, json_string(k));
  return list;
}

static bool any_value(json_t *values, bool (*match)(struct container *, const char *),
                      struct container *c)
{
  if (json_array_size(values) == 0)
    return true;
  size_t i;
  json_t *v;
  json_array_foreach(values, i, v) if (match(c, json_string_value(v))) return true;
  return false;
}

static bool match_id(struct container *c, const char *v)
{
  return strncmp(c->id, v, strlen(v)) == 0;
}

static bool match_name(struct container *c, const char *v)
{
  const char *name = json_string_value(json_object_get(c->record, "Name")) + 1;
  return strstr(name, v[0] == '/' ? v + 1 : v) != NULL;
}

static bool match_status(struct container *c, const char *v)
{
  return strcmp(container_status(c), v) == 0;
}

static bool match_label(struct container *c, const char *v)
{
  json_t *labels = json_object_get(json_object_get(c->record, "Config"), "Labels");
  cleanup_free char *key = strdup(v);
  char *eq = strchr(key, '=');
  if (eq)
    *eq++ = '\0';
  json_t *have = json_object_get(labels, key);
  return have && (eq == NULL || strcmp(json_string_value(have), eq) == 0);
}

static bool match_ancestor(struct container *c, const char *v)
{
  const char *image =
      json_string_value(json_object_get(json_object_get(c->record, "Config"), "Image"));
  const char *id = json_string_value(json_object_get(c->record, "Image"));
  return (image && (strcmp(image, v) == 0 || fnmatch(v, image, 0) == 0)) ||
         (id && (strcmp(id, v) == 0 || strncmp(id + 7, v, strlen(v)) == 0));
}

static bool match_exited(struct container *c, const char *v)
{
  return strcmp(container_status(c), "exited") == 0 &&
         json_integer_value(json_object_get(json_object_get(c->record, "State"),
                                            "ExitCode")) == atoi(v);
}

static bool all_values(json_t *labels, struct container *c)
{
  size_t i;
  json_t *v;
  json_array_foreach(labels, i,
                     v) if (!match_label(c, json_string_value(v))) return false;
  return true;
}

/* skiff runs no healthchecks: every container's health is "none". */
static bool match_health(struct container *c, const char *v)
{
  return strcmp(v, "none") == 0;
}

static bool match_network(struct container *c, const char *v)
{
  const char *mode = json_string_value(
      json_object_get(json_object_get(c->record, "HostConfig"), "NetworkMode"));
  return strcmp(mode && *mode ? mode : "none", v) == 0;
}

/* No container is a swarm task, publishes or exposes a port. */
static bool match_is_task(struct container *c, const char *v)
{
  return opts_false(v);
}

static bool match_nothing(struct container *c, const char *v)
{
  return false;
}

static int64_t created_ns(struct container *c);

static bool passes(struct container *c, json_t *filters, const struct bounds *b)
{
  static const struct {
    const char *key;
    bool (*match)(struct container *, const char *);
  } kinds[] = {{"id", match_id},           {"name", match_name},
               {"status", match_status},   {"ancestor", match_ancestor},
               {"exited", match_exited},   {"health", match_health},
               {"network", match_network}, {"is-task", match_is_task},
               {"publish", match_nothing}, {"expose", match_nothing},
               {"volume", match_nothing}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    cleanup_json json_t *values = filter_values(filters, kinds[k].key);
    if (!any_value(values, kinds[k].match, c))
      return false;
  }
  /* Labels are MatchKVList: a container must have every one given, and
   * "label!" (prune) leaves out those that have every one of its. */
  cleanup_json json_t *labels = filter_values(filters, "label");
  cleanup_json json_t *not_labels = filter_values(filters, "label!");
  if (!all_values(labels, c) ||
      (json_array_size(not_labels) && all_values(not_labels, c)))
    return false;
  int64_t created = created_ns(c);
  return (b->before == 0 || created < b->before) &&
         (b->since == 0 || created > b->since) && (b->until == 0 || created < b->until);
}

/* ---- checking filters (dockerd's daemon/list.go, prune.go) ---------- */

static bool one_of(const char *v, const char *const *allowed)
{
  for (; *allowed; allowed++)
    if (strcmp(v, *allowed) == 0)
      return true;
  return false;
}

static int check_value(const char *key, const char *v, skiff_error_t **err)
{
  static const char *const states[] = {"created", "restarting", "running", "removing",
                                       "paused",  "exited",     "dead",    NULL};
  static const char *const health[] = {"starting", "healthy", "unhealthy", "none",
                                       NULL};
  char *end = NULL;
  if (strcmp(key, "exited") == 0)
    strtol(v, &end, 10);
  if (strcmp(key, "status") == 0 && !one_of(v, states))
    return skiff_error_invalid(err, "invalid filter 'status=%s'", v);
  if (strcmp(key, "health") == 0 && !one_of(v, health))
    return skiff_error_invalid(err, "Unrecognised filter value for health: %s", v);
  if (strcmp(key, "is-task") == 0 && !opts_false(v) && !opts_true(v))
    return skiff_error_invalid(err, "invalid filter 'is-task=[%s]'", v);
  if (end && (*v == '\0' || isspace((unsigned char)*v) || *end != '\0'))
    return skiff_error_invalid(err, "strconv.Atoi: parsing \"%s\": invalid syntax", v);
  return 0;
}

/* The creation time of the container named by the filter's last value
 * (dockerd walks them all); 0 when the filter is absent. */
static int reference_time(struct container_store *s, json_t *filters, const char *key,
                          int64_t *out, skiff_error_t **err)
{
  cleanup_json json_t *values = filter_values(filters, key);
  size_t i;
  json_t *v;
  *out = 0;
  json_array_foreach(values, i, v)
  {
    struct container *ref = containers_find_locked(s, json_string_value(v), err);
    if (ref == NULL)
      return -1;
    *out = created_ns(ref);
  }
  return 0;
}

static int check_list_filters(struct container_store *s, json_t *filters,
                              struct bounds *b, skiff_error_t **err)
{
  const char *key;
  json_t *ignored;
  *b = (struct bounds){0};
  json_object_foreach(filters, key, ignored)
  {
    cleanup_json json_t *values = filter_values(filters, key);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (check_value(key, json_string_value(v), err) <
                                         0) return -1;
  }
  if (reference_time(s, filters, "before", &b->before, err) < 0 ||
      reference_time(s, filters, "since", &b->since, err) < 0)
    return -1;
  return 0;
}

/* Prune's "until": a time, a duration back from now, or a unix time. */
static int check_prune_filters(json_t *filters, struct bounds *b, skiff_error_t **err)
{
  cleanup_json json_t *values = filter_values(filters, "until");
  *b = (struct bounds){0};
  if (json_array_size(values) > 1)
    return skiff_error_invalid(err, "more than one until filter specified");
  const char *until = json_string_value(json_array_get(values, 0));
  if (until && timestamp_parse(until, timestamp_now_ns(), &b->until, err) < 0)
    return -1;
  return 0;
}

static int64_t created_ns(struct container *c)
{
  return jsonlog_parse_time(json_string_value(json_object_get(c->record, "Created")));
}

/* docker ps's STATUS: "Up 3 minutes", "Exited (0) 2 seconds ago", ... */
static void status_text(struct container *c, char *buf, size_t len)
{
  json_t *state = json_object_get(c->record, "State");
  const char *st = container_status(c);
  char ago[64];
  long long code = (long long)json_integer_value(json_object_get(state, "ExitCode"));
  if (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0) {
    int64_t started =
        jsonlog_parse_time(json_string_value(json_object_get(state, "StartedAt")));
    humanize_duration(timestamp_now_ns() - started, ago, sizeof ago);
    snprintf(buf, len, "Up %s%s", ago, strcmp(st, "paused") == 0 ? " (Paused)" : "");
  } else if (strcmp(st, "exited") == 0 || strcmp(st, "restarting") == 0) {
    int64_t finished =
        jsonlog_parse_time(json_string_value(json_object_get(state, "FinishedAt")));
    humanize_duration(timestamp_now_ns() - finished, ago, sizeof ago);
    snprintf(buf, len, "%s (%lld) %s ago", st[0] == 'e' ? "Exited" : "Restarting", code,
             ago);
  } else if (strcmp(st, "dead") == 0) {
    snprintf(buf, len, "Dead");
  } else {
    snprintf(buf, len, "%s", c->removing ? "Removal In Progress" : "Created");
  }
}

static char *command_line(struct container *c)
{
  const char *path = json_string_value(json_object_get(c->record, "Path"));
  char *command = strdup(path ? path : "");
  size_t i;
  json_t *arg;
  json_array_foreach(json_object_get(c->record, "Args"), i, arg)
  {
    char *joined = NULL;
    if (asprintf(&joined, "%s %s", command, json_string_value(arg)) >= 0) {
      free(command);
      command = joined;
    }
  }
  return command;
}

static json_t *summary(struct container *c)
{
  json_t *config = json_object_get(c->record, "Config");
  json_t *state = json_object_get(c->record, "State");
  cleanup_free char *command = command_line(c);
  char status[128];
  status_text(c, status, sizeof status);
  json_t *labels = json_object_get(config, "Labels");
  const char *network = json_string_value(
      json_object_get(json_object_get(c->record, "HostConfig"), "NetworkMode"));
  return json_pack(
      "{s:s, s:[O], s:O, s:O, s:s, s:I, s:[], s:o, s:O, s:s, s:{s:s}, "
      "s:{s:{}}, s:[]}",
      "Id", c->id, "Names", json_object_get(c->record, "Name"), "Image",
      json_object_get(config, "Image"), "ImageID", json_object_get(c->record, "Image"),
      "Command", command, "Created", (json_int_t)(created_ns(c) / 1000000000), "Ports",
      "Labels", json_is_object(labels) ? json_incref(labels) : json_object(), "State",
      json_object_get(state, "Status"), "Status", status, "HostConfig", "NetworkMode",
      network && *network ? network : "none", "NetworkSettings", "Networks", "Mounts");
}

static int by_created_desc(const void *a, const void *b)
{
  int64_t x = created_ns(*(struct container *const *)a);
  int64_t y = created_ns(*(struct container *const *)b);
  return x < y ? 1 : x > y ? -1 : 0;
}

json_t *containers_list(struct container_store *s, bool all, int limit, bool size,
                        json_t *filters, skiff_error_t **err)
{
  struct bounds b;
  pthread_mutex_lock(&s->lock);
  if (check_list_filters(s, filters, &b, err) < 0) {
    pthread_mutex_unlock(&s->lock);
    return NULL;
  }
  struct container **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
  memcpy(sorted, s->items, s->n * sizeof *sorted);
  qsort(sorted, s->n, sizeof *sorted, by_created_desc);
  json_t *list = json_array();
  for (size_t i = 0; i < s->n; i++) {
    struct container *c = sorted[i];
    bool running =
        json_is_true(json_object_get(json_object_get(c->record, "State"), "Running"));
    if ((!all && limit <= 0 && !running) || !passes(c, filters, &b))
      continue;
    if (limit > 0 && (int)json_array_size(list) >= limit)
      break;
    json_t *item = summary(c);
    if (size) {
      cleanup_free char *dir = container_dir(s, c);
      json_object_set_new(item, "SizeRw", json_integer(image_snapshot_size(dir)));
    }
    json_array_append_new(list, item);
  }
  free(sorted);
  pthread_mutex_unlock(&s->lock);
  return list;
}

json_t *containers_inspect(struct container_store *s, const char *id, bool size,
                           skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  json_t *out = c ? json_deep_copy(c->record) : NULL;
  if (out) {
    json_object_del(out, "Skiff");
    json_object_set_new(out, "ExecIDs", json_null());
    json_object_set_new(out, "GraphDriver",
                        json_pack("{s:s, s:{}}", "Name", "overlay2", "Data"));
    if (size) {
      cleanup_free char *dir = container_dir(s, c);
      json_object_set_new(out, "SizeRw", json_integer(image_snapshot_size(dir)));
    }
  }
  pthread_mutex_unlock(&s->lock);
  return out;
}

json_t *containers_df(struct container_store *s)
{
  return containers_list(s, true, 0, true, NULL, NULL);
}

json_t *containers_prune(struct container_store *s, json_t *filters,
                         skiff_error_t **err)
{
  cleanup_json json_t *candidates = json_object(); /* id → size */
  struct bounds b;
  if (check_prune_filters(filters, &b, err) < 0)
    return NULL;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n; i++) {
    struct container *c = s->items[i];
    const char *st = container_status(c);
    bool stopped = strcmp(st, "exited") == 0 || strcmp(st, "created") == 0 ||
                   strcmp(st, "dead") == 0;
    if (!stopped || c->removing || !passes(c, filters, &b))
      continue;
    cleanup_free char *dir = container_dir(s, c);
    json_object_set_new(candidates, c->id, json_integer(image_snapshot_size(dir)));
  }
  pthread_mutex_unlock(&s->lock);
  json_t *deleted = json_array();
  json_int_t reclaimed = 0;
  const char *id;
  json_t *size;
  json_object_foreach(candidates, id, size)
  {
    if (containers_remove(s, id, false, false, NULL) == 0) {
      json_array_append_new(deleted, json_string(id));
      reclaimed += json_integer_value(size);
    }
  }
  /* dockerd's nil slice: null when nothing was removed. */
  if (json_array_size(deleted) == 0) {
    json_decref(deleted);
    deleted = json_null();
  }
  return json_pack("{s:o, s:I}", "ContainersDeleted", deleted, "SpaceReclaimed",
                   reclaimed);
}

char *containers_image_user(struct container_store *s, const char *image_id,
                            bool *running)
{
  char *user = NULL;
  *running = false;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n && !*running; i++) {
    struct container *c = s->items[i];
    if (strcmp(json_string_value(json_object_get(c->record, "Image")) ?: "",
               image_id) != 0)
      continue;
    *running =
        json_is_true(json_object_get(json_object_get(c->record, "State"), "Running"));
    if (user == NULL || *running) {
      free(user);
      user = strdup(c->id);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return user;
}
