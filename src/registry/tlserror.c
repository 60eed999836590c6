/* Certificate verification failures in Go's words, as dockerd reports
 * them ("tls: failed to verify certificate: x509: certificate signed by
 * unknown authority"), rather than in curl's: those are the words users
 * search for, and the ones docker's documentation and issues answer.
 *
 * curl tells why verification failed (OpenSSL's X509_V_ERR code, or 0 when
 * its own host name check refused the certificate) but not what the
 * certificate holds, which Go's texts name (its names, its dates). That is
 * read from a second handshake that verifies nothing and sends nothing:
 * connect-only, on a handle of its own outside the shared connection
 * cache, closed at once. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "libcurl.h"
#include "registry_internal.h"

/* OpenSSL's X509_V_ERR_* values that curl hands back (its headers are not
 * ours to include: libcurl is loaded at run time). */
enum {
  V_OK = 0,
  /* !X509_V_OK: what curl holds until it reads OpenSSL's result, which it
   * does after its own host name check has passed */
  V_HOST_CHECK = 1,
  V_UNABLE_TO_GET_ISSUER_CERT = 2,
  V_CERT_SIGNATURE_FAILURE = 7,
  V_CERT_NOT_YET_VALID = 9,
  V_CERT_HAS_EXPIRED = 10,
  V_DEPTH_ZERO_SELF_SIGNED_CERT = 18,
  V_SELF_SIGNED_CERT_IN_CHAIN = 19,
  V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20,
  V_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21,
  /* tlscheck.c's refusal of a certificate without a DNS or IP SAN */
  V_HOSTNAME_MISMATCH = 62,
};

#define GO_TLS_PREFIX "tls: failed to verify certificate: "
#define MAX_CHAIN 8

/* ---- Go's texts from what a certificate holds ---- */

/* Go's matchHostnames: label by label, case-insensitive, a leading "*"
 * standing for any one label. */
static bool match_hostname(const char *pattern, const char *host)
{
  cleanup_free char *h = strdup(host);
  size_t hn = h ? strlen(h) : 0;
  if (hn > 0 && h[hn - 1] == '.')
    h[--hn] = '\0';
  if (*pattern == '\0' || hn == 0)
    return false;
  const char *a = pattern, *b = h;
  for (bool first = true;; first = false) {
    const char *a_end = strchrnul(a, '.'), *b_end = strchrnul(b, '.');
    size_t n = (size_t)(a_end - a);
    bool wildcard = first && n == 1 && *a == '*';
    if (!wildcard && (n != (size_t)(b_end - b) || strncasecmp(a, b, n) != 0))
      return false;
    if ((*a_end == '.') != (*b_end == '.'))
      return false;
    if (*a_end == '\0')
      return true;
    a = a_end + 1;
    b = b_end + 1;
  }
}

/* The CN of OpenSSL's one-line subject ("C = US, CN = name"); new string,
 * "" when there is none. */
static char *subject_cn(const char *subject)
{
  for (const char *s = subject; s && *s;) {
    if (strncmp(s, "CN = ", 5) == 0)
      return strndup(s + 5, strcspn(s + 5, ","));
    const char *next = strstr(s, ", ");
    s = next ? next + 2 : NULL;
  }
  return strdup("");
}

/* Append item to a ", "-separated list. */
static int list_add(char **list, const char *item)
{
  char *grown = NULL;
  if (asprintf(&grown, "%s%s%s", *list ? *list : "", *list ? ", " : "", item) < 0)
    return -1;
  free(*list);
  *list = grown;
  return 0;
}

/* The next name of one kind in OpenSSL's subjectAltName text ("DNS:a, IP
 * Address:192.0.2.1") from *cursor on, which it moves past it: ip picks the
 * addresses. New string; NULL at the end (or out of memory). */
static char *san_next(const char **cursor, bool ip)
{
  const char *prefix = ip ? "IP Address:" : "DNS:";
  size_t plen = strlen(prefix);
  for (const char *s = *cursor; s && *s;) {
    size_t n = strcspn(s, ",");
    const char *name = s + plen;
    bool wanted = n > plen && strncmp(s, prefix, plen) == 0;
    s += n;
    while (*s == ',' || *s == ' ')
      s++;
    *cursor = s;
    if (wanted)
      return strndup(name, n - plen);
  }
  return NULL;
}

/* An address as Go writes it ("::1", not OpenSSL's "0:0:0:0:0:0:0:1") in
 * out, and its family; 0 when text is not one. */
static int ip_text(const char *text, unsigned char addr[16], char out[INET6_ADDRSTRLEN])
{
  int family = strchr(text, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(family, text, addr) != 1 ||
      inet_ntop(family, addr, out, INET6_ADDRSTRLEN) == NULL)
    return 0;
  return family;
}

/* The names of one kind in the subjectAltName text, joined as Go joins
 * them (ip: the addresses, as Go writes them). */
static char *san_names(const char *san, bool ip)
{
  char *list = NULL, *name;
  for (const char *s = san; (name = san_next(&s, ip)) != NULL; free(name)) {
    unsigned char addr[16];
    char text[INET6_ADDRSTRLEN];
    if (list_add(&list, ip && ip_text(name, addr, text) ? text : name) < 0) {
      free(name);
      free(list);
      return NULL;
    }
  }
  return list;
}

/* Go's VerifyHostname: whether the subjectAltName text names host, an
 * address among its IP SANs, a name among its DNS SANs; never the CN. */
static bool san_names_host(const char *san, const char *host)
{
  unsigned char want[16], have[16];
  char text[INET6_ADDRSTRLEN];
  int family = ip_text(host, want, text);
  bool found = false;
  char *name;
  for (const char *s = san; !found && (name = san_next(&s, family != 0)) != NULL;
       free(name))
    found = family ? ip_text(name, have, text) == family &&
                         memcmp(want, have, family == AF_INET ? 4 : 16) == 0
                   : match_hostname(name, host);
  return found;
}

char *registry_x509_hostname_error(const char *host, const char *san,
                                   const char *subject)
{
  char *text = NULL;
  cleanup_free char *cn = subject_cn(subject);
  if (san == NULL && cn && match_hostname(cn, host))
    return strdup(
        "x509: certificate relies on legacy Common Name field, use SANs instead");
  unsigned char addr[16];
  bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
  cleanup_free char *valid = san_names(san, ip);
  if (ip && valid == NULL) {
    if (asprintf(&text,
                 "x509: cannot validate certificate for %s because it doesn't contain "
                 "any IP SANs",
                 host) < 0)
      return NULL;
  } else if (valid == NULL) {
    if (asprintf(&text,
                 "x509: certificate is not valid for any names, but wanted to "
                 "match %s",
                 host) < 0)
      return NULL;
  } else if (asprintf(&text, "x509: certificate is valid for %s, not %s", valid, host) <
             0) {
    return NULL;
  }
  return text;
}

/* OpenSSL's "Jan  2 03:04:05 2020 GMT" as a time, -1 when unreadable. */
static time_t openssl_date(const char *text)
{
  struct tm tm = {0};
  const char *end = text ? strptime(text, "%b %d %H:%M:%S %Y GMT", &tm) : NULL;
  return end && *end == '\0' ? timegm(&tm) : (time_t)-1;
}

/* Go's time.RFC3339 of t in UTC. */
static void rfc3339(time_t t, char out[32])
{
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *registry_x509_validity_error(time_t now, const char *start, const char *expire)
{
  time_t not_before = openssl_date(start), not_after = openssl_date(expire);
  if (not_before == (time_t)-1 || not_after == (time_t)-1)
    return NULL;
  bool early = now < not_before;
  if (!early && now <= not_after)
    return NULL;
  char when[32], bound[32];
  rfc3339(now, when);
  rfc3339(early ? not_before : not_after, bound);
  char *text = NULL;
  if (asprintf(
          &text,
          "x509: certificate has expired or is not yet valid: current time %s is %s %s",
          when, early ? "before" : "after", bound) < 0)
    return NULL;
  return text;
}

/* ---- reading the server's certificates ---- */

/* What curl's certinfo says of one certificate. */
struct peer_cert {
  char *subject, *san, *start, *expire;
};

struct peer_chain {
  struct peer_cert certs[MAX_CHAIN];
  size_t n;
};

static void peer_chain_clear(struct peer_chain *chain)
{
  for (size_t i = 0; i < chain->n; i++) {
    free(chain->certs[i].subject);
    free(chain->certs[i].san);
    free(chain->certs[i].start);
    free(chain->certs[i].expire);
  }
  chain->n = 0;
}

static void keep_field(struct peer_cert *cert, const char *line)
{
  static const struct {
    const char *key;
    size_t off;
  } fields[] = {
      {"Subject:", offsetof(struct peer_cert, subject)},
      {"X509v3 Subject Alternative Name:", offsetof(struct peer_cert, san)},
      {"Start date:", offsetof(struct peer_cert, start)},
      {"Expire date:", offsetof(struct peer_cert, expire)},
  };
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    size_t n = strlen(fields[i].key);
    char **slot = (char **)((char *)cert + fields[i].off);
    if (strncmp(line, fields[i].key, n) == 0 && *slot == NULL)
      *slot = strdup(line + n);
  }
}

/* The certificates url's server presents, leaf first, from a handshake
 * that verifies nothing (with c's client identity, for the registries
 * that want one). Returns 0, or -1 when none could be read. */
static int read_peer_chain(const struct registry_client *c, const char *url,
                           struct peer_chain *chain)
{
  CURL *curl = libcurl.curl_easy_init();
  if (curl == NULL)
    return -1;
  libcurl.curl_easy_setopt(curl, CURLOPT_URL, url);
  libcurl.curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  libcurl.curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
  libcurl.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  libcurl.curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
  if (c->cert_file) {
    libcurl.curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert_file);
    libcurl.curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_file);
  }
  struct curl_certinfo *info = NULL;
  if (libcurl.curl_easy_perform(curl) == CURLE_OK &&
      libcurl.curl_easy_getinfo(curl, CURLINFO_CERTINFO, &info) == CURLE_OK && info) {
    for (int i = 0; i < info->num_of_certs && chain->n < MAX_CHAIN; i++, chain->n++)
      for (struct curl_slist *l = info->certinfo[i]; l; l = l->next)
        keep_field(&chain->certs[chain->n], l->data);
  }
  libcurl.curl_easy_cleanup(curl);
  return chain->n > 0 ? 0 : -1;
}

char *registry_url_host(const char *url)
{
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  size_t n = strcspn(p, "/?#");
  const char *at = memchr(p, '@', n);
  if (at) {
    n -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  if (*p == '[') {
    const char *close = memchr(p, ']', n);
    return close ? strndup(p + 1, (size_t)(close - p - 1)) : strndup(p, n);
  }
  const char *colon = memchr(p, ':', n);
  return strndup(p, colon ? (size_t)(colon - p) : n);
}

/* ---- the whole text ---- */

static bool unknown_authority(long result)
{
  return result == V_UNABLE_TO_GET_ISSUER_CERT || result == V_CERT_SIGNATURE_FAILURE ||
         result == V_DEPTH_ZERO_SELF_SIGNED_CERT ||
         result == V_SELF_SIGNED_CERT_IN_CHAIN ||
         result == V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         result == V_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

static char *unknown_authority_text(void)
{
  const char *hint = registry_tls_hint();
  char *text = NULL;
  return asprintf(&text, "x509: certificate signed by unknown authority%s",
                  hint ? hint : "") < 0
             ? NULL
             : text;
}

/* Go's x509 text for a failure curl reported as result on url. OpenSSL
 * builds the chain first; Go's Verify looks at the server's certificate
 * first, its dates and then its names, and only then for a chain: an
 * untrusted certificate for another name reads as the wrong name. */
static char *x509_text(const struct registry_client *c, const char *url, long result)
{
  bool authority = unknown_authority(result);
  /* curl's own check, or tlscheck.c's */
  bool name = result == V_OK || result == V_HOST_CHECK || result == V_HOSTNAME_MISMATCH;
  bool dates = result == V_CERT_HAS_EXPIRED || result == V_CERT_NOT_YET_VALID;
  if (!authority && !name && !dates)
    return NULL;
  struct peer_chain chain = {0};
  if (read_peer_chain(c, url, &chain) < 0)
    return authority ? unknown_authority_text() : NULL;
  const struct peer_cert *leaf = &chain.certs[0];
  cleanup_free char *host = registry_url_host(url);
  char *text = registry_x509_validity_error(time(NULL), leaf->start, leaf->expire);
  if (text == NULL && host && (name || !san_names_host(leaf->san, host)))
    text = registry_x509_hostname_error(host, leaf->san, leaf->subject);
  if (text == NULL && authority)
    text = unknown_authority_text();
  for (size_t i = 1; dates && text == NULL && i < chain.n; i++)
    text = registry_x509_validity_error(time(NULL), chain.certs[i].start,
                                        chain.certs[i].expire);
  peer_chain_clear(&chain);
  return text;
}

char *registry_tls_verify_error(const struct registry_client *c, void *curl,
                                const char *url)
{
  long result = -1;
  if (libcurl.curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &result) != CURLE_OK)
    return NULL;
  cleanup_free char *x509 = x509_text(c, url, result);
  char *text = NULL;
  if (x509 == NULL || asprintf(&text, GO_TLS_PREFIX "%s", x509) < 0)
    return NULL;
  return text;
}
