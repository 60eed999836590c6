#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <seccomp.h> /* libseccomp: the notification API the agent side uses */
#include <signal.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "runtime/seccomp.h"

static json_t *parse(const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL)
    fail_msg("bad test JSON: %s: %s", jerr.text, text);
  return j;
}

static struct seccomp_program *build_ok(const char *text)
{
  cleanup_json json_t *json = parse(text);
  struct seccomp_program *prog = NULL;
  skiff_error_t *err = NULL;
  if (seccomp_program_build(json, &prog, &err) < 0)
    fail_msg("build failed: %s\nprofile: %s", err->msg, text);
  assert_non_null(prog);
  return prog;
}

/* Fork; the child loads prog and exits with check()'s result (0 = as
 * expected). Returns the child's wait status. */
static int run_in_child(struct seccomp_program *prog, int (*check)(void))
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS would dump core */
    /* Lets the tests run unprivileged too (no CAP_SYS_ADMIN needed). */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (seccomp_program_load(prog, NULL, NULL) < 0)
      _exit(100);
    _exit(check());
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return status;
}

static void assert_child_succeeded(int status)
{
  if (!WIFEXITED(status))
    fail_msg("child killed by signal %d", WTERMSIG(status));
  if (WEXITSTATUS(status) == 100)
    fail_msg("child could not load the filter");
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- building: good and bad profiles ---- */

static void test_absent_seccomp_builds_no_program(void **state)
{
  struct seccomp_program *prog = (void *)1;
  assert_int_equal(seccomp_program_build(NULL, &prog, NULL), 0);
  assert_null(prog);
  assert_false(seccomp_program_wants_listener(NULL));
}

struct bad_profile {
  const char *json;
  const char *message;
};

static const struct bad_profile bad_profiles[] = {
    {"[]", "linux.seccomp: expected object, got array"},
    {"{}", "linux.seccomp.defaultAction: missing"},
    {"{\"defaultAction\": 1}",
     "linux.seccomp.defaultAction: expected string, got integer"},
    {"{\"defaultAction\": \"SCMP_ACT_NOPE\"}",
     "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}",
     "linux.seccomp.defaultErrnoRet: not allowed with action SCMP_ACT_ALLOW"},
    {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}",
     "linux.seccomp.defaultErrnoRet: must not be negative"},
    {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}",
     "linux.seccomp.defaultErrnoRet: 70000 is out of range (0-65535)"},
    {"{\"defaultAction\": \"SCMP_ACT_NOTIFY\", \"listenerPath\": \"/x\"}",
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": \"SCMP_ARCH_X86\"}",
     "linux.seccomp.architectures: expected array, got string"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\", "
     "\"SCMP_ARCH_VAX\"]}",
     "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
     "[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
     "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\""},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": 5}",
     "linux.seccomp.listenerPath: expected string, got integer"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}",
     "linux.seccomp.syscalls: expected array, got object"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\"getcwd\"]}",
     "linux.seccomp.syscalls[0]: expected object, got string"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
     "{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\"},"
     "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"},"
     "{\"names\": [\"rmdir\"], \"action\": \"SCMP_ACT_FOO\"}]}",
     "linux.seccomp.syscalls[2].action: unknown action \"SCMP_ACT_FOO\""},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
     "[\"getcwd\"]}]}",
     "linux.seccomp.syscalls[0].action: missing"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"action\": \"SCMP_ACT_ERRNO\"}]}",
     "linux.seccomp.syscalls[0].names: missing"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}",
     "linux.seccomp.syscalls[0].names: must name at least one syscall"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"getcwd\", 7], \"action\": \"SCMP_ACT_ERRNO\"}]}",
     "linux.seccomp.syscalls[0].names[1]: expected string, got integer"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
     "linux.seccomp.syscalls[0].names[0]: empty syscall name"},
    {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": "
     "[{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}",
     "linux.seccomp.syscalls[0].errnoRet: not allowed with action SCMP_ACT_KILL"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": "
     "\"EPERM\"}]}",
     "linux.seccomp.syscalls[0].errnoRet: expected integer, got string"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": 3}]}",
     "linux.seccomp.syscalls[0].args: expected array, got integer"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 6, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"},"
     " {\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_ABOUT\"}]}]}",
     "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_ABOUT\""},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
     "linux.seccomp.syscalls[0].args[0].value: missing"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 0, \"value\": 1}]}]}",
     "linux.seccomp.syscalls[0].args[0].op: missing"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
     "[{\"index\": 0, \"value\": 1, \"valueTwo\": -2, \"op\": \"SCMP_CMP_EQ\"}]}]}",
     "linux.seccomp.syscalls[0].args[0].valueTwo: must not be negative"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
     "[{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
     "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used"},
    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\", "
     "\"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": "
     "\"SCMP_ACT_NOTIFY\"}]}",
     "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for write"},
};

static void test_bad_profiles_are_refused_naming_the_field(void **state)
{
  for (size_t i = 0; i < sizeof bad_profiles / sizeof bad_profiles[0]; i++) {
    cleanup_json json_t *json = parse(bad_profiles[i].json);
    struct seccomp_program *prog = NULL;
    skiff_error_t *err = NULL;
    if (seccomp_program_build(json, &prog, &err) == 0)
      fail_msg("accepted: %s", bad_profiles[i].json);
    assert_null(prog);
    assert_non_null(err);
    assert_int_equal(err->status, EINVAL);
    assert_string_equal(err->msg, bad_profiles[i].message);
    skiff_error_free(&err);
  }
}

static const char *const good_profiles[] = {
    /* names libseccomp does not know are skipped (newer kernels) */
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
    "[\"no_such_syscall_2099\", \"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
    /* a rule with the default action is skipped, not refused */
    "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1, \"syscalls\": "
    "[{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},"
    " {\"names\": [\"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
    /* other architectures' syscalls (libseccomp pseudo numbers) */
    "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86\"], "
    "\"syscalls\": [{\"names\": [\"socketcall\", \"_llseek\", \"arm_fadvise64_64\"], "
    "\"action\": \"SCMP_ACT_ALLOW\"}]}",
    /* every action */
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\", "
    "\"listenerMetadata\": \"m\", \"syscalls\": ["
    "{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_KILL\"},"
    "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},"
    "{\"names\": [\"rmdir\"], \"action\": \"SCMP_ACT_KILL_THREAD\"},"
    "{\"names\": [\"chdir\"], \"action\": \"SCMP_ACT_TRAP\"},"
    "{\"names\": [\"fchdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},"
    "{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_TRACE\", \"errnoRet\": 1},"
    "{\"names\": [\"acct\"], \"action\": \"SCMP_ACT_LOG\"},"
    "{\"names\": [\"chroot\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
    /* every operator, and valueTwo */
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mmap\"], "
    "\"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
    "{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_NE\"},"
    "{\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_LT\"},"
    "{\"index\": 2, \"value\": 1, \"op\": \"SCMP_CMP_LE\"},"
    "{\"index\": 3, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},"
    "{\"index\": 4, \"value\": 1, \"op\": \"SCMP_CMP_GE\"},"
    "{\"index\": 5, \"value\": 255, \"valueTwo\": 3, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
    "{\"names\": [\"munmap\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": "
    "[{\"index\": 1, \"value\": 9, \"op\": \"SCMP_CMP_GT\"}]}]}",
    /* every architecture libseccomp knows, the native one included; those of
     * the other byte order are dropped */
    "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": ["
    "\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X32\", \"SCMP_ARCH_ARM\","
    "\"SCMP_ARCH_AARCH64\", \"SCMP_ARCH_MIPS\", \"SCMP_ARCH_MIPS64\","
    "\"SCMP_ARCH_MIPS64N32\", \"SCMP_ARCH_MIPSEL\", \"SCMP_ARCH_MIPSEL64\","
    "\"SCMP_ARCH_MIPSEL64N32\", \"SCMP_ARCH_PPC\", \"SCMP_ARCH_PPC64\","
    "\"SCMP_ARCH_PPC64LE\", \"SCMP_ARCH_S390\", \"SCMP_ARCH_S390X\","
    "\"SCMP_ARCH_PARISC\", \"SCMP_ARCH_PARISC64\", \"SCMP_ARCH_RISCV64\"],"
    "\"syscalls\": [{\"names\": [\"read\", \"write\", \"exit_group\"], "
    "\"action\": \"SCMP_ACT_ALLOW\"}]}",
};

static void test_good_profiles_build(void **state)
{
  for (size_t i = 0; i < sizeof good_profiles / sizeof good_profiles[0]; i++)
    seccomp_program_free(build_ok(good_profiles[i]));
}

static void test_supported_flags_are_accepted(void **state)
{
  cleanup_json json_t *features = seccomp_features();
  json_t *supported = json_object_get(features, "supportedFlags");
  assert_true(json_is_array(supported));
  cleanup_json json_t *profile =
      json_pack("{s:s, s:O}", "defaultAction", "SCMP_ACT_ALLOW", "flags", supported);
  struct seccomp_program *prog = NULL;
  skiff_error_t *err = NULL;
  if (seccomp_program_build(profile, &prog, &err) < 0)
    fail_msg("%s", err->msg);
  seccomp_program_free(prog);
}

static void test_notify_rule_wants_a_listener(void **state)
{
  struct seccomp_program *with = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/a.sock\", "
      "\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}");
  struct seccomp_program *without = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/a.sock\", "
      "\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"}]}");
  assert_true(seccomp_program_wants_listener(with));
  assert_false(seccomp_program_wants_listener(without));
  seccomp_program_free(with);
  seccomp_program_free(without);
}

static void test_features_list_names_like_runc(void **state)
{
  cleanup_json json_t *f = seccomp_features();
  assert_true(json_is_true(json_object_get(f, "enabled")));
  assert_int_equal(json_array_size(json_object_get(f, "actions")), 9);
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(f, "actions"), 0)),
      "SCMP_ACT_ALLOW");
  assert_int_equal(json_array_size(json_object_get(f, "operators")), 7);
  assert_int_equal(json_array_size(json_object_get(f, "archs")), 19);
  assert_int_equal(json_array_size(json_object_get(f, "knownFlags")), 4);
  assert_true(json_is_array(json_object_get(f, "supportedFlags")));
}

/* ---- behaviour: filters loaded in a child ---- */

/* What the sanitizer runtimes (-Db_sanitize=address,undefined) call on
 * their own in a child under a deny-by-default filter. */
#define SANITIZER_SYSCALLS                                                             \
  "\"sigaltstack\", \"gettid\", \"mmap\", \"munmap\", \"write\""

static int getcwd_fails_with_eperm(void)
{
  char buf[256];
  return syscall(SYS_getcwd, buf, sizeof buf) == -1 && errno == EPERM ? 0 : 1;
}

static void test_errno_rule_makes_getcwd_fail_with_eperm(void **state)
{
  struct seccomp_program *prog =
      build_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
               "[{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\"}]}");
  assert_child_succeeded(run_in_child(prog, getcwd_fails_with_eperm));
  seccomp_program_free(prog);
}

static int mkdir_fails_with_enospc(void)
{
  long rc = syscall(SYS_mkdir, "/nonexistent-skiff-dir/x", 0700);
  return rc == -1 && errno == ENOSPC ? 0 : 1;
}

static void test_errno_ret_is_what_the_syscall_returns(void **state)
{
  struct seccomp_program *prog = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
      "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 28}]}");
  assert_child_succeeded(run_in_child(prog, mkdir_fails_with_enospc));
  seccomp_program_free(prog);
}

static int only_getppid_allowed(void)
{
  if (syscall(SYS_getppid) <= 0)
    return 1;
  return syscall(SYS_getuid) == -1 && errno == ENOSYS ? 0 : 2;
}

static void test_default_errno_ret_applies_to_unlisted_syscalls(void **state)
{
  struct seccomp_program *prog = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"syscalls\": "
      "[{\"names\": [\"getppid\", \"exit_group\", \"exit\", " SANITIZER_SYSCALLS
      "], \"action\": \"SCMP_ACT_ALLOW\"}]}");
  assert_child_succeeded(run_in_child(prog, only_getppid_allowed));
  seccomp_program_free(prog);
}

static int personality_query_only(void)
{
  if (syscall(SYS_personality, 0xffffffffUL) == -1)
    return 1;
  return syscall(SYS_personality, PER_LINUX) == -1 && errno == EPERM ? 0 : 2;
}

static void test_args_rule_allows_only_the_matching_value(void **state)
{
  struct seccomp_program *prog = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
      "[\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, "
      "\"value\": 4294967295, \"op\": \"SCMP_CMP_NE\"}]}]}");
  assert_child_succeeded(run_in_child(prog, personality_query_only));
  seccomp_program_free(prog);
}

static int umask_0111_and_0222_refused(void)
{
  if (!(syscall(SYS_umask, 0111) == -1 && errno == EPERM))
    return 1;
  if (!(syscall(SYS_umask, 0222) == -1 && errno == EPERM))
    return 2;
  return syscall(SYS_umask, 022) >= 0 ? 0 : 3;
}

static void test_conditions_on_one_argument_are_alternatives(void **state)
{
  struct seccomp_program *prog = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"umask\"], "
      "\"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
      "{\"index\": 0, \"value\": 73, \"op\": \"SCMP_CMP_EQ\"},"
      "{\"index\": 0, \"value\": 146, \"op\": \"SCMP_CMP_EQ\"}]}]}");
  assert_child_succeeded(run_in_child(prog, umask_0111_and_0222_refused));
  seccomp_program_free(prog);
}

static int umask_with_owner_bits_refused(void)
{
  if (!(syscall(SYS_umask, 0777) == -1 && errno == EPERM))
    return 1;
  return syscall(SYS_umask, 0077) >= 0 ? 0 : 2;
}

static void test_masked_eq_compares_the_masked_bits(void **state)
{
  /* refused when (mask & 0700) == 0700 */
  struct seccomp_program *prog = build_ok(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"umask\"], "
      "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 448, "
      "\"valueTwo\": 448, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}]}");
  assert_child_succeeded(run_in_child(prog, umask_with_owner_bits_refused));
  seccomp_program_free(prog);
}

static int call_getppid(void)
{
  syscall(SYS_getppid);
  return 0;
}

static void test_kill_action_kills_the_process_with_sigsys(void **state)
{
  struct seccomp_program *prog =
      build_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
               "[{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_KILL\"}]}");
  int status = run_in_child(prog, call_getppid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSYS);
  seccomp_program_free(prog);
}

static void test_kill_process_action_kills_the_process_with_sigsys(void **state)
{
  struct seccomp_program *prog =
      build_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
               "[{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}");
  int status = run_in_child(prog, call_getppid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSYS);
  seccomp_program_free(prog);
}

static void test_long_allow_list_blocks_everything_else(void **state)
{
  /* Over 32 rules: libseccomp lays the filter out as a binary tree. */
  static const char *const allowed[] = {
      "read",           "write",      "close",     "fstat",         "lseek",
      "mmap",           "mprotect",   "munmap",    "brk",           "rt_sigaction",
      "rt_sigprocmask", "ioctl",      "pread64",   "pwrite64",      "readv",
      "writev",         "access",     "pipe",      "select",        "sched_yield",
      "mremap",         "msync",      "mincore",   "madvise",       "dup",
      "dup2",           "pause",      "nanosleep", "getitimer",     "alarm",
      "setitimer",      "getpid",     "getppid",   "exit",          "exit_group",
      "openat",         "newfstatat", "futex",     "clock_gettime", "gettid",
      "sigaltstack"};
  cleanup_json json_t *names = json_array();
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    json_array_append_new(names, json_string(allowed[i]));
  cleanup_json json_t *profile =
      json_pack("{s:s, s:i, s:[{s:O, s:s}]}", "defaultAction", "SCMP_ACT_ERRNO",
                "defaultErrnoRet", ENOSYS, "syscalls", "names", names, "action",
                "SCMP_ACT_ALLOW");
  struct seccomp_program *prog = NULL;
  assert_int_equal(seccomp_program_build(profile, &prog, NULL), 0);
  assert_child_succeeded(run_in_child(prog, only_getppid_allowed));
  seccomp_program_free(prog);
}

/* ---- behaviour: SCMP_ACT_NOTIFY and the listener ---- */

static struct seccomp_program *listener_prog;

static int notify_child(void)
{
  int fd = -1;
  if (seccomp_program_load(listener_prog, &fd, NULL) < 0 || fd < 0)
    return 100;
  char state[160];
  snprintf(state, sizeof state,
           "{\"ociVersion\":\"1.1.0\",\"id\":\"t\",\"status\":\"creating\","
           "\"pid\":%d,\"bundle\":\"/b\"}",
           (int)getpid());
  if (seccomp_send_listener_fd(listener_prog, fd, state, NULL) < 0)
    return 1;
  close(fd);
  /* Waits for the agent, which answers 4242. */
  return syscall(SYS_getppid) == 4242 ? 0 : 2;
}

/* Receive the body and the fd the child sends to the agent socket. */
static int agent_receive(int listener, char *body, size_t size)
{
  struct pollfd p = {.fd = listener, .events = POLLIN};
  if (poll(&p, 1, 10000) != 1)
    return -1;
  cleanup_close int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = body, .iov_len = size - 1};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0)
    return -1;
  size_t got = (size_t)n;
  while (got < size - 1 && (n = read(conn, body + got, size - 1 - got)) > 0)
    got += (size_t)n;
  body[got] = '\0';
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS)
    return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return fd;
}

/* Answer one notification with val. Returns the notified syscall nr. */
static int agent_answer(int notify_fd, long long val)
{
  struct pollfd p = {.fd = notify_fd, .events = POLLIN};
  if (poll(&p, 1, 10000) != 1)
    return -1;
  struct seccomp_notif *req = NULL;
  struct seccomp_notif_resp *resp = NULL;
  if (seccomp_notify_alloc(&req, &resp) < 0)
    return -1;
  int nr = -1;
  if (seccomp_notify_receive(notify_fd, req) == 0) {
    nr = req->data.nr;
    resp->id = req->id;
    resp->val = val;
    resp->error = 0;
    resp->flags = 0;
    if (seccomp_notify_respond(notify_fd, resp) < 0)
      nr = -1;
  }
  seccomp_notify_free(req, resp);
  return nr;
}

static void test_notify_hands_the_fd_and_state_to_the_listener(void **state)
{
  char dir[] = "/tmp/skiff-seccomp-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[96];
  snprintf(path, sizeof path, "%s/agent.sock", dir);
  cleanup_close int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(listener, 1), 0);

  cleanup_json json_t *profile =
      json_pack("{s:s, s:s, s:s, s:[{s:[s], s:s}]}", "defaultAction", "SCMP_ACT_ALLOW",
                "listenerPath", path, "listenerMetadata", "hello", "syscalls", "names",
                "getppid", "action", "SCMP_ACT_NOTIFY");
  assert_int_equal(seccomp_program_build(profile, &listener_prog, NULL), 0);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    _exit(notify_child());
  }
  char body[1024];
  int notify_fd = agent_receive(listener, body, sizeof body);
  int nr = notify_fd >= 0 ? agent_answer(notify_fd, 4242) : -1;
  if (nr < 0)
    kill(pid, SIGKILL); /* our own child, stuck */
  int status = 0;
  waitpid(pid, &status, 0);
  if (notify_fd >= 0)
    close(notify_fd);
  unlink(path);
  rmdir(dir);
  seccomp_program_free(listener_prog);

  assert_true(notify_fd >= 0);
  assert_int_equal(nr, SYS_getppid);
  assert_child_succeeded(status);
  cleanup_json json_t *msg = parse(body);
  assert_string_equal(json_string_value(json_object_get(msg, "metadata")), "hello");
  assert_string_equal(json_string_value(json_array_get(json_object_get(msg, "fds"), 0)),
                      "seccompFd");
  assert_int_equal(json_integer_value(json_object_get(msg, "pid")), pid);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(msg, "state"), "id")), "t");
}

static void test_send_without_listener_path_is_an_error(void **state)
{
  struct seccomp_program *prog = build_ok("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}");
  skiff_error_t *err = NULL;
  assert_int_equal(seccomp_send_listener_fd(prog, 0, "{}", &err), -1);
  assert_string_equal(err->msg, "linux.seccomp.listenerPath: not set");
  skiff_error_free(&err);
  seccomp_program_free(prog);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_absent_seccomp_builds_no_program),
      cmocka_unit_test(test_bad_profiles_are_refused_naming_the_field),
      cmocka_unit_test(test_good_profiles_build),
      cmocka_unit_test(test_supported_flags_are_accepted),
      cmocka_unit_test(test_notify_rule_wants_a_listener),
      cmocka_unit_test(test_features_list_names_like_runc),
      cmocka_unit_test(test_errno_rule_makes_getcwd_fail_with_eperm),
      cmocka_unit_test(test_errno_ret_is_what_the_syscall_returns),
      cmocka_unit_test(test_default_errno_ret_applies_to_unlisted_syscalls),
      cmocka_unit_test(test_args_rule_allows_only_the_matching_value),
      cmocka_unit_test(test_conditions_on_one_argument_are_alternatives),
      cmocka_unit_test(test_masked_eq_compares_the_masked_bits),
      cmocka_unit_test(test_kill_action_kills_the_process_with_sigsys),
      cmocka_unit_test(test_kill_process_action_kills_the_process_with_sigsys),
      cmocka_unit_test(test_long_allow_list_blocks_everything_else),
      cmocka_unit_test(test_notify_hands_the_fd_and_state_to_the_listener),
      cmocka_unit_test(test_send_without_listener_path_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
