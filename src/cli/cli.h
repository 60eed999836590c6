/* The skiff command line: docker's commands, flags, output and exit codes,
 * spoken to the daemon over HTTP (client.h). Each command group lives in
 * its own file; main.c dispatches and reports errors. */
#ifndef SKIFF_CLI_CLI_H
#define SKIFF_CLI_CLI_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "common/error.h"
#include "opts.h"

struct cli {
  const char *host; /* the daemon address, as client_pick_host chose it */
  struct client *client;
  const char *name; /* the command as invoked: "ps", "container ls" */
  bool debug;
  int fail_status; /* exit status when a command returns -1 (docker: 1) */
};

/* A command: returns an exit status >= 0, or -1 with *err (main prints it
 * and exits with cli->fail_status). */
typedef int (*cli_command_fn)(struct cli *cli, int argc, char **argv,
                              skiff_error_t **err);

/* Parse the command's flags (see opts_parse); on a usage error sets the
 * exit status docker uses (125 for a bad flag, 1 for a bad argument count).
 * Returns OPTS_OK, OPTS_HELP, or -1. */
int cli_parse(struct cli *cli, struct command_spec *spec, const struct opt *opts,
              int argc, char **argv, char ***args, int *nargs, skiff_error_t **err);

/* The path with one escaped name: cli_path("/containers/%s/json", "web"). */
char *cli_path(const char *fmt, const char *name);

/* docker's --filter list ("key=value", repeated) as the API's filters JSON
 * text ({"key":{"value":true}}), or NULL when the list is empty or invalid
 * (then *err is set). */
char *cli_filters_json(const struct strlist *filters, skiff_error_t **err);

/* Ask "Are you sure you want to continue? [y/N] " on stderr after message;
 * true when the answer is y or yes. */
bool cli_confirm(const char *message);

/* Print one error line to stderr as main does ("Error response from daemon: ..."). */
void cli_report(const skiff_error_t *err);

/* Print each "Warnings" string of a daemon answer as "WARNING: ..." on stderr. */
void cli_print_warnings(json_t *answer);

/* Run fn on every name in args, reporting errors as docker's multi-object
 * commands do; returns 0 or 1. fn returns < 0 on error, 0 for a success
 * whose name is printed, > 0 for a success that printed its own output
 * (or deliberately nothing). */
int cli_for_each(struct cli *cli, char **args, int nargs,
                 int (*fn)(struct cli *cli, const char *name, void *arg,
                           skiff_error_t **err),
                 void *arg);

/* strerror as Go's syscall errors read ("no such file or directory"), for
 * messages docker prints as they come from Go (thread-local buffer). */
const char *cli_go_strerror(int errnum);

/* Shorten a "sha256:..." id to 12 hex digits (stringid.TruncateID). */
void cli_short_id(const char *id, char *buf, size_t len);

/* GET path into the file output (written whole or not at all), or to
 * stdout when output is NULL; errors start with what ("failed to save
 * image"). */
int cli_download(struct cli *cli, const char *path, const char *output,
                 const char *what, skiff_error_t **err);

/* container.c */
int cmd_ps(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_start(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_stop(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_restart(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_kill(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_pause(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_unpause(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_wait(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_rm(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_rename(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_logs(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_container_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_container_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_attach(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* cp.c, diffcommit.c: a container's files */
int cmd_cp(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_export(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_diff(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_commit(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* run.c */
int cmd_run(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_create(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* docker's -e and --env-file (files first, then the flags): an Env array.
 * NULL with *err for a malformed entry or an unreadable file. */
json_t *cli_build_env(const struct strlist *env_flags, const struct strlist *env_files,
                      skiff_error_t **err);

/* exec.c */
int cmd_exec(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* Attach to a created or running container and copy its streams until it
 * closes them (used by run, start -a and attach). */
struct attach_opts {
  bool in, out, err; /* which streams */
  bool tty;
  bool proxy_signals;
  bool redraw;             /* resize once to a wrong size first (docker attach) */
  const char *detach_keys; /* --detach-keys; NULL: the config file's or docker's */
};
struct attachment;
/* Hijack POST /containers/{id}/attach. NULL with *err. */
struct attachment *run_attach_open(struct cli *cli, const char *id,
                                   const struct attach_opts *o, skiff_error_t **err);
/* Copy streams until the container closes them (raw mode, resizes and
 * signals handled); the terminal is restored when it returns. Returns 0,
 * ATTACH_DETACHED when the user typed the detach keys, or -1 with *err. */
#define ATTACH_DETACHED 1
int run_attach_pump(struct cli *cli, struct attachment *a, const char *id,
                    skiff_error_t **err);
void run_attach_close(struct attachment *a);

/* detachKeys of docker's client configuration ($DOCKER_CONFIG/config.json
 * or ~/.docker/config.json), used when --detach-keys is not given (attach,
 * run, start, exec); NULL if unset. A static buffer. */
const char *cli_config_detach_keys(void);

/* A POST /containers/{id}/wait running in a thread, started before the
 * container so its exit cannot be missed. */
struct waiter;
struct waiter *run_wait_begin(struct cli *cli, const char *id, const char *condition,
                              skiff_error_t **err);
/* The exit status (or -1 with *err); frees the waiter. */
int run_wait_end(struct waiter *w, skiff_error_t **err);
/* Wait up to seconds for the answer; true when it came. */
bool run_wait_settle(struct waiter *w, int seconds);
/* Give up waiting (the container did not start); frees the waiter. */
void run_wait_cancel(struct waiter *w);

/* docker's exit status for a failed start: 127 when the command was not
 * found, 126 when it could not be executed, else 125. */
int run_start_error_status(const char *message);

/* resources.c: the resource flags of run, create and update. */
struct resource_flags {
  const char *memory, *memory_swap, *memory_reservation, *cpus, *blkio_weight;
  const char *cpuset_cpus, *cpuset_mems;
  long long cpu_shares, cpu_period, cpu_quota, pids_limit;
  bool cpu_shares_given, cpu_period_given, cpu_quota_given, pids_limit_given;
  /* filled by resource_flags_parse */
  long long memory_bytes, memory_swap_bytes, memory_reservation_bytes, nano_cpus;
  long long blkio_weight_value;
};
/* Add the resource flags to opts[0..n) (room for 11 more), sorting the
 * whole list by name as docker's help does. Returns the new count. */
int resource_options(struct resource_flags *f, struct opt *opts, int n);
/* Turn the given values into numbers; a bad one is docker's flag error
 * (exit 125 with the usage hint). */
int resource_flags_parse(struct cli *cli, struct resource_flags *f,
                         skiff_error_t **err);
/* Put the given flags into a HostConfig or UpdateConfig object. */
void resource_flags_put(const struct resource_flags *f, json_t *obj);
/* docker's units.RAMInBytes for flag (named as in its messages: "-m, --memory"). */
int cli_parse_bytes(const char *flag, const char *text, long long *out,
                    skiff_error_t **err);
/* docker's opts.ParseRestartPolicy ("on-failure:3") as a RestartPolicy object. */
json_t *cli_restart_policy(const char *text, skiff_error_t **err);
int cmd_update(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* stats.c */
int cmd_top(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_stats(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* image.c */
int cmd_images(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_tag(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_rmi(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_import(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_save(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_load(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_pull(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_image_inspect(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_image_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* Pull ref from its registry, printing progress to out (run does this for a
 * missing image). Returns 0 or -1. */
int image_pull(struct cli *cli, const char *ref, FILE *out, skiff_error_t **err);
/* The same for one platform ("linux/arm64", or NULL), or every tag. */
int image_pull_platform(struct cli *cli, const char *ref, const char *platform,
                        bool all_tags, FILE *out, skiff_error_t **err);

/* "busybox" → "busybox:latest" (a reference without tag or digest). */
char *image_tagged_name(const char *ref);

/* system.c */
int cmd_version(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_info(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_system_df(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_system_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* events.c */
int cmd_events(struct cli *cli, int argc, char **argv, skiff_error_t **err);

/* progress.c: docker's JSON message streams (pull, load, import). */
struct jsonstream;
/* A decoder calling fn for each complete JSON value of a chunked stream. */
struct jsonstream *jsonstream_new(int (*fn)(json_t *msg, void *arg), void *arg);
/* Feed bytes; -1 when the stream is not JSON or fn failed. */
int jsonstream_feed(struct jsonstream *s, const char *buf, size_t len);
void jsonstream_free(struct jsonstream *s);

/* POST/GET path whose answer is a JSON message stream, displaying it on out
 * as docker's non-terminal jsonmessage output; body_fd (or -1) is sent as the
 * body. The first "error" message ends it with *err. When id_out is given it
 * receives the last "status" line (import's image id). */
int progress_call(struct cli *cli, const char *method, const char *path, int body_fd,
                  long long body_size, FILE *out, char **status_out,
                  skiff_error_t **err);
/* The same with more request headers ("Name: value", NULL-ended). */
int progress_call_headers(struct cli *cli, const char *method, const char *path,
                          const char *const *headers, int body_fd, long long body_size,
                          FILE *out, char **status_out, skiff_error_t **err);

/* registry.c: push, login, logout. */
int cmd_push(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_login(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_logout(struct cli *cli, int argc, char **argv, skiff_error_t **err);
int cmd_search(struct cli *cli, int argc, char **argv, skiff_error_t **err);
/* The "X-Registry-Auth: ..." header for the registry of ref, from
 * ~/.docker/config.json or the credential helper it names (an empty auth
 * when there is none; a failing helper is warned about on stderr, and the
 * request goes without credentials as docker's does). New string. */
char *cli_registry_auth_header(const char *ref);

#endif
