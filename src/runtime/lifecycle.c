/* The runtime's commands on a container: runtime.h's create, start, run,
 * state, list, kill, delete, pause, resume, pids, update, stats. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/unixsock.h"
#include "console.h"
#include "container.h"
#include "hooks.h"
#include "runtime.h"
#include "state.h"

static const char *cgroup_path_of(json_t *state)
{
  return json_string_value(
      json_object_get(json_object_get(state, "skiff"), "cgroupPath"));
}

static struct cgroup *open_cgroup(json_t *state, skiff_error_t **err)
{
  const char *path = cgroup_path_of(state);
  if (path == NULL) {
    skiff_error_set(err, ENOENT, "container has no cgroup");
    return NULL;
  }
  return cgroup_open(path, err);
}

/* poststart and poststop: a failure is a warning (runtime-spec). The state
 * they get is the recorded one with the status of their moment: the
 * process may already be gone, but its pid is still the one it had. */
static void run_hooks_warning_only(json_t *state, const char *kind, const char *status)
{
  json_t *hooks = json_object_get(json_object_get(state, "skiff"), "hooks");
  if (!hooks_any(hooks, kind, NULL))
    return;
  cleanup_json json_t *pub = json_deep_copy(state);
  json_object_del(pub, "skiff");
  json_object_set_new(pub, "status", json_string(status));
  cleanup_free char *text = json_dumps(pub, JSON_COMPACT);
  skiff_error_t *err = NULL;
  if (hooks_run(hooks, kind, text, &err) < 0) {
    log_warn("%s", err->msg);
    skiff_error_free(&err);
  }
}

int runtime_create(const struct runtime_options *opts, pid_t *pid, skiff_error_t **err)
{
  return container_create(opts, false, pid, NULL, err);
}

int runtime_create_with_pty(const struct runtime_options *opts, pid_t *pid,
                            int *pty_master, skiff_error_t **err)
{
  *pty_master = -1;
  return container_create(opts, true, pid, pty_master, err);
}

/* Connect to the waiting container process and let it exec. We send the
 * state (for its startContainer hooks) and half-close; EOF on the
 * connection then means the exec happened, text is the reason it did not. */
static int signal_start(const char *root, const char *id, json_t *state,
                        skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/start.sock", root, id) < 0)
    return skiff_error_set(err, ENOMEM, "start");
  cleanup_close int conn = unixsock_connect(path, err);
  if (conn < 0)
    return skiff_error_wrap(err, "container %s is not waiting to start", id);
  cleanup_json json_t *pub = state_public(state);
  cleanup_free char *text = json_dumps(pub, JSON_COMPACT);
  size_t len = text ? strlen(text) : 0;
  if (text == NULL || write(conn, text, len) != (ssize_t)len ||
      shutdown(conn, SHUT_WR) < 0)
    return skiff_error_errno(err, "start container %s", id);
  char msg[4096];
  ssize_t n, used = 0;
  while ((n = read(conn, msg + used, sizeof msg - 1 - (size_t)used)) > 0)
    used += n;
  if (used > 0) {
    msg[used] = '\0';
    return skiff_error_set(err, 0, "start container %s: %s", id, msg);
  }
  return 0;
}

int runtime_start(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_close int lock = state_lock(root, id, err);
  if (lock < 0)
    return -1;
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  const char *status = state_status(state);
  if (strcmp(status, "created") != 0)
    return skiff_error_set(err, EINVAL, "cannot start a container that is %s: %s",
                           status, id);
  if (signal_start(root, id, state, err) < 0)
    return -1;
  log_debug("container %s: started", id);
  json_object_set_new(state, "status", json_string("running"));
  if (state_save(root, id, state, err) < 0)
    return -1;
  run_hooks_warning_only(state, "poststart", "running");
  return 0;
}

json_t *runtime_state(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(root, id, err);
  return state ? state_public(state) : NULL;
}

json_t *runtime_list(const char *root, skiff_error_t **err)
{
  cleanup_strv char **ids = NULL;
  if (state_list_ids(root, &ids, err) < 0)
    return NULL;
  json_t *list = json_array();
  for (char **id = ids; *id; id++) {
    cleanup_json json_t *state = state_load(root, *id, NULL);
    if (state)
      json_array_append_new(list, state_public(state));
  }
  return list;
}

int runtime_kill(const char *root, const char *id, int sig, bool all,
                 skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  pid_t pid = state_live_pid(state);
  if (all) {
    struct cgroup *cg = open_cgroup(state, err);
    int ret = cg ? cgroup_kill_all(cg, sig, err) : -1;
    cgroup_free(cg);
    return ret;
  }
  if (pid == 0)
    return skiff_error_set(err, ESRCH, "container %s is not running", id);
  log_debug("container %s: signal %d to init %d", id, sig, (int)pid);
  if (kill(pid, sig) < 0)
    return skiff_error_errno(err, "kill container %s", id);
  return 0;
}

/* Wait up to timeout_ms for the init to be gone. */
static bool wait_stopped(json_t *state, int timeout_ms)
{
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (state_live_pid(state) == 0)
      return true;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return state_live_pid(state) == 0;
}

static int kill_for_delete(json_t *state, const char *id, skiff_error_t **err)
{
  struct cgroup *cg = open_cgroup(state, NULL);
  if (cg) {
    cgroup_kill_all(cg, SIGKILL, NULL);
    cgroup_set_frozen(cg, false, NULL);
  }
  cgroup_free(cg);
  pid_t pid = state_live_pid(state);
  if (pid > 0)
    kill(pid, SIGKILL);
  if (!wait_stopped(state, 10000))
    return skiff_error_set(err, EBUSY, "container %s did not stop after SIGKILL", id);
  return 0;
}

int runtime_delete(const char *root, const char *id, bool force, skiff_error_t **err)
{
  cleanup_close int lock = state_lock(root, id, err);
  if (lock < 0)
    return -1;
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  const char *status = state_status(state);
  bool stoppable = strcmp(status, "stopped") == 0 || strcmp(status, "created") == 0;
  if (!stoppable && !force)
    return skiff_error_set(
        err, EBUSY, "cannot delete container %s that is not stopped: %s", id, status);
  if (strcmp(status, "stopped") != 0 && kill_for_delete(state, id, err) < 0)
    return -1;
  run_hooks_warning_only(state, "poststop", "stopped");
  struct cgroup *cg = open_cgroup(state, NULL);
  int ret = cg ? cgroup_destroy(cg, err) : 0;
  cgroup_free(cg);
  if (ret < 0)
    return skiff_error_wrap(err, "delete container %s", id);
  log_debug("container %s: deleted", id);
  return state_remove(root, id, err);
}

static int set_frozen(const char *root, const char *id, bool frozen,
                      skiff_error_t **err)
{
  cleanup_close int lock = state_lock(root, id, err);
  if (lock < 0)
    return -1;
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  const char *status = state_status(state);
  const char *want = frozen ? "running" : "paused";
  if (strcmp(status, want) != 0)
    return skiff_error_set(err, EINVAL, "container %s is %s, not %s", id, status, want);
  struct cgroup *cg = open_cgroup(state, err);
  int ret = cg ? cgroup_set_frozen(cg, frozen, err) : -1;
  cgroup_free(cg);
  return ret;
}

int runtime_pause(const char *root, const char *id, skiff_error_t **err)
{
  return set_frozen(root, id, true, err);
}

int runtime_resume(const char *root, const char *id, skiff_error_t **err)
{
  return set_frozen(root, id, false, err);
}

int runtime_pids(const char *root, const char *id, pid_t **pids, size_t *count,
                 skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  struct cgroup *cg = open_cgroup(state, err);
  int ret = cg ? cgroup_list_pids(cg, pids, count, err) : -1;
  cgroup_free(cg);
  return ret;
}

int runtime_update(const char *root, const char *id, json_t *resources,
                   skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return -1;
  if (state_live_pid(state) == 0)
    return skiff_error_set(err, ESRCH, "container %s is not running", id);
  struct cgroup_resources *res = NULL;
  if (cgroup_resources_parse(resources, &res, err) < 0)
    return -1;
  struct cgroup *cg = open_cgroup(state, err);
  int ret = cg ? cgroup_update(cg, res, err) : -1;
  cgroup_free(cg);
  cgroup_resources_free(res);
  return ret;
}

json_t *runtime_stats(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(root, id, err);
  if (state == NULL)
    return NULL;
  if (state_live_pid(state) == 0) {
    skiff_error_set(err, ESRCH, "container %s is not running", id);
    return NULL;
  }
  struct cgroup *cg = open_cgroup(state, err);
  json_t *stats = cg ? cgroup_stats(cg, err) : NULL;
  cgroup_free(cg);
  return stats;
}

bool runtime_oom_killed(const char *root, const char *id)
{
  cleanup_json json_t *state = state_load(root, id, NULL);
  struct cgroup *cg = state ? open_cgroup(state, NULL) : NULL;
  cleanup_json json_t *stats = cg ? cgroup_stats(cg, NULL) : NULL;
  cgroup_free(cg);
  json_t *memory = json_object_get(stats, "memory");
  return json_integer_value(json_object_get(memory, "oom_kill")) > 0;
}
