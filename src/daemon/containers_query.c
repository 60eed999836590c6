/* Read-only views of the containers: list (with docker's filters),
 * inspect, df, and prune. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/humanize.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "containers_internal.h"
#include "daemon.h"
#include "image/image.h"

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
  const char *image = json_string_value(json_object_get(json_object_get(c->record, "Config"),
                                                        "Image"));
  const char *id = json_string_value(json_object_get(c->record, "Image"));
  return (image && (strcmp(image, v) == 0 || fnmatch(v, image, 0) == 0)) ||
         (id && (strcmp(id, v) == 0 || strncmp(id + 7, v, strlen(v)) == 0));
}

static bool match_exited(struct container *c, const char *v)
{
  return strcmp(container_status(c), "exited") == 0 &&
         json_integer_value(json_object_get(json_object_get(c->record, "State"), "ExitCode")) ==
             atoi(v);
}

static bool passes(struct container *c, json_t *filters)
{
  static const struct {
    const char *key;
    bool (*match)(struct container *, const char *);
  } kinds[] = {{"id", match_id},         {"name", match_name},
               {"status", match_status}, {"label", match_label},
               {"ancestor", match_ancestor}, {"exited", match_exited}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    cleanup_json json_t *values = filter_values(filters, kinds[k].key);
    if (!any_value(values, kinds[k].match, c))
      return false;
  }
  return true;
}

static int64_t created_ns(struct container *c)
{
  return jsonlog_parse_time(json_string_value(json_object_get(c->record, "Created")));
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* docker ps's STATUS: "Up 3 minutes", "Exited (0) 2 seconds ago", ... */
static void status_text(struct container *c, char *buf, size_t len)
{
  json_t *state = json_object_get(c->record, "State");
  const char *st = container_status(c);
  char ago[64];
  long long code = (long long)json_integer_value(json_object_get(state, "ExitCode"));
  if (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0) {
    int64_t started = jsonlog_parse_time(json_string_value(json_object_get(state, "StartedAt")));
    humanize_duration(now_ns() - started, ago, sizeof ago);
    snprintf(buf, len, "Up %s%s", ago, strcmp(st, "paused") == 0 ? " (Paused)" : "");
  } else if (strcmp(st, "exited") == 0 || strcmp(st, "restarting") == 0) {
    int64_t finished = jsonlog_parse_time(json_string_value(json_object_get(state, "FinishedAt")));
    humanize_duration(now_ns() - finished, ago, sizeof ago);
    snprintf(buf, len, "%s (%lld) %s ago", st[0] == 'e' ? "Exited" : "Restarting", code, ago);
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
  const char *network = json_string_value(json_object_get(json_object_get(c->record, "HostConfig"),
                                                          "NetworkMode"));
  return json_pack("{s:s, s:[O], s:O, s:O, s:s, s:I, s:[], s:o, s:O, s:s, s:{s:s}, "
                   "s:{s:{}}, s:[]}",
                   "Id", c->id, "Names", json_object_get(c->record, "Name"), "Image",
                   json_object_get(config, "Image"), "ImageID",
                   json_object_get(c->record, "Image"), "Command", command, "Created",
                   (json_int_t)(created_ns(c) / 1000000000), "Ports", "Labels",
                   json_is_object(labels) ? json_incref(labels) : json_object(), "State",
                   json_object_get(state, "Status"), "Status", status, "HostConfig",
                   "NetworkMode", network && *network ? network : "none",
                   "NetworkSettings", "Networks", "Mounts");
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
  pthread_mutex_lock(&s->lock);
  struct container **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
  memcpy(sorted, s->items, s->n * sizeof *sorted);
  qsort(sorted, s->n, sizeof *sorted, by_created_desc);
  json_t *list = json_array();
  for (size_t i = 0; i < s->n; i++) {
    struct container *c = sorted[i];
    bool running = json_is_true(json_object_get(json_object_get(c->record, "State"), "Running"));
    if ((!all && limit <= 0 && !running) || !passes(c, filters))
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
  (void)err;
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
    json_object_set_new(out, "GraphDriver", json_pack("{s:s, s:{}}", "Name", "overlay2",
                                                      "Data"));
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

json_t *containers_prune(struct container_store *s, json_t *filters, skiff_error_t **err)
{
  cleanup_json json_t *candidates = json_object(); /* id → size */
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n; i++) {
    struct container *c = s->items[i];
    const char *st = container_status(c);
    bool stopped = strcmp(st, "exited") == 0 || strcmp(st, "created") == 0 ||
                   strcmp(st, "dead") == 0;
    if (!stopped || c->removing || !passes(c, filters))
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
  (void)err;
  return json_pack("{s:o, s:I}", "ContainersDeleted", deleted, "SpaceReclaimed", reclaimed);
}
