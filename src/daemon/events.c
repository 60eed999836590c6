/* The event bus: a ring of the last EVENTS_HISTORY events under one mutex,
 * and a condition variable on which followers (GET /events) wait. Events are
 * immutable once published, so a follower takes references under the lock
 * and writes them to its client without it. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/timestamp.h"

#define EVENTS_HISTORY 1024
/* Events a follower takes from the ring in one go. */
#define EVENTS_BATCH 64

struct event_bus {
  pthread_mutex_t lock;
  pthread_cond_t published;
  json_t *ring[EVENTS_HISTORY];
  uint64_t next_seq; /* the sequence number of the next event; ring[seq % N] */
  unsigned listeners;
  bool closed;
};

struct event_bus *events_new(void)
{
  struct event_bus *bus = calloc(1, sizeof *bus);
  if (bus == NULL)
    return NULL;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&bus->lock, NULL);
  pthread_cond_init(&bus->published, &attr);
  pthread_condattr_destroy(&attr);
  return bus;
}

void events_close(struct event_bus *bus)
{
  pthread_mutex_lock(&bus->lock);
  bus->closed = true;
  pthread_cond_broadcast(&bus->published);
  pthread_mutex_unlock(&bus->lock);
}

void events_free(struct event_bus *bus)
{
  if (bus == NULL)
    return;
  for (size_t i = 0; i < EVENTS_HISTORY; i++)
    json_decref(bus->ring[i]);
  pthread_cond_destroy(&bus->published);
  pthread_mutex_destroy(&bus->lock);
  free(bus);
}

unsigned events_listeners(struct event_bus *bus)
{
  pthread_mutex_lock(&bus->lock);
  unsigned n = bus->listeners;
  pthread_mutex_unlock(&bus->lock);
  return n;
}

/* docker's events.Message, with the pre-1.22 status/id/from fields that
 * docker still sends for containers and images. */
static json_t *event_build(const char *type, const char *action, const char *id,
                           json_t *attributes)
{
  int64_t ns = timestamp_now_ns();
  json_t *attrs = attributes ? attributes : json_object();
  json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "Type", type,
                         "Action", action, "Actor", "ID", id ? id : "", "Attributes",
                         attrs, "scope", "local", "time", (json_int_t)(ns / 1000000000),
                         "timeNano", (json_int_t)ns);
  if (ev == NULL)
    return NULL;
  if (strcmp(type, "container") == 0 || strcmp(type, "image") == 0) {
    json_object_set_new(ev, "status", json_string(action));
    json_object_set_new(ev, "id", json_string(id ? id : ""));
    json_t *image = json_object_get(attrs, "image");
    if (strcmp(type, "container") == 0 && json_is_string(image))
      json_object_set(ev, "from", image);
  }
  return ev;
}

void events_publish(struct event_bus *bus, const char *type, const char *action,
                    const char *id, json_t *attributes)
{
  json_t *ev = event_build(type, action, id, attributes);
  if (ev == NULL)
    return;
  pthread_mutex_lock(&bus->lock);
  size_t slot = bus->next_seq % EVENTS_HISTORY;
  json_decref(bus->ring[slot]);
  bus->ring[slot] = ev;
  bus->next_seq++;
  pthread_cond_broadcast(&bus->published);
  pthread_mutex_unlock(&bus->lock);
}

/* ---------------------------------------------------------------- filters */

/* The values given for a filter key, in either of docker's encodings:
 * {"key": {"value": true}} (API >= 1.22) or {"key": ["value"]}. */
static bool filter_has(json_t *filters, const char *key)
{
  json_t *v = json_object_get(filters, key);
  return (json_is_object(v) && json_object_size(v)) ||
         (json_is_array(v) && json_array_size(v));
}

typedef bool (*value_test)(const char *wanted, const char *actual);

static bool test_exact(const char *wanted, const char *actual)
{
  return actual && strcmp(wanted, actual) == 0;
}

/* docker's FuzzyMatch: exact, or the actual value starts with the filter's. */
static bool test_prefix(const char *wanted, const char *actual)
{
  return actual && strncmp(wanted, actual, strlen(wanted)) == 0;
}

/* True when some value of filters[key] passes test against actual. */
static bool filter_any(json_t *filters, const char *key, value_test test,
                       const char *actual)
{
  json_t *v = json_object_get(filters, key), *item;
  const char *k;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach(v, k,
                        item) if (json_is_true(item) && test(k, actual)) return true;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i,
                       item) if (json_is_string(item) &&
                                 test(json_string_value(item), actual)) return true;
  }
  return false;
}

static bool match_key(json_t *filters, const char *key, value_test test,
                      const char *actual)
{
  return !filter_has(filters, key) || filter_any(filters, key, test, actual);
}

static const char *attr(json_t *ev, const char *name)
{
  return json_string_value(json_object_get(
      json_object_get(json_object_get(ev, "Actor"), "Attributes"), name));
}

/* "busybox:latest" → "busybox" (a digest or a registry port is kept). */
static char *strip_tag(const char *ref)
{
  if (ref == NULL)
    return NULL;
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  if (colon == NULL || strchr(ref, '@'))
    return strdup(ref);
  return strndup(ref, (size_t)(colon - ref));
}

/* docker's matchEvent: health_status, exec_create and exec_start carry a
 * suffix (": healthy", ": sh"), so those filters match by prefix. */
static bool match_action(json_t *filters, const char *action)
{
  static const char *const fuzzy[] = {"health_status", "exec_create", "exec_start"};
  for (size_t i = 0; i < sizeof fuzzy / sizeof *fuzzy; i++)
    if (filter_any(filters, "event", test_exact, fuzzy[i]))
      return match_key(filters, "event", test_prefix, action);
  return match_key(filters, "event", test_exact, action);
}

/* container=, network=, volume=...: the actor's id or its name, by prefix.
 * Like dockerd, the filter applies to every event, so an image event has no
 * container's name and is dropped by container=. */
static bool match_named(json_t *filters, json_t *ev, const char *type)
{
  if (!filter_has(filters, type))
    return true;
  const char *id =
      json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID"));
  return filter_any(filters, type, test_prefix, id) ||
         filter_any(filters, type, test_prefix, attr(ev, "name"));
}

static bool match_image(json_t *filters, json_t *ev)
{
  if (!filter_has(filters, "image"))
    return true;
  const char *type = json_string_value(json_object_get(ev, "Type"));
  const char *id =
      json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID"));
  const char *name = attr(ev, strcmp(type, "image") == 0 ? "name" : "image");
  cleanup_free char *id_base = strip_tag(id);
  cleanup_free char *name_base = strip_tag(name);
  return filter_any(filters, "image", test_exact, id) ||
         filter_any(filters, "image", test_exact, name) ||
         filter_any(filters, "image", test_exact, id_base) ||
         filter_any(filters, "image", test_exact, name_base);
}

/* label=key or label=key=value: every one given must hold. */
static bool match_labels(json_t *filters, json_t *ev)
{
  json_t *v = json_object_get(filters, "label"), *item;
  const char *k;
  size_t i;
  json_t *labels = json_array();
  if (json_is_object(v)) {
    json_object_foreach(v, k, item) json_array_append_new(labels, json_string(k));
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, item) json_array_append(labels, item);
  }
  bool ok = true;
  json_array_foreach(labels, i, item)
  {
    const char *want = json_string_value(item);
    const char *eq = want ? strchr(want, '=') : NULL;
    cleanup_free char *key =
        want ? strndup(want, eq ? (size_t)(eq - want) : strlen(want)) : NULL;
    const char *have = key ? attr(ev, key) : NULL;
    if (have == NULL || (eq && strcmp(have, eq + 1) != 0)) {
      ok = false;
      break;
    }
  }
  json_decref(labels);
  return ok;
}

/* docker's events Filter.Include. */
static bool event_matches(json_t *filters, json_t *ev)
{
  static const char *const named[] = {"container", "network", "volume", "plugin",
                                      "node",      "service", "secret", "config"};
  if (filters == NULL)
    return true;
  if (!match_action(filters, json_string_value(json_object_get(ev, "Action"))) ||
      !match_key(filters, "type", test_exact,
                 json_string_value(json_object_get(ev, "Type"))) ||
      !match_key(filters, "scope", test_exact, "local") || !match_image(filters, ev) ||
      !match_labels(filters, ev))
    return false;
  for (size_t i = 0; i < sizeof named / sizeof *named; i++)
    if (!match_named(filters, ev, named[i]))
      return false;
  return true;
}

/* ---------------------------------------------------------------- streaming */

struct follower {
  int64_t since_ns, until_ns;
  json_t *filters;
  int (*emit)(json_t *event, void *arg);
  int (*idle)(void *arg);
  void *arg;
  uint64_t seq; /* the next sequence number to look at */
};

static int64_t event_time(json_t *ev)
{
  return (int64_t)json_integer_value(json_object_get(ev, "timeNano"));
}

/* Under the lock: references to up to EVENTS_BATCH events from f->seq on
 * (skipping what the ring has already dropped). Returns how many. */
static size_t take_batch(struct event_bus *bus, struct follower *f, json_t **batch)
{
  if (bus->next_seq > EVENTS_HISTORY && f->seq < bus->next_seq - EVENTS_HISTORY)
    f->seq = bus->next_seq - EVENTS_HISTORY;
  size_t n = 0;
  for (; f->seq < bus->next_seq && n < EVENTS_BATCH; f->seq++)
    batch[n++] = json_incref(bus->ring[f->seq % EVENTS_HISTORY]);
  return n;
}

/* Outside the lock: emit the batch's matching events. Returns < 0 when
 * emit asked to stop; 1 when an event at or past until was seen. */
static int emit_batch(struct follower *f, json_t **batch, size_t n)
{
  int ret = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t t = event_time(batch[i]);
    if (ret == 0 && f->until_ns && t > f->until_ns)
      ret = 1;
    else if (ret == 0 && t >= f->since_ns && event_matches(f->filters, batch[i]) &&
             f->emit(batch[i], f->arg) < 0)
      ret = -1;
    json_decref(batch[i]);
  }
  return ret;
}

/* The monotonic time at which a follower next wakes: in a second (to ask
 * idle), or when until passes if that comes first. dockerd ends the stream
 * on a timer set to until, to the nanosecond; rounding up to the next tick
 * would keep `events --until <now+0.2>` open for a whole second. */
static struct timespec next_wake(const struct follower *f)
{
  int64_t wait_ns = 1000000000;
  if (f->until_ns) {
    int64_t left = f->until_ns - timestamp_now_ns() + 1; /* + 1: wake once past it */
    if (left < wait_ns)
      wait_ns = left > 0 ? left : 0;
  }
  struct timespec at;
  clock_gettime(CLOCK_MONOTONIC, &at);
  int64_t ns = at.tv_nsec + wait_ns;
  at.tv_sec += ns / 1000000000;
  at.tv_nsec = ns % 1000000000;
  return at;
}

/* Wait (lock held) until there is something past f->seq, the bus closes,
 * until passes or a second passes (then idle is asked). Returns < 0 to
 * end the stream. */
static int wait_for_more(struct event_bus *bus, struct follower *f)
{
  while (f->seq >= bus->next_seq && !bus->closed) {
    if (f->until_ns && timestamp_now_ns() > f->until_ns)
      return -1;
    struct timespec deadline = next_wake(f);
    if (pthread_cond_timedwait(&bus->published, &bus->lock, &deadline) == ETIMEDOUT &&
        f->idle) {
      pthread_mutex_unlock(&bus->lock);
      int stop = f->idle(f->arg);
      pthread_mutex_lock(&bus->lock);
      if (stop < 0)
        return -1;
    }
  }
  return bus->closed ? -1 : 0;
}

/* The history first; then, while following, what is published. */
static int follow(struct event_bus *bus, struct follower *f, bool live)
{
  json_t *batch[EVENTS_BATCH];
  pthread_mutex_lock(&bus->lock);
  uint64_t end_of_history = bus->next_seq;
  for (;;) {
    bool in_history = f->seq < end_of_history;
    if (!in_history && (!live || wait_for_more(bus, f) < 0))
      break;
    size_t n = take_batch(bus, f, batch);
    pthread_mutex_unlock(&bus->lock);
    int r = emit_batch(f, batch, n);
    pthread_mutex_lock(&bus->lock);
    if (r != 0)
      break;
  }
  pthread_mutex_unlock(&bus->lock);
  return 0;
}

int events_stream_idle(struct event_bus *bus, int64_t since_ns, int64_t until_ns,
                       json_t *filters, int (*emit)(json_t *event, void *arg),
                       int (*idle)(void *arg), void *arg)
{
  struct follower f = {.since_ns = since_ns,
                       .until_ns = until_ns,
                       .filters = filters,
                       .emit = emit,
                       .idle = idle,
                       .arg = arg};
  /* docker keeps streaming when --until lies in the future, and stops at it. */
  bool live = until_ns == 0 || until_ns > timestamp_now_ns();
  pthread_mutex_lock(&bus->lock);
  f.seq = bus->next_seq > EVENTS_HISTORY ? bus->next_seq - EVENTS_HISTORY : 0;
  bus->listeners++;
  pthread_mutex_unlock(&bus->lock);
  int ret = follow(bus, &f, live);
  pthread_mutex_lock(&bus->lock);
  bus->listeners--;
  pthread_mutex_unlock(&bus->lock);
  return ret;
}

int events_stream(struct event_bus *bus, int64_t since_ns, int64_t until_ns,
                  json_t *filters, int (*emit)(json_t *event, void *arg), void *arg)
{
  return events_stream_idle(bus, since_ns, until_ns, filters, emit, NULL, arg);
}
