/* Helpers shared by the command files of skiff-oci. */
#ifndef SKIFF_OCI_COMMANDS_H
#define SKIFF_OCI_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>

#include "oci.h"

/* Print the command's help when -h/--help is among its arguments. */
bool oci_wants_help(int argc, char **argv, const char *name);

/* Set a usage error naming the command. Returns -1. */
int oci_bad_usage(const char *name, const char *what, skiff_error_t **err);

/* Print JSON indented, as runc does. Returns 0. */
int oci_print_json(json_t *json);

int oci_cmd_exec(const struct oci_globals *g, int argc, char **argv,
                 skiff_error_t **err);
int oci_cmd_update(const struct oci_globals *g, int argc, char **argv,
                   skiff_error_t **err);

#endif
