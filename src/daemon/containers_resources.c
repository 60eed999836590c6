/* The containers' side of top, stats and update: state checks against the
 * records, the runtime's cgroup calls, and update's all-or-nothing change
 * of HostConfig. See containers.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "containers_internal.h"
#include "resources.h"
#include "runtime/runtime.h"

static json_t *state_of(const struct container *c)
{
  return json_object_get(c->record, "State");
}

static bool is_running(const struct container *c)
{
  return json_is_true(json_object_get(state_of(c), "Running"));
}

static const char *name_of(const struct container *c)
{
  return json_string_value(json_object_get(c->record, "Name"));
}

int containers_pids(struct container_store *s, const char *id, pid_t **pids,
                    size_t *count, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  cleanup_free char *cid = c ? strdup(c->id) : NULL;
  int ret = c ? 0 : -1;
  if (c && strcmp(container_status(c), "restarting") == 0)
    ret = skiff_error_status(err, EBUSY,
                             "Container %s is restarting, wait until the "
                             "container is running",
                             c->id);
  else if (c && !is_running(c))
    ret = skiff_error_status(err, EBUSY, "Container %s is not running", c->id);
  pthread_mutex_unlock(&s->lock);
  if (ret < 0)
    return -1;
  if (runtime_pids(s->runtime_root, cid, pids, count, err) < 0)
    return skiff_error_status(err, EBUSY, "Container %s is not running", cid);
  return 0;
}

json_t *containers_cgroup_stats(struct container_store *s, const char *id, char **name,
                                pid_t *pid, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  bool running = c && is_running(c) && strcmp(container_status(c), "restarting") != 0;
  cleanup_free char *cid = c ? strdup(c->id) : NULL;
  if (c) {
    *name = strdup(name_of(c));
    *pid = (pid_t)json_integer_value(json_object_get(state_of(c), "Pid"));
  }
  pthread_mutex_unlock(&s->lock);
  if (c == NULL)
    return NULL;
  /* Read outside the lock: a container that exits meanwhile just reads
   * as not running. */
  json_t *stats = running ? runtime_stats(s->runtime_root, cid, NULL) : NULL;
  return stats ? stats : json_null();
}

/* Apply the record's limits to the live cgroup (err may be NULL). */
static int apply_live(struct container_store *s, struct container *c,
                      skiff_error_t **err)
{
  cleanup_json json_t *oci = resources_oci(json_object_get(c->record, "HostConfig"));
  skiff_error_t *failed = NULL;
  if (runtime_update(s->runtime_root, c->id, oci, &failed) == 0)
    return 0;
  failed->status = EIO; /* docker's 500 */
  skiff_error_wrap(&failed, "Cannot update container %s", c->id);
  if (err)
    *err = steal_pointer(&failed);
  skiff_error_free(&failed);
  return -1;
}

/* With the lock held. On error, HostConfig is as it was. */
static int update_locked(struct container_store *s, struct container *c, json_t *body,
                         skiff_error_t **err)
{
  if (c->removing || strcmp(container_status(c), "dead") == 0)
    return skiff_error_status(err, EIO,
                              "Cannot update container %s: container is marked "
                              "for removal and cannot be \"update\"",
                              c->id);
  json_t *host = json_object_get(c->record, "HostConfig");
  cleanup_json json_t *backup = json_deep_copy(host);
  if (resources_merge(host, body, c->id, err) < 0)
    return -1;
  /* Restarting: the next start applies the record, as docker leaves it. */
  bool live = is_running(c) && strcmp(container_status(c), "restarting") != 0;
  if (container_save(s, c, err) == 0 && (!live || apply_live(s, c, err) == 0))
    return 0;
  json_object_set(c->record, "HostConfig", backup);
  container_save(s, c, NULL);
  if (live) /* the limits that did apply go back too */
    apply_live(s, c, NULL);
  return -1;
}

int containers_update(struct container_store *s, const char *id, json_t *body,
                      json_t *warnings, skiff_error_t **err)
{
  if (resources_check_update_body(body, err) < 0 ||
      resources_check(body, true, warnings, err) < 0)
    return -1;
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  int ret = c ? update_locked(s, c, body, err) : -1;
  if (ret == 0)
    container_publish(s, c, "update", NULL);
  pthread_mutex_unlock(&s->lock);
  return ret;
}
