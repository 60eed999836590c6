/* linux.resources parsing, cgroupsPath computation, v1-to-v2 conversions
 * and mountinfo reading: the pure parts of the cgroup module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

static struct cgroup_resources *parse_ok(const char *text)
{
  json_error_t jerr;
  cleanup_json json_t *json = json_loads(text, 0, &jerr);
  assert_non_null(json);
  struct cgroup_resources *res = NULL;
  skiff_error_t *err = NULL;
  if (cgroup_resources_parse(json, &res, &err) < 0)
    fail_msg("unexpected error: %s", err->msg);
  return res;
}

static void test_parse_null_means_no_limits(void **state)
{
  struct cgroup_resources *res = NULL;
  assert_int_equal(cgroup_resources_parse(NULL, &res, NULL), 0);
  assert_false(res->has_memory || res->has_cpu || res->memory.limit.set);
  assert_int_equal(res->n_devices, 0);
  cgroup_resources_free(res);
}

static void test_parse_reads_every_section(void **state)
{
  struct cgroup_resources *res = parse_ok(
      "{\"memory\": {\"limit\": 67108864, \"reservation\": 1024, \"swap\": 134217728,"
      "  \"kernel\": -1, \"kernelTCP\": 4096, \"swappiness\": 60,"
      "  \"disableOOMKiller\": true, \"useHierarchy\": true, \"checkBeforeUpdate\": "
      "false},"
      " \"cpu\": {\"shares\": 512, \"quota\": 50000, \"burst\": 0, \"period\": 100000,"
      "  \"realtimeRuntime\": 950000, \"realtimePeriod\": 1000000, \"cpus\": \"0-1,3\","
      "  \"mems\": \"0\", \"idle\": 1},"
      " \"pids\": {\"limit\": 32},"
      " \"blockIO\": {\"weight\": 500, \"leafWeight\": 300,"
      "  \"weightDevice\": [{\"major\": 8, \"minor\": 0, \"weight\": 200}],"
      "  \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 1048576}],"
      "  \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": 16, \"rate\": 100}]},"
      " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
      " \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
      "  {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": "
      "\"mwr\"},"
      "  {\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}],"
      " \"network\": {\"classID\": 1048577, \"priorities\": [{\"name\": \"eth0\", "
      "  \"priority\": 5}]},"
      " \"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3, \"hcaObjects\": 10000}},"
      " \"unified\": {\"memory.high\": \"50000000\"}}");
  assert_true(res->memory.limit.set);
  assert_int_equal(res->memory.limit.v, 67108864);
  assert_int_equal(res->memory.swap.v, 134217728);
  assert_int_equal(res->memory.kernel.v, -1);
  assert_int_equal(res->memory.swappiness.v, 60);
  assert_true(res->memory.disable_oom_killer.set && res->memory.disable_oom_killer.v);
  assert_true(res->memory.check_before_update.set &&
              !res->memory.check_before_update.v);
  assert_int_equal(res->cpu.shares.v, 512);
  assert_int_equal(res->cpu.quota.v, 50000);
  assert_true(res->cpu.burst.set); /* burst 0 is a value, not "unset" */
  assert_string_equal(res->cpu.cpus, "0-1,3");
  assert_int_equal(res->cpu.idle.v, 1);
  assert_int_equal(res->pids_limit.v, 32);
  assert_true(res->has_blkio);
  assert_int_equal(res->blkio.weight.v, 500);
  assert_int_equal(res->blkio.n_weight_devices, 1);
  assert_int_equal(res->blkio.weight_devices[0].weight.v, 200);
  assert_false(res->blkio.weight_devices[0].leaf_weight.set);
  assert_int_equal(res->blkio.throttle[0].items[0].rate, 1048576);
  assert_int_equal(res->blkio.throttle[3].items[0].minor, 16);
  assert_string_equal(res->hugepages[0].page_size, "2MB");
  assert_int_equal(res->n_devices, 3);
  assert_int_equal(res->devices[0].type, 'a');
  assert_int_equal(res->devices[0].major, -1);
  assert_string_equal(res->devices[1].access, "rwm"); /* normalized order */
  assert_int_equal(res->devices[2].minor, -1);
  assert_int_equal(res->net_class_id.v, 1048577);
  assert_string_equal(res->net_priorities[0].name, "eth0");
  assert_string_equal(res->rdma[0].device, "mlx5_1");
  assert_int_equal(res->rdma[0].hca_objects.v, 10000);
  assert_string_equal(res->unified[0].key, "memory.high");
  cgroup_resources_free(res);
}

static void test_parse_zero_means_unset_as_in_runc(void **state)
{
  struct cgroup_resources *res =
      parse_ok("{\"memory\": {\"limit\": 0, \"swap\": 0}, \"pids\": {\"limit\": 0},"
               " \"cpu\": {\"shares\": 0, \"quota\": 0}, \"blockIO\": {}}");
  assert_true(res->has_memory);
  assert_false(res->memory.limit.set || res->memory.swap.set || res->pids_limit.set);
  assert_false(res->cpu.shares.set || res->cpu.quota.set);
  assert_false(res->has_blkio); /* an empty blockIO needs no controller */
  cgroup_resources_free(res);
}

static void test_parse_rejects_bad_input_naming_the_field(void **state)
{
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"[]", "linux.resources: expected object, got array"},
      {"{\"memory\": 5}", "linux.resources.memory: expected object, got integer"},
      {"{\"memory\": {\"limit\": \"lots\"}}",
       "linux.resources.memory.limit: expected integer, got string"},
      {"{\"memory\": {\"limit\": -2}}", "linux.resources.memory.limit: must be -1 "
                                        "(unlimited) or a number of bytes, got -2"},
      {"{\"memory\": {\"swappiness\": 101}}",
       "linux.resources.memory.swappiness: 101 is out of range (at most 100)"},
      {"{\"memory\": {\"limit\": 2000, \"swap\": 1000}}",
       "linux.resources.memory.swap: memory+swap limit 1000 is below memory.limit "
       "2000"},
      {"{\"memory\": {\"disableOOMKiller\": 1}}",
       "linux.resources.memory.disableOOMKiller: expected boolean, got integer"},
      {"{\"cpu\": {\"shares\": -5}}",
       "linux.resources.cpu.shares: must not be negative"},
      {"{\"cpu\": {\"quota\": -7}}", "linux.resources.cpu.quota: must be -1 "
                                     "(unlimited) or a number of microseconds, got -7"},
      {"{\"cpu\": {\"idle\": 2}}", "linux.resources.cpu.idle: must be 0 or 1, got 2"},
      {"{\"cpu\": {\"cpus\": \"0;rm\"}}",
       "linux.resources.cpu.cpus: \"0;rm\" is not a list like \"0-3,8\""},
      {"{\"pids\": {\"limit\": 1.5}}",
       "linux.resources.pids.limit: expected integer, got number"},
      {"{\"blockIO\": {\"weight\": 5}}",
       "linux.resources.blockIO.weight: must be between 10 and 1000, got 5"},
      {"{\"blockIO\": {\"weightDevice\": [{\"major\": 8}]}}",
       "linux.resources.blockIO.weightDevice[0].minor: missing"},
      {"{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0}]}}",
       "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing"},
      {"{\"blockIO\": {\"throttleWriteBpsDevice\": [1]}}",
       "linux.resources.blockIO.throttleWriteBpsDevice[0]: expected object, got "
       "integer"},
      {"{\"hugepageLimits\": [{\"pageSize\": \"2XB\", \"limit\": 1}]}",
       "linux.resources.hugepageLimits[0].pageSize: \"2XB\" is not a size like \"2MB\" "
       "or "
       "\"1GB\""},
      {"{\"hugepageLimits\": [{\"pageSize\": \"2MB\"}]}",
       "linux.resources.hugepageLimits[0].limit: missing"},
      {"{\"devices\": [{\"access\": \"rwm\"}]}",
       "linux.resources.devices[0].allow: missing"},
      {"{\"devices\": [{\"allow\": true}, {\"allow\": true, \"type\": \"x\"}]}",
       "linux.resources.devices[1].type: must be \"a\", \"b\" or \"c\", got \"x\""},
      {"{\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]}",
       "linux.resources.devices[0].access: must be a combination of r, w and m, got "
       "\"rwx\""},
      {"{\"devices\": [{\"allow\": true, \"type\": \"c\", \"major\": -3}]}",
       "linux.resources.devices[0].major: -3 is not a device major number"},
      {"{\"network\": {\"classID\": 4294967296}}",
       "linux.resources.network.classID: 4294967296 is out of range (at most "
       "4294967295)"},
      {"{\"network\": {\"priorities\": [{\"name\": \"eth 0\", \"priority\": 1}]}}",
       "linux.resources.network.priorities[0].name: \"eth 0\" is not an interface "
       "name"},
      {"{\"rdma\": {\"mlx\": {\"hcaHandles\": \"3\"}}}",
       "linux.resources.rdma.mlx.hcaHandles: expected integer, got string"},
      {"{\"unified\": {\"../memory.max\": \"1\"}}",
       "linux.resources.unified: key \"../memory.max\" is not a cgroup file name like "
       "\"memory.high\""},
      {"{\"unified\": {\"cgroup.procs\": \"1\"}}",
       "linux.resources.unified.cgroup.procs: managed by the runtime"},
      {"{\"unified\": {\"memory.max\": 5}}",
       "linux.resources.unified.memory.max: expected string, got integer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cleanup_json json_t *json = json_loads(cases[i].json, 0, NULL);
    assert_non_null(json);
    struct cgroup_resources *res = NULL;
    skiff_error_t *err = NULL;
    if (cgroup_resources_parse(json, &res, &err) == 0)
      fail_msg("accepted %s", cases[i].json);
    assert_null(res);
    assert_string_equal(err->msg, cases[i].msg);
    skiff_error_free(&err);
  }
}

static void test_path_for_maps_cgroups_path(void **state)
{
  static const struct {
    const char *cgroups_path, *id;
    bool systemd;
    const char *want;
  } cases[] = {
      {NULL, "abc", false, "/skiff/abc"},
      {"", "abc", false, "/skiff/abc"},
      {"/docker/abc", "abc", false, "/docker/abc"},
      {"//a/./b/", "abc", false, "/a/b"},
      {"pods/p1", "abc", false, "/skiff/pods/p1"},
      {"system.slice:skiff:abc", "abc", true, "/system.slice/skiff-abc.scope"},
      {NULL, "abc", true, "/system.slice/skiff-abc.scope"},
      {":skiff:abc", "abc", true, "/system.slice/skiff-abc.scope"},
      {"machine-vm1.slice:libpod:x", "x", true,
       "/machine.slice/machine-vm1.slice/libpod-x.scope"},
      {"-.slice:p:n", "n", true, "/p-n.scope"},
      {"user.slice::n", "n", true, "/user.slice/n.scope"},
      {"system.slice:p:kubepods.slice", "x", true, "/system.slice/kubepods.slice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    skiff_error_t *err = NULL;
    cleanup_free char *path =
        cgroup_path_for(cases[i].cgroups_path, cases[i].id, cases[i].systemd, &err);
    if (path == NULL)
      fail_msg("case %zu: %s", i, err->msg);
    assert_string_equal(path, cases[i].want);
  }
}

static void test_path_for_rejects_escapes_and_bad_names(void **state)
{
  static const struct {
    const char *cgroups_path, *id;
    bool systemd;
    const char *msg;
  } cases[] = {
      {"/a/../../etc", "abc", false,
       "cgroupsPath \"/a/../../etc\": \"..\" is not allowed"},
      {"/", "abc", false, "cgroupsPath \"/\": must name a cgroup below the root"},
      {NULL, "a/b", false, "container id \"a/b\" cannot name a cgroup"},
      {NULL, "", false, "container id \"\" cannot name a cgroup"},
      {"system.slice:abc", "abc", true,
       "cgroupsPath \"system.slice:abc\": expected \"slice:prefix:name\" with the "
       "systemd "
       "cgroup driver"},
      {"system:p:n", "n", true, "cgroupsPath: \"system\" is not a systemd slice name"},
      {"a--b.slice:p:n", "n", true,
       "cgroupsPath: \"a--b.slice\" is not a systemd slice name"},
      {"system.slice:p:", "n", true, "cgroupsPath \"system.slice:p:\": bad unit name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    skiff_error_t *err = NULL;
    char *path =
        cgroup_path_for(cases[i].cgroups_path, cases[i].id, cases[i].systemd, &err);
    if (path != NULL)
      fail_msg("case %zu accepted: %s", i, path);
    assert_string_equal(err->msg, cases[i].msg);
    skiff_error_free(&err);
  }
}

static void test_v1_values_convert_to_v2_as_runc_does(void **state)
{
  static const struct {
    uint64_t shares, weight;
  } shares[] = {{2, 1},          {1024, 39}, {512, 20},
                {262144, 10000}, {1, 1},     {999999, 10000}};
  for (size_t i = 0; i < sizeof shares / sizeof shares[0]; i++)
    assert_int_equal(cg_shares_to_weight(shares[i].shares), shares[i].weight);
  assert_int_equal(cg_blkio_weight_to_io_weight(10), 1);
  assert_int_equal(cg_blkio_weight_to_io_weight(500), 4950);
  assert_int_equal(cg_blkio_weight_to_io_weight(1000), 10000);

  static const struct {
    int64_t swap, limit;
    const char *want;
  } swaps[] = {
      {-1, 1000, "max"}, {3000, 1000, "2000"}, {1000, 1000, "0"}, {500, -1, "max"}};
  for (size_t i = 0; i < sizeof swaps / sizeof swaps[0]; i++) {
    char buf[32];
    assert_int_equal(cg_swap_to_v2(swaps[i].swap, swaps[i].limit, buf, NULL), 0);
    assert_string_equal(buf, swaps[i].want);
  }
  skiff_error_t *err = NULL;
  char buf[32];
  assert_int_equal(cg_swap_to_v2(500, 1000, buf, &err), -1);
  assert_string_equal(err->msg,
                      "linux.resources.memory.swap: memory+swap limit 500 is below "
                      "memory.limit 1000");
  skiff_error_free(&err);
}

static void test_mountinfo_finds_v1_hierarchies(void **state)
{
  static const char *mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "33 31 0:30 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
      "34 31 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "35 31 0:32 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup "
      "rw,net_cls,net_prio\n"
      "36 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
      "37 23 0:30 / /mnt/with\\040space rw - cgroup cgroup rw,memory\n"
      "38 23 0:40 / /mnt/odd\\040dir rw - cgroup cgroup rw,freezer,clone_children\n";
  char *known[] = {"cpu", "cpuacct", "memory", "net_cls", "net_prio", "freezer", NULL};
  struct cg_host host;
  assert_int_equal(
      cg_host_parse_mountinfo(mountinfo, known, CGROUP_LAYOUT_HYBRID, &host, NULL), 0);
  assert_int_equal(host.n_hier, 5);
  assert_string_equal(host.hier[0].mount, "/sys/fs/cgroup/cpu,cpuacct");
  assert_string_equal(host.hier[0].controllers[0], "cpu");
  assert_string_equal(host.hier[0].controllers[1], "cpuacct");
  assert_null(host.hier[0].controllers[2]);
  assert_string_equal(host.hier[1].mount,
                      "/sys/fs/cgroup/memory"); /* first mount wins */
  assert_string_equal(host.hier[2].controllers[0], "name=systemd");
  assert_null(host.hier[2].controllers[1]);
  assert_string_equal(host.hier[4].mount, "/mnt/odd dir");
  assert_null(host.hier[4].controllers[1]);
  cg_host_clear(&host);

  assert_int_equal(
      cg_host_parse_mountinfo(mountinfo, known, CGROUP_LAYOUT_V2, &host, NULL), 0);
  assert_int_equal(host.n_hier, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_null_means_no_limits),
      cmocka_unit_test(test_parse_reads_every_section),
      cmocka_unit_test(test_parse_zero_means_unset_as_in_runc),
      cmocka_unit_test(test_parse_rejects_bad_input_naming_the_field),
      cmocka_unit_test(test_path_for_maps_cgroups_path),
      cmocka_unit_test(test_path_for_rejects_escapes_and_bad_names),
      cmocka_unit_test(test_v1_values_convert_to_v2_as_runc_does),
      cmocka_unit_test(test_mountinfo_finds_v1_hierarchies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
