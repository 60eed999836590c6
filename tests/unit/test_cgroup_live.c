/* The cgroup module against the real kernel: root only (skipped
 * otherwise). Every cgroup lives under /skiff-test-<pid> on each hierarchy
 * and the group teardown removes that tree even when a test fails; every
 * process is a child of this test, killed by PID. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

static char parent[64]; /* "/skiff-test-<pid>" */
static pid_t children[16];

static void cleanup_cg_fn(struct cgroup **cg)
{
  cgroup_free(*cg);
}
#define cleanup_cg __attribute__((cleanup(cleanup_cg_fn)))

static void cleanup_res_fn(struct cgroup_resources **res)
{
  cgroup_resources_free(*res);
}
#define cleanup_res __attribute__((cleanup(cleanup_res_fn)))

/* ---- fixture ---- */

/* Whether the unified root had hugetlb in its subtree_control before we
 * came (a hugetlb limit on a hybrid host turns it on). */
static bool unified_hugetlb_was_on = true;

static int group_setup(void **state)
{
  snprintf(parent, sizeof parent, "/skiff-test-%d", (int)getpid());
  if (cgroup_detect_layout() == CGROUP_LAYOUT_HYBRID) {
    cleanup_free char *on =
        cg_read("/sys/fs/cgroup/unified", "cgroup.subtree_control", NULL);
    unified_hugetlb_was_on = on == NULL || strstr(on, "hugetlb") != NULL;
  }
  return 0;
}

static void reap_all(void)
{
  for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
    if (children[i] > 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
      children[i] = 0;
    }
}

static int group_teardown(void **state)
{
  reap_all();
  struct cgroup *cg = cgroup_open(parent, NULL);
  if (cg) {
    /* Whatever a failed test left running in there (its grandchildren). */
    cgroup_kill_all(cg, SIGKILL, NULL);
    skiff_error_t *err = NULL;
    if (cgroup_destroy(cg, &err) < 0)
      fprintf(stderr, "teardown: %s\n", err->msg);
    skiff_error_free(&err);
    cgroup_free(cg);
  }
  if (!unified_hugetlb_was_on) /* best effort: busy while others use it */
    cg_write("/sys/fs/cgroup/unified", "cgroup.subtree_control", "-hugetlb", NULL);
  return 0;
}

static int test_setup(void **state)
{
  if (geteuid() != 0 || access("/sys/fs/cgroup", F_OK) != 0)
    skip();
  return 0;
}

static int test_teardown(void **state)
{
  reap_all();
  return 0;
}

static void track(pid_t pid)
{
  for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
    if (children[i] == 0) {
      children[i] = pid;
      return;
    }
  fail_msg("too many children");
}

static void untrack(pid_t pid)
{
  for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
    if (children[i] == pid)
      children[i] = 0;
}

/* A child that sleeps until killed. */
static pid_t sleeper(void)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    for (;;)
      pause();
  }
  track(pid);
  return pid;
}

static int wait_status(pid_t pid)
{
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  untrack(pid);
  return status;
}

static char *path_in(const char *name)
{
  char *p = NULL;
  assert_true(asprintf(&p, "%s/%s", parent, name) > 0);
  return p;
}

static struct cgroup_resources *resources(const char *text)
{
  cleanup_json json_t *json = json_loads(text, 0, NULL);
  assert_non_null(json);
  struct cgroup_resources *res = NULL;
  skiff_error_t *err = NULL;
  if (cgroup_resources_parse(json, &res, &err) < 0)
    fail_msg("%s", err->msg);
  return res;
}

static struct cgroup *create(const char *name, const char *res_json, pid_t pid)
{
  cleanup_free char *path = path_in(name);
  cleanup_res struct cgroup_resources *res = res_json ? resources(res_json) : NULL;
  skiff_error_t *err = NULL;
  struct cgroup *cg = cgroup_create(path, res, pid, &err);
  if (cg == NULL)
    fail_msg("create %s: %s", path, err->msg);
  return cg;
}

/* The first line of a file of controller's directory of cg. */
static char *read_file(const struct cgroup *cg, const char *controller,
                       const char *file)
{
  const char *dir = cg_dir_for(cg, controller);
  assert_non_null(dir);
  char *text = cg_read(dir, file, NULL);
  assert_non_null(text);
  text[strcspn(text, "\n")] = '\0';
  return text;
}

static void assert_file(const struct cgroup *cg, const char *controller,
                        const char *file, const char *want)
{
  cleanup_free char *got = read_file(cg, controller, file);
  if (strcmp(got, want) != 0)
    fail_msg("%s: got \"%s\", want \"%s\"", file, got, want);
}

static bool v2(void)
{
  return cgroup_detect_layout() == CGROUP_LAYOUT_V2;
}

static void destroy(struct cgroup *cg)
{
  skiff_error_t *err = NULL;
  if (cgroup_destroy(cg, &err) < 0)
    fail_msg("destroy: %s", err->msg);
  for (size_t i = 0; i < cg->n_dirs; i++)
    assert_int_equal(access(cg->dirs[i].path, F_OK), -1);
}

static bool exists_anywhere(const char *path)
{
  const struct cg_host *host = cg_host_get(NULL);
  for (size_t i = 0; host && i < host->n_hier; i++) {
    cleanup_free char *full = NULL;
    assert_true(asprintf(&full, "%s%s", host->hier[i].mount, path) > 0);
    if (access(full, F_OK) == 0)
      return true;
  }
  return false;
}

/* ---- tests ---- */

static void test_create_applies_limits_and_moves_the_pid(void **state)
{
  pid_t pid = sleeper();
  cleanup_cg struct cgroup *cg =
      create("limits",
             "{\"memory\": {\"limit\": 67108864, \"swap\": 134217728, \"reservation\": "
             "33554432},"
             " \"pids\": {\"limit\": 32},"
             " \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, "
             "\"cpus\": \"0\","
             "  \"mems\": \"0\"},"
             " \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
             "  {\"allow\": true, \"type\": \"c\", \"major\": 4, \"minor\": 64, "
             "\"access\": \"rw\"}]}",
             pid);
  if (v2()) {
    assert_file(cg, "memory", "memory.max", "67108864");
    assert_file(cg, "memory", "memory.swap.max", "67108864"); /* swap - limit */
    assert_file(cg, "memory", "memory.low", "33554432");
    assert_file(cg, "cpu", "cpu.weight", "20"); /* from 512 shares */
    assert_file(cg, "cpu", "cpu.max", "50000 100000");
  } else {
    assert_file(cg, "memory", "memory.limit_in_bytes", "67108864");
    assert_file(cg, "memory", "memory.memsw.limit_in_bytes", "134217728");
    assert_file(cg, "memory", "memory.soft_limit_in_bytes", "33554432");
    assert_file(cg, "cpu", "cpu.shares", "512");
    assert_file(cg, "cpu", "cpu.cfs_quota_us", "50000");
    cleanup_free char *devices =
        cg_read(cg_dir_for(cg, "devices"), "devices.list", NULL);
    assert_non_null(strstr(devices, "c 4:64 rw\n"));
    assert_non_null(strstr(devices, "c 1:3 rwm\n")); /* a default device */
    assert_null(strstr(devices, "a *:* rwm"));
  }
  assert_file(cg, "pids", "pids.max", "32");
  assert_file(cg, "cpuset", "cpuset.cpus", "0");

  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
  cleanup_free char *where = fs_read_file(proc, NULL, NULL);
  cleanup_free char *want = NULL;
  assert_true(asprintf(&want, "%s:%s/limits\n", v2() ? "0:" : ":memory", parent) > 0);
  assert_non_null(strstr(where, want));
  if (cgroup_detect_layout() == CGROUP_LAYOUT_HYBRID) {
    cleanup_free char *unified = NULL;
    assert_true(asprintf(&unified, "0::%s/limits\n", parent) > 0);
    assert_non_null(strstr(where, unified));
  }
  kill(pid, SIGKILL);
  wait_status(pid);
  destroy(cg);
}

static const char *mount_of(const char *controller)
{
  const struct cg_host *host = cg_host_get(NULL);
  for (size_t i = 0; host && i < host->n_hier; i++)
    if (cg_strv_contains(host->hier[i].controllers, controller) ||
        host->hier[i].unified)
      return host->hier[i].mount;
  return NULL;
}

static void test_rejected_value_names_file_and_leaves_nothing_behind(void **state)
{
  cleanup_free char *top = path_in("new");
  cleanup_free char *path = path_in("new/a/b");
  cleanup_res struct cgroup_resources *res =
      resources("{\"memory\": {\"limit\": 67108864}, \"cpu\": {\"period\": 1}}");
  pid_t pid = sleeper();
  skiff_error_t *err = NULL;
  assert_null(cgroup_create(path, res, pid, &err));
  cleanup_free char *want = NULL;
  assert_true(
      asprintf(&want,
               "linux.resources.cpu.period: write %s to %s%s/%s: Invalid argument",
               v2() ? "max 1" : "1", mount_of("cpu"), path,
               v2() ? "cpu.max" : "cpu.cfs_period_us") > 0);
  assert_string_equal(err->msg, want);
  skiff_error_free(&err);
  assert_false(exists_anywhere(top));
  /* The pid never joined: it is still where this test is. */
  char a[64], b[64];
  snprintf(a, sizeof a, "/proc/%d/cgroup", (int)pid);
  snprintf(b, sizeof b, "/proc/%d/cgroup", (int)getpid());
  cleanup_free char *theirs = fs_read_file(a, NULL, NULL);
  cleanup_free char *ours = fs_read_file(b, NULL, NULL);
  assert_string_equal(theirs, ours);
}

static void test_join_failure_moves_the_pid_back(void **state)
{
  /* A pid that does not exist cannot join: nothing may remain. */
  pid_t pid = sleeper();
  kill(pid, SIGKILL);
  wait_status(pid);
  cleanup_free char *path = path_in("gone");
  skiff_error_t *err = NULL;
  assert_null(cgroup_create(path, NULL, pid, &err));
  assert_non_null(strstr(err->msg, "cgroup.procs: No such process"));
  skiff_error_free(&err);
  assert_false(exists_anywhere(path));
}

static void test_freeze_and_thaw(void **state)
{
  pid_t pid = sleeper();
  cleanup_cg struct cgroup *cg = create("freeze", NULL, pid);
  bool frozen = true;
  assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
  assert_false(frozen);
  assert_int_equal(cgroup_set_frozen(cg, true, NULL), 0);
  assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
  assert_true(frozen);
  if (!v2())
    assert_int_equal(proc_state(pid), 'D'); /* how a v1-frozen task shows */
  if (!v2())
    assert_file(cg, "freezer", "freezer.state", "FROZEN");
  assert_int_equal(cgroup_set_frozen(cg, false, NULL), 0);
  assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
  assert_false(frozen);
  for (int i = 0; i < 100 && proc_state(pid) == 'D'; i++)
    usleep(10000);
  assert_int_not_equal(proc_state(pid), 'D');
  kill(pid, SIGKILL);
  wait_status(pid);
  destroy(cg);
}

static void test_list_pids_and_kill_all_reach_grandchildren(void **state)
{
  int go[2], ready[2];
  assert_int_equal(pipe(go), 0);
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Fork only once in the cgroup, so that the grandchild is born in it. */
    char c;
    close(go[1]);
    close(ready[0]);
    if (read(go[0], &c, 1) != 1)
      _exit(1);
    if (fork() == 0) {
      close(ready[1]);
      for (;;)
        pause();
    }
    close(ready[1]);
    for (;;)
      wait(NULL);
  }
  track(pid);
  close(go[0]);
  close(ready[1]);
  cleanup_cg struct cgroup *cg = create("kill", NULL, pid);
  char c;
  assert_int_equal(write(go[1], "g", 1), 1);
  close(go[1]);
  assert_int_equal(read(ready[0], &c, 1), 0); /* all closed: the grandchild exists */
  close(ready[0]);
  pid_t *pids = NULL;
  size_t n = 0;
  assert_int_equal(cgroup_list_pids(cg, &pids, &n, NULL), 0);
  free(pids);
  assert_int_equal(n, 2);
  skiff_error_t *err = NULL;
  if (cgroup_kill_all(cg, SIGKILL, &err) < 0)
    fail_msg("%s", err->msg);
  int status = wait_status(pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  destroy(cg);
}

static void test_kill_all_with_a_catchable_signal_freezes_and_thaws(void **state)
{
  pid_t pid = sleeper();
  cleanup_cg struct cgroup *cg = create("term", NULL, pid);
  assert_int_equal(cgroup_kill_all(cg, SIGTERM, NULL), 0);
  int status = wait_status(pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  bool frozen = true;
  assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
  assert_false(frozen);
  destroy(cg);
}

static void test_update_enter_and_open(void **state)
{
  pid_t first = sleeper(), second = sleeper();
  cleanup_cg struct cgroup *created =
      create("update", "{\"pids\": {\"limit\": 10}}", first);
  cleanup_free char *path = path_in("update");
  skiff_error_t *err = NULL;
  cleanup_cg struct cgroup *cg = cgroup_open(path, &err);
  assert_non_null(cg);
  cleanup_res struct cgroup_resources *res =
      resources("{\"pids\": {\"limit\": -1}, \"memory\": {\"limit\": 33554432}}");
  if (cgroup_update(cg, res, &err) < 0)
    fail_msg("%s", err->msg);
  assert_file(cg, "pids", "pids.max", "max");
  assert_file(cg, "memory", v2() ? "memory.max" : "memory.limit_in_bytes", "33554432");
  assert_int_equal(cgroup_enter(cg, second, NULL), 0);
  pid_t *pids = NULL;
  size_t n = 0;
  assert_int_equal(cgroup_list_pids(cg, &pids, &n, NULL), 0);
  assert_int_equal(n, 2);
  free(pids);
  assert_int_equal(cgroup_kill_all(cg, SIGKILL, NULL), 0);
  wait_status(first);
  wait_status(second);
  destroy(cg);

  assert_null(cgroup_open(path, &err));
  assert_int_equal(err->status, ENOENT);
  skiff_error_free(&err);
}

/* Fork a tracked child that goes on (fork_gated returns 0 in it) only once
 * the parent writes a byte to *gate, after moving it into a cgroup; a gate
 * closed unwritten makes it exit 2. */
static pid_t fork_gated(int *gate)
{
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1)
      _exit(2);
    close(go[0]);
    return 0;
  }
  track(pid);
  close(go[0]);
  *gate = go[1];
  return pid;
}

static void open_gate(int gate)
{
  assert_int_equal(write(gate, "g", 1), 1);
  close(gate);
}

static void test_stats_count_oom_kills_and_pid_limit_hits(void **state)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Wait to be in the cgroup, fork past the pids limit, then eat memory. */
    usleep(200000);
    for (int i = 0; i < 4; i++)
      if (fork() == 0) {
        usleep(100000);
        _exit(0);
      }
    while (wait(NULL) > 0)
      ;
    for (size_t total = 0;; total += 1 << 20) {
      char *p = malloc(1 << 20);
      if (p)
        memset(p, 1, 1 << 20);
    }
  }
  track(pid);
  cleanup_cg struct cgroup *cg = create("oom",
                                        "{\"memory\": {\"limit\": 16777216, \"swap\": "
                                        "16777216}, \"pids\": {\"limit\": 2}}",
                                        pid);
  int status = wait_status(pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  skiff_error_t *err = NULL;
  cleanup_json json_t *stats = cgroup_stats(cg, &err);
  if (stats == NULL)
    fail_msg("%s", err->msg);
  json_int_t oom_kill = -1, failcnt = -1, swap_failcnt = -1, limit = -1,
             pids_limit = -1;
  json_int_t pids_hits = -1, cpu_total = -1;
  json_error_t jerr;
  if (json_unpack_ex(
          stats, &jerr, 0, "{s:{s:I,s:{s:I,s:I},s:{s:I}},s:{s:I,s:I},s:{s:{s:I}}}",
          "memory", "oom_kill", &oom_kill, "usage", "limit", &limit, "failcnt",
          &failcnt, "swap", "failcnt", &swap_failcnt, "pids", "limit", &pids_limit,
          "failcnt", &pids_hits, "cpu", "usage", "total", &cpu_total) < 0)
    fail_msg("stats shape: %s: %s", jerr.text, json_dumps(stats, 0));
  assert_true(oom_kill >= 1);
  /* With swap == limit the memory+swap counter is the one that refuses. */
  /* failcnt is read, but not checked: recent kernels no longer count it. */
  assert_int_equal(limit, 16777216);
  assert_int_equal(pids_limit, 2);
  assert_true(pids_hits >= 1);
  assert_true(cpu_total > 0);
  assert_non_null(json_object_get(json_object_get(stats, "memory"), "raw"));
  destroy(cg);
}

static void test_unified_values_on_v1_map_or_are_refused(void **state)
{
  if (cgroup_detect_layout() == CGROUP_LAYOUT_V2)
    skip();
  pid_t pid = sleeper();
  cleanup_cg struct cgroup *cg = create(
      "unified", "{\"unified\": {\"pids.max\": \"7\", \"memory.max\": \"max\"}}", pid);
  assert_file(cg, "pids", "pids.max", "7");
  assert_file(cg, "memory", "memory.limit_in_bytes", "9223372036854771712");
  cleanup_res struct cgroup_resources *res =
      resources("{\"unified\": {\"io.weight\": \"100\"}}");
  skiff_error_t *err = NULL;
  assert_int_equal(cgroup_update(cg, res, &err), -1);
  assert_string_equal(err->msg,
                      "linux.resources.unified.io.weight: cgroup v2 setting with no "
                      "cgroup v1 equivalent (this host uses cgroup v1)");
  skiff_error_free(&err);
  kill(pid, SIGKILL);
  wait_status(pid);
  destroy(cg);
}

static void test_hugetlb_goes_to_the_unified_tree_on_hybrid(void **state)
{
  if (cgroup_detect_layout() != CGROUP_LAYOUT_HYBRID ||
      access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) != 0)
    skip();
  cleanup_cg struct cgroup *cg =
      create("hugetlb",
             "{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}]}", 0);
  const char *dir = cg_dir_for(cg, "hugetlb");
  if (dir == NULL || dir != cg_unified_dir(cg))
    skip(); /* hugetlb is a v1 controller here */
  assert_file(cg, "hugetlb", "hugetlb.2MB.max", "4194304");
  cleanup_json json_t *stats = cgroup_stats(cg, NULL);
  assert_non_null(json_object_get(json_object_get(stats, "hugetlb"), "2MB"));
  destroy(cg);
}

/* Child: open path with flags once the parent says go; exit 0 on success,
 * else the errno. */
static pid_t opener(const char *path, int flags, int go)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char c;
    if (read(go, &c, 1) != 1)
      _exit(100);
    int fd = open(path, flags);
    _exit(fd >= 0 ? 0 : errno);
  }
  track(pid);
  return pid;
}

static void test_ebpf_device_program_enforces_rules(void **state)
{
  /* The v2 device filter, tried on the unified tree of this host (v1
   * devices stays allow-all here, so the program alone decides). */
  static const struct {
    const char *json, *path;
    int flags, want;
  } cases[] = {
      {"[{\"allow\": false, \"access\": \"rwm\"}]", "/dev/full", O_RDONLY,
       0}, /* default */
      {"[{\"allow\": false, \"access\": \"rwm\"}]", "/dev/kmsg", O_RDONLY, EPERM},
      {"[{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"c\","
       " \"major\": 1, \"minor\": 11, \"access\": \"r\"}]",
       "/dev/kmsg", O_RDONLY, 0},
      {"[{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"c\","
       " \"major\": 1, \"minor\": 11, \"access\": \"r\"}]",
       "/dev/kmsg", O_RDWR, EPERM},
      {"[{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"c\","
       " \"major\": 1, \"access\": \"w\"}]",
       "/dev/kmsg", O_RDWR, EPERM},
      {"[{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"b\","
       " \"access\": \"rwm\"}]",
       "/dev/kmsg", O_RDONLY, 0},
  };
  if (cgroup_detect_layout() == CGROUP_LAYOUT_V1)
    skip();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = opener(cases[i].path, cases[i].flags, go[0]);
    close(go[0]);
    cleanup_cg struct cgroup *cg = create("bpf", NULL, pid);
    cleanup_free char *text = NULL;
    assert_true(asprintf(&text, "{\"devices\": %s}", cases[i].json) > 0);
    cleanup_res struct cgroup_resources *res = resources(text);
    skiff_error_t *err = NULL;
    if (cg_v2_set_devices(cg_unified_dir(cg), res->devices, res->n_devices, &err) < 0)
      fail_msg("%s", err->msg);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = wait_status(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != cases[i].want)
      fail_msg("case %zu: open %s gave %d, want %d", i, cases[i].path,
               WEXITSTATUS(status), cases[i].want);
    destroy(cg);
  }
}

static void test_device_rules_are_enforced(void **state)
{
  /* v1: the devices controller; v2: the eBPF program cgroup_create loads. */
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t denied = opener("/dev/kmsg", O_RDONLY, go[0]);
  pid_t allowed = opener("/dev/null", O_RDWR, go[0]);
  close(go[0]);
  const char *rules = "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]}";
  cleanup_cg struct cgroup *cg_denied = create("dev-denied", rules, denied);
  cleanup_cg struct cgroup *cg_allowed = create("dev-allowed", rules, allowed);
  assert_int_equal(write(go[1], "gg", 2), 2);
  close(go[1]);
  int status = wait_status(denied);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == EPERM);
  status = wait_status(allowed);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* a default device */
  destroy(cg_denied);
  destroy(cg_allowed);
}

static void test_unified_values_override_on_v2(void **state)
{
  if (!v2())
    skip();
  cleanup_cg struct cgroup *cg = create("unified-v2",
                                        "{\"memory\": {\"limit\": 67108864},"
                                        " \"unified\": {\"memory.high\": \"52428800\","
                                        " \"memory.max\": \"max\"}}",
                                        0);
  assert_file(cg, "memory", "memory.high", "52428800");
  assert_file(cg, "memory", "memory.max", "max");
  cleanup_res struct cgroup_resources *res =
      resources("{\"unified\": {\"nosuch.file\": \"1\"}}");
  skiff_error_t *err = NULL;
  assert_int_equal(cgroup_update(cg, res, &err), -1);
  assert_non_null(strstr(err->msg, "linux.resources.unified.nosuch.file: the nosuch "
                                   "controller is not available in "));
  skiff_error_free(&err);
  destroy(cg);
}

/* What a container sees at dir: its own cgroup (its pid is listed), read
 * only; on v1 one directory per hierarchy, on v2 the cgroup itself. */
static int check_mounted_view(const char *dir)
{
  char path[512], self[16];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir,
           v2() ? "memory.max" : "memory/memory.limit_in_bytes");
  if (stat(path, &st) < 0)
    return 10;
  if (fs_write_string(path, "1", NULL) == 0 || errno != EROFS)
    return 11;
  snprintf(path, sizeof path, "%s/new", dir);
  if (mkdir(path, 0755) == 0 || errno != EROFS)
    return 12;
  snprintf(path, sizeof path, "%s/%s", dir,
           v2() ? "cgroup.procs" : "memory/cgroup.procs");
  cleanup_free char *procs = fs_read_file(path, NULL, NULL);
  snprintf(self, sizeof self, "%d\n", (int)getpid());
  if (procs == NULL || strstr(procs, self) == NULL)
    return 13;
  snprintf(path, sizeof path, "%s/unified/cgroup.procs", dir);
  if (cgroup_detect_layout() == CGROUP_LAYOUT_HYBRID && stat(path, &st) < 0)
    return 14;
  return 0;
}

/* In a child that joins the cgroup, then (like a container's init) takes
 * a mount namespace and maybe a cgroup namespace of its own, mount the
 * container's cgroups on a fresh directory and check the view. */
static void mount_and_check(int flags)
{
  char dir[] = "/tmp/skiff-cgmount-XXXXXX";
  assert_non_null(mkdtemp(dir));
  int gate;
  pid_t pid = fork_gated(&gate);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS | flags) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
      _exit(1);
    skiff_error_t *err = NULL;
    cleanup_free char *path = path_in("mount");
    struct cgroup *cg = cgroup_open(path, &err);
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cg == NULL || fd < 0)
      _exit(2);
    if (cgroup_mount_in_container(cg, fd, true, &err) < 0) {
      fprintf(stderr, "mount: %s\n", err->msg);
      _exit(3);
    }
    _exit(check_mounted_view(dir));
  }
  cleanup_cg struct cgroup *cg = create("mount", NULL, pid);
  open_gate(gate);
  int status = wait_status(pid);
  rmdir(dir);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  destroy(cg);
}

static void test_mount_in_container_binds_own_cgroup_read_only(void **state)
{
  mount_and_check(0);
}

static void test_mount_in_container_in_a_cgroup_namespace(void **state)
{
  mount_and_check(CLONE_NEWCGROUP);
}

static void test_features_and_layout(void **state)
{
  cleanup_json json_t *features = cgroup_features();
  enum cgroup_layout layout = cgroup_detect_layout();
  assert_int_equal(json_is_true(json_object_get(features, "v1")),
                   layout != CGROUP_LAYOUT_V2);
  assert_int_equal(json_is_true(json_object_get(features, "v2")),
                   layout != CGROUP_LAYOUT_V1);
  assert_true(json_is_false(json_object_get(features, "systemd")));
}

#define LIVE(t) cmocka_unit_test_setup_teardown(t, test_setup, test_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      LIVE(test_features_and_layout),
      LIVE(test_create_applies_limits_and_moves_the_pid),
      LIVE(test_rejected_value_names_file_and_leaves_nothing_behind),
      LIVE(test_join_failure_moves_the_pid_back),
      LIVE(test_freeze_and_thaw),
      LIVE(test_list_pids_and_kill_all_reach_grandchildren),
      LIVE(test_kill_all_with_a_catchable_signal_freezes_and_thaws),
      LIVE(test_update_enter_and_open),
      LIVE(test_stats_count_oom_kills_and_pid_limit_hits),
      LIVE(test_unified_values_on_v1_map_or_are_refused),
      LIVE(test_hugetlb_goes_to_the_unified_tree_on_hybrid),
      LIVE(test_ebpf_device_program_enforces_rules),
      LIVE(test_device_rules_are_enforced),
      LIVE(test_unified_values_override_on_v2),
      LIVE(test_mount_in_container_binds_own_cgroup_read_only),
      LIVE(test_mount_in_container_in_a_cgroup_namespace),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
