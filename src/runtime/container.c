#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/unixsock.h"
#include "console.h"
#include "hooks.h"
#include "mounts.h"
#include "namespaces.h"
#include "process.h"
#include "spec.h"
#include "state.h"
#include "sync.h"

/* Everything create holds while it builds a container; released (and, on
 * failure, undone) in one place. */
struct creation {
  const struct runtime_options *opts;
  struct spec *spec;
  char *dir; /* <root>/<id>, once created */
  char *cgroup_path;
  struct cgroup *cg;
  int sock; /* our end of the sync socketpair */
  int child_sock;
  int start_listener; /* the socket `start` connects to */
  pid_t pid;
  int pty_master;
  bool relay_pty;
  struct cgroup_join join; /* for the init to join cg by itself (clone_init) */
  bool self_joins;         /* it does (else set_up_child moves it) */
};

void container_now_rfc3339(char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/* ---- the container's side ------------------------------------------- */

static int child_join_namespaces(const struct spec *spec, skiff_error_t **err)
{
  const struct spec_namespace *user = spec_namespace_find(spec, CLONE_NEWUSER);
  if (user && user->path && ns_join_path(user->path, CLONE_NEWUSER, err) < 0)
    return -1;
  for (size_t i = 0; i < spec->nnamespaces; i++) {
    const struct spec_namespace *ns = &spec->namespaces[i];
    if (ns->path == NULL || ns->flag == CLONE_NEWUSER || ns->flag == CLONE_NEWPID ||
        ns->flag == CLONE_NEWTIME)
      continue;
    if (ns_join_path(ns->path, ns->flag, err) < 0)
      return -1;
  }
  if (user && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    return skiff_error_errno(err, "become root in the user namespace");
  return 0;
}

static int child_hooks_round_trip(struct creation *c, char **state_json,
                                  skiff_error_t **err)
{
  json_t *hooks = c->spec->hooks;
  if (!hooks_any(hooks, "prestart", "createRuntime") &&
      !hooks_any(hooks, "createContainer", "startContainer"))
    return 0;
  if (sync_send(c->child_sock, SYNC_MOUNTED, NULL, 0, -1, err) < 0)
    return -1;
  enum sync_msg type;
  if (sync_recv(c->child_sock, &type, state_json, NULL, err) < 0)
    return -1;
  if (type != SYNC_HOOKS_DONE)
    return skiff_error_set(err, EPROTO, "unexpected message %d during hooks", type);
  return hooks_run(hooks, "createContainer", *state_json, err);
}

static int child_set_names(const struct spec *spec, skiff_error_t **err)
{
  if (spec->hostname && *spec->hostname &&
      sethostname(spec->hostname, strlen(spec->hostname)) < 0)
    return skiff_error_errno(err, "hostname: sethostname %s", spec->hostname);
  if (spec->domainname && *spec->domainname &&
      setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
    return skiff_error_errno(err, "domainname: setdomainname %s", spec->domainname);
  return 0;
}

static int child_setup_terminal(struct creation *c, skiff_error_t **err)
{
  const struct spec_process *p = c->spec->process;
  int master = -1, slave = -1;
  if (console_open_pty(&master, &slave, err) < 0)
    return -1;
  console_set_size(master, p->console_height, p->console_width);
  if (mounts_bind_console(slave, err) < 0 ||
      sync_send(c->child_sock, SYNC_PTY, NULL, 0, master, err) < 0 ||
      sync_expect(c->child_sock, SYNC_PTY_DONE, err) < 0) {
    close(master);
    close(slave);
    return -1;
  }
  close(master);
  int ret = console_attach_stdio(slave, err);
  if (slave > 2)
    close(slave);
  return ret;
}

static int child_enter_root(struct creation *c, bool in_userns, char **state_json,
                            skiff_error_t **err)
{
  const struct spec *spec = c->spec;
  bool has_mntns = spec_namespace_find(spec, CLONE_NEWNS) != NULL;
  if (has_mntns && mounts_setup(spec, c->cg, in_userns, err) < 0)
    return -1;
  if (child_hooks_round_trip(c, state_json, err) < 0 || child_set_names(spec, err) < 0)
    return -1;
  if (!has_mntns) {
    if (chroot(spec->rootfs) < 0 || chdir("/") < 0)
      return skiff_error_errno(err, "chroot %s", spec->rootfs);
    return 0;
  }
  if (mounts_enter_root(spec->rootfs, c->opts->no_pivot, err) < 0)
    return -1;
  return mounts_finalize(spec, err);
}

static int child_setup(struct creation *c, char **exe, char **state_json,
                       skiff_error_t **err)
{
  const struct spec *spec = c->spec;
  const struct spec_process *p = spec->process;
  if (child_join_namespaces(spec, err) < 0)
    return -1;
  /* Open our own handle, as seen from the namespaces we joined, for
   * mounting the cgroup inside the container. */
  cgroup_free(steal_pointer(&c->cg));
  if ((c->cg = cgroup_open(c->cgroup_path, err)) == NULL)
    return -1;
  const struct spec_namespace *cgns = spec_namespace_find(spec, CLONE_NEWCGROUP);
  /* A cgroup namespace is rooted where its creator stands: create it only
   * now that the runtime has moved us into the container's cgroup. */
  if (cgns && cgns->path == NULL && unshare(CLONE_NEWCGROUP) < 0)
    return skiff_error_errno(err, "create the cgroup namespace");
  const struct spec_namespace *net = spec_namespace_find(spec, CLONE_NEWNET);
  if (net && net->path == NULL && ns_loopback_up(err) < 0)
    return -1;
  if (!c->opts->no_new_keyring &&
      syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 &&
      errno != ENOSYS && errno != EPERM)
    return skiff_error_errno(err, "create a session keyring");
  if (child_enter_root(c, spec_namespace_find(spec, CLONE_NEWUSER) != NULL, state_json,
                       err) < 0)
    return -1;
  if (p->terminal && child_setup_terminal(c, err) < 0)
    return -1;
  if (spec->has_personality && personality(spec->personality) < 0)
    return skiff_error_errno(err, "linux.personality");
  if (process_apply_limits(p, err) < 0 || process_enter_cwd(p, err) < 0)
    return -1;
  if ((*exe = process_find_executable(p, err)) == NULL ||
      process_default_home(c->spec->process, err) < 0)
    return -1;
  if (process_load_seccomp_for_agent(p, &c->spec->seccomp, c->child_sock, err) < 0)
    return -1;
  return process_apply_credentials(p, spec->seccomp, err);
}

/* Read what `start` sends (the state, for startContainer hooks) until it
 * half-closes. New string, or NULL. */
static char *read_start_request(int conn)
{
  size_t cap = 4096, used = 0;
  char *buf = malloc(cap);
  while (buf) {
    ssize_t n = read(conn, buf + used, cap - used - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    used += (size_t)n;
    if (used + 1 == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (bigger == NULL)
        break;
      buf = bigger;
    }
  }
  if (buf == NULL || used == 0) {
    free(buf);
    return NULL;
  }
  buf[used] = '\0';
  return buf;
}

/* Block until `start` connects, then run startContainer hooks and exec.
 * The connection is close-on-exec: `start` reads EOF when the exec worked,
 * or the error text when it did not. */
static __attribute__((noreturn)) void child_wait_and_exec(struct creation *c,
                                                          const char *exe)
{
  skiff_error_t *err = NULL;
  int conn;
  do
    conn = accept4(c->start_listener, NULL, NULL, SOCK_CLOEXEC);
  while (conn < 0 && errno == EINTR);
  if (conn < 0)
    _exit(1);
  close(c->start_listener);
  char *state_json = read_start_request(conn);
  if (state_json == NULL)
    _exit(1);
  if (hooks_run(c->spec->hooks, "startContainer", state_json, &err) == 0)
    process_exec(c->spec->process, exe, c->spec->seccomp, &err);
  const char *msg = err && err->msg ? err->msg : "exec failed";
  ssize_t ignored = write(conn, msg, strlen(msg));
  (void)ignored;
  _exit(127);
}

static __attribute__((noreturn)) void child_main(struct creation *c)
{
  skiff_error_t *err = NULL, *join_err = NULL;
  /* First of all, into the container's cgroup (see clone_init); a failure
   * is told once the runtime listens, after SYNC_GO. */
  int joined = c->self_joins ? cgroup_join_self(&c->join, &join_err) : 0;
  int keep[] = {c->child_sock, c->start_listener, -1};
  process_close_fds(3 + c->opts->preserve_fds, keep);
  if (sync_expect(c->child_sock, SYNC_GO, &err) < 0)
    _exit(1);
  if (joined < 0)
    sync_fail(c->child_sock, join_err);
  char *exe = NULL, *state_json = NULL;
  if (child_setup(c, &exe, &state_json, &err) < 0)
    sync_fail(c->child_sock, err);
  if (sync_send(c->child_sock, SYNC_READY, NULL, 0, -1, &err) < 0)
    _exit(1);
  close(c->child_sock);
  free(state_json);
  child_wait_and_exec(c, exe);
}

/* ---- the runtime's side ---------------------------------------------- */

static json_t *build_state(struct creation *c, const char *status)
{
  char created[64];
  container_now_rfc3339(created, sizeof created);
  const char *version = json_string_value(json_object_get(c->spec->json, "ociVersion"));
  json_t *hooks = json_object();
  json_t *poststart = json_object_get(c->spec->hooks, "poststart");
  json_t *poststop = json_object_get(c->spec->hooks, "poststop");
  if (poststart)
    json_object_set(hooks, "poststart", poststart);
  if (poststop)
    json_object_set(hooks, "poststop", poststop);
  return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:O?, s:{s:I, s:s, s:o}}",
                   "ociVersion", version, "id", c->opts->id, "pid", (int)c->pid,
                   "status", status, "bundle", c->spec->bundle, "rootfs",
                   c->spec->rootfs, "created", created, "owner", "", "annotations",
                   c->spec->annotations, "skiff", "startTime",
                   (json_int_t)proc_start_time(c->pid), "cgroupPath", c->cgroup_path,
                   "hooks", hooks);
}

static int run_runtime_hooks(struct creation *c, skiff_error_t **err)
{
  cleanup_json json_t *state = build_state(c, "creating");
  json_t *pub = state_public(state);
  json_object_set_new(pub, "status", json_string("creating"));
  json_object_set_new(pub, "pid", json_integer(c->pid));
  cleanup_free char *text = json_dumps(pub, JSON_COMPACT);
  json_decref(pub);
  if (hooks_run(c->spec->hooks, "prestart", text, err) < 0 ||
      hooks_run(c->spec->hooks, "createRuntime", text, err) < 0)
    return -1;
  return sync_send(c->sock, SYNC_HOOKS_DONE, text, strlen(text), -1, err);
}

static int pass_on_pty(struct creation *c, int master, skiff_error_t **err)
{
  if (c->opts->console_socket) {
    int ret = console_send_master(c->opts->console_socket, master, err);
    close(master);
    if (ret < 0)
      return -1;
  } else {
    c->pty_master = master;
  }
  return sync_send(c->sock, SYNC_PTY_DONE, NULL, 0, -1, err);
}

static int hand_to_seccomp_agent(struct creation *c, int notify_fd, skiff_error_t **err)
{
  cleanup_json json_t *state = build_state(c, "creating");
  json_t *pub = json_deep_copy(state);
  json_object_del(pub, "skiff");
  cleanup_free char *text = json_dumps(pub, JSON_COMPACT);
  json_decref(pub);
  int ret = seccomp_send_listener_fd(c->spec->seccomp, notify_fd, text, err);
  close(notify_fd);
  if (ret < 0)
    return -1;
  return sync_send(c->sock, SYNC_SECCOMP_DONE, NULL, 0, -1, err);
}

/* Serve the container process's requests until it is ready. */
static int serve_child(struct creation *c, skiff_error_t **err)
{
  for (;;) {
    enum sync_msg type;
    cleanup_free char *payload = NULL;
    int fd = -1;
    if (sync_recv(c->sock, &type, &payload, &fd, err) < 0)
      return -1;
    switch (type) {
    case SYNC_MOUNTED:
      if (run_runtime_hooks(c, err) < 0)
        return -1;
      break;
    case SYNC_PTY:
      if (fd < 0)
        return skiff_error_set(err, EPROTO, "no pty received");
      if (pass_on_pty(c, fd, err) < 0)
        return -1;
      break;
    case SYNC_SECCOMP:
      if (fd < 0)
        return skiff_error_set(err, EPROTO, "no seccomp fd received");
      if (hand_to_seccomp_agent(c, fd, err) < 0)
        return -1;
      break;
    case SYNC_READY: return 0;
    case SYNC_ERROR: return skiff_error_set(err, 0, "%s", payload);
    default:
      if (fd >= 0)
        close(fd);
      return skiff_error_set(err, EPROTO, "unexpected message %d", type);
    }
  }
}

static int prepare_parent_namespaces(const struct spec *spec, skiff_error_t **err)
{
  const struct spec_namespace *pid = spec_namespace_find(spec, CLONE_NEWPID);
  /* Joining a PID namespace applies to children only: join it here, so
   * that the process we clone is born in it. */
  if (pid && pid->path && ns_join_path(pid->path, CLONE_NEWPID, err) < 0)
    return -1;
  const struct spec_namespace *time_ns = spec_namespace_find(spec, CLONE_NEWTIME);
  if (time_ns == NULL)
    return 0;
  if (time_ns->path)
    return ns_join_path(time_ns->path, CLONE_NEWTIME, err);
  /* CLONE_NEWTIME does not fit clone()'s flags; unshare gives it to the
   * children we create next, and its offsets are writable until then. */
  if (unshare(CLONE_NEWTIME) < 0)
    return skiff_error_errno(err, "create the time namespace");
  return ns_write_time_offsets(spec->time_offsets, err);
}

/* Clone the init. Moving a process into a cgroup by its pid takes the
 * kernel's cgroup migration lock, which after an idle gap waits for an RCU
 * grace period (5-25 ms here); so the init is created straight into the v2
 * cgroup (clone3 CLONE_INTO_CGROUP) and moves itself into the v1 ones,
 * neither of which takes it (cgroup.h, cgroup_join). Where clone3 cannot do
 * that (an old kernel, a cgroup namespace that hides the cgroup), a plain
 * clone and set_up_child moves the init. */
static pid_t clone_init(struct creation *c, int flags)
{
  c->self_joins = true;
  if (c->join.v2_dir >= 0) {
    struct clone_args args = {.flags = (uint64_t)flags | CLONE_INTO_CGROUP,
                              .exit_signal = SIGCHLD,
                              .cgroup = (uint64_t)c->join.v2_dir};
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0)
      return pid;
    log_debug("container %s: clone3 into its cgroup: %m; moving the init instead",
              c->opts->id);
    c->self_joins = false;
  }
  /* A raw clone without a new stack behaves like fork(), with namespaces. */
  return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL,
                        NULL);
}

static int spawn_child(struct creation *c, skiff_error_t **err)
{
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return skiff_error_errno(err, "socketpair");
  c->sock = pair[0];
  c->child_sock = pair[1];
  if (prepare_parent_namespaces(c->spec, err) < 0)
    return -1;
  int flags = ns_new_flags(c->spec) & ~(CLONE_NEWTIME | CLONE_NEWCGROUP);
  pid_t pid = clone_init(c, flags);
  if (pid < 0)
    return skiff_error_errno(err, "clone the container process");
  if (pid == 0) {
    close(c->sock);
    child_main(c);
  }
  c->pid = pid;
  log_debug("container %s: cloned init %d with namespaces 0x%x", c->opts->id, (int)pid,
            (unsigned)flags);
  close(steal_fd(&c->child_sock));
  close(steal_fd(&c->start_listener));
  cgroup_join_close(&c->join);
  return 0;
}

static int set_up_child(struct creation *c, skiff_error_t **err)
{
  const struct spec_namespace *user = spec_namespace_find(c->spec, CLONE_NEWUSER);
  if (user && user->path == NULL && ns_write_id_maps(c->pid, c->spec, err) < 0)
    return -1;
  if (!c->self_joins && cgroup_enter(c->cg, c->pid, err) < 0)
    return -1;
  if (sync_send(c->sock, SYNC_GO, NULL, 0, -1, err) < 0)
    return -1;
  return serve_child(c, err);
}

static int record_container(struct creation *c, skiff_error_t **err)
{
  cleanup_json json_t *state = build_state(c, "created");
  if (state == NULL)
    return skiff_error_set(err, ENOMEM, "state");
  /* exec needs the process defaults and the seccomp profile even after the
   * bundle is gone: keep our own copy of the config. */
  cleanup_free char *config_path = NULL;
  if (asprintf(&config_path, "%s/config.json", c->dir) < 0 ||
      jsonutil_save_file(config_path, c->spec->json, 0, err) < 0)
    return -1;
  if (state_save(c->opts->root, c->opts->id, state, err) < 0)
    return -1;
  log_debug("container %s: created, init %d waits for start", c->opts->id, (int)c->pid);
  if (c->opts->pid_file) {
    char text[32];
    snprintf(text, sizeof text, "%d", (int)c->pid);
    if (fs_write_file_atomic(c->opts->pid_file, text, strlen(text), 0644, 0, err) < 0)
      return skiff_error_wrap(err, "--pid-file");
  }
  return 0;
}

static void undo_creation(struct creation *c)
{
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if (c->cg) {
    cgroup_kill_all(c->cg, SIGKILL, NULL);
    cgroup_destroy(c->cg, NULL);
  }
  if (c->dir)
    fs_remove_tree(c->dir, NULL);
  if (c->pty_master >= 0)
    close(steal_fd(&c->pty_master));
}

static void release_creation(struct creation *c)
{
  cgroup_join_close(&c->join);
  cgroup_free(c->cg);
  spec_free(c->spec);
  free(c->dir);
  free(c->cgroup_path);
  if (c->sock >= 0)
    close(c->sock);
  if (c->child_sock >= 0)
    close(c->child_sock);
  if (c->start_listener >= 0)
    close(c->start_listener);
}

static int check_terminal(struct creation *c, skiff_error_t **err)
{
  if (c->spec->process->terminal && c->opts->console_socket == NULL && !c->relay_pty)
    return skiff_error_invalid(err,
                               "process.terminal: a terminal needs --console-socket "
                               "when the runtime does not stay attached");
  if (!c->spec->process->terminal && c->opts->console_socket)
    return skiff_error_invalid(err, "--console-socket given but process.terminal is "
                                    "false");
  return 0;
}

static int create_steps(struct creation *c, skiff_error_t **err)
{
  cleanup_free char *warnings = NULL;
  c->spec = spec_load(c->opts->bundle ? c->opts->bundle : ".", &warnings, err);
  if (warnings)
    log_warn("%s", warnings);
  if (c->spec == NULL || check_terminal(c, err) < 0)
    return -1;
  c->cgroup_path =
      cgroup_path_for(c->spec->cgroups_path, c->opts->id, c->opts->systemd_cgroup, err);
  if (c->cgroup_path == NULL || state_create_dir(c->opts->root, c->opts->id, err) < 0)
    return -1;
  log_debug("container %s: bundle %s, rootfs %s, cgroup %s", c->opts->id,
            c->spec->bundle, c->spec->rootfs, c->cgroup_path);
  c->dir = state_dir(c->opts->root, c->opts->id);
  cleanup_free char *sock_path = NULL;
  if (asprintf(&sock_path, "%s/start.sock", c->dir) < 0)
    return skiff_error_set(err, ENOMEM, "start socket");
  c->start_listener = unixsock_listen(sock_path, 1, err);
  if (c->start_listener < 0)
    return -1;
  /* The cgroup, with its limits, before the init it is to hold. */
  c->cg = cgroup_create(c->cgroup_path, c->spec->resources, 0, err);
  if (c->cg == NULL || cgroup_join_open(c->cg, &c->join, err) < 0 ||
      spawn_child(c, err) < 0 || set_up_child(c, err) < 0)
    return -1;
  return record_container(c, err);
}

int container_create(const struct runtime_options *opts, bool relay_pty, pid_t *pid,
                     int *pty_master, skiff_error_t **err)
{
  struct creation c = {.opts = opts,
                       .sock = -1,
                       .child_sock = -1,
                       .start_listener = -1,
                       .pty_master = -1,
                       .relay_pty = relay_pty,
                       .join = {.v2_dir = -1}};
  if (state_check_id(opts->id, err) < 0)
    return -1;
  int ret = create_steps(&c, err);
  if (ret < 0) {
    skiff_error_wrap(err, "create container %s", opts->id);
    undo_creation(&c);
  } else {
    if (pid)
      *pid = c.pid;
    if (pty_master)
      *pty_master = steal_fd(&c.pty_master);
  }
  release_creation(&c);
  return ret;
}
