/* Request bodies checked the way dockerd's Go decoder checks them.
 *
 * dockerd decodes a JSON body into Go structs with encoding/json: a value
 * of the wrong type fails the whole request ("json: cannot unmarshal
 * string into Go struct field HostConfig.HostConfig.Memory of type
 * int64"), unknown keys are ignored, null leaves a field at its zero value
 * and keys match field names case-insensitively. gotypes_check walks a
 * jansson tree against a table describing those structs and gives the
 * same first error, so that handlers can read fields without checking
 * their types again. */
#ifndef SKIFF_DAEMON_GOTYPES_H
#define SKIFF_DAEMON_GOTYPES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum gotype_kind {
  GOTYPE_STRING,
  GOTYPE_BOOL,
  GOTYPE_INT,      /* a JSON integer within [min, max] */
  GOTYPE_STRSLICE, /* docker's strslice.StrSlice: a string or a list of strings */
  GOTYPE_LIST,     /* a slice or array of elem */
  GOTYPE_MAP,      /* map[string]elem */
  GOTYPE_STRUCT,   /* a struct (or a pointer to one) with fields */
  GOTYPE_ANY,      /* not checked */
};

struct gofield;

struct gotype {
  enum gotype_kind kind;
  const char *name; /* as Go's messages spell it: "int64", "container.RestartPolicy" */
  const struct gotype *elem;    /* LIST, MAP */
  const struct gofield *fields; /* STRUCT: ends with an entry whose key is NULL */
  int64_t min, max;             /* INT */
};

struct gofield {
  const char *key; /* the JSON key (the field name, or its json tag) */
  const struct gotype *type;
};

/* The Go types docker's structs are made of. */
extern const struct gotype gotype_string, gotype_bool, gotype_int, gotype_int64,
    gotype_uint16, gotype_uint32, gotype_uint64, gotype_strings, gotype_string_map,
    gotype_strslice, gotype_any;

/* Check value against type as encoding/json would decode it. Keys that
 * match a field in another case are renamed to the field's spelling (Go
 * accepts "cmd" for Cmd; handlers look keys up exactly). On the first
 * mismatch returns -1 with *err (EINVAL) holding Go's message. */
int gotypes_check(json_t *value, const struct gotype *type, skiff_error_t **err);

/* Scan the first JSON value of text as Go's json.Decoder does: 0 with
 * *end just past it, or -1 with Go's syntax error in msg ("invalid
 * character 'x' looking for beginning of value", "unexpected EOF"). */
int gotypes_syntax(const char *text, size_t len, size_t *end, char *msg,
                   size_t msg_len);

/* Whether obj has a key for one of type's fields (in any case). */
int gotypes_has_field(json_t *obj, const struct gotype *type);

#endif
