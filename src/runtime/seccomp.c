/* linux.seccomp (runtime-spec 1.1) through libseccomp.
 *
 * seccomp_program_build turns the JSON into a libseccomp filter and has
 * libseccomp compile it to classic BPF right away; the program keeps only
 * the instructions and the seccomp(2) flags. Loading is then one system
 * call: the container process does it after fork, right before execve,
 * when it must not allocate (the parent may have been multi-threaded, so
 * malloc's locks may be held by threads that no longer exist) and cannot
 * report much. libseccomp's own seccomp_load would generate the BPF at
 * that point and only knows the filter flags its version knows (2.5.4 has
 * no WAIT_KILLABLE_RECV). crun and runc load the same way: libseccomp
 * generates, the runtime calls seccomp(2).
 *
 * Privilege contract: the kernel accepts a filter only from a task that
 * has no_new_privs set or CAP_SYS_ADMIN in its user namespace. skiff,
 * like runc, never sets no_new_privs on its own here: with
 * process.noNewPrivileges the caller sets it first; without it the caller
 * must load the filter while it still has CAP_SYS_ADMIN, i.e. before
 * dropping capabilities and switching user (runc does the same). */
#include "seccomp.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
/* libseccomp's header: runtime_lib sets implicit_include_directories
 * false so that this does not find our own seccomp.h. */
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* A syscall has at most six arguments. */
#define SYSCALL_MAX_ARGS 6
/* runc turns on libseccomp's binary-tree layout above this many rules:
 * libseccomp <= 2.5.4 misgenerates it for an empty filter and it only pays
 * off for long lists. */
#define OPTIMIZE_MIN_RULES 32

struct seccomp_program {
  struct sock_filter *insns;
  unsigned short len;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
  bool wants_listener;
  char *listener_path;
  char *listener_metadata;
};

/* Tables in name order: seccomp_features lists them as they are. */
struct named_action {
  const char *name;
  uint32_t action;
  bool takes_errno; /* the low 16 bits carry errnoRet */
};

static const struct named_action actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
};

struct named_operator {
  const char *name;
  enum scmp_compare op;
};

static const struct named_operator operators[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

/* Every architecture libseccomp 2.5.4 knows. */
struct named_arch {
  const char *name;
  uint32_t token;
};

static const struct named_arch archs[] = {
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
};

/* Filter flags, passed to seccomp(2) as they are: each needs only the
 * kernel, so support is probed there (see flag_supported). */
struct named_flag {
  const char *name;
  unsigned int flag;
};

static const struct named_flag filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void cleanup_filter_fn(scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release(*ctx);
}
#define cleanup_filter __attribute__((cleanup(cleanup_filter_fn)))

static void cleanup_program_fn(struct seccomp_program **prog)
{
  seccomp_program_free(*prog);
}
#define cleanup_program __attribute__((cleanup(cleanup_program_fn)))

/* True when the running kernel knows flag. seccomp(2) checks the flags
 * before it reads the program, so a NULL program gives EFAULT for a known
 * flag and EINVAL for an unknown one, without installing anything.
 * WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER. */
static bool flag_supported(unsigned int flag)
{
  if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  errno = 0;
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL);
  return rc < 0 && errno == EFAULT;
}

/* Read <action_key> (and <errno_key>) of obj into *out. */
static int parse_action(json_t *obj, const char *action_key, const char *errno_key,
                        const char *where, uint32_t *out, skiff_error_t **err)
{
  const char *name = NULL;
  if (jsonutil_req_string(obj, action_key, &name, where, err) < 0)
    return -1;
  const struct named_action *found = NULL;
  for (size_t i = 0; i < N_ELEMENTS(actions); i++)
    if (strcmp(actions[i].name, name) == 0)
      found = &actions[i];
  if (found == NULL)
    return skiff_error_invalid(err, "%s.%s: unknown action \"%s\"", where, action_key,
                               name);

  bool has_errno = json_object_get(obj, errno_key) != NULL &&
                   !json_is_null(json_object_get(obj, errno_key));
  uint64_t errno_ret = EPERM; /* the spec's default for ERRNO and TRACE */
  if (jsonutil_opt_uint64(obj, errno_key, &errno_ret, where, err) < 0)
    return -1;
  if (has_errno && !found->takes_errno)
    return skiff_error_invalid(err, "%s.%s: not allowed with action %s", where,
                               errno_key, name);
  if (errno_ret > 0xffff)
    return skiff_error_invalid(err, "%s.%s: %" PRIu64 " is out of range (0-65535)",
                               where, errno_key, errno_ret);
  *out = found->takes_errno ? found->action | (uint32_t)errno_ret : found->action;
  return 0;
}

static int parse_arg(json_t *arg, const char *where, struct scmp_arg_cmp *out,
                     skiff_error_t **err)
{
  if (!json_is_object(arg))
    return skiff_error_invalid(err, "%s: expected object, got %s", where,
                               jsonutil_type_name(arg));
  if (json_object_get(arg, "index") == NULL)
    return skiff_error_invalid(err, "%s.index: missing", where);
  if (json_object_get(arg, "value") == NULL)
    return skiff_error_invalid(err, "%s.value: missing", where);
  uint64_t index = 0, value = 0, value_two = 0;
  const char *op_name = NULL;
  if (jsonutil_opt_uint64(arg, "index", &index, where, err) < 0 ||
      jsonutil_opt_uint64(arg, "value", &value, where, err) < 0 ||
      jsonutil_opt_uint64(arg, "valueTwo", &value_two, where, err) < 0 ||
      jsonutil_req_string(arg, "op", &op_name, where, err) < 0)
    return -1;
  if (index >= SYSCALL_MAX_ARGS)
    return skiff_error_invalid(err, "%s.index: %" PRIu64 " is out of range (0-5)",
                               where, index);
  const struct named_operator *op = NULL;
  for (size_t i = 0; i < N_ELEMENTS(operators); i++)
    if (strcmp(operators[i].name, op_name) == 0)
      op = &operators[i];
  if (op == NULL)
    return skiff_error_invalid(err, "%s.op: unknown operator \"%s\"", where, op_name);
  /* For SCMP_CMP_MASKED_EQ libseccomp reads (mask, datum) from the same two
   * fields, which is what the spec's value/valueTwo mean there. */
  *out = (struct scmp_arg_cmp){
      .arg = (unsigned)index, .op = op->op, .datum_a = value, .datum_b = value_two};
  return 0;
}

/* Conditions of one syscalls[] entry. *separate is set when two conditions
 * test the same argument: libseccomp refuses that in one rule, so each
 * condition becomes a rule of its own (an OR), as runc does. */
static int parse_args(json_t *entry, const char *where, struct scmp_arg_cmp **out,
                      size_t *count, bool *separate, skiff_error_t **err)
{
  json_t *args = NULL;
  if (jsonutil_opt_array(entry, "args", &args, where, err) < 0)
    return -1;
  size_t n = args ? json_array_size(args) : 0;
  cleanup_free struct scmp_arg_cmp *conds = calloc(n + 1, sizeof(*conds));
  if (conds == NULL)
    return skiff_error_set(err, ENOMEM, "%s.args", where);
  unsigned seen = 0;
  *separate = false;
  for (size_t i = 0; i < n; i++) {
    char arg_where[96];
    snprintf(arg_where, sizeof arg_where, "%s.args[%zu]", where, i);
    if (parse_arg(json_array_get(args, i), arg_where, &conds[i], err) < 0)
      return -1;
    if (seen & (1u << conds[i].arg))
      *separate = true;
    seen |= 1u << conds[i].arg;
  }
  *out = steal_pointer(&conds);
  *count = n;
  return 0;
}

struct builder {
  scmp_filter_ctx ctx;
  uint32_t default_action;
  size_t rules;
};

static int add_rule(struct builder *b, uint32_t action, int nr, const char *name,
                    const struct scmp_arg_cmp *conds, size_t n, const char *where,
                    skiff_error_t **err)
{
  int rc = seccomp_rule_add_array(b->ctx, action, nr, (unsigned)n, conds);
  if (rc < 0)
    return skiff_error_set(err, -rc, "%s: add rule for syscall %s", where, name);
  b->rules++;
  return 0;
}

static int add_syscall_entry(struct builder *b, json_t *entry, size_t index,
                             skiff_error_t **err)
{
  char where[64];
  snprintf(where, sizeof where, "linux.seccomp.syscalls[%zu]", index);
  if (!json_is_object(entry))
    return skiff_error_invalid(err, "%s: expected object, got %s", where,
                               jsonutil_type_name(entry));

  uint32_t action = 0;
  if (parse_action(entry, "action", "errnoRet", where, &action, err) < 0)
    return -1;
  if (json_object_get(entry, "names") == NULL)
    return skiff_error_invalid(err, "%s.names: missing", where);
  cleanup_strv char **names = NULL;
  if (jsonutil_opt_strv(entry, "names", &names, where, err) < 0)
    return -1;
  if (names[0] == NULL)
    return skiff_error_invalid(err, "%s.names: must name at least one syscall", where);
  cleanup_free struct scmp_arg_cmp *conds = NULL;
  size_t nconds = 0;
  bool separate = false;
  if (parse_args(entry, where, &conds, &nconds, &separate, err) < 0)
    return -1;

  for (size_t i = 0; names[i]; i++) {
    const char *name = names[i];
    if (*name == '\0')
      return skiff_error_invalid(err, "%s.names[%zu]: empty syscall name", where, i);
    /* The container process still has to hand the listener fd over after
     * loading; runc refuses a notifying write for that reason and so do we,
     * so a profile behaves the same under both. */
    if (action == SCMP_ACT_NOTIFY && strcmp(name, "write") == 0)
      return skiff_error_invalid(
          err, "%s.names[%zu]: SCMP_ACT_NOTIFY cannot be used for write", where, i);
    /* libseccomp refuses a rule that repeats the default action. */
    if (action == b->default_action)
      continue;
    /* Profiles list syscalls of newer kernels (and other architectures'
     * syscalls, which resolve to libseccomp's negative pseudo numbers and
     * are placed per architecture); a name libseccomp does not know at all
     * is skipped, as runc does. */
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
      continue;
    if (!separate) {
      if (add_rule(b, action, nr, name, conds, nconds, where, err) < 0)
        return -1;
      continue;
    }
    for (size_t c = 0; c < nconds; c++)
      if (add_rule(b, action, nr, name, &conds[c], 1, where, err) < 0)
        return -1;
  }
  return 0;
}

static int add_architectures(scmp_filter_ctx ctx, json_t *seccomp, skiff_error_t **err)
{
  cleanup_strv char **names = NULL;
  if (jsonutil_opt_strv(seccomp, "architectures", &names, "linux.seccomp", err) < 0)
    return -1;
  for (size_t i = 0; names[i]; i++) {
    const struct named_arch *arch = NULL;
    for (size_t a = 0; a < N_ELEMENTS(archs); a++)
      if (strcmp(archs[a].name, names[i]) == 0)
        arch = &archs[a];
    if (arch == NULL)
      return skiff_error_invalid(
          err, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
          names[i]);
    int rc = seccomp_arch_add(ctx, arch->token);
    /* EEXIST: the native one is always there. EDOM: libseccomp keeps one
     * byte order per filter, and this host never makes a syscall in the
     * other (big-endian MIPS, PPC, S390 on x86), so dropping such an entry
     * loses nothing and keeps all-architecture profiles portable. */
    if (rc < 0 && rc != -EEXIST && rc != -EDOM)
      return skiff_error_set(err, -rc, "linux.seccomp.architectures[%zu]: add %s", i,
                             names[i]);
  }
  return 0;
}

/* The seccomp(2) flags for linux.seccomp.flags. */
static int parse_flags(json_t *seccomp, bool wants_listener, unsigned int *out,
                       skiff_error_t **err)
{
  cleanup_strv char **names = NULL;
  if (jsonutil_opt_strv(seccomp, "flags", &names, "linux.seccomp", err) < 0)
    return -1;
  unsigned int flags = 0;
  for (size_t i = 0; names[i]; i++) {
    const struct named_flag *f = NULL;
    for (size_t k = 0; k < N_ELEMENTS(filter_flags); k++)
      if (strcmp(filter_flags[k].name, names[i]) == 0)
        f = &filter_flags[k];
    if (f == NULL)
      return skiff_error_invalid(err, "linux.seccomp.flags[%zu]: unknown flag \"%s\"",
                                 i, names[i]);
    if (!flag_supported(f->flag))
      return skiff_error_invalid(
          err, "linux.seccomp.flags[%zu]: %s is not supported by this kernel", i,
          names[i]);
    flags |= f->flag;
  }
  if (wants_listener)
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  /* WAIT_KILLABLE_RECV only changes how a notifying task waits for its
   * listener; the kernel refuses it on a filter without one, where it means
   * nothing, so it is dropped there rather than failing the container. */
  else
    flags &= ~(unsigned int)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  /* The kernel refuses TSYNC next to NEW_LISTENER unless told to report a
   * thread it cannot synchronise as ESRCH (the listener fd takes the return
   * value that would otherwise name that thread). */
  if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && wants_listener)
    flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  *out = flags;
  return 0;
}

/* True when some syscalls[] entry has action SCMP_ACT_NOTIFY. Run before
 * the filter exists so that the flags and the listener checks can use it. */
static bool uses_notify(json_t *syscalls)
{
  size_t i;
  json_t *entry;
  json_array_foreach(syscalls, i, entry)
  {
    json_t *action = json_object_get(entry, "action");
    if (json_is_string(action) &&
        strcmp(json_string_value(action), "SCMP_ACT_NOTIFY") == 0)
      return true;
  }
  return false;
}

/* Have libseccomp compile ctx and keep the instructions in prog. */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_program *prog,
                      skiff_error_t **err)
{
  cleanup_close int fd = memfd_create("skiff-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return skiff_error_errno(err, "memfd_create for the seccomp filter");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0)
    return skiff_error_set(err, -rc, "generate the seccomp filter");
  struct stat st;
  if (fstat(fd, &st) < 0)
    return skiff_error_errno(err, "stat the seccomp filter");
  size_t len = (size_t)st.st_size / sizeof(struct sock_filter);
  if (len == 0 || len > BPF_MAXINSNS)
    return skiff_error_invalid(err,
                               "linux.seccomp: the filter has %zu instructions, "
                               "the kernel takes 1 to %d",
                               len, BPF_MAXINSNS);
  prog->insns = calloc(len, sizeof(struct sock_filter));
  if (prog->insns == NULL)
    return skiff_error_set(err, ENOMEM, "seccomp filter");
  size_t want = len * sizeof(struct sock_filter), done = 0;
  while (done < want) {
    ssize_t n = pread(fd, (char *)prog->insns + done, want - done, (off_t)done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return skiff_error_set(err, n < 0 ? errno : EIO, "read the seccomp filter");
    done += (size_t)n;
  }
  prog->len = (unsigned short)len;
  return 0;
}

static int read_listener(json_t *seccomp, bool wants_listener,
                         struct seccomp_program *prog, skiff_error_t **err)
{
  const char *path = NULL, *metadata = NULL;
  if (jsonutil_opt_string(seccomp, "listenerPath", &path, "linux.seccomp", err) < 0 ||
      jsonutil_opt_string(seccomp, "listenerMetadata", &metadata, "linux.seccomp",
                          err) < 0)
    return -1;
  if (path && *path == '\0')
    path = NULL;
  if (wants_listener && path == NULL)
    return skiff_error_invalid(
        err, "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
  if (path && strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return skiff_error_invalid(err, "linux.seccomp.listenerPath: \"%s\" is too long",
                               path);
  if ((path && (prog->listener_path = strdup(path)) == NULL) ||
      (metadata && (prog->listener_metadata = strdup(metadata)) == NULL))
    return skiff_error_set(err, ENOMEM, "linux.seccomp.listenerPath");
  return 0;
}

static int build_filter(json_t *seccomp, struct seccomp_program *prog,
                        skiff_error_t **err)
{
  struct builder b = {0};
  if (parse_action(seccomp, "defaultAction", "defaultErrnoRet", "linux.seccomp",
                   &b.default_action, err) < 0)
    return -1;
  /* Every syscall would wait for the agent, including the ones the runtime
   * still makes to hand it the listener. runc refuses it too. */
  if (b.default_action == SCMP_ACT_NOTIFY)
    return skiff_error_invalid(
        err, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");

  json_t *syscalls = NULL;
  if (jsonutil_opt_array(seccomp, "syscalls", &syscalls, "linux.seccomp", err) < 0)
    return -1;
  prog->wants_listener = syscalls && uses_notify(syscalls);
  if (prog->wants_listener && seccomp_api_get() < 5)
    return skiff_error_invalid(err,
                               "linux.seccomp: SCMP_ACT_NOTIFY needs libseccomp "
                               ">= 2.5 and Linux >= 5.0 (API level %u)",
                               seccomp_api_get());
  if (read_listener(seccomp, prog->wants_listener, prog, err) < 0 ||
      parse_flags(seccomp, prog->wants_listener, &prog->flags, err) < 0)
    return -1;

  cleanup_filter scmp_filter_ctx ctx = seccomp_init(b.default_action);
  if (ctx == NULL)
    return skiff_error_invalid(err, "linux.seccomp.defaultAction: not supported by "
                                    "libseccomp or this kernel");
  b.ctx = ctx;
  if (add_architectures(ctx, seccomp, err) < 0)
    return -1;
  size_t i;
  json_t *entry;
  json_array_foreach(syscalls, i, entry)
  {
    if (add_syscall_entry(&b, entry, i, err) < 0)
      return -1;
  }
  if (b.rules > OPTIMIZE_MIN_RULES)
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* best effort */
  return export_bpf(ctx, prog, err);
}

int seccomp_program_build(json_t *seccomp, struct seccomp_program **out,
                          skiff_error_t **err)
{
  *out = NULL;
  if (seccomp == NULL || json_is_null(seccomp))
    return 0;
  if (!json_is_object(seccomp))
    return skiff_error_invalid(err, "linux.seccomp: expected object, got %s",
                               jsonutil_type_name(seccomp));
  cleanup_program struct seccomp_program *prog = calloc(1, sizeof(*prog));
  if (prog == NULL)
    return skiff_error_set(err, ENOMEM, "linux.seccomp");
  if (build_filter(seccomp, prog, err) < 0)
    return -1;
  *out = steal_pointer(&prog);
  return 0;
}

bool seccomp_program_wants_listener(const struct seccomp_program *prog)
{
  return prog != NULL && prog->wants_listener;
}

/* Async-signal-safe on success: no allocation, one system call. */
int seccomp_program_load(struct seccomp_program *prog, int *notify_fd,
                         skiff_error_t **err)
{
  if (notify_fd)
    *notify_fd = -1;
  if (prog == NULL)
    return 0;
  struct sock_fprog fprog = {.len = prog->len, .filter = prog->insns};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &fprog);
  if (rc < 0) {
    if (errno == EACCES)
      return skiff_error_errno(err, "load seccomp filter (needs no_new_privs or "
                                    "CAP_SYS_ADMIN)");
    return skiff_error_errno(err, "load seccomp filter");
  }
  /* The listener fd is O_CLOEXEC from the kernel: it never reaches the
   * container's program. Unwanted, it is closed, and notified syscalls then
   * fail with ENOSYS instead of waiting forever. */
  if (prog->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
    if (notify_fd)
      *notify_fd = (int)rc;
    else
      close((int)rc);
  }
  return 0;
}

void seccomp_program_free(struct seccomp_program *prog)
{
  if (prog == NULL)
    return;
  free(prog->insns);
  free(prog->listener_path);
  free(prog->listener_metadata);
  free(prog);
}

/* The message for the agent: runtime-spec's ContainerProcessState
 * {"ociVersion","fds":["seccompFd"],"pid","metadata","state"}. state_json
 * is either the container's state (then this wraps it, with its pid) or an
 * already built ContainerProcessState (recognised by its "fds" and "state";
 * exec passes that, since its pid is not the init's). */
static char *listener_message(const struct seccomp_program *prog,
                              const char *state_json, skiff_error_t **err)
{
  json_error_t jerr;
  cleanup_json json_t *state = json_loads(state_json ? state_json : "", 0, &jerr);
  if (!json_is_object(state)) {
    skiff_error_invalid(err, "seccomp listener: the container state is not a "
                             "JSON object");
    return NULL;
  }
  cleanup_json json_t *msg = NULL;
  if (json_is_array(json_object_get(state, "fds")) &&
      json_is_object(json_object_get(state, "state"))) {
    msg = json_incref(state);
  } else {
    json_t *version = json_object_get(state, "ociVersion");
    json_t *pid = json_object_get(state, "pid");
    msg = json_pack("{s:s, s:[s], s:I, s:O}", "ociVersion",
                    json_is_string(version) ? json_string_value(version) : "1.1.0",
                    "fds", "seccompFd", "pid",
                    (json_int_t)(json_is_integer(pid) ? json_integer_value(pid) : 0),
                    "state", state);
  }
  if (msg && prog->listener_metadata && *prog->listener_metadata &&
      json_object_get(msg, "metadata") == NULL)
    json_object_set_new(msg, "metadata", json_string(prog->listener_metadata));
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  if (text == NULL)
    skiff_error_set(err, ENOMEM, "seccomp listener message");
  return text;
}

/* One sendmsg carries the first bytes and the fd (SCM_RIGHTS), as runc's
 * SendRawFd; a stream socket may take the rest in further writes. */
static int send_with_fd(int sock, const char *body, size_t len, int fd,
                        const char *path, skiff_error_t **err)
{
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)body, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

  ssize_t n;
  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error_errno(err, "send the seccomp fd to %s", path);
  for (size_t done = (size_t)n; done < len; done += (size_t)n) {
    n = send(sock, body + done, len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      n = 0;
      continue;
    }
    if (n < 0)
      return skiff_error_errno(err, "send the container state to %s", path);
  }
  return 0;
}

int seccomp_send_listener_fd(const struct seccomp_program *prog, int notify_fd,
                             const char *state_json, skiff_error_t **err)
{
  if (prog == NULL || prog->listener_path == NULL)
    return skiff_error_invalid(err, "linux.seccomp.listenerPath: not set");
  if (notify_fd < 0)
    return skiff_error_invalid(err, "seccomp listener: no notification fd");
  cleanup_free char *body = listener_message(prog, state_json, err);
  if (body == NULL)
    return -1;

  cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return skiff_error_errno(err, "socket for the seccomp agent");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  /* Length checked when the program was built. */
  memcpy(addr.sun_path, prog->listener_path, strlen(prog->listener_path) + 1);
  int rc;
  do
    rc = connect(sock, (struct sockaddr *)&addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return skiff_error_errno(err, "connect to the seccomp agent at %s",
                             prog->listener_path);
  return send_with_fd(sock, body, strlen(body), notify_fd, prog->listener_path, err);
}

static json_t *names_array(const void *table, size_t count, size_t stride)
{
  json_t *array = json_array();
  for (size_t i = 0; array && i < count; i++) {
    const char *name = *(const char *const *)((const char *)table + i * stride);
    json_array_append_new(array, json_string(name));
  }
  return array;
}

json_t *seccomp_features(void)
{
  json_t *supported = json_array();
  for (size_t i = 0; supported && i < N_ELEMENTS(filter_flags); i++)
    if (flag_supported(filter_flags[i].flag))
      json_array_append_new(supported, json_string(filter_flags[i].name));
  return json_pack(
      "{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions",
      names_array(actions, N_ELEMENTS(actions), sizeof(actions[0])), "operators",
      names_array(operators, N_ELEMENTS(operators), sizeof(operators[0])), "archs",
      names_array(archs, N_ELEMENTS(archs), sizeof(archs[0])), "knownFlags",
      names_array(filter_flags, N_ELEMENTS(filter_flags), sizeof(filter_flags[0])),
      "supportedFlags", supported);
}
