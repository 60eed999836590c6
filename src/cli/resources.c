/* Container resource limits on the command line: the flags run, create and
 * update share (-m, --memory-swap, --cpus, --pids-limit, ...) with docker's
 * value syntax and messages, and the update command. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"

static int flag_error(const char *flag, const char *value, skiff_error_t **err,
                      const char *fmt, const char *detail)
{
  char why[256];
  snprintf(why, sizeof why, fmt, detail);
  return skiff_error_invalid(err, "invalid argument \"%s\" for \"%s\" flag: %s", value,
                             flag, why);
}

int cli_parse_bytes(const char *flag, const char *text, long long *out,
                    skiff_error_t **err)
{
  if (opts_parse_bytes(text, out, err) == 0)
    return 0;
  cleanup_free char *why = steal_pointer(&(*err)->msg);
  skiff_error_free(err);
  return flag_error(flag, text, err, "%s", why);
}

/* docker's NanoCPUs: a rational number of CPUs, exact in nanoCPUs. */
static int parse_cpus(const char *text, long long *nano, skiff_error_t **err)
{
  const char *p = text;
  bool negative = *p == '-';
  if (*p == '-' || *p == '+')
    p++;
  size_t whole_len = strspn(p, "0123456789");
  const char *frac = p[whole_len] == '.' ? p + whole_len + 1 : NULL;
  size_t frac_len = frac ? strspn(frac, "0123456789") : 0;
  const char *end = frac ? frac + frac_len : p + whole_len;
  if (*end != '\0' || whole_len + frac_len == 0 || whole_len > 9)
    return flag_error("--cpus", text, err, "failed to parse %s as a rational number",
                      text);
  long long v = 0;
  for (size_t i = 0; i < whole_len; i++)
    v = v * 10 + (p[i] - '0');
  for (size_t i = 0; i < 9; i++)
    v = v * 10 + (i < frac_len ? frac[i] - '0' : 0);
  for (size_t i = 9; i < frac_len; i++)
    if (frac[i] != '0')
      return flag_error("--cpus", text, err, "%s", "value is too precise");
  *nano = negative ? -v : v;
  return 0;
}

static int parse_weight(const char *text, long long *out, skiff_error_t **err)
{
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end || text[0] == '-' || text[0] == '+')
    return flag_error("--blkio-weight", text, err,
                      "strconv.ParseUint: parsing \"%s\": invalid syntax", text);
  if (errno == ERANGE || v > 65535)
    return flag_error("--blkio-weight", text, err,
                      "strconv.ParseUint: parsing \"%s\": value out of range", text);
  *out = (long long)v;
  return 0;
}

static int cmp_opts(const void *a, const void *b)
{
  return strcmp(((const struct opt *)a)->name, ((const struct opt *)b)->name);
}

int resource_options(struct resource_flags *f, struct opt *opts, int n)
{
  const struct opt mine[] = {
      {"blkio-weight", 0, OPT_STRING, &f->blkio_weight, "uint16",
       "Block IO (relative weight), between 10 and 1000, or 0 to disable\n(default 0)",
       NULL},
      {"cpu-period", 0, OPT_INT, &f->cpu_period, "int",
       "Limit CPU CFS (Completely Fair Scheduler) period", &f->cpu_period_given},
      {"cpu-quota", 0, OPT_INT, &f->cpu_quota, "int",
       "Limit CPU CFS (Completely Fair Scheduler) quota", &f->cpu_quota_given},
      {"cpu-shares", 'c', OPT_INT, &f->cpu_shares, "int",
       "CPU shares (relative weight)", &f->cpu_shares_given},
      {"cpus", 0, OPT_STRING, &f->cpus, "decimal", "Number of CPUs", NULL},
      {"cpuset-cpus", 0, OPT_STRING, &f->cpuset_cpus, "string",
       "CPUs in which to allow execution (0-3, 0,1)", NULL},
      {"cpuset-mems", 0, OPT_STRING, &f->cpuset_mems, "string",
       "MEMs in which to allow execution (0-3, 0,1)", NULL},
      {"memory", 'm', OPT_BYTES, &f->memory, "bytes", "Memory limit", NULL},
      {"memory-reservation", 0, OPT_BYTES, &f->memory_reservation, "bytes",
       "Memory soft limit", NULL},
      {"memory-swap", 0, OPT_STRING, &f->memory_swap, "bytes",
       "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", NULL},
      {"pids-limit", 0, OPT_INT, &f->pids_limit, "int",
       "Tune container pids limit (set -1 for unlimited)", &f->pids_limit_given},
  };
  for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
    opts[n++] = mine[i];
  qsort(opts, (size_t)n, sizeof *opts, cmp_opts); /* docker lists flags sorted */
  return n;
}

int resource_flags_parse(struct cli *cli, struct resource_flags *f, skiff_error_t **err)
{
  int r = 0;
  if (f->memory)
    r = cli_parse_bytes("-m, --memory", f->memory, &f->memory_bytes, err);
  if (r == 0 && f->memory_swap) {
    if (strcmp(f->memory_swap, "-1") == 0)
      f->memory_swap_bytes = -1;
    else
      r = cli_parse_bytes("--memory-swap", f->memory_swap, &f->memory_swap_bytes, err);
  }
  if (r == 0 && f->memory_reservation)
    r = cli_parse_bytes("--memory-reservation", f->memory_reservation,
                        &f->memory_reservation_bytes, err);
  if (r == 0 && f->cpus)
    r = parse_cpus(f->cpus, &f->nano_cpus, err);
  if (r == 0 && f->blkio_weight)
    r = parse_weight(f->blkio_weight, &f->blkio_weight_value, err);
  if (r < 0)
    cli->fail_status = 125;
  return r;
}

static void put_int(json_t *obj, const char *key, bool given, long long v)
{
  if (given)
    json_object_set_new(obj, key, json_integer(v));
}

void resource_flags_put(const struct resource_flags *f, json_t *obj)
{
  put_int(obj, "Memory", f->memory, f->memory_bytes);
  put_int(obj, "MemorySwap", f->memory_swap, f->memory_swap_bytes);
  put_int(obj, "MemoryReservation", f->memory_reservation, f->memory_reservation_bytes);
  put_int(obj, "NanoCpus", f->cpus, f->nano_cpus);
  put_int(obj, "CpuShares", f->cpu_shares_given, f->cpu_shares);
  put_int(obj, "CpuPeriod", f->cpu_period_given, f->cpu_period);
  put_int(obj, "CpuQuota", f->cpu_quota_given, f->cpu_quota);
  put_int(obj, "PidsLimit", f->pids_limit_given, f->pids_limit);
  put_int(obj, "BlkioWeight", f->blkio_weight, f->blkio_weight_value);
  if (f->cpuset_cpus)
    json_object_set_new(obj, "CpusetCpus", json_string(f->cpuset_cpus));
  if (f->cpuset_mems)
    json_object_set_new(obj, "CpusetMems", json_string(f->cpuset_mems));
}

json_t *cli_restart_policy(const char *text, skiff_error_t **err)
{
  /* docker's opts.ParseRestartPolicy: only the form is checked here, the
   * daemon judges the name and the count. */
  const char *colon = strchr(text, ':');
  if (colon == text) {
    skiff_error_invalid(err, "invalid restart policy format: no policy provided before "
                             "colon");
    return NULL;
  }
  long long count = 0;
  if (colon && colon[1]) {
    char *end = NULL;
    errno = 0;
    count = strtoll(colon + 1, &end, 10);
    if (*end || errno || isspace((unsigned char)colon[1])) {
      skiff_error_invalid(err,
                          "invalid restart policy format: maximum retry count must be "
                          "an integer");
      return NULL;
    }
  }
  return json_pack("{s:s%, s:I}", "Name", text,
                   colon ? (size_t)(colon - text) : strlen(text), "MaximumRetryCount",
                   (json_int_t)count);
}

/* ---- update ------------------------------------------------------------ */

struct update_ctx {
  json_t *body;
  json_t *warnings; /* printed after the names, as docker does */
};

static int update_one(struct cli *cli, const char *name, void *arg, skiff_error_t **err)
{
  struct update_ctx *u = arg;
  cleanup_free char *path = cli_path("/containers/%s/update", name);
  cleanup_json json_t *answer =
      path ? client_json(cli->client, "POST", path, u->body, NULL, err) : NULL;
  if (answer == NULL)
    return -1;
  json_array_extend(u->warnings, json_object_get(answer, "Warnings"));
  return 0;
}

int cmd_update(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct resource_flags f = {0};
  const char *restart = NULL;
  struct opt opts[16] = {
      {"restart", 0, OPT_STRING, &restart, "string",
       "Restart policy to apply when a container exits", NULL},
  };
  int n = resource_options(&f, opts, 1);
  opts[n] = (struct opt){0};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary =
                                  "Update configuration of one or more containers",
                              .aliases = "skiff container update, skiff update",
                              .min_args = 1,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (resource_flags_parse(cli, &f, err) < 0)
    return -1;
  cleanup_json json_t *body = json_object();
  resource_flags_put(&f, body);
  if (restart) {
    json_t *policy = cli_restart_policy(restart, err);
    if (policy == NULL)
      return -1;
    json_object_set_new(body, "RestartPolicy", policy);
  }
  if (json_object_size(body) == 0)
    return skiff_error_invalid(err,
                               "you must provide one or more flags when using this "
                               "command");
  cleanup_json json_t *warnings = json_array();
  struct update_ctx u = {body, warnings};
  int status = cli_for_each(cli, args, nargs, update_one, &u);
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w) if (json_is_string(w))
      printf("%s\n", json_string_value(w));
  return status;
}
