/* dockerd's checks of a create request: see create_request.h. The
 * messages are dockerd's (daemon/container.go verifyContainerSettings,
 * daemon/daemon_unix.go verifyPlatformContainerResources, runconfig). */
#include "create_request.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "gotypes.h"

#define MIN_MEMORY (6 * 1024 * 1024) /* dockerd's linuxMinMemory */

static json_int_t int_at(json_t *obj, const char *key)
{
  return json_integer_value(json_object_get(obj, key));
}

static const char *string_at(json_t *obj, const char *key)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

/* Go's decoder: the first value must parse, and (since moby 25) nothing
 * but white space may follow it. */
static json_t *decode(const char *body, size_t len, skiff_error_t **err)
{
  size_t skip = 0, end = 0;
  char msg[160];
  while (skip < len && isspace((unsigned char)body[skip]))
    skip++;
  if (skip == len) {
    skiff_error_invalid(err, "invalid JSON: got EOF while reading request body");
    return NULL;
  }
  if (gotypes_syntax(body, len, &end, msg, sizeof msg) < 0) {
    skiff_error_invalid(err, "invalid JSON: %s", msg);
    return NULL;
  }
  /* Decoder.More: anything after white space but a closing bracket. */
  while (end < len && strchr(" \t\r\n", body[end]))
    end++;
  if (end < len && body[end] != ']' && body[end] != '}') {
    skiff_error_invalid(err, "unexpected content after JSON");
    return NULL;
  }
  json_error_t jerr;
  json_t *v = json_loadb(body, end, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
  if (v == NULL)
    skiff_error_invalid(err, "invalid JSON: %s", jerr.text);
  return v;
}

/* docker's signal.ParseSignal: a positive number, or a known name. */
static bool valid_signal(const char *text)
{
  if (*text != '\0' && strspn(text, "0123456789") == strlen(text))
    return strtoll(text, NULL, 10) > 0;
  return proc_parse_signal(text) > 0;
}

static int check_healthcheck(json_t *hc, skiff_error_t **err)
{
  static const char *const durations[] = {"Interval", "Timeout", "StartPeriod",
                                          "StartInterval"};
  for (size_t i = 0; i < sizeof durations / sizeof *durations; i++) {
    json_int_t d = int_at(hc, durations[i]);
    if (d != 0 && d < 1000000)
      return skiff_error_invalid(err, "%s in Healthcheck cannot be less than 1ms",
                                 durations[i]);
  }
  if (int_at(hc, "Retries") < 0)
    return skiff_error_invalid(err, "Retries in Healthcheck cannot be negative");
  return 0;
}

static int check_config(json_t *config, skiff_error_t **err)
{
  const char *wd = string_at(config, "WorkingDir");
  if (*wd && *wd != '/')
    return skiff_error_invalid(err,
                               "the working directory '%s' is invalid, it needs to "
                               "be an absolute path",
                               wd);
  const char *sig = string_at(config, "StopSignal");
  if (*sig && !valid_signal(sig))
    return skiff_error_invalid(err, "Invalid signal: %s", sig);
  if (check_healthcheck(json_object_get(config, "Healthcheck"), err) < 0)
    return -1;
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(config, "Env"), i, item)
  {
    const char *e = json_string_value(item);
    if (e == NULL || *e == '\0' || *e == '=')
      return skiff_error_invalid(err, "invalid environment variable: %s", e ? e : "");
  }
  return 0;
}

static int check_restart_policy(json_t *host, skiff_error_t **err)
{
  json_t *policy = json_object_get(host, "RestartPolicy");
  const char *name = string_at(policy, "Name");
  json_int_t retries = int_at(policy, "MaximumRetryCount");
  bool none = *name == '\0' || strcmp(name, "no") == 0;
  if (json_is_true(json_object_get(host, "AutoRemove")) && !none)
    return skiff_error_invalid(err, "can't create 'AutoRemove' container with restart "
                                    "policy");
  if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0 ||
      strcmp(name, "no") == 0) {
    if (retries != 0)
      return skiff_error_invalid(err,
                                 "maximum retry count cannot be used with restart "
                                 "policy '%s'",
                                 name);
  } else if (strcmp(name, "on-failure") == 0) {
    if (retries < 0)
      return skiff_error_invalid(err, "maximum retry count cannot be negative");
  } else if (*name) {
    return skiff_error_invalid(err, "invalid restart policy '%s'", name);
  }
  return 0;
}

static int check_memory(json_t *host, skiff_error_t **err)
{
  json_int_t memory = int_at(host, "Memory"), swap = int_at(host, "MemorySwap");
  json_int_t reservation = int_at(host, "MemoryReservation");
  json_t *swappiness = json_object_get(host, "MemorySwappiness");
  if (memory != 0 && memory < MIN_MEMORY)
    return skiff_error_invalid(err, "Minimum memory limit allowed is 6MB");
  if (memory > 0 && swap != 0 && swap < memory)
    return skiff_error_invalid(err, "Minimum memoryswap limit should be larger than "
                                    "memory limit, see usage");
  if (memory == 0 && swap > 0)
    return skiff_error_invalid(err, "You should always set the Memory limit when using "
                                    "Memoryswap limit, see usage");
  if (json_is_integer(swappiness) &&
      (json_integer_value(swappiness) < -1 || json_integer_value(swappiness) > 100))
    return skiff_error_invalid(err,
                               "Invalid value: %lld, valid memory swappiness range "
                               "is 0-100",
                               (long long)json_integer_value(swappiness));
  if (memory > 0 && reservation > 0 && memory < reservation)
    return skiff_error_invalid(err, "Minimum memory limit can not be less than memory "
                                    "reservation limit, see usage");
  if (reservation > 0 && reservation < MIN_MEMORY)
    return skiff_error_invalid(err, "Minimum memory reservation allowed is 6MB");
  return 0;
}

static int online_cpus(void)
{
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static int check_cpu(json_t *host, skiff_error_t **err)
{
  json_int_t nano = int_at(host, "NanoCpus"), period = int_at(host, "CpuPeriod");
  json_int_t quota = int_at(host, "CpuQuota");
  int ncpu = online_cpus();
  if (nano > 0 && period > 0)
    return skiff_error_invalid(err,
                               "Conflicting options: Nano CPUs and CPU Period cannot "
                               "both be set");
  if (nano > 0 && quota > 0)
    return skiff_error_invalid(err,
                               "Conflicting options: Nano CPUs and CPU Quota cannot "
                               "both be set");
  if (nano < 0 || nano > (json_int_t)ncpu * 1000000000)
    return skiff_error_invalid(err,
                               "Range of CPUs is from 0.01 to %d.00, as there are "
                               "only %d CPUs available",
                               ncpu, ncpu);
  if (period != 0 && (period < 1000 || period > 1000000))
    return skiff_error_invalid(err,
                               "CPU cfs period can not be less than 1ms (i.e. 1000) "
                               "or larger than 1s (i.e. 1000000)");
  if (quota > 0 && quota < 1000)
    return skiff_error_invalid(err,
                               "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  return 0;
}

/* docker's parsers.ParseUintList: "0-2,5"; marks the members in set. */
static bool parse_uint_list(const char *text, bool set[1024])
{
  memset(set, 0, 1024 * sizeof *set);
  for (const char *p = text; *p;) {
    char *end;
    if (!isdigit((unsigned char)*p))
      return false;
    unsigned long lo = strtoul(p, &end, 10), hi = lo;
    if (*end == '-') {
      if (!isdigit((unsigned char)end[1]))
        return false;
      hi = strtoul(end + 1, &end, 10);
    }
    if (hi < lo || hi >= 1024 || (*end != ',' && *end != '\0') ||
        (*end == ',' && end[1] == '\0'))
      return false;
    for (unsigned long i = lo; i <= hi; i++)
      set[i] = true;
    p = *end ? end + 1 : end;
  }
  return true;
}

/* The first of the files that exists, its first line. */
static char *first_line_of(const char *const *paths, const char *fallback)
{
  for (const char *const *p = paths; *p; p++) {
    char *text = fs_read_file(*p, NULL, NULL);
    if (text) {
      text[strcspn(text, "\n")] = '\0';
      return text;
    }
  }
  return strdup(fallback);
}

static int check_cpuset(json_t *host, const char *key, skiff_error_t **err)
{
  static const char *const cpus[] = {"/sys/fs/cgroup/cpuset/cpuset.cpus",
                                     "/sys/fs/cgroup/cpuset.cpus.effective",
                                     "/sys/devices/system/cpu/online", NULL};
  static const char *const mems[] = {"/sys/fs/cgroup/cpuset/cpuset.mems",
                                     "/sys/fs/cgroup/cpuset.mems.effective",
                                     "/sys/devices/system/node/online", NULL};
  bool is_cpus = strcmp(key, "CpusetCpus") == 0;
  const char *what = is_cpus ? "cpus" : "mems";
  const char *value = string_at(host, key);
  bool wanted[1024], have[1024];
  if (*value == '\0')
    return 0;
  if (!parse_uint_list(value, wanted))
    return skiff_error_invalid(
        err, "Invalid value %s for cpuset %s: invalid format: %s", value, what, value);
  cleanup_free char *available = first_line_of(is_cpus ? cpus : mems, "0");
  if (!available || !parse_uint_list(available, have))
    return 0;
  for (size_t i = 0; i < 1024; i++)
    if (wanted[i] && !have[i])
      return skiff_error_invalid(err,
                                 "Requested %s are not available - requested %s, "
                                 "available: %s",
                                 is_cpus ? "CPUs" : "memory nodes", value, available);
  return 0;
}

static int check_modes(json_t *host, skiff_error_t **err)
{
  const char *cgroupns = string_at(host, "CgroupnsMode");
  const char *network = string_at(host, "NetworkMode");
  const char *isolation = string_at(host, "Isolation");
  if (int_at(host, "ShmSize") < 0)
    return skiff_error_invalid(err, "SHM size can not be less than 0");
  if (int_at(host, "OomScoreAdj") < -1000 || int_at(host, "OomScoreAdj") > 1000)
    return skiff_error_invalid(err,
                               "Invalid value %lld, range for oom score adj is "
                               "[-1000, 1000]",
                               (long long)int_at(host, "OomScoreAdj"));
  if (*cgroupns && strcmp(cgroupns, "host") != 0 && strcmp(cgroupns, "private") != 0)
    return skiff_error_invalid(err, "invalid cgroup namespace mode: %s", cgroupns);
  if (strcmp(network, "container:") == 0)
    return skiff_error_invalid(err, "Invalid network mode: invalid container format "
                                    "container:<name|id>");
  if (*isolation && strcasecmp(isolation, "default") != 0)
    return skiff_error_invalid(err,
                               "Invalid isolation: \"%s\" - linux only supports "
                               "'default'",
                               isolation);
  const char *runtime = string_at(host, "Runtime");
  if (*runtime && strcmp(runtime, "skiff-oci") != 0 && strcmp(runtime, "runc") != 0)
    return skiff_error_invalid(err, "Unknown runtime specified %s", runtime);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(host, "ExtraHosts"), i, item)
  {
    const char *h = json_string_value(item);
    const char *sep = h ? strpbrk(h, ":=") : NULL;
    if (sep == NULL || sep == h || sep[1] == '\0')
      return skiff_error_invalid(err, "bad format for add-host: \"%s\"", h ? h : "");
  }
  return 0;
}

/* The options each log driver takes (their ValidateLogOpt); the drivers
 * dockerd has built in that skiff does not implement are refused here,
 * before anything exists, rather than at start. */
static int check_log_config(json_t *host, const char *dflt, skiff_error_t **err)
{
  static const char *const json_file[] = {"max-file",  "max-size",     "compress",
                                          "labels",    "labels-regex", "env",
                                          "env-regex", "tag",          NULL};
  static const char *const docker_drivers[] = {
      "local",  "syslog",  "journald", "gelf",       "fluentd", "awslogs",
      "splunk", "etwlogs", "gcplogs",  "logentries", NULL};
  json_t *lc = json_object_get(host, "LogConfig");
  const char *type = string_at(lc, "Type");
  if (*type == '\0')
    type = dflt ? dflt : "json-file";
  if (strcmp(type, "none") == 0)
    return 0;
  if (strcmp(type, "json-file") != 0) {
    for (const char *const *d = docker_drivers; *d; d++)
      if (strcmp(*d, type) == 0)
        return skiff_error_invalid(err,
                                   "log driver '%s' is not supported by skiff (use "
                                   "json-file or none)",
                                   type);
    return skiff_error_invalid(err,
                               "error looking up logging plugin %s: plugin \"%s\" "
                               "not found",
                               type, type);
  }
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(lc, "Config"), key, v)
  {
    const char *const *k = json_file;
    while (*k && strcmp(*k, key) != 0)
      k++;
    if (*k == NULL)
      return skiff_error_invalid(err, "unknown log opt '%s' for json-file log driver",
                                 key);
  }
  return 0;
}

static int check_host(json_t *host, const char *log_driver, skiff_error_t **err)
{
  if (check_restart_policy(host, err) < 0 || check_memory(host, err) < 0 ||
      check_cpu(host, err) < 0 || check_cpuset(host, "CpusetCpus", err) < 0 ||
      check_cpuset(host, "CpusetMems", err) < 0 || check_modes(host, err) < 0)
    return -1;
  return check_log_config(host, log_driver, err);
}

/* Decoded and of docker's Go types, or NULL with *err. */
static json_t *decode_typed(const char *body, size_t len, skiff_error_t **err)
{
  cleanup_json json_t *req = decode(body ? body : "", body ? len : 0, err);
  if (req == NULL)
    return NULL;
  if (gotypes_check(req, create_request_type(), err) < 0) {
    skiff_error_wrap(err, "invalid JSON");
    return NULL;
  }
  return steal_pointer(&req);
}

json_t *create_request_parse_config(const char *body, size_t len, skiff_error_t **err)
{
  size_t skip = 0;
  while (body && skip < len && isspace((unsigned char)body[skip]))
    skip++;
  if (body == NULL || skip == len) /* dockerd: io.EOF is no error here */
    return NULL;
  return decode_typed(body, len, err);
}

json_t *create_request_parse(const char *body, size_t len, const char *log_driver,
                             skiff_error_t **err)
{
  cleanup_json json_t *req = decode_typed(body, len, err);
  if (req == NULL)
    return NULL;
  /* CreateRequest embeds *Config: without one of its keys there is none. */
  if (!gotypes_has_field(req, create_request_config_type())) {
    skiff_error_invalid(err, "config cannot be empty in order to create a container");
    return NULL;
  }
  /* dockerd: an Entrypoint of "" (or [""], the CLI's --entrypoint "")
   * resets the image's entrypoint without taking its Cmd; [] says that
   * to containers_create. */
  json_t *entrypoint = json_object_get(req, "Entrypoint");
  json_t *first = json_is_array(entrypoint) && json_array_size(entrypoint) == 1
                      ? json_array_get(entrypoint, 0)
                      : entrypoint;
  if (json_is_string(first) && *json_string_value(first) == '\0')
    json_object_set_new(req, "Entrypoint", json_array());
  if (check_config(req, err) < 0 ||
      check_host(json_object_get(req, "HostConfig"), log_driver, err) < 0)
    return NULL;
  return steal_pointer(&req);
}
