/* Container records and lifecycle: see containers.h. Records live at
 * <data-root>/containers/<id>/container.json in docker's inspect shape (so
 * inspect is a copy), with skiff's bookkeeping under "Skiff"; an
 * AutoRemove container's run state in the exec root (containers_record.c). */
#include "containers.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonlog.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "containers_internal.h"
#include "trash.h"
#include "daemon.h"
#include "events.h"
#include "image/image.h"
#include "networks.h"
#include "ocispec.h"
#include "resources.h"
#include "runtime/runtime.h"
#include "shim_client.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

static void now_text(char *buf, size_t len)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  jsonlog_format_time((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, buf, len);
}

static json_t *state_of(const struct container *c)
{
  return json_object_get(c->record, "State");
}

static json_t *skiff_of(const struct container *c)
{
  return json_object_get(c->record, "Skiff");
}

const char *container_status(const struct container *c)
{
  return json_string_value(json_object_get(state_of(c), "Status"));
}

void container_set_state(struct container *c, const char *status)
{
  json_t *st = state_of(c);
  json_object_set_new(st, "Status", json_string(status));
  /* dockerd's SetRestarting keeps Running true through the back-off, for
   * its checks around rm, stop and the like (and ps lists it). */
  json_object_set_new(st, "Running",
                      json_boolean(strcmp(status, "running") == 0 ||
                                   strcmp(status, "paused") == 0 ||
                                   strcmp(status, "restarting") == 0));
  json_object_set_new(st, "Paused", json_boolean(strcmp(status, "paused") == 0));
  json_object_set_new(st, "Restarting",
                      json_boolean(strcmp(status, "restarting") == 0));
  json_object_set_new(st, "Dead", json_boolean(strcmp(status, "dead") == 0));
}

static void publish(struct container_store *s, struct container *c, const char *action,
                    json_t *extra)
{
  json_t *attrs =
      json_pack("{s:s, s:s}", "name",
                json_string_value(json_object_get(c->record, "Name")) + 1, "image",
                json_string_value(
                    json_object_get(json_object_get(c->record, "Config"), "Image")));
  json_t *labels = json_object_get(json_object_get(c->record, "Config"), "Labels");
  if (json_is_object(labels))
    json_object_update(attrs, labels);
  if (extra)
    json_object_update(attrs, extra);
  json_decref(extra);
  events_publish(s->d->events, "container", action, c->id, attrs);
}

/* dockerd's "network connect" or "disconnect" of c (networks.h). */
static void publish_network(struct container_store *s, struct container *c,
                            const char *action)
{
  networks_publish(s->d->networks, s->d->events, action, c->id,
                   json_object_get(c->record, "HostConfig"));
}

struct container *containers_find_locked(struct container_store *s, const char *ref,
                                         skiff_error_t **err)
{
  struct container *prefix_match = NULL;
  size_t len = strlen(ref);
  for (size_t i = 0; len > 0 && i < s->n; i++) {
    struct container *c = s->items[i];
    const char *name = json_string_value(json_object_get(c->record, "Name"));
    if (strcmp(c->id, ref) == 0 || strcmp(name, ref) == 0 ||
        (ref[0] != '/' && strcmp(name + 1, ref) == 0))
      return c;
    if (strncmp(c->id, ref, len) == 0) {
      if (prefix_match) {
        skiff_error_invalid(err, "multiple IDs found with provided prefix: %s", ref);
        return NULL;
      }
      prefix_match = c;
    }
  }
  if (prefix_match == NULL)
    skiff_error_status(err, ENOENT, "No such container: %s", ref);
  return prefix_match;
}

char *containers_resolve(struct container_store *s, const char *ref,
                         skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, ref, err);
  char *id = c ? strdup(c->id) : NULL;
  pthread_mutex_unlock(&s->lock);
  return id;
}

bool containers_image_in_use(struct container_store *s, const char *image_id)
{
  pthread_mutex_lock(&s->lock);
  bool used = false;
  for (size_t i = 0; i < s->n && !used; i++)
    used = strcmp(json_string_value(json_object_get(s->items[i]->record, "Image")),
                  image_id) == 0;
  pthread_mutex_unlock(&s->lock);
  return used;
}

void containers_count(struct container_store *s, int *total, int *running, int *paused,
                      int *stopped)
{
  pthread_mutex_lock(&s->lock);
  *total = (int)s->n;
  *running = *paused = *stopped = 0;
  for (size_t i = 0; i < s->n; i++) {
    const char *st = container_status(s->items[i]);
    if (strcmp(st, "running") == 0) /* dockerd counts a restarting one stopped */
      (*running)++;
    else if (strcmp(st, "paused") == 0)
      (*paused)++;
    else
      (*stopped)++;
  }
  pthread_mutex_unlock(&s->lock);
}

bool containers_is_running(struct container_store *s, const char *id)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, NULL);
  const char *st = c ? container_status(c) : "";
  bool running = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
  pthread_mutex_unlock(&s->lock);
  return running;
}

static int add_item(struct container_store *s, struct container *c)
{
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct container **bigger = realloc(s->items, cap * sizeof *bigger);
    if (bigger == NULL)
      return -1;
    s->items = bigger;
    s->cap = cap;
  }
  s->items[s->n++] = c;
  return 0;
}

static void free_container(struct container *c)
{
  if (c == NULL)
    return;
  json_decref(c->record);
  free(c->id);
  free(c);
}

static void drop_item(struct container_store *s, struct container *c)
{
  for (size_t i = 0; i < s->n; i++) {
    if (s->items[i] == c) {
      s->items[i] = s->items[--s->n];
      break;
    }
  }
}

/* ---- create ---------------------------------------------------------- */

static char *new_id(void)
{
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != sizeof raw)
    return NULL;
  char *hex = malloc(65);
  for (size_t i = 0; hex && i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  return hex;
}

/* Docker's merge of the image's config into the container's Config. */
static void merge_image_config(json_t *config, json_t *image_config)
{
  json_t *env = json_array();
  json_array_extend(env, json_object_get(image_config, "Env"));
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(config, "Env"), i, item)
  {
    const char *entry = json_string_value(item);
    size_t name_len = strcspn(entry, "=");
    size_t k;
    json_t *have;
    bool replaced = false;
    json_array_foreach(env, k, have)
    {
      const char *h = json_string_value(have);
      if (strncmp(h, entry, name_len) == 0 &&
          (h[name_len] == '=' || h[name_len] == 0)) {
        json_array_set(env, k, item);
        replaced = true;
      }
    }
    if (!replaced)
      json_array_append(env, item);
  }
  json_object_set_new(config, "Env", env);
  static const char *const inherited[] = {"WorkingDir", "User", "StopSignal", NULL};
  for (const char *const *key = inherited; *key; key++) {
    const char *v = json_string_value(json_object_get(config, *key));
    if ((v == NULL || *v == '\0') && json_object_get(image_config, *key))
      json_object_set(config, *key, json_object_get(image_config, *key));
  }
  json_t *labels = json_object();
  json_object_update(labels, json_object_get(image_config, "Labels"));
  json_object_update(labels, json_object_get(config, "Labels"));
  json_object_set_new(config, "Labels", labels);
  json_t *cmdline = ocispec_command(config, image_config);
  json_t *own_entry = json_object_get(config, "Entrypoint");
  if (!json_is_array(own_entry))
    json_object_set(config, "Entrypoint", json_object_get(image_config, "Entrypoint"));
  json_t *own_cmd = json_object_get(config, "Cmd");
  if ((!json_is_array(own_cmd) || json_array_size(own_cmd) == 0) &&
      !json_is_array(own_entry))
    json_object_set(config, "Cmd", json_object_get(image_config, "Cmd"));
  json_decref(cmdline);
}

static int check_create_body(json_t *body, skiff_error_t **err)
{
  static const char *const strings[] = {
      "Image", "Hostname", "Domainname", "User", "WorkingDir", "StopSignal", NULL};
  static const char *const arrays[] = {"Cmd", "Entrypoint", "Env", NULL};
  for (const char *const *k = strings; *k; k++) {
    json_t *v = json_object_get(body, *k);
    if (v && !json_is_null(v) && !json_is_string(v))
      return skiff_error_invalid(err,
                                 "json: cannot unmarshal %s into Go struct field "
                                 "Config.%s of type string",
                                 jsonutil_type_name(v), *k);
  }
  for (const char *const *k = arrays; *k; k++) {
    json_t *v = json_object_get(body, *k);
    if (v && !json_is_null(v) && !json_is_array(v) && !json_is_string(v))
      return skiff_error_invalid(err,
                                 "json: cannot unmarshal %s into Go struct field "
                                 "Config.%s of type []string",
                                 jsonutil_type_name(v), *k);
  }
  json_t *host = json_object_get(body, "HostConfig");
  if (host && !json_is_null(host) && !json_is_object(host))
    return skiff_error_invalid(err,
                               "json: cannot unmarshal %s into Go struct field "
                               "ContainerCreateRequest.HostConfig",
                               jsonutil_type_name(host));
  const char *image = json_string_value(json_object_get(body, "Image"));
  if (image == NULL || *image == '\0')
    return skiff_error_invalid(err, "No image was specified in the container's Config");
  return 0;
}

/* Docker accepts Cmd/Entrypoint as a string too: one shell word list. */
static void normalize_command_fields(json_t *config)
{
  static const char *const keys[] = {"Cmd", "Entrypoint"};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(config, keys[i]);
    if (json_is_string(v))
      json_object_set_new(config, keys[i], json_pack("[s]", json_string_value(v)));
    else if (json_is_null(v))
      json_object_del(config, keys[i]);
  }
}

static json_t *initial_state(void)
{
  return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status",
                   "created", "Running", false, "Paused", false, "Restarting", false,
                   "OOMKilled", false, "Dead", false, "Pid", 0, "ExitCode", 0, "Error",
                   "", "StartedAt", ZERO_TIME, "FinishedAt", ZERO_TIME);
}

static json_t *build_record(const char *id, const char *name, json_t *config,
                            json_t *host, const char *image_id, const char *dir,
                            const char *etc_dir)
{
  char created[48], log_path[4200], path[4200];
  now_text(created, sizeof created);
  snprintf(log_path, sizeof log_path, "%s/%s-json.log", dir, id);
  json_t *args = json_array();
  json_t *cmd = ocispec_command(config, NULL);
  json_t *record = json_pack(
      "{s:s, s:s, s:O?, s:o, s:o, s:s, s:s, s:s, s:i, s:s, s:s, s:O, s:O, s:[], s:{}}",
      "Id", id, "Created", created, "Path", json_array_get(cmd, 0), "Args", args,
      "State", initial_state(), "Image", image_id, "LogPath", log_path, "Name", name,
      "RestartCount", 0, "Driver", "overlay2", "Platform", "linux", "HostConfig", host,
      "Config", config, "Mounts", "NetworkSettings");
  for (size_t i = 1; i < json_array_size(cmd); i++)
    json_array_append(args, json_array_get(cmd, i));
  json_decref(cmd);
  snprintf(path, sizeof path, "%s/hostname", etc_dir);
  json_object_set_new(record, "HostnamePath", json_string(path));
  snprintf(path, sizeof path, "%s/hosts", etc_dir);
  json_object_set_new(record, "HostsPath", json_string(path));
  snprintf(path, sizeof path, "%s/resolv.conf", etc_dir);
  json_object_set_new(record, "ResolvConfPath", json_string(path));
  json_object_set_new(record, "Skiff",
                      json_pack("{s:i, s:I, s:b}", "ShimPid", 0, "ShimStart",
                                (json_int_t)0, "ManuallyStopped", false));
  return record;
}

static int write_etc_files(const char *dir, const char *hostname, skiff_error_t **err)
{
  char path[4200], text[1024];
  snprintf(path, sizeof path, "%s/hostname", dir);
  snprintf(text, sizeof text, "%s\n", hostname);
  if (fs_write_file_atomic(path, text, strlen(text), 0644, 0, err) < 0)
    return -1;
  snprintf(path, sizeof path, "%s/hosts", dir);
  snprintf(text, sizeof text,
           "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
           "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
           "ff02::2\tip6-allrouters\n127.0.1.1\t%s\n",
           hostname);
  if (fs_write_file_atomic(path, text, strlen(text), 0644, 0, err) < 0)
    return -1;
  snprintf(path, sizeof path, "%s/resolv.conf", dir);
  size_t len = 0;
  cleanup_free char *host_resolv = fs_read_file("/etc/resolv.conf", &len, NULL);
  const char *fallback = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
  return fs_write_file_atomic(path, host_resolv ? host_resolv : fallback,
                              host_resolv ? len : strlen(fallback), 0644, 0, err);
}

/* The directories of a new container: <data-root>/containers/<id> with its
 * rw layer (*dir), and the one for its hostname, hosts and resolv.conf
 * (*etc_dir: the same, or the exec root's for an AutoRemove container).
 * Each is handed out once made, for the caller to remove on failure. */
static int prepare_dirs(struct container_store *s, const char *id, const char *image_id,
                        json_t *config, bool auto_remove, char **dir, char **etc_dir,
                        skiff_error_t **err)
{
  cleanup_free char *made = NULL;
  if (asprintf(&made, "%s/%s", s->root, id) < 0)
    return skiff_error_set(err, ENOMEM, "create");
  if (mkdir(made, 0710) < 0)
    return skiff_error_errno(err, "mkdir %s", made);
  *dir = steal_pointer(&made);
  if (image_snapshot_prepare(s->d->images, image_id, *dir,
                             auto_remove ? 0 : FS_WRITE_DURABLE, err) < 0)
    return -1;
  if ((made = container_etc_dir(s, id, auto_remove)) == NULL)
    return skiff_error_set(err, ENOMEM, "create");
  if (auto_remove && mkdir(made, 0700) < 0)
    return skiff_error_errno(err, "mkdir %s", made);
  *etc_dir = steal_pointer(&made);
  const char *hostname = json_string_value(json_object_get(config, "Hostname"));
  return write_etc_files(*etc_dir, hostname, err);
}

static int resolve_image(struct container_store *s, json_t *config, char **image_id,
                         json_t **image_config, skiff_error_t **err)
{
  const char *image = json_string_value(json_object_get(config, "Image"));
  *image_id = image_store_resolve(s->d->images, image, err);
  if (*image_id == NULL)
    return -1;
  json_t *full = image_store_config(s->d->images, *image_id, err);
  if (full == NULL)
    return -1;
  *image_config = json_incref(json_object_get(full, "config"));
  json_decref(full);
  if (*image_config == NULL)
    *image_config = json_object();
  return 0;
}

static int claim_name(struct container_store *s, const char *name, char **slashed,
                      skiff_error_t **err)
{
  cleanup_free char *generated = NULL;
  if (name == NULL || *name == '\0')
    name = generated = names_generate(s);
  else if (!names_valid(name))
    return skiff_error_invalid(err,
                               "Invalid container name (%s), only "
                               "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                               name);
  if (asprintf(slashed, "/%s", name[0] == '/' ? name + 1 : name) < 0)
    return skiff_error_set(err, ENOMEM, "name");
  struct container *other = containers_find_locked(s, *slashed, NULL);
  if (other &&
      strcmp(json_string_value(json_object_get(other->record, "Name")), *slashed) == 0)
    return skiff_error_status(
        err, EEXIST,
        "Conflict. The container name \"%s\" is already in "
        "use by container \"%s\". You have to remove (or rename) that "
        "container to be able to reuse that name.",
        *slashed, other->id);
  return 0;
}

/* Docker's mergeAndVerifyLogConfig at create: an empty LogConfig.Type takes the
 * daemon's log driver, whose daemon-wide options fill in the ones not given, and
 * inspect shows the result (docker-py's containers.run() reads
 * HostConfig.LogConfig.Type to decide how to collect the output). */
static void default_log_config(struct container_store *s, json_t *host)
{
  const char *def = s->d->config.log_driver ? s->d->config.log_driver : "json-file";
  json_t *lc = json_object_get(host, "LogConfig");
  if (!json_is_object(lc)) {
    lc = json_object();
    json_object_set_new(host, "LogConfig", lc);
  }
  const char *type = json_string_value(json_object_get(lc, "Type"));
  if (type == NULL || *type == '\0') {
    json_object_set_new(lc, "Type", json_string(def));
    type = def;
  }
  json_t *opts = json_object_get(lc, "Config");
  if (!json_is_object(opts)) {
    opts = json_object();
    json_object_set_new(lc, "Config", opts);
  }
  if (strcmp(type, def) == 0 && json_is_object(s->d->config.log_opts))
    json_object_update_missing(opts, s->d->config.log_opts);
}

char *containers_create(struct container_store *s, const char *name, json_t *body,
                        json_t **warnings, skiff_error_t **err)
{
  if (check_create_body(body, err) < 0)
    return NULL;
  cleanup_json json_t *config = json_deep_copy(body);
  json_object_del(config, "HostConfig");
  json_object_del(config, "NetworkingConfig");
  normalize_command_fields(config);
  cleanup_json json_t *host = json_deep_copy(json_object_get(body, "HostConfig"));
  if (host == NULL)
    host = json_object();
  cleanup_json json_t *resource_warnings = json_array();
  if (ocispec_check_binds(host, err) < 0 ||
      resources_check(host, false, resource_warnings, err) < 0)
    return NULL;
  resources_adapt(host);
  default_log_config(s, host);
  cleanup_free char *image_id = NULL;
  cleanup_json json_t *image_config = NULL;
  if (resolve_image(s, config, &image_id, &image_config, err) < 0)
    return NULL;
  merge_image_config(config, image_config);
  cleanup_json json_t *cmd = ocispec_command(config, NULL);
  if (json_array_size(cmd) == 0) {
    skiff_error_invalid(err, "No command specified");
    return NULL;
  }
  cleanup_free char *id = new_id();
  const char *hostname = json_string_value(json_object_get(config, "Hostname"));
  if (hostname == NULL || *hostname == '\0') {
    char short_id[13];
    snprintf(short_id, sizeof short_id, "%s", id);
    json_object_set_new(config, "Hostname", json_string(short_id));
  }
  *warnings = steal_pointer(&resource_warnings);
  pthread_mutex_lock(&s->lock);
  cleanup_free char *slashed = NULL, *dir = NULL, *etc_dir = NULL;
  struct container *c = NULL;
  if (claim_name(s, name, &slashed, err) < 0 ||
      prepare_dirs(s, id, image_id, config,
                   json_is_true(json_object_get(host, "AutoRemove")), &dir, &etc_dir,
                   err) < 0)
    goto fail;
  c = calloc(1, sizeof *c);
  c->id = strdup(id);
  c->record = build_record(id, slashed, config, host, image_id, dir, etc_dir);
  if (container_save(s, c, err) < 0 || add_item(s, c) < 0)
    goto fail;
  publish(s, c, "create", NULL);
  pthread_mutex_unlock(&s->lock);
  return steal_pointer(&id);
fail:
  if (etc_dir && (dir == NULL || strcmp(etc_dir, dir) != 0))
    fs_remove_tree(etc_dir, NULL);
  if (dir)
    fs_remove_tree(dir, NULL);
  free_container(c);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- start, exit, restart policy ------------------------------------- */

static void *monitor_main(void *arg);
static int remove_locked(struct container_store *s, struct container *c, bool volumes,
                         skiff_error_t **err);

struct monitor_arg {
  struct container_store *s;
  struct container *c;
};

/* The rootfs stays mounted while a copy (containers_fs.c) uses it. */
static void unmount_rootfs_locked(struct container_store *s, struct container *c)
{
  if (c->fs_users > 0)
    return;
  cleanup_free char *rootfs = container_rootfs(s, c);
  image_snapshot_unmount(rootfs, NULL);
}

static int parse_size(const char *text, uint64_t *out)
{
  if (text == NULL)
    return 0;
  char *end;
  double v = strtod(text, &end);
  uint64_t scale = 1;
  switch (*end) {
  case 'k':
  case 'K': scale = 1000; break;
  case 'm':
  case 'M': scale = 1000 * 1000; break;
  case 'g':
  case 'G': scale = 1000 * 1000 * 1000; break;
  case '\0': break;
  default: return -1;
  }
  *out = (uint64_t)(v * (double)scale);
  return 0;
}

static json_t *shim_config(struct container_store *s, struct container *c,
                           const char *run_dir, unsigned attachers, skiff_error_t **err)
{
  json_t *config = json_object_get(c->record, "Config");
  json_t *log_config =
      json_object_get(json_object_get(c->record, "HostConfig"), "LogConfig");
  const char *driver = json_string_value(json_object_get(log_config, "Type"));
  if (driver == NULL || *driver == '\0')
    driver = s->d->config.log_driver ? s->d->config.log_driver : "json-file";
  json_t *opts = json_object_get(log_config, "Config");
  if (!json_is_object(opts) || json_object_size(opts) == 0)
    opts = s->d->config.log_opts;
  uint64_t max_size = 0;
  if (parse_size(json_string_value(json_object_get(opts, "max-size")), &max_size) < 0) {
    skiff_error_invalid(err, "invalid log-opt max-size");
    return NULL;
  }
  const char *max_file = json_string_value(json_object_get(opts, "max-file"));
  if (strcmp(driver, "json-file") != 0 && strcmp(driver, "none") != 0) {
    skiff_error_invalid(err, "logger: no log driver named '%s' is registered", driver);
    return NULL;
  }
  bool logs = strcmp(driver, "json-file") == 0;
  return json_pack(
      "{s:s, s:s, s:s, s:b, s:b, s:b, s:s?, s:I, s:i, s:i, s:i}", "id", c->id, "bundle",
      run_dir, "runtimeRoot", s->runtime_root, "tty",
      json_is_true(json_object_get(config, "Tty")), "openStdin",
      json_is_true(json_object_get(config, "OpenStdin")), "stdinOnce",
      json_is_true(json_object_get(config, "StdinOnce")), "logPath",
      logs ? json_string_value(json_object_get(c->record, "LogPath")) : NULL,
      "logMaxSize", (json_int_t)max_size, "logMaxFiles", max_file ? atoi(max_file) : 1,
      "waitForAttach", (int)attachers, "listenFd", SHIM_LISTEN_FD);
}

/* Everything a start needs on disk: rootfs mounted, config.json, shim.json. */
static int prepare_start(struct container_store *s, struct container *c, char **run_dir,
                         unsigned attachers, skiff_error_t **err)
{
  cleanup_free char *dir = container_dir(s, c);
  cleanup_free char *rootfs = container_rootfs(s, c);
  *run_dir = container_run_dir(s, c);
  if (fs_mkdir_p(*run_dir, 0700, err) < 0 || fs_mkdir_p(rootfs, 0755, err) < 0)
    return -1;
  if (c->fs_users == 0) { /* else a copy holds it mounted: keep that mount */
    image_snapshot_unmount(rootfs, NULL);
    if (image_snapshot_mount(dir, rootfs, container_snapshot_flags(c), err) < 0)
      return -1;
  }
  cleanup_json json_t *spec = ocispec_build(c->record, rootfs, s->init_path, err);
  cleanup_json json_t *shim = spec ? shim_config(s, c, *run_dir, attachers, err) : NULL;
  cleanup_free char *spec_path = NULL, *shim_path = NULL, *exit_path = NULL;
  if (shim == NULL || asprintf(&spec_path, "%s/config.json", *run_dir) < 0 ||
      asprintf(&shim_path, "%s/shim.json", *run_dir) < 0 ||
      asprintf(&exit_path, "%s/exit.json", *run_dir) < 0 ||
      jsonutil_save_file(spec_path, spec, 0, err) < 0 ||
      jsonutil_save_file(shim_path, shim, 0, err) < 0) {
    unmount_rootfs_locked(s, c);
    return -1;
  }
  unlink(exit_path);
  return 0;
}

/* Docker's exit codes for a process that could not be started. */
static int start_failure_code(const char *msg)
{
  if (strstr(msg, "not found") || strstr(msg, "No such file"))
    return 127;
  if (strstr(msg, "ermission denied"))
    return 126;
  return 128;
}

static void record_start_failure(struct container_store *s, struct container *c,
                                 const char *msg)
{
  json_t *st = state_of(c);
  json_object_set_new(st, "Error", json_string(msg));
  json_object_set_new(st, "ExitCode", json_integer(start_failure_code(msg)));
  if (strcmp(container_status(c), "restarting") == 0)
    container_set_state(c, "exited");
  unmount_rootfs_locked(s, c);
  /* Nothing of a start that failed stays in the exec root (the bundle,
   * the attach socket), as nothing does of dockerd's failed task. */
  cleanup_free char *run_dir = container_run_dir(s, c);
  if (run_dir)
    fs_remove_tree(run_dir, NULL);
  container_save_state(s, c);
}

static void record_running(struct container_store *s, struct container *c, pid_t shim,
                           pid_t init)
{
  char now[48];
  now_text(now, sizeof now);
  json_t *st = state_of(c);
  container_set_state(c, "running");
  json_object_set_new(st, "Pid", json_integer(init));
  json_object_set_new(st, "StartedAt", json_string(now));
  json_object_set_new(st, "Error", json_string(""));
  json_object_set_new(st, "ExitCode", json_integer(0));
  json_object_set_new(st, "OOMKilled", json_false());
  json_t *sk = skiff_of(c);
  json_object_set_new(sk, "ShimPid", json_integer(shim));
  json_object_set_new(sk, "ShimStart", json_integer((json_int_t)proc_start_time(shim)));
  json_object_set_new(sk, "ManuallyStopped", json_false());
  container_save_state(s, c);
}

static void start_monitor(struct container_store *s, struct container *c)
{
  struct monitor_arg *arg = malloc(sizeof *arg);
  *arg = (struct monitor_arg){s, c};
  pthread_t thread;
  if (pthread_create(&thread, NULL, monitor_main, arg) == 0)
    pthread_detach(thread);
  else
    free(arg);
}

/* Called with the lock held; drops it while the shim starts. */
static int start_locked(struct container_store *s, struct container *c,
                        skiff_error_t **err)
{
  /* dockerd connects the container to its network before it creates the
   * task, and disconnects it again when the start fails. */
  publish_network(s, c, "connect");
  cleanup_free char *run_dir = NULL;
  unsigned attachers =
      (unsigned)json_integer_value(json_object_get(skiff_of(c), "Attachers"));
  int listen_fd = -1;
  if (prepare_start(s, c, &run_dir, attachers, err) < 0 ||
      (listen_fd = shim_listen(run_dir, err)) < 0) {
    publish_network(s, c, "disconnect");
    record_start_failure(s, c, (*err)->msg);
    return -1;
  }
  /* "starting": attachers may connect (and queue) now */
  container_set_state(c, "running");
  c->shim_ready = true;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  pid_t shim = 0, init = 0;
  int ret = shim_spawn(s->d->shim_fd, run_dir, listen_fd, &shim, &init, err);
  close(listen_fd);
  pthread_mutex_lock(&s->lock);
  c->shim_ready = false;
  json_object_set_new(skiff_of(c), "Attachers", json_integer(0));
  c->reserved = 0;
  if (ret < 0) {
    container_set_state(c, "created");
    publish_network(s, c, "disconnect");
    record_start_failure(s, c, (*err)->msg);
    pthread_cond_broadcast(&s->changed);
    return -1;
  }
  record_running(s, c, shim, init);
  c->shim_ready = true;
  start_monitor(s, c);
  publish(s, c, "start", NULL);
  pthread_cond_broadcast(&s->changed);
  return 0;
}

/* With the lock held: start c unless it runs (*was_running). Like dockerd,
 * an AutoRemove container that cannot start is removed (c freed), so that
 * a client waiting for "removed" is answered. */
static int start_or_remove_locked(struct container_store *s, struct container *c,
                                  bool *was_running, skiff_error_t **err)
{
  *was_running = json_is_true(json_object_get(state_of(c), "Running"));
  if (*was_running) /* restarting too: its policy starts it */
    return 0;
  if (c->removing)
    return skiff_error_status(err, EBUSY,
                              "container is marked for removal and cannot be started");
  container_policy_reset(c);
  int ret = start_locked(s, c, err);
  if (ret < 0 && container_auto_remove(c))
    remove_locked(s, c, true, NULL);
  return ret;
}

int containers_start(struct container_store *s, const char *id, bool *was_running,
                     skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  *was_running = false;
  int ret = c ? start_or_remove_locked(s, c, was_running, err) : -1;
  pthread_mutex_unlock(&s->lock);
  return ret;
}

/* Read exit.json the shim wrote; a shim that died without one gives 255
 * ("dead" would hide a kill -9 of the shim as a crash of the container). */
static void record_exit(struct container_store *s, struct container *c)
{
  cleanup_free char *run_dir = container_run_dir(s, c);
  cleanup_free char *path = NULL;
  cleanup_json json_t *info = NULL;
  if (asprintf(&path, "%s/exit.json", run_dir) >= 0)
    info = jsonutil_load_file(path, NULL);
  char now[48];
  now_text(now, sizeof now);
  json_t *st = state_of(c);
  json_object_set_new(
      st, "ExitCode",
      json_integer(info ? json_integer_value(json_object_get(info, "ExitCode")) : 255));
  json_t *finished = json_object_get(info, "FinishedAt");
  json_object_set_new(st, "FinishedAt",
                      finished ? json_incref(finished) : json_string(now));
  json_object_set_new(st, "OOMKilled",
                      json_boolean(json_is_true(json_object_get(info, "OOMKilled"))));
  json_object_set_new(st, "Pid", json_integer(0));
  container_set_state(c, "exited");
  c->exits++;
  c->shim_ready = false;
  json_object_set_new(skiff_of(c), "ShimPid", json_integer(0));
  unmount_rootfs_locked(s, c);
  container_save_state(s, c);
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static void wait_for_shim(pid_t shim, uint64_t start_time)
{
  int pidfd = (int)syscall(SYS_pidfd_open, shim, 0);
  if (pidfd >= 0 && proc_start_time(shim) == start_time) {
    struct pollfd p = {pidfd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
      ;
  }
  if (pidfd >= 0)
    close(pidfd);
  waitpid(shim, NULL, WNOHANG); /* ours to reap unless we restarted since */
  while (waitpid(shim, NULL, 0) > 0)
    ;
}

static void handle_exit(struct container_store *s, struct container *c);

/* Whether c, stopped, is to be removed now for its AutoRemove. Not while
 * rm -f waits for its exit (the removal finishes the job), nor in a
 * restart's stop (dockerd keeps the container: HasBeenManuallyRestarted),
 * nor while a stop waits for its exit: that stop removes it after its
 * "stop" event, dockerd's order (die, stop, destroy), and would otherwise
 * find its container freed under it. */
static bool auto_remove_due(const struct container *c)
{
  const char *st = container_status(c);
  return container_auto_remove(c) && !c->removing && !c->manual_restart &&
         c->stoppers == 0 && strcmp(st, "running") != 0 && strcmp(st, "paused") != 0 &&
         strcmp(st, "restarting") != 0;
}

/* One per shim: waits for it to end, then records the exit (and maybe
 * restarts the container, which starts a new monitor). */
static void *monitor_main(void *arg)
{
  struct monitor_arg m = *(struct monitor_arg *)arg;
  free(arg);
  pthread_mutex_lock(&m.s->lock);
  json_t *sk = skiff_of(m.c);
  pid_t shim = (pid_t)json_integer_value(json_object_get(sk, "ShimPid"));
  uint64_t start = (uint64_t)json_integer_value(json_object_get(sk, "ShimStart"));
  pthread_mutex_unlock(&m.s->lock);
  wait_for_shim(shim, start);
  pthread_mutex_lock(&m.s->lock);
  if (!m.s->closing)
    handle_exit(m.s, m.c);
  pthread_mutex_unlock(&m.s->lock);
  return NULL;
}

/* With the lock held: record the exit, then restart or auto-remove. Leaves
 * the container running again when the policy restarted it. */
static void handle_exit(struct container_store *s, struct container *c)
{
  record_exit(s, c);
  /* dockerd releases the network (its Cleanup) before it tells "die". */
  publish_network(s, c, "disconnect");
  char code[24];
  snprintf(code, sizeof code, "%lld",
           (long long)json_integer_value(json_object_get(state_of(c), "ExitCode")));
  publish(s, c, "die", json_pack("{s:s}", "exitCode", code));
  pthread_cond_broadcast(&s->changed);
  while (container_policy_restarts(c)) {
    if (!container_policy_wait(s, c))
      return;
    skiff_error_t *err = NULL;
    int started = start_locked(s, c, &err); /* a new monitor takes over */
    skiff_error_free(&err);
    if (started == 0)
      return;
  }
  if (auto_remove_due(c))
    remove_locked(s, c, true, NULL);
}

/* ---- stop, kill, pause, wait ---------------------------------------- */

/* With the lock held, dropped while waiting: until container id has exited
 * since its exit count was exits, or is gone (rm -f may free it meanwhile,
 * hence the id). 0, or -1 when timeout_s seconds passed first. */
static int wait_exit_locked(struct container_store *s, const char *id, unsigned exits,
                            int timeout_s)
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_s;
  struct container *c;
  while ((c = containers_find_locked(s, id, NULL)) != NULL && c->exits == exits) {
    if (pthread_cond_timedwait(&s->changed, &s->lock, &deadline) == ETIMEDOUT) {
      c = containers_find_locked(s, id, NULL);
      return c && c->exits == exits ? -1 : 0;
    }
  }
  return 0;
}

static int signal_locked(struct container_store *s, struct container *c, int sig,
                         skiff_error_t **err)
{
  if (runtime_kill(s->runtime_root, c->id, sig, false, err) < 0)
    return -1;
  char text[16];
  snprintf(text, sizeof text, "%d", sig);
  publish(s, c, "kill", json_pack("{s:s}", "signal", text));
  return 0;
}

static int stop_signal(struct container *c, const char *requested, skiff_error_t **err)
{
  const char *name = requested && *requested
                         ? requested
                         : json_string_value(json_object_get(
                               json_object_get(c->record, "Config"), "StopSignal"));
  int sig = name && *name ? proc_parse_signal(name) : SIGTERM;
  if (sig < 0)
    return skiff_error_invalid(err, "Invalid signal: %s", name);
  return sig;
}

/* With the lock held (dropped while waiting): docker's stop of the running
 * c, sig then SIGKILL after timeout seconds (< 0: its StopTimeout, else
 * 10), and its "stop" event. Returns c again, or NULL when rm -f removed it
 * meanwhile. An AutoRemove container is left to the caller to remove. */
static struct container *stop_locked(struct container_store *s, struct container *c,
                                     int sig, int timeout)
{
  char id[65]; /* 64 hex: c may be freed while we wait */
  snprintf(id, sizeof id, "%s", c->id);
  if (timeout < 0) {
    json_t *t = json_object_get(json_object_get(c->record, "Config"), "StopTimeout");
    timeout = json_is_integer(t) ? (int)json_integer_value(t) : 10;
  }
  json_object_set_new(skiff_of(c), "ManuallyStopped", json_true());
  unsigned exits = c->exits;
  c->stoppers++;
  if (strcmp(container_status(c), "paused") == 0)
    runtime_resume(s->runtime_root, c->id, NULL);
  if (signal_locked(s, c, sig, NULL) < 0 ||
      wait_exit_locked(s, id, exits, timeout) < 0) {
    if ((c = containers_find_locked(s, id, NULL)) != NULL)
      signal_locked(s, c, SIGKILL, NULL);
    wait_exit_locked(s, id, exits, 30);
  }
  if ((c = containers_find_locked(s, id, NULL)) == NULL)
    return NULL;
  c->stoppers--;
  publish(s, c, "stop", NULL);
  return c;
}

int containers_stop(struct container_store *s, const char *id, const char *signal,
                    int timeout, bool *was_stopped, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  struct container *c = containers_find_locked(s, id, err);
  *was_stopped = false;
  if (c == NULL)
    goto out;
  if (!json_is_true(json_object_get(state_of(c), "Running"))) {
    *was_stopped = true;
    ret = 0;
    goto out;
  }
  int sig = stop_signal(c, signal, err);
  if (sig < 0)
    goto out;
  if (strcmp(container_status(c), "restarting") == 0) {
    /* No process to signal: dockerd only ends the back-off, and tells "stop". */
    container_policy_cancel(s, c);
    publish(s, c, "stop", NULL);
    ret = 0;
    goto out;
  }
  c = stop_locked(s, c, sig, timeout);
  if (c && auto_remove_due(c))
    remove_locked(s, c, true, NULL);
  ret = 0;
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

/* dockerd's restart: stop (when running), start, "restart". The stop does
 * not auto-remove an AutoRemove container: it runs again, and is removed
 * when it later stops. */
int containers_restart(struct container_store *s, const char *id, int timeout,
                       skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL)
    goto out;
  char full_id[65];
  snprintf(full_id, sizeof full_id, "%s", c->id);
  if (strcmp(container_status(c), "restarting") == 0) {
    container_policy_cancel(s, c); /* and start it now, as dockerd */
    publish(s, c, "stop", NULL);
  } else if (json_is_true(json_object_get(state_of(c), "Running"))) {
    int sig = stop_signal(c, NULL, err);
    if (sig < 0)
      goto out;
    c->manual_restart = true;
    if ((c = stop_locked(s, c, sig, timeout)) == NULL) {
      skiff_error_status(err, ENOENT, "No such container: %s", full_id);
      goto out;
    }
    c->manual_restart = false;
  }
  bool was_running;
  if ((ret = start_or_remove_locked(s, c, &was_running, err)) == 0)
    publish(s, c, "restart", NULL);
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

int containers_kill(struct container_store *s, const char *id, const char *signal,
                    skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL)
    goto out;
  int sig = signal && *signal ? proc_parse_signal(signal) : SIGKILL;
  if (sig < 0) {
    skiff_error_invalid(err, "Invalid signal: %s", signal);
    goto out;
  }
  if (!json_is_true(json_object_get(state_of(c), "Running"))) {
    skiff_error_status(err, EBUSY, "Container %s is not running", c->id);
    goto out;
  }
  if (strcmp(container_status(c), "restarting") == 0) {
    /* dockerd sends no signal (there is no process) and tells nothing: it
     * ends the back-off, whatever the signal. */
    container_policy_cancel(s, c);
    ret = 0;
    goto out;
  }
  char kept_id[65]; /* c may be freed while we wait */
  snprintf(kept_id, sizeof kept_id, "%s", c->id);
  unsigned exits = c->exits;
  bool paused = strcmp(container_status(c), "paused") == 0;
  ret = signal_locked(s, c, sig, err);
  /* As dockerd's Kill: a paused container is thawed to take the SIGKILL,
   * and the answer comes once it has exited (10 s at most), so a kill then
   * rm does not find it running. */
  if (ret == 0 && sig == SIGKILL) {
    if (paused)
      runtime_resume(s->runtime_root, c->id, NULL);
    wait_exit_locked(s, kept_id, exits, 10);
  }
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

/* dockerd's refusal to pause a container in state st that does not run. */
static const char *pause_refusal(const char *st)
{
  if (strcmp(st, "paused") == 0)
    return "Container %s is already paused";
  if (strcmp(st, "restarting") == 0)
    return "Container %s is restarting, wait until the container is running";
  return "Container %s is not running";
}

int containers_pause(struct container_store *s, const char *id, bool pause,
                     skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL)
    goto out;
  const char *st = container_status(c);
  if (pause && strcmp(st, "running") != 0) {
    skiff_error_status(err, EBUSY, pause_refusal(st), c->id);
    goto out;
  }
  if (!pause && strcmp(st, "paused") != 0) {
    skiff_error_status(err, EBUSY, "Container %s is not paused", c->id);
    goto out;
  }
  ret = pause ? runtime_pause(s->runtime_root, c->id, err)
              : runtime_resume(s->runtime_root, c->id, err);
  if (ret == 0) {
    container_set_state(c, pause ? "paused" : "running");
    container_save_state(s, c);
    publish(s, c, pause ? "pause" : "unpause", NULL);
  }
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

int containers_wait(struct container_store *s, const char *id, const char *condition,
                    int *status, bool (*gone)(void *arg), void *arg,
                    skiff_error_t **err)
{
  const char *cond = condition && *condition ? condition : "not-running";
  if (strcmp(cond, "not-running") != 0 && strcmp(cond, "next-exit") != 0 &&
      strcmp(cond, "removed") != 0)
    return skiff_error_invalid(err, "invalid condition: \"%s\"", cond);
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL) {
    pthread_mutex_unlock(&s->lock);
    return -1;
  }
  char want_id[65];
  snprintf(want_id, sizeof want_id, "%s", c->id);
  unsigned exits = c->exits;
  for (;;) {
    c = containers_find_locked(s, want_id, NULL);
    if (c == NULL) {
      /* Removed while we waited: as dockerd, a removal answers a wait of
       * any condition with the exit code (an AutoRemove container exits
       * and goes in one step here, so its waiters see only the removal). */
      *status = (int)json_integer_value(json_object_get(s->last_exit, want_id));
      break;
    }
    *status = (int)json_integer_value(json_object_get(state_of(c), "ExitCode"));
    /* Like dockerd's waitStop, which an exit fires even when the policy
     * restarts the container (SetRestarting). */
    bool stopped =
        !json_is_true(json_object_get(state_of(c), "Running")) || c->exits != exits;
    if ((strcmp(cond, "not-running") == 0 && stopped) ||
        (strcmp(cond, "next-exit") == 0 && c->exits != exits))
      break;
    if (gone && gone(arg)) {
      pthread_mutex_unlock(&s->lock);
      return skiff_error_status(err, ECONNRESET, "the waiting client has gone");
    }
    struct timespec tick;
    clock_gettime(CLOCK_REALTIME, &tick);
    tick.tv_sec += 1;
    pthread_cond_timedwait(&s->changed, &s->lock, &tick);
  }
  pthread_mutex_unlock(&s->lock);
  return 0;
}

/* ---- remove, rename, attach, logs ------------------------------------ */

/* Take a removed container's directory away: into the trash when nothing
 * is mounted in it any more (one rename), else deleted here. */
static int discard_dir(struct trash *t, const char *dir, bool unmounted,
                       skiff_error_t **err)
{
  if (t && unmounted && trash_put(t, dir, NULL) == 0)
    return 0;
  return fs_remove_tree(dir, err);
}

/* With the lock held: c is freed on success. */
static int remove_locked(struct container_store *s, struct container *c, bool volumes,
                         skiff_error_t **err)
{
  (void)volumes; /* no volumes yet */
  cleanup_free char *dir = container_dir(s, c);
  cleanup_free char *run_dir = container_run_dir(s, c);
  cleanup_free char *rootfs = container_rootfs(s, c);
  c->removing = true;
  bool unmounted = image_snapshot_unmount(rootfs, NULL) == 0;
  runtime_delete(s->runtime_root, c->id, true, NULL);
  if (discard_dir(s->trash, dir, unmounted, err) < 0) {
    container_set_state(c, "dead");
    container_save_state(s, c);
    return skiff_error_wrap(err, "unable to remove filesystem for %s", c->id);
  }
  discard_dir(s->run_trash, run_dir, unmounted, NULL);
  publish(s, c, "destroy", NULL);
  /* A waiter for "removed" may wake only now, after exit and removal in one
   * step (AutoRemove): leave it the exit code. Bounded: oldest dropped. */
  if (json_object_size(s->last_exit) >= 256)
    json_object_clear(s->last_exit);
  json_object_set(s->last_exit, c->id, json_object_get(state_of(c), "ExitCode"));
  drop_item(s, c);
  free_container(c);
  pthread_cond_broadcast(&s->changed);
  return 0;
}

int containers_remove(struct container_store *s, const char *id, bool force,
                      bool volumes, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL)
    goto out;
  if (c->removing) {
    skiff_error_status(err, EBUSY, "removal of container %s is already in progress",
                       c->id);
    goto out;
  }
  if (json_is_true(json_object_get(state_of(c), "Running"))) {
    if (!force && strcmp(container_status(c), "restarting") == 0) {
      skiff_error_status(err, EBUSY,
                         "You cannot remove a restarting container %s. Stop the "
                         "container before attempting removal or force remove",
                         c->id);
      goto out;
    }
    if (!force) {
      skiff_error_status(err, EBUSY,
                         "cannot remove container \"%s\": container is running: "
                         "stop the container before removing or force remove",
                         json_string_value(json_object_get(c->record, "Name")));
      goto out;
    }
    c->removing = true;
    unsigned exits = c->exits;
    if (strcmp(container_status(c), "paused") == 0)
      runtime_resume(s->runtime_root, c->id, NULL);
    if (strcmp(container_status(c), "restarting") != 0) {
      signal_locked(s, c, SIGKILL, NULL);
      wait_exit_locked(s, c->id, exits, 30); /* c stays: removing keeps others off */
    }
  }
  ret = remove_locked(s, c, volumes, err);
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

int containers_rename(struct container_store *s, const char *id, const char *name,
                      skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  int ret = -1;
  cleanup_free char *slashed = NULL;
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL)
    goto out;
  if (name == NULL || *name == '\0') {
    skiff_error_invalid(err, "Neither old nor new names may be empty");
    goto out;
  }
  if (claim_name(s, name, &slashed, err) < 0)
    goto out;
  json_t *old = json_incref(json_object_get(c->record, "Name"));
  json_object_set_new(c->record, "Name", json_string(slashed));
  ret = container_save(s, c, err);
  if (ret == 0)
    publish(s, c, "rename", json_pack("{s:s}", "oldName", json_string_value(old)));
  else
    json_object_set(c->record, "Name", old);
  json_decref(old);
out:
  pthread_mutex_unlock(&s->lock);
  return ret;
}

int containers_log_info(struct container_store *s, const char *id, char **log_path,
                        bool *tty, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  if (c) {
    *log_path = strdup(json_string_value(json_object_get(c->record, "LogPath")));
    *tty = json_is_true(json_object_get(json_object_get(c->record, "Config"), "Tty"));
  }
  pthread_mutex_unlock(&s->lock);
  return c ? 0 : -1;
}

static void count_attacher(struct container *c)
{
  json_t *sk = skiff_of(c);
  json_object_set_new(
      sk, "Attachers",
      json_integer(json_integer_value(json_object_get(sk, "Attachers")) + 1));
}

void containers_attach_reserve(struct container_store *s, const char *id)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, NULL);
  if (c && !c->shim_ready) {
    count_attacher(c);
    c->reserved++;
  }
  pthread_mutex_unlock(&s->lock);
}

int containers_attach(struct container_store *s, const char *id, bool in, bool out,
                      bool err_stream, bool *tty, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  if (c == NULL) {
    pthread_mutex_unlock(&s->lock);
    return -1;
  }
  *tty = json_is_true(json_object_get(json_object_get(c->record, "Config"), "Tty"));
  cleanup_free char *cid = strdup(c->id);
  cleanup_free char *run_dir = container_run_dir(s, c);
  /* Not started yet (docker run attaches first): be counted, so that the
   * shim waits for us before the process starts, then wait for the shim. */
  if (c->reserved > 0)
    c->reserved--; /* counted already, before the client had its 101 */
  else if (!c->shim_ready)
    count_attacher(c);
  while ((c = containers_find_locked(s, cid, NULL)) != NULL && !c->shim_ready &&
         !s->closing)
    pthread_cond_wait(&s->changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  if (c == NULL)
    return skiff_error_status(err, ENOENT, "No such container: %s", id);
  /* The shim binds its socket just after it starts: poll finely, since
   * the process does not start until we are connected (2 s at most). */
  int fd = -1;
  for (int attempt = 0; attempt < 2000 && fd < 0; attempt++) {
    skiff_error_free(err);
    fd = shim_attach(run_dir, in, out, err_stream, err);
    if (fd < 0)
      sleep_ms(1);
  }
  return fd;
}

/* ---- terminals: resize, attach events (tty) -------------------------- */

int containers_resize(struct container_store *s, const char *id, unsigned height,
                      unsigned width, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, id, err);
  if (c && !json_is_true(json_object_get(state_of(c), "Running")))
    skiff_error_status(err, EBUSY, "Container %s is not running", c->id);
  bool ok = c && json_is_true(json_object_get(state_of(c), "Running"));
  bool tty =
      ok && json_is_true(json_object_get(json_object_get(c->record, "Config"), "Tty"));
  cleanup_free char *run_dir = ok ? container_run_dir(s, c) : NULL;
  cleanup_free char *cid = ok ? strdup(c->id) : NULL;
  pthread_mutex_unlock(&s->lock);
  if (!ok || (tty && shim_resize(run_dir, height, width, err) < 0))
    return -1;
  char h[16], w[16];
  snprintf(h, sizeof h, "%u", height);
  snprintf(w, sizeof w, "%u", width);
  containers_publish_event(s, cid, "resize",
                           json_pack("{s:s, s:s}", "height", h, "width", w));
  return 0;
}

/* ---- for containers_fs.c (cp, export, diff, commit) ------------------ */

void container_publish(struct container_store *s, struct container *c,
                       const char *action, json_t *extra)
{
  publish(s, c, action, extra);
}

/* ---- open, close ------------------------------------------------------ */

/* A container recorded as running when the daemon starts: its shim either
 * still runs (watch it again) or ended while we were away (its exit.json
 * tells how the container ended). */
static void reconnect(struct container_store *s, struct container *c)
{
  json_t *sk = skiff_of(c);
  pid_t shim = (pid_t)json_integer_value(json_object_get(sk, "ShimPid"));
  uint64_t start = (uint64_t)json_integer_value(json_object_get(sk, "ShimStart"));
  if (shim > 0 && proc_start_time(shim) == start && proc_state(shim) != 'Z') {
    c->shim_ready = true;
    start_monitor(s, c);
    return;
  }
  handle_exit(s, c);
}

static int load_all(struct container_store *s)
{
  cleanup_dir DIR *dir = opendir(s->root);
  struct dirent *e;
  while (dir && (e = readdir(dir)) != NULL) {
    if (strlen(e->d_name) != 64)
      continue;
    struct container *c = container_load(s, e->d_name);
    if (c && add_item(s, c) < 0)
      free_container(c);
  }
  pthread_mutex_lock(&s->lock);
  for (size_t i = s->n; i-- > 0;) {
    struct container *c = s->items[i];
    const char *st = container_status(c);
    if (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0 ||
        strcmp(st, "restarting") == 0)
      reconnect(s, c); /* an AutoRemove one that ended is removed there */
    else if (container_auto_remove(c))
      /* Like dockerd's restore: created or stopped while the daemon was
       * away (or before a reboot, which took its run-time record). */
      remove_locked(s, c, true, NULL);
  }
  pthread_mutex_unlock(&s->lock);
  return 0;
}

static struct trash *open_trash(const char *root, skiff_error_t **err)
{
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s/trash", root) < 0) {
    skiff_error_set(err, ENOMEM, "trash in %s", root);
    return NULL;
  }
  return trash_open(dir, err);
}

struct container_store *containers_open(struct daemon *d, skiff_error_t **err)
{
  struct container_store *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->d = d;
  s->last_exit = json_object();
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->changed, NULL);
  if (asprintf(&s->root, "%s/containers", d->config.data_root) < 0 ||
      asprintf(&s->run_root, "%s/containers", d->config.exec_root) < 0 ||
      asprintf(&s->runtime_root, "%s/runtime", d->config.exec_root) < 0 ||
      asprintf(&s->init_path, "%.*s/skiff-init",
               (int)(strrchr(d->shim_path, '/')
                         ? strrchr(d->shim_path, '/') - d->shim_path
                         : 1),
               strrchr(d->shim_path, '/') ? d->shim_path : ".") < 0 ||
      fs_mkdir_p(s->root, 0710, err) < 0 || fs_mkdir_p(s->run_root, 0700, err) < 0 ||
      (s->trash = open_trash(d->config.data_root, err)) == NULL ||
      (s->run_trash = open_trash(d->config.exec_root, err)) == NULL) {
    containers_close(s);
    return NULL;
  }
  load_all(s);
  return s;
}

void containers_close(struct container_store *s)
{
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->closing = true;
  pthread_cond_broadcast(&s->changed);
  struct trash *trash = steal_pointer(&s->trash),
               *run_trash = steal_pointer(&s->run_trash);
  pthread_mutex_unlock(&s->lock);
  trash_close(trash); /* after what is in it is deleted */
  trash_close(run_trash);
  /* Monitors are detached and may still wait on shims: the records stay
   * allocated until the process exits; the shims keep the containers. */
}

/* ---- exec (execs.c) -------------------------------------------------- */

int containers_exec_target(struct container_store *s, const char *ref,
                           struct container_exec_target *t, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct container *c = containers_find_locked(s, ref, err);
  if (c) {
    *t = (struct container_exec_target){
        .id = strdup(c->id),
        .status = strdup(container_status(c)),
        .config = json_deep_copy(json_object_get(c->record, "Config")),
        .rootfs = container_rootfs(s, c),
        .runtime_root = strdup(s->runtime_root)};
    cleanup_free char *run_dir = container_run_dir(s, c);
    if (run_dir && asprintf(&t->spec_path, "%s/config.json", run_dir) < 0)
      t->spec_path = NULL;
  }
  pthread_mutex_unlock(&s->lock);
  if (c && (!t->id || !t->status || !t->config || !t->rootfs || !t->runtime_root ||
            !t->spec_path)) {
    containers_exec_target_clear(t);
    return skiff_error_set(err, ENOMEM, "exec");
  }
  return c ? 0 : -1;
}

void containers_exec_target_clear(struct container_exec_target *t)
{
  free(t->id);
  free(t->status);
  json_decref(t->config);
  free(t->rootfs);
  free(t->spec_path);
  free(t->runtime_root);
  *t = (struct container_exec_target){0};
}
