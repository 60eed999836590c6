#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return NULL;
  return s;
}

static int set_error(skiff_error_t **err, int errnum, bool with_strerror,
                     const char *fmt, va_list ap)
{
  if (err == NULL)
    return -1;
  skiff_error_free(err);
  char *text = vformat(fmt, ap);

  skiff_error_t *e = calloc(1, sizeof(*e));
  if (e == NULL) {
    free(text);
    return -1;
  }
  e->status = errnum;
  if (text != NULL && errnum != 0 && with_strerror) {
    if (asprintf(&e->msg, "%s: %s", text, strerror(errnum)) < 0)
      e->msg = NULL;
    free(text);
  } else {
    e->msg = text;
  }
  *err = e;
  return -1;
}

int skiff_error_set(skiff_error_t **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error(err, errnum, true, fmt, ap);
  va_end(ap);
  return -1;
}

int skiff_error_status(skiff_error_t **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error(err, errnum, false, fmt, ap);
  va_end(ap);
  return -1;
}

int skiff_error_invalid(skiff_error_t **err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error(err, EINVAL, false, fmt, ap);
  va_end(ap);
  return -1;
}

int skiff_error_wrap(skiff_error_t **err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  char *context = vformat(fmt, ap);
  va_end(ap);
  if (context == NULL)
    return -1;
  char *joined = NULL;
  if (asprintf(&joined, "%s: %s", context, (*err)->msg ? (*err)->msg : "?") >= 0) {
    free((*err)->msg);
    (*err)->msg = joined;
  }
  free(context);
  return -1;
}

void skiff_error_free(skiff_error_t **err)
{
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}

int skiff_error_exit_code(const skiff_error_t *err)
{
  (void)err;
  return 1;
}
