/* The syntax errors of Go's json.Decoder, for gotypes_syntax (gotypes.h).
 * jansson parses the body afterwards; this pass only finds where the first
 * value ends and, when it is malformed, says so in Go's words ("invalid
 * character 'b' looking for beginning of object key string", "unexpected
 * EOF"), which is what docker's clients show their users. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gotypes.h"

struct scan {
  const char *p, *end;
  char *msg;
  size_t msg_len;
};

/* Go's quoteChar: the byte as a Go character literal. */
static void quote_char(unsigned char c, char *out, size_t len)
{
  static const char escapes[] = "\a\b\f\n\r\t\v";
  static const char letters[] = "abfnrtv";
  const char *e = c ? strchr(escapes, c) : NULL;
  if (c == '\'')
    snprintf(out, len, "'\\''");
  else if (c == '\\')
    snprintf(out, len, "'\\\\'");
  else if (e)
    snprintf(out, len, "'\\%c'", letters[e - escapes]);
  else if (c < 0x20 || c == 0x7f)
    snprintf(out, len, "'\\x%02x'", c);
  else if (c < 0x80)
    snprintf(out, len, "'%c'", c);
  else if (c <= 0xa0)
    snprintf(out, len, "'\\u00%02x'", c);
  else /* the byte read as the rune U+00XX, in UTF-8 */
    snprintf(out, len, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static int fail(struct scan *s, const char *context)
{
  if (s->p >= s->end) {
    snprintf(s->msg, s->msg_len, "unexpected EOF");
    return -1;
  }
  char q[16];
  quote_char((unsigned char)*s->p, q, sizeof q);
  snprintf(s->msg, s->msg_len, "invalid character %s %s", q, context);
  return -1;
}

static int peek(const struct scan *s)
{
  return s->p < s->end ? (unsigned char)*s->p : -1;
}

static void skip_space(struct scan *s)
{
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int digits(struct scan *s, const char *context)
{
  if (peek(s) < 0 || !isdigit(peek(s)))
    return fail(s, context);
  while (peek(s) >= 0 && isdigit(peek(s)))
    s->p++;
  return 0;
}

static int number(struct scan *s)
{
  if (peek(s) == '-')
    s->p++;
  if (peek(s) == '0')
    s->p++;
  else if (digits(s, "in numeric literal") < 0)
    return -1;
  if (peek(s) == '.') {
    s->p++;
    if (digits(s, "after decimal point in numeric literal") < 0)
      return -1;
  }
  if (peek(s) == 'e' || peek(s) == 'E') {
    s->p++;
    if (peek(s) == '+' || peek(s) == '-')
      s->p++;
    if (digits(s, "in exponent of numeric literal") < 0)
      return -1;
  }
  return 0;
}

static int literal(struct scan *s, const char *word)
{
  char context[64];
  for (size_t i = 0; word[i]; i++, s->p++) {
    if (peek(s) != word[i]) {
      snprintf(context, sizeof context, "in literal %s (expecting '%c')", word,
               word[i]);
      return fail(s, context);
    }
  }
  return 0;
}

static int string(struct scan *s)
{
  for (s->p++;; s->p++) {
    int c = peek(s);
    if (c < 0 || c < 0x20)
      return fail(s, "in string literal");
    if (c == '"') {
      s->p++;
      return 0;
    }
    if (c != '\\')
      continue;
    s->p++;
    if (peek(s) >= 0 && strchr("\"\\/bfnrt", peek(s)) && peek(s) != 0)
      continue;
    if (peek(s) != 'u')
      return fail(s, "in string escape code");
    for (int i = 0; i < 4; i++) {
      s->p++;
      if (peek(s) < 0 || !isxdigit(peek(s)))
        return fail(s, "in \\u hexadecimal character escape");
    }
  }
}

static int value(struct scan *s);

static int object(struct scan *s)
{
  s->p++;
  skip_space(s);
  if (peek(s) == '}') {
    s->p++;
    return 0;
  }
  for (;;) {
    if (peek(s) != '"')
      return fail(s, "looking for beginning of object key string");
    if (string(s) < 0)
      return -1;
    skip_space(s);
    if (peek(s) != ':')
      return fail(s, "after object key");
    s->p++;
    if (value(s) < 0)
      return -1;
    skip_space(s);
    if (peek(s) == '}') {
      s->p++;
      return 0;
    }
    if (peek(s) != ',')
      return fail(s, "after object key:value pair");
    s->p++;
    skip_space(s);
  }
}

static int array(struct scan *s)
{
  s->p++;
  skip_space(s);
  if (peek(s) == ']') {
    s->p++;
    return 0;
  }
  for (;;) {
    if (value(s) < 0)
      return -1;
    skip_space(s);
    if (peek(s) == ']') {
      s->p++;
      return 0;
    }
    if (peek(s) != ',')
      return fail(s, "after array element");
    s->p++;
  }
}

static int value(struct scan *s)
{
  skip_space(s);
  switch (peek(s)) {
  case '{': return object(s);
  case '[': return array(s);
  case '"': return string(s);
  case 't': return literal(s, "true");
  case 'f': return literal(s, "false");
  case 'n': return literal(s, "null");
  default:
    if (peek(s) == '-' || (peek(s) >= 0 && isdigit(peek(s))))
      return number(s);
    return fail(s, "looking for beginning of value");
  }
}

int gotypes_syntax(const char *text, size_t len, size_t *end, char *msg, size_t msg_len)
{
  struct scan s = {text, text + len, msg, msg_len};
  if (value(&s) < 0)
    return -1;
  *end = (size_t)(s.p - text);
  return 0;
}
