/* Restart policies: docker's decision to restart a container that exited,
 * its back-off (the "restarting" state), and the stop, kill or start that
 * ends the back-off. The monitor of the container (containers.c) asks and
 * waits here; the restart itself is containers.c's start. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/jsonlog.h"
#include "containers_internal.h"

static json_t *state_of(const struct container *c)
{
  return json_object_get(c->record, "State");
}

static json_t *skiff_of(const struct container *c)
{
  return json_object_get(c->record, "Skiff");
}

bool container_policy_restarts(struct container *c)
{
  json_t *policy =
      json_object_get(json_object_get(c->record, "HostConfig"), "RestartPolicy");
  const char *name = json_string_value(json_object_get(policy, "Name"));
  if (name == NULL || *name == '\0' || strcmp(name, "no") == 0 || c->removing ||
      json_is_true(json_object_get(skiff_of(c), "ManuallyStopped")))
    return false;
  if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0)
    return true;
  if (strcmp(name, "on-failure") != 0)
    return false;
  json_int_t code = json_integer_value(json_object_get(state_of(c), "ExitCode"));
  json_int_t max = json_integer_value(json_object_get(policy, "MaximumRetryCount"));
  json_int_t count = json_integer_value(json_object_get(c->record, "RestartCount"));
  return code != 0 && (max == 0 || count < max);
}

/* Docker's back-off: 100 ms, doubling per restart up to a minute, back to
 * 100 ms after a run of at least 10 s. */
static long next_delay_ms(struct container *c)
{
  json_t *st = state_of(c);
  int64_t started =
      jsonlog_parse_time(json_string_value(json_object_get(st, "StartedAt")));
  int64_t finished =
      jsonlog_parse_time(json_string_value(json_object_get(st, "FinishedAt")));
  json_int_t delay = json_integer_value(json_object_get(skiff_of(c), "RestartDelay"));
  if (delay <= 0 || finished - started >= 10LL * 1000000000)
    delay = 100;
  json_object_set_new(skiff_of(c), "RestartDelay",
                      json_integer(delay * 2 > 60000 ? 60000 : delay * 2));
  return (long)delay;
}

/* The moment delay_ms from now, on the clock of the store's condition. */
static struct timespec deadline_in(long delay_ms)
{
  struct timespec at;
  clock_gettime(CLOCK_REALTIME, &at);
  long long ns = at.tv_nsec + delay_ms * 1000000LL;
  at.tv_sec += (time_t)(ns / 1000000000);
  at.tv_nsec = (long)(ns % 1000000000);
  return at;
}

bool container_policy_wait(struct container_store *s, struct container *c)
{
  container_set_state(c, "restarting");
  json_object_set_new(
      c->record, "RestartCount",
      json_integer(json_integer_value(json_object_get(c->record, "RestartCount")) + 1));
  struct timespec deadline = deadline_in(next_delay_ms(c));
  container_save_state(s, c);
  pthread_cond_broadcast(&s->changed);
  char id[65]; /* rm -f may free c while we wait: find it again by id */
  snprintf(id, sizeof id, "%s", c->id);
  unsigned exits = c->exits;
  bool due = false;
  for (;;) {
    if (containers_find_locked(s, id, NULL) != c || c->exits != exits ||
        strcmp(container_status(c), "restarting") != 0)
      return false;
    if (c->removing || s->closing) {
      container_set_state(c, "exited");
      return false;
    }
    if (due)
      return true;
    due = pthread_cond_timedwait(&s->changed, &s->lock, &deadline) == ETIMEDOUT;
  }
}

void container_policy_cancel(struct container_store *s, struct container *c)
{
  json_object_set_new(skiff_of(c), "ManuallyStopped", json_true());
  container_set_state(c, "exited");
  container_save_state(s, c);
  pthread_cond_broadcast(&s->changed);
}

void container_policy_reset(struct container *c)
{
  json_object_set_new(c->record, "RestartCount", json_integer(0));
  json_object_del(skiff_of(c), "RestartDelay");
}
