/* runtime_exec: a new process in a running container. The runtime joins the
 * container's namespaces in a child, which forks the process proper with
 * CLONE_PARENT (so that it is our child, and in the PID namespace); the
 * process joins the container's cgroup itself where it can (created into
 * the v2 one, moving itself on v1: see cgroup_join in cgroup.h), else the
 * runtime moves it; then it execs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "console.h"
#include "namespaces.h"
#include "process.h"
#include "runtime.h"
#include "seccomp.h"
#include "spec.h"
#include "state.h"
#include "sync.h"

/* Join order matters: the user namespace first (it grants the rights to
 * join the others), the mount namespace last. */
static const int join_order[] = {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS,
                                 CLONE_NEWNET,  CLONE_NEWPID, CLONE_NEWCGROUP,
                                 CLONE_NEWTIME, CLONE_NEWNS};
#define NJOIN (sizeof join_order / sizeof join_order[0])

struct exec_job {
  const struct runtime_options *opts;
  struct spec_process *process;
  struct seccomp_program *seccomp;
  int ns_fds[NJOIN];
  int sock, child_sock;
  pid_t pid;
  int pty_master;
  bool keep_pty;     /* the caller takes the pty master (runtime_exec_detached) */
  struct cgroup *cg; /* the container's cgroup, or NULL when it has none */
  struct cgroup_join join;
  bool self_joined;     /* the process joined cg itself (else we move it) */
  json_t *state_public; /* the container's state, for a seccomp agent */
};

json_t *runtime_config(const char *root, const char *id, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (state_check_id(id, err) < 0 || asprintf(&path, "%s/%s/config.json", root, id) < 0)
    return NULL;
  if (access(path, F_OK) < 0) {
    skiff_error_set(err, ENOENT, "container %s does not exist", id);
    return NULL;
  }
  return jsonutil_load_file(path, err);
}

/* Open the init's namespaces that differ from ours. */
static int open_namespaces(struct exec_job *job, pid_t pid, skiff_error_t **err)
{
  for (size_t i = 0; i < NJOIN; i++) {
    const char *name = spec_namespace_proc_name(join_order[i]);
    char theirs[64], ours[64];
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)pid, name);
    snprintf(ours, sizeof ours, "/proc/self/ns/%s", name);
    struct stat a, b;
    if (stat(theirs, &a) < 0 || (stat(ours, &b) == 0 && a.st_ino == b.st_ino))
      continue;
    job->ns_fds[i] = open(theirs, O_RDONLY | O_CLOEXEC);
    if (job->ns_fds[i] < 0)
      return skiff_error_errno(err, "open %s", theirs);
  }
  return 0;
}

static int exec_child_setup(struct exec_job *job, char **exe, skiff_error_t **err)
{
  const struct spec_process *p = job->process;
  if (p->terminal) {
    int master = -1, slave = -1;
    if (console_open_pty(&master, &slave, err) < 0)
      return -1;
    console_set_size(master, p->console_height, p->console_width);
    int ret = sync_send(job->child_sock, SYNC_PTY, NULL, 0, master, err);
    close(master);
    if (ret < 0 || sync_expect(job->child_sock, SYNC_PTY_DONE, err) < 0 ||
        console_attach_stdio(slave, err) < 0)
      return -1;
    if (slave > 2)
      close(slave);
  }
  if (process_apply_limits(p, err) < 0 || process_enter_cwd(p, err) < 0)
    return -1;
  if ((*exe = process_find_executable(p, err)) == NULL ||
      process_default_home(job->process, err) < 0)
    return -1;
  if (process_load_seccomp_for_agent(p, &job->seccomp, job->child_sock, err) < 0)
    return -1;
  return process_apply_credentials(p, job->seccomp, err);
}

/* The cgroup namespace is joined by the process itself, after its cgroup:
 * the kernel checks CLONE_INTO_CGROUP against the creator's cgroup
 * namespace, in which the container's cgroup must be visible. */
static int join_cgroup(struct exec_job *job, skiff_error_t **err)
{
  int *cgroupns = NULL;
  for (size_t i = 0; i < NJOIN; i++)
    if (join_order[i] == CLONE_NEWCGROUP)
      cgroupns = &job->ns_fds[i];
  if (job->self_joined && cgroup_join_self(&job->join, err) < 0)
    return -1;
  if (*cgroupns >= 0 && setns(*cgroupns, CLONE_NEWCGROUP) < 0)
    return skiff_error_errno(err, "join the container's cgroup namespace");
  return 0;
}

static __attribute__((noreturn)) void exec_process(struct exec_job *job)
{
  skiff_error_t *err = NULL;
  if (join_cgroup(job, &err) < 0)
    sync_fail(job->child_sock, err);
  int keep[] = {job->child_sock, -1};
  process_close_fds(3 + job->opts->preserve_fds, keep);
  if (sync_expect(job->child_sock, SYNC_GO, &err) < 0)
    _exit(1);
  char *exe = NULL;
  if (exec_child_setup(job, &exe, &err) < 0)
    sync_fail(job->child_sock, err);
  process_exec(job->process, exe, job->seccomp, &err);
  sync_fail(job->child_sock, err);
}

/* The intermediate child: join, fork the process as our parent's child,
 * report its pid, and leave. */
/* The process, created in the container's v2 cgroup when there is one;
 * *joined says whether it is to join the rest itself. */
static pid_t fork_process(struct exec_job *job, bool *joined)
{
  /* With CLONE_PARENT clone3 takes no exit_signal: the child gets ours
   * (SIGCHLD), and our parent, the runtime's caller, reaps it. */
  struct clone_args args = {.flags = CLONE_PARENT | CLONE_INTO_CGROUP,
                            .cgroup = (uint64_t)job->join.v2_dir};
  *joined = job->cg != NULL && job->join.v2_dir >= 0;
  if (*joined) {
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0)
      return pid;
    *joined = false; /* an old kernel, or a user namespace's permissions */
  }
  *joined = job->cg != NULL && job->join.v2_dir < 0 && job->join.n_v1 > 0;
  return (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), NULL, NULL,
                        NULL, NULL);
}

static __attribute__((noreturn)) void join_and_fork(struct exec_job *job)
{
  skiff_error_t *err = NULL;
  for (size_t i = 0; i < NJOIN; i++) {
    if (join_order[i] == CLONE_NEWCGROUP)
      continue; /* the process joins it (join_cgroup) */
    if (job->ns_fds[i] >= 0 && setns(job->ns_fds[i], join_order[i]) < 0) {
      skiff_error_errno(&err, "join the container's %s namespace",
                        spec_namespace_proc_name(join_order[i]));
      sync_fail(job->child_sock, err);
    }
    if (job->ns_fds[i] >= 0)
      close(steal_fd(&job->ns_fds[i]));
  }
  bool joined = false;
  pid_t pid = fork_process(job, &joined);
  if (pid < 0) {
    skiff_error_errno(&err, "fork the exec process");
    sync_fail(job->child_sock, err);
  }
  if (pid == 0) {
    job->self_joined = joined;
    exec_process(job);
  }
  int value[2] = {(int)pid, joined};
  sync_send(job->child_sock, SYNC_PID, value, sizeof value, -1, NULL);
  _exit(0);
}

static int receive_pid(struct exec_job *job, pid_t child, skiff_error_t **err)
{
  enum sync_msg type;
  cleanup_free char *payload = NULL;
  int ret = sync_recv(job->sock, &type, &payload, NULL, err);
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR)
    ;
  if (ret < 0)
    return -1;
  if (type == SYNC_ERROR)
    return skiff_error_set(err, 0, "%s", payload);
  if (type != SYNC_PID)
    return skiff_error_set(err, EPROTO, "unexpected message %d", type);
  int value[2];
  memcpy(value, payload, sizeof value);
  job->pid = value[0];
  job->self_joined = value[1];
  return 0;
}

/* The agent gets the container's state with the exec'd process's pid, in
 * runtime-spec's ContainerProcessState form. */
static int hand_to_seccomp_agent(struct exec_job *job, int notify_fd,
                                 skiff_error_t **err)
{
  cleanup_json json_t *msg =
      json_pack("{s:s, s:[s], s:i, s:O}", "ociVersion", "1.1.0", "fds", "seccompFd",
                "pid", (int)job->pid, "state", job->state_public);
  cleanup_free char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  int ret = text ? seccomp_send_listener_fd(job->seccomp, notify_fd, text, err)
                 : skiff_error_set(err, ENOMEM, "seccomp agent message");
  close(notify_fd);
  if (ret < 0)
    return -1;
  return sync_send(job->sock, SYNC_SECCOMP_DONE, NULL, 0, -1, err);
}

/* Until the process execs: forward its pty, report its errors. The exec
 * itself shows as the socket closing (it is close-on-exec). */
static int serve_exec(struct exec_job *job, skiff_error_t **err)
{
  for (;;) {
    enum sync_msg type;
    cleanup_free char *payload = NULL;
    int fd = -1;
    skiff_error_t *recv_err = NULL;
    if (sync_recv(job->sock, &type, &payload, &fd, &recv_err) < 0) {
      bool exec_done = recv_err->status == EPIPE;
      skiff_error_free(&recv_err);
      return exec_done ? 0 : skiff_error_set(err, EIO, "exec: lost the process");
    }
    if (type == SYNC_ERROR)
      return skiff_error_set(err, 0, "%s", payload);
    if (type == SYNC_SECCOMP && fd >= 0) {
      if (hand_to_seccomp_agent(job, fd, err) < 0)
        return -1;
      continue;
    }
    if (type != SYNC_PTY || fd < 0)
      return skiff_error_set(err, EPROTO, "unexpected message %d", type);
    if (job->opts->console_socket) {
      int ret = console_send_master(job->opts->console_socket, fd, err);
      close(fd);
      if (ret < 0)
        return -1;
    } else {
      job->pty_master = fd;
    }
    if (sync_send(job->sock, SYNC_PTY_DONE, NULL, 0, -1, err) < 0)
      return -1;
  }
}

static int start_process(struct exec_job *job, json_t *state, skiff_error_t **err)
{
  const char *cgroup_path =
      json_string_value(json_object_get(json_object_get(state, "skiff"), "cgroupPath"));
  if (cgroup_path && ((job->cg = cgroup_open(cgroup_path, err)) == NULL ||
                      cgroup_join_open(job->cg, &job->join, err) < 0))
    return -1;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return skiff_error_errno(err, "socketpair");
  job->sock = pair[0];
  job->child_sock = pair[1];
  pid_t child = fork();
  if (child < 0)
    return skiff_error_errno(err, "fork");
  if (child == 0) {
    close(job->sock);
    join_and_fork(job);
  }
  close(steal_fd(&job->child_sock));
  if (receive_pid(job, child, err) < 0)
    return -1;
  if (job->cg && !job->self_joined && cgroup_enter(job->cg, job->pid, err) < 0)
    return -1;
  log_debug("container %s: exec process %d", job->opts->id, (int)job->pid);
  if (sync_send(job->sock, SYNC_GO, NULL, 0, -1, err) < 0)
    return -1;
  return serve_exec(job, err);
}

static int wait_exit(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return 255;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int prepare_job(struct exec_job *job, json_t *state, json_t *process,
                       skiff_error_t **err)
{
  const struct runtime_options *opts = job->opts;
  const char *status = state_status(state);
  if (strcmp(status, "running") != 0 && strcmp(status, "created") != 0)
    return skiff_error_set(err, EINVAL, "cannot exec in a %s container", status);
  cleanup_free char *warnings = NULL;
  job->process = spec_process_parse(process, "process", &warnings, err);
  if (warnings)
    log_warn("%s", warnings);
  if (job->process == NULL)
    return -1;
  if (job->process->terminal && opts->console_socket == NULL && opts->detach &&
      !job->keep_pty)
    return skiff_error_invalid(err, "a terminal needs --console-socket with --detach");
  cleanup_json json_t *config = runtime_config(opts->root, opts->id, err);
  if (config == NULL)
    return -1;
  if (seccomp_program_build(
          json_object_get(json_object_get(config, "linux"), "seccomp"), &job->seccomp,
          err) < 0)
    return -1;
  job->state_public = state_public(state);
  return open_namespaces(job, state_live_pid(state), err);
}

static void release_job(struct exec_job *job)
{
  for (size_t i = 0; i < NJOIN; i++)
    if (job->ns_fds[i] >= 0)
      close(job->ns_fds[i]);
  if (job->sock >= 0)
    close(job->sock);
  if (job->pty_master >= 0)
    close(job->pty_master);
  cgroup_join_close(&job->join);
  cgroup_free(job->cg);
  spec_process_free(job->process);
  json_decref(job->state_public);
  seccomp_program_free(job->seccomp);
}

static int exec_steps(struct exec_job *job, json_t *process, int *exit_status,
                      skiff_error_t **err)
{
  cleanup_json json_t *state = state_load(job->opts->root, job->opts->id, err);
  if (state == NULL || prepare_job(job, state, process, err) < 0 ||
      start_process(job, state, err) < 0)
    return -1;
  if (job->opts->pid_file) {
    char text[32];
    snprintf(text, sizeof text, "%d", (int)job->pid);
    if (fs_write_file_atomic(job->opts->pid_file, text, strlen(text), 0644, 0, err) < 0)
      return skiff_error_wrap(err, "--pid-file");
  }
  if (job->opts->detach) {
    *exit_status = 0;
    return 0;
  }
  if (job->pty_master >= 0)
    console_relay(job->pty_master, NULL);
  *exit_status = wait_exit(job->pid);
  return 0;
}

static int run_job(struct exec_job *job, json_t *process, int *exit_status,
                   skiff_error_t **err)
{
  for (size_t i = 0; i < NJOIN; i++)
    job->ns_fds[i] = -1;
  int ret = exec_steps(job, process, exit_status, err);
  if (ret < 0 && job->pid > 0) {
    kill(job->pid, SIGKILL);
    wait_exit(job->pid);
  }
  return ret;
}

int runtime_exec(const struct runtime_options *opts, json_t *process, int *exit_status,
                 skiff_error_t **err)
{
  struct exec_job job = {.opts = opts,
                         .sock = -1,
                         .child_sock = -1,
                         .pty_master = -1,
                         .join = {.v2_dir = -1}};
  int ret = run_job(&job, process, exit_status, err);
  release_job(&job);
  return ret;
}

int runtime_exec_detached(const struct runtime_options *opts, json_t *process,
                          pid_t *pid, int *pty_master, skiff_error_t **err)
{
  struct runtime_options detached = *opts;
  detached.detach = true;
  struct exec_job job = {.opts = &detached,
                         .sock = -1,
                         .child_sock = -1,
                         .pty_master = -1,
                         .keep_pty = true,
                         .join = {.v2_dir = -1}};
  int ignored = 0;
  int ret = run_job(&job, process, &ignored, err);
  *pid = ret < 0 ? 0 : job.pid;
  *pty_master = ret < 0 ? -1 : steal_fd(&job.pty_master);
  release_job(&job);
  return ret;
}
