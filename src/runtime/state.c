#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/proc.h"

int state_check_id(const char *id, skiff_error_t **err)
{
  if (id == NULL || *id == '\0')
    return skiff_error_invalid(err, "container id cannot be empty");
  if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strchr(id, '/') ||
      strlen(id) > 1024)
    return skiff_error_invalid(err, "invalid container id \"%s\"", id);
  return 0;
}

char *state_dir(const char *root, const char *id)
{
  char *path = NULL;
  if (asprintf(&path, "%s/%s", root, id) < 0)
    return NULL;
  return path;
}

int state_create_dir(const char *root, const char *id, skiff_error_t **err)
{
  if (state_check_id(id, err) < 0 || fs_mkdir_p(root, 0711, err) < 0)
    return -1;
  cleanup_free char *dir = state_dir(root, id);
  if (dir == NULL)
    return skiff_error_set(err, ENOMEM, "state");
  if (mkdir(dir, 0711) < 0) {
    if (errno == EEXIST)
      return skiff_error_set(err, EEXIST, "container with id exists: %s", id);
    return skiff_error_errno(err, "mkdir %s", dir);
  }
  return 0;
}

json_t *state_load(const char *root, const char *id, skiff_error_t **err)
{
  if (state_check_id(id, err) < 0)
    return NULL;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/state.json", root, id) < 0)
    return NULL;
  if (access(path, F_OK) < 0) {
    skiff_error_set(err, ENOENT, "container %s does not exist", id);
    return NULL;
  }
  return jsonutil_load_file(path, err);
}

int state_save(const char *root, const char *id, json_t *state, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/state.json", root, id) < 0)
    return skiff_error_set(err, ENOMEM, "state");
  /* The state lives with the processes it describes (on /run, a tmpfs):
   * atomic replacement is needed, durability across a crash is not. */
  return jsonutil_save_file(path, state, 0, err);
}

int state_remove(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_free char *dir = state_dir(root, id);
  if (dir == NULL)
    return skiff_error_set(err, ENOMEM, "state");
  return fs_remove_tree(dir, err);
}

pid_t state_live_pid(json_t *state)
{
  pid_t pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
  json_t *skiff = json_object_get(state, "skiff");
  uint64_t recorded = (uint64_t)json_integer_value(json_object_get(skiff, "startTime"));
  if (pid <= 0 || proc_start_time(pid) != recorded)
    return 0;
  char st = proc_state(pid);
  return (st == 0 || st == 'Z' || st == 'X') ? 0 : pid;
}

static bool is_frozen(json_t *state)
{
  const char *path =
      json_string_value(json_object_get(json_object_get(state, "skiff"), "cgroupPath"));
  if (path == NULL)
    return false;
  struct cgroup *cg = cgroup_open(path, NULL);
  bool frozen = false;
  if (cg && cgroup_is_frozen(cg, &frozen, NULL) < 0)
    frozen = false;
  cgroup_free(cg);
  return frozen;
}

const char *state_status(json_t *state)
{
  if (state_live_pid(state) == 0)
    return "stopped";
  if (is_frozen(state))
    return "paused";
  const char *saved = json_string_value(json_object_get(state, "status"));
  return (saved && strcmp(saved, "created") == 0) ? "created" : "running";
}

json_t *state_public(json_t *state)
{
  json_t *out = json_deep_copy(state);
  if (out == NULL)
    return NULL;
  json_object_del(out, "skiff");
  const char *status = state_status(state);
  json_object_set_new(out, "status", json_string(status));
  if (strcmp(status, "stopped") == 0)
    json_object_set_new(out, "pid", json_integer(0));
  return out;
}

static int compare_strings(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_list_ids(const char *root, char ***ids, skiff_error_t **err)
{
  size_t n = 0, cap = 16;
  char **v = calloc(cap + 1, sizeof(char *));
  cleanup_dir DIR *dir = opendir(root);
  if (v == NULL)
    return skiff_error_set(err, ENOMEM, "list");
  struct dirent *e;
  while (dir && (e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **bigger = realloc(v, (cap * 2 + 1) * sizeof(char *));
      if (bigger == NULL)
        break;
      v = bigger;
      cap *= 2;
    }
    v[n++] = strdup(e->d_name);
    v[n] = NULL;
  }
  qsort(v, n, sizeof(char *), compare_strings);
  *ids = v;
  return 0;
}

int state_lock(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_free char *dir = state_dir(root, id);
  int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (fd < 0) {
    if (errno == ENOENT)
      return skiff_error_set(err, ENOENT, "container %s does not exist", id);
    return skiff_error_errno(err, "open %s", dir ? dir : id);
  }
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR) {
      close(fd);
      return skiff_error_errno(err, "lock %s", dir);
    }
  }
  return fd;
}
