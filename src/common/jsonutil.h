/* Typed, field-naming access to jansson trees. Every getter takes the dotted
 * path of the object it reads from ("linux.resources.memory") so that a wrong
 * type is reported as "linux.resources.memory.limit: expected integer, got
 * string" -- the message a user needs to fix their config.json. Optional
 * getters leave *out untouched when the key is absent or null. */
#ifndef SKIFF_COMMON_JSONUTIL_H
#define SKIFF_COMMON_JSONUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

static inline void cleanup_json_fn(json_t **j)
{
  if (*j)
    json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(cleanup_json_fn)))

/* Parse the JSON file at path. Returns a new reference, NULL on error
 * (message names the file, line and column). */
json_t *jsonutil_load_file(const char *path, skiff_error_t **err);

/* Write json to path atomically (fs_write_file_atomic with flags). */
int jsonutil_save_file(const char *path, json_t *json, unsigned flags,
                       skiff_error_t **err);

/* The JSON type name of a value ("string", "integer", "null", ...). */
const char *jsonutil_type_name(const json_t *value);

int jsonutil_opt_string(json_t *obj, const char *key, const char **out,
                        const char *where, skiff_error_t **err);
int jsonutil_opt_bool(json_t *obj, const char *key, bool *out, const char *where,
                      skiff_error_t **err);
int jsonutil_opt_int64(json_t *obj, const char *key, int64_t *out, const char *where,
                       skiff_error_t **err);
/* Accepts only 0 <= value <= UINT64 (JSON integers are signed 64-bit in
 * jansson; larger values are refused by the parser itself). */
int jsonutil_opt_uint64(json_t *obj, const char *key, uint64_t *out, const char *where,
                        skiff_error_t **err);
int jsonutil_opt_object(json_t *obj, const char *key, json_t **out, const char *where,
                        skiff_error_t **err);
int jsonutil_opt_array(json_t *obj, const char *key, json_t **out, const char *where,
                       skiff_error_t **err);
/* Like the above but a missing key is an error naming it. */
int jsonutil_req_string(json_t *obj, const char *key, const char **out,
                        const char *where, skiff_error_t **err);

/* Copy an array of strings into a NULL-terminated vector (caller frees with
 * cleanup_strv). An absent array gives an empty vector. */
int jsonutil_opt_strv(json_t *obj, const char *key, char ***out, const char *where,
                      skiff_error_t **err);

#endif
