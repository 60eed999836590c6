/* Exec instances: see execs.h. A record goes CREATED -> STARTING ->
 * RUNNING -> EXITED (or CREATED -> EXITED when the process cannot start,
 * with docker's 126/127). While it runs, its shim's control socket is the
 * only link: the shim sends the exit code there and takes resize requests.
 * Records whose container is gone are dropped when next looked at. */
#include "execs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/detachkeys.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "containers.h"
#include "daemon.h"
#include "gotypes.h"
#include "ocispec.h"
#include "shim_client.h"

/* Finished records kept at most (the oldest go first): docker keeps them
 * for its 5-minute collector; a daemon running execs in a loop on one
 * long-lived container must not grow without bound. */
#define EXECS_MAX_FINISHED 1024
/* How long a resize waits for its exec to start (dockerd: 10 s). */
#define RESIZE_WAIT_S 10

enum exec_state { EXEC_CREATED, EXEC_STARTING, EXEC_RUNNING, EXEC_EXITED };

struct exec {
  struct exec *next; /* newest first */
  char id[65];
  char *container_id;
  json_t *config; /* the ExecConfig, checked */
  enum exec_state state;
  int exit_code; /* once EXITED */
  pid_t pid;     /* the process, as the host sees it (kept after exit) */
  pid_t shim;
  int ctl; /* the shim's control socket while RUNNING, else -1 */
};

struct exec_store {
  struct daemon *d;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct exec *head;
  bool closing;
};

struct exec_store *execs_open(struct daemon *d)
{
  struct exec_store *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->d = d;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->changed, NULL);
  return s;
}

void execs_shutdown(struct exec_store *s)
{
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->closing = true;
  for (struct exec *e = s->head; e; e = e->next)
    if (e->ctl >= 0)
      shutdown(e->ctl, SHUT_RDWR);
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
}

static void free_exec(struct exec *e)
{
  free(e->container_id);
  json_decref(e->config);
  free(e);
}

/* ---- lookup ---------------------------------------------------------- */

static bool container_exists(struct exec_store *s, const char *id)
{
  cleanup_free char *found = containers_resolve(s->d->containers, id, NULL);
  return found && strcmp(found, id) == 0;
}

/* Drop what can go (lock held): records of removed containers that are not
 * running, and the oldest finished ones past the limit. */
static void sweep_locked(struct exec_store *s)
{
  size_t finished = 0;
  for (struct exec **p = &s->head; *p;) {
    struct exec *e = *p;
    bool idle = e->state == EXEC_CREATED || e->state == EXEC_EXITED;
    if (idle &&
        (finished >= EXECS_MAX_FINISHED || !container_exists(s, e->container_id))) {
      *p = e->next;
      free_exec(e);
      continue;
    }
    finished += e->state == EXEC_EXITED;
    p = &e->next;
  }
}

/* The exec by full id (lock held); ENOENT as docker words it, also for an
 * exec whose container has been removed. */
static struct exec *find_locked(struct exec_store *s, const char *id,
                                skiff_error_t **err)
{
  for (struct exec **p = &s->head; *p; p = &(*p)->next) {
    struct exec *e = *p;
    if (strcmp(e->id, id) != 0)
      continue;
    if (container_exists(s, e->container_id))
      return e;
    if (e->state == EXEC_CREATED || e->state == EXEC_EXITED) {
      *p = e->next;
      free_exec(e);
    }
    break;
  }
  skiff_error_status(err, ENOENT, "No such exec instance: %s", id);
  return NULL;
}

bool execs_exists(struct exec_store *s, const char *id)
{
  pthread_mutex_lock(&s->lock);
  bool found = find_locked(s, id, NULL) != NULL;
  pthread_mutex_unlock(&s->lock);
  return found;
}

/* dockerd's checks of the container before an exec is created or started:
 * by_name words the paused error with ref as given (create does). */
static int check_container(struct exec_store *s, const char *ref, bool by_name,
                           struct container_exec_target *t, skiff_error_t **err)
{
  if (containers_exec_target(s->d->containers, ref, t, err) < 0)
    return -1;
  int ret = 0;
  if (strcmp(t->status, "paused") == 0)
    ret = skiff_error_status(
        err, EBUSY, "Container %s is paused, unpause the container before exec",
        by_name ? ref : t->id);
  else if (strcmp(t->status, "restarting") == 0)
    ret = skiff_error_status(
        err, EBUSY, "Container %s is restarting, wait until the container is running",
        t->id);
  else if (strcmp(t->status, "running") != 0)
    ret = skiff_error_status(err, EBUSY, "Container %s is not running", t->id);
  if (ret < 0)
    containers_exec_target_clear(t);
  return ret;
}

/* ---- create ---------------------------------------------------------- */

/* moby's container.ExecOptions, for gotypes_check. ConsoleSize's numbers
 * are a terminal's (unsigned short) here: a larger one is refused as Go
 * refuses a number out of its type's range. */
static const struct gotype console_uint = {
    .kind = GOTYPE_INT, .name = "uint", .min = 0, .max = 65535};
static const struct gotype console_size = {
    .kind = GOTYPE_LIST, .name = "[2]uint", .elem = &console_uint};
static const struct gofield exec_options_fields[] = {{"User", &gotype_string},
                                                     {"Privileged", &gotype_bool},
                                                     {"Tty", &gotype_bool},
                                                     {"ConsoleSize", &console_size},
                                                     {"AttachStdin", &gotype_bool},
                                                     {"AttachStderr", &gotype_bool},
                                                     {"AttachStdout", &gotype_bool},
                                                     {"Detach", &gotype_bool},
                                                     {"DetachKeys", &gotype_string},
                                                     {"Env", &gotype_strings},
                                                     {"WorkingDir", &gotype_string},
                                                     {"Cmd", &gotype_strings},
                                                     {NULL, NULL}};
static const struct gotype exec_options = {.kind = GOTYPE_STRUCT,
                                           .name = "container.ExecOptions",
                                           .fields = exec_options_fields};

/* Go decodes a null in a list as its element's zero value (zero, which
 * this steals): so do we, for the code after. */
static void zero_null_items(json_t *list, json_t *zero)
{
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item)
  {
    if (json_is_null(item))
      json_array_set(list, i, zero);
  }
  json_decref(zero);
}

/* The ExecConfig as dockerd's decoder takes it (null is the zero value,
 * unknown fields are ignored, keys match in any case), and a command. */
static int check_config(json_t *body, skiff_error_t **err)
{
  if (gotypes_check(body, &exec_options, err) < 0)
    return skiff_error_wrap(err, "invalid JSON");
  zero_null_items(json_object_get(body, "Cmd"), json_string(""));
  zero_null_items(json_object_get(body, "Env"), json_string(""));
  zero_null_items(json_object_get(body, "ConsoleSize"), json_integer(0));
  if (json_array_size(json_object_get(body, "Cmd")) == 0)
    return skiff_error_invalid(err, "No exec command specified");
  return 0;
}

/* The exec's detach keys (DetachKeys, or docker's default ones). -1 with
 * dockerd's message for exec, which differs from attach's. */
static int exec_detach_keys(json_t *config, struct detach_keys *keys,
                            skiff_error_t **err)
{
  const char *spec = json_string_value(json_object_get(config, "DetachKeys"));
  if (detachkeys_parse(spec, keys, NULL) < 0)
    return skiff_error_invalid(err, "Invalid escape keys (%s) provided", spec);
  return 0;
}

static char *new_exec_id(void)
{
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != sizeof raw)
    return NULL;
  char *hex = malloc(65);
  for (size_t i = 0; hex && i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  return hex;
}

/* "exec_create: sh -c exit 3": docker's action text, Entrypoint + " " +
 * the arguments (so a lone command keeps a trailing space). */
static char *event_action(const char *what, json_t *cmd)
{
  size_t len = strlen(what) + 4, i;
  json_t *item;
  json_array_foreach(cmd, i, item) len += strlen(json_string_value(item)) + 1;
  char *text = malloc(len);
  if (text == NULL)
    return NULL;
  snprintf(text, len, "%s: %s ", what, json_string_value(json_array_get(cmd, 0)));
  json_array_foreach(cmd, i, item)
  {
    if (i == 0)
      continue;
    if (i > 1)
      strcat(text, " ");
    strcat(text, json_string_value(item));
  }
  return text;
}

static void publish(struct exec_store *s, const struct exec *e, const char *action,
                    json_t *attrs)
{
  json_object_set_new(attrs, "execID", json_string(e->id));
  containers_publish_event(s->d->containers, e->container_id, action, attrs);
}

char *execs_create(struct exec_store *s, const char *container, json_t *body,
                   skiff_error_t **err)
{
  struct detach_keys keys;
  if (check_config(body, err) < 0)
    return NULL;
  struct container_exec_target t;
  if (check_container(s, container, true, &t, err) < 0)
    return NULL;
  cleanup_free char *cid = steal_pointer(&t.id);
  containers_exec_target_clear(&t);
  if (exec_detach_keys(body, &keys, err) < 0)
    return NULL;
  struct exec *e = calloc(1, sizeof *e);
  cleanup_free char *id = new_exec_id();
  if (e == NULL || id == NULL || (e->config = json_deep_copy(body)) == NULL) {
    free(e);
    skiff_error_set(err, ENOMEM, "exec");
    return NULL;
  }
  memcpy(e->id, id, sizeof e->id);
  e->container_id = steal_pointer(&cid);
  e->ctl = -1;
  pthread_mutex_lock(&s->lock);
  sweep_locked(s);
  e->next = s->head;
  s->head = e;
  cleanup_free char *action = event_action("exec_create", json_object_get(body, "Cmd"));
  if (action)
    publish(s, e, action, json_object());
  pthread_mutex_unlock(&s->lock);
  return steal_pointer(&id);
}

/* ---- inspect --------------------------------------------------------- */

/* As dockerd shows them: the keys' bytes in base64, "" when not given. */
static json_t *detach_keys_base64(json_t *config)
{
  const char *spec = json_string_value(json_object_get(config, "DetachKeys"));
  struct detach_keys keys;
  if (spec == NULL || *spec == '\0' || exec_detach_keys(config, &keys, NULL) < 0)
    return json_string("");
  cleanup_free char *text = base64_encode(keys.seq, keys.len, false);
  return json_string(text ? text : "");
}

static json_t *inspect_locked(const struct exec *e)
{
  json_t *c = e->config;
  json_t *cmd = json_object_get(c, "Cmd");
  json_t *args = json_array();
  for (size_t i = 1; i < json_array_size(cmd); i++)
    json_array_append(args, json_array_get(cmd, i));
  json_t *process =
      json_pack("{s:b, s:O, s:o, s:b}", "tty", json_is_true(json_object_get(c, "Tty")),
                "entrypoint", json_array_get(cmd, 0), "arguments", args, "privileged",
                json_is_true(json_object_get(c, "Privileged")));
  const char *user = json_string_value(json_object_get(c, "User"));
  if (user && *user)
    json_object_set_new(process, "user", json_string(user));
  return json_pack("{s:s, s:b, s:o, s:o, s:b, s:b, s:b, s:b, s:s, s:o, s:i}", "ID",
                   e->id, "Running", e->state == EXEC_RUNNING, "ExitCode",
                   e->state == EXEC_EXITED ? json_integer(e->exit_code) : json_null(),
                   "ProcessConfig", process, "OpenStdin",
                   json_is_true(json_object_get(c, "AttachStdin")), "OpenStderr",
                   json_is_true(json_object_get(c, "AttachStderr")), "OpenStdout",
                   json_is_true(json_object_get(c, "AttachStdout")), "CanRemove", false,
                   "ContainerID", e->container_id, "DetachKeys", detach_keys_base64(c),
                   "Pid", (int)e->pid);
}

json_t *execs_inspect(struct exec_store *s, const char *id, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct exec *e = find_locked(s, id, err);
  json_t *info = e ? inspect_locked(e) : NULL;
  pthread_mutex_unlock(&s->lock);
  return info;
}

/* ---- start ----------------------------------------------------------- */

/* The exit code dockerd gives an exec that could not start: 127 when the
 * runtime's message names the command and says it does not exist
 * (translateContainerdStartErr), else 126. */
static int start_failure_code(const char *msg, const char *cmd)
{
  if (strcasestr(msg, cmd) && (strcasestr(msg, "executable file not found") ||
                               strcasestr(msg, "no such file or directory")))
    return 127;
  return 126;
}

/* CREATED -> STARTING, after dockerd's checks (lock held). */
static int claim_locked(struct exec_store *s, struct exec *e,
                        struct container_exec_target *t, skiff_error_t **err)
{
  if (e->state == EXEC_EXITED)
    return skiff_error_status(err, EBUSY, "Error: Exec command %s has already run",
                              e->id);
  if (e->state != EXEC_CREATED)
    return skiff_error_status(err, EBUSY, "Error: Exec command %s is already running",
                              e->id);
  if (check_container(s, e->container_id, false, t, err) < 0)
    return -1;
  e->state = EXEC_STARTING;
  return 0;
}

/* The message for the shim: the process, and which streams to relay. */
static char *shim_message(struct exec_store *s, struct exec *e,
                          const struct container_exec_target *t,
                          const struct exec_start_opts *o, skiff_error_t **err)
{
  cleanup_json json_t *spec = jsonutil_load_file(t->spec_path, err);
  if (spec == NULL)
    return NULL;
  cleanup_json json_t *process = ocispec_exec_process(
      json_object_get(spec, "process"), t->config, e->config, t->rootfs, err);
  if (process == NULL)
    return NULL;
  json_t *size = json_object_get(e->config, "ConsoleSize");
  if (o->has_size)
    json_object_set_new(process, "consoleSize",
                        json_pack("{s:i, s:i}", "height", o->rows, "width", o->cols));
  else if (json_array_size(size) == 2)
    json_object_set_new(process, "consoleSize",
                        json_pack("{s:O, s:O}", "height", json_array_get(size, 0),
                                  "width", json_array_get(size, 1)));
  bool attached = o->client >= 0;
  cleanup_json json_t *msg = json_pack(
      "{s:s, s:s, s:O, s:b, s:b, s:b, s:b}", "runtimeRoot", t->runtime_root, "id",
      t->id, "process", process, "stdin",
      attached && json_is_true(json_object_get(e->config, "AttachStdin")), "stdout",
      attached && json_is_true(json_object_get(e->config, "AttachStdout")), "stderr",
      attached && json_is_true(json_object_get(e->config, "AttachStderr")), "frames",
      o->frames);
  /* dockerd scans a terminal's input only (copyEscapable). */
  const char *keys = json_string_value(json_object_get(e->config, "DetachKeys"));
  if (msg && attached && json_is_true(json_object_get(e->config, "Tty")) &&
      json_is_true(json_object_get(e->config, "AttachStdin")))
    json_object_set_new(msg, "detachKeys", json_string(keys ? keys : ""));
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  if (text == NULL)
    skiff_error_set(err, ENOMEM, "exec");
  return text;
}

/* One control message from the shim, NUL-terminated; 0 at its end. */
static ssize_t recv_message(int ctl, char *buf, size_t cap)
{
  ssize_t n;
  while ((n = recv(ctl, buf, cap - 1, 0)) < 0 && errno == EINTR)
    ;
  buf[n > 0 ? n : 0] = '\0';
  return n;
}

static void reap(pid_t pid)
{
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* Start the shim and wait for its "pid" (or "error"). */
static int spawn_shim(struct exec_store *s, struct exec *e, const char *text,
                      const struct exec_start_opts *o, int *ctl, skiff_error_t **err)
{
  pid_t shim = 0;
  if (shim_spawn_exec(s->d->shim_fd, o->client, ctl, &shim, err) < 0)
    return -1;
  char answer[4096];
  if (send(*ctl, text, strlen(text), MSG_NOSIGNAL) < 0)
    answer[0] = '\0';
  else
    recv_message(*ctl, answer, sizeof answer);
  int pid = 0;
  if (sscanf(answer, "pid %d", &pid) == 1 && pid > 0) {
    e->pid = pid;
    e->shim = shim;
    return 0;
  }
  close(*ctl);
  *ctl = -1;
  reap(shim);
  if (strncmp(answer, "error ", 6) == 0)
    return skiff_error_set(err, 0,
                           "OCI runtime exec failed: exec failed: unable to start "
                           "container process: %s: unknown",
                           answer + 6);
  return skiff_error_set(err, EIO, "skiff-shim --exec ended without an answer");
}

/* A start that failed before the process ran: docker's exit code, and its
 * 400 (rather than 500) for a command that is missing or not executable. */
static void record_failure(struct exec_store *s, struct exec *e, skiff_error_t *err)
{
  const char *cmd =
      json_string_value(json_array_get(json_object_get(e->config, "Cmd"), 0));
  pthread_mutex_lock(&s->lock);
  e->state = EXEC_EXITED;
  e->exit_code = start_failure_code(err->msg, cmd);
  if (err->status == 0 &&
      (e->exit_code == 127 || strstr(err->msg, "permission denied")))
    err->status = EINVAL;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
}

/* The client typed the detach keys; its shim let go of it. */
static void publish_detach(struct exec_store *s, struct exec *e)
{
  pthread_mutex_lock(&s->lock);
  if (!s->closing)
    publish(s, e, "exec_detach", json_object());
  pthread_mutex_unlock(&s->lock);
}

/* Until the shim reports the exit: record it, publish exec_die, reap the
 * shim. Nothing is recorded when skiffd is shutting down. With
 * until_detach, a detach of the client ends the wait early: returns true,
 * and the exec still runs (someone must follow it on). */
static bool follow_exit(struct exec_store *s, struct exec *e, bool until_detach)
{
  char msg[256];
  int code = -1;
  while (recv_message(e->ctl, msg, sizeof msg) > 0) {
    if (sscanf(msg, "exit %d", &code) == 1)
      break;
    if (strcmp(msg, "detached") == 0) {
      publish_detach(s, e);
      if (until_detach)
        return true;
    }
  }
  pthread_mutex_lock(&s->lock);
  if (s->closing) {
    pthread_mutex_unlock(&s->lock);
    return false;
  }
  e->state = EXEC_EXITED;
  e->exit_code = code >= 0 ? code : 255; /* a shim that died without a word */
  close(e->ctl);
  e->ctl = -1;
  char text[16];
  snprintf(text, sizeof text, "%d", e->exit_code);
  publish(s, e, "exec_die", json_pack("{s:s}", "exitCode", text));
  pid_t shim = e->shim; /* e may be swept as soon as the lock is released */
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  reap(shim);
  return false;
}

struct follower {
  struct exec_store *s;
  struct exec *e;
};

static void *follower_main(void *arg)
{
  struct follower f = *(struct follower *)arg;
  free(arg);
  follow_exit(f.s, f.e, false);
  return NULL;
}

/* A detached exec (or one whose client detached) is followed by a thread
 * of its own. */
static void follow_in_background(struct exec_store *s, struct exec *e)
{
  struct follower *f = malloc(sizeof *f);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (f) {
    *f = (struct follower){s, e};
    if (pthread_create(&thread, &attr, follower_main, f) != 0) {
      log_warn("exec %s: no thread to follow it; following it in the request", e->id);
      free(f);
      follow_exit(s, e, false);
    }
  }
  pthread_attr_destroy(&attr);
}

static int launch(struct exec_store *s, struct exec *e, struct container_exec_target *t,
                  const struct exec_start_opts *o, skiff_error_t **err)
{
  cleanup_free char *text = shim_message(s, e, t, o, err);
  cleanup_free char *action =
      event_action("exec_start", json_object_get(e->config, "Cmd"));
  if (text == NULL)
    return -1;
  if (action)
    publish(s, e, action, json_object());
  int ctl = -1;
  if (spawn_shim(s, e, text, o, &ctl, err) < 0)
    return -1;
  pthread_mutex_lock(&s->lock);
  e->state = EXEC_RUNNING;
  e->ctl = ctl;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  return 0;
}

int execs_start(struct exec_store *s, const char *id, const struct exec_start_opts *o,
                skiff_error_t **err)
{
  struct container_exec_target t = {0};
  pthread_mutex_lock(&s->lock);
  struct exec *e = find_locked(s, id, err);
  int ret = e ? claim_locked(s, e, &t, err) : -1;
  pthread_mutex_unlock(&s->lock);
  if (ret < 0)
    return -1;
  /* From here e stays: a STARTING or RUNNING record is never swept. */
  ret = launch(s, e, &t, o, err);
  containers_exec_target_clear(&t);
  if (ret < 0) {
    record_failure(s, e, *err);
    return -1;
  }
  /* Attached, the request lasts as long as the client's stream: until the
   * exit, or until the client detaches (the exec is then followed on). */
  bool detached = o->client >= 0 && follow_exit(s, e, true);
  if (o->client < 0 || detached)
    follow_in_background(s, e);
  return 0;
}

/* ---- resize ---------------------------------------------------------- */

/* Wait (lock held) until the exec has left CREATED/STARTING; the record is
 * looked up again after each wait, since a sweep may have dropped it. */
static struct exec *wait_started_locked(struct exec_store *s, const char *id,
                                        skiff_error_t **err)
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += RESIZE_WAIT_S;
  for (;;) {
    struct exec *e = find_locked(s, id, err);
    if (e == NULL || (e->state != EXEC_CREATED && e->state != EXEC_STARTING))
      return e;
    if (pthread_cond_timedwait(&s->changed, &s->lock, &deadline) == ETIMEDOUT) {
      skiff_error_set(err, EIO, "timeout waiting for exec session ready");
      return NULL;
    }
  }
}

int execs_resize(struct exec_store *s, const char *id, unsigned short rows,
                 unsigned short cols, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct exec *e = find_locked(s, id, err);
  struct container_exec_target t;
  int ret = e ? check_container(s, e->container_id, false, &t, err) : -1;
  if (ret == 0) {
    containers_exec_target_clear(&t);
    e = wait_started_locked(s, id, err);
    ret = e ? 0 : -1;
  }
  if (ret == 0 && e->pid == 0)
    ret = skiff_error_invalid(err, "exec process is not started");
  if (ret == 0 && e->state == EXEC_RUNNING && e->ctl >= 0) {
    char msg[64];
    int len = snprintf(msg, sizeof msg, "resize %u %u", rows, cols);
    send(e->ctl, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  pthread_mutex_unlock(&s->lock);
  return ret;
}
