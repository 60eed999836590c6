/* What Go's crypto/tls checks of a server's certificate and OpenSSL under
 * curl does not, and what Go says when it refuses one, done inside OpenSSL's
 * own verification of each verified connection (libcurl hands its SSL_CTX
 * over through CURLOPT_SSL_CTX_FUNCTION, and a verify callback sees every
 * certificate of the chain):
 *
 * - A server certificate with no DNS or IP SAN. curl then matches the host
 *   against the subject's CN; Go (since 1.15) never does, and dockerd says
 *   "x509: certificate relies on legacy Common Name field, use SANs instead".
 *   It is refused here as a host name mismatch, which tlserror.c words.
 * - The hint of Go's UnknownAuthorityError. When no chain reaches a trusted
 *   root, Go tells whether a certificate named like the missing issuer (a
 *   trusted one, or one the server sent) was tried and why it failed:
 *   ` (possibly because of "crypto/rsa: verification error" while trying to
 *   verify candidate authority certificate "NAME")`. OpenSSL only says it
 *   found no issuer, so the candidates are looked up and checked as Go's
 *   buildChains does, and the hint is kept for this thread until the next
 *   request (registry_tls_hint).
 *
 * OpenSSL is the one libcurl already loaded (libssl.so.3, found with
 * RTLD_NOLOAD), its functions called through a table as libcurl's are. When
 * libcurl runs on another TLS library, neither check is made. */
#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "libcurl.h"
#include "registry_internal.h"

#define OPENSSL_FUNCTIONS(X)                                                           \
  X(SSL_CTX_get_verify_mode)                                                           \
  X(SSL_CTX_set_verify)                                                                \
  X(X509_STORE_CTX_get_current_cert)                                                   \
  X(X509_STORE_CTX_get_error)                                                          \
  X(X509_STORE_CTX_get_error_depth)                                                    \
  X(X509_STORE_CTX_set_error)                                                          \
  X(X509_STORE_CTX_get1_certs)                                                         \
  X(X509_STORE_CTX_get0_untrusted)                                                     \
  X(X509_STORE_CTX_get0_chain)                                                         \
  X(X509_get_issuer_name)                                                              \
  X(X509_get_subject_name)                                                             \
  X(X509_NAME_cmp)                                                                     \
  X(X509_cmp)                                                                          \
  X(X509_free)                                                                         \
  X(X509_get_ext_d2i)                                                                  \
  X(GENERAL_NAMES_free)                                                                \
  X(OPENSSL_sk_num)                                                                    \
  X(OPENSSL_sk_value)                                                                  \
  X(OPENSSL_sk_pop_free)                                                               \
  X(X509_verify)                                                                       \
  X(X509_get0_pubkey)                                                                  \
  X(EVP_PKEY_get_base_id)                                                              \
  X(X509_get_signature_nid)                                                            \
  X(OBJ_find_sigid_algs)                                                               \
  X(X509_get_extension_flags)                                                          \
  X(X509_get_version)                                                                  \
  X(X509_get_key_usage)                                                                \
  X(X509_get0_subject_key_id)                                                          \
  X(X509_get0_authority_key_id)                                                        \
  X(ASN1_OCTET_STRING_cmp)                                                             \
  X(X509_NAME_get_index_by_NID)                                                        \
  X(X509_NAME_get_entry)                                                               \
  X(X509_NAME_ENTRY_get_data)                                                          \
  X(ASN1_STRING_to_UTF8)                                                               \
  X(CRYPTO_free)                                                                       \
  X(X509_get0_serialNumber)                                                            \
  X(ASN1_INTEGER_to_BN)                                                                \
  X(BN_bn2dec)                                                                         \
  X(BN_free)                                                                           \
  X(ERR_set_mark)                                                                      \
  X(ERR_pop_to_mark)

static struct {
#define OPENSSL_POINTER(f) __typeof__(f) *f;
  OPENSSL_FUNCTIONS(OPENSSL_POINTER)
#undef OPENSSL_POINTER
} ossl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;

/* Only OpenSSL 3 (what libcurl4 links on Debian 12 and later): the table's
 * types come from its headers. */
static void load(void)
{
  const curl_version_info_data *v = libcurl.curl_version_info(CURLVERSION_NOW);
  if (v == NULL || v->ssl_version == NULL || strncmp(v->ssl_version, "OpenSSL/3.", 10))
    return;
  void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (h == NULL)
    return;
#define OPENSSL_RESOLVE(f)                                                             \
  if ((ossl.f = (__typeof__(f) *)dlsym(h, #f)) == NULL)                                \
    return;
  OPENSSL_FUNCTIONS(OPENSSL_RESOLVE)
#undef OPENSSL_RESOLVE
  loaded = true;
}

/* ---- the hint ---- */

static __thread char hint[1024];

const char *registry_tls_hint(void)
{
  return hint[0] ? hint : NULL;
}

void registry_tls_hint_reset(void)
{
  hint[0] = '\0';
}

/* Go's %q of text, as far as names and error texts need it. */
static void go_quote(const char *text, char *out, size_t cap)
{
  size_t n = 0;
  for (const unsigned char *s = (const unsigned char *)text; *s && n + 6 < cap; s++) {
    if (*s == '"' || *s == '\\')
      n += (size_t)snprintf(out + n, cap - n, "\\%c", *s);
    else if (*s < 0x20 || *s == 0x7f)
      n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *s);
    else
      out[n++] = (char)*s;
  }
  out[n] = '\0';
}

/* Go's name for a candidate: the subject's (last) CN, else its first O,
 * else "serial:" and the serial number in decimal. */
static void cert_name(X509 *cert, char *out, size_t cap)
{
  X509_NAME *name = ossl.X509_get_subject_name(cert);
  const int nids[] = {NID_commonName, NID_organizationName};
  for (size_t k = 0; k < 2; k++) {
    int i = -1, at = -1;
    while ((i = ossl.X509_NAME_get_index_by_NID(name, nids[k], i)) >= 0) {
      at = i;
      if (k == 1) /* the first O, the last CN */
        break;
    }
    unsigned char *utf8 = NULL;
    X509_NAME_ENTRY *e = at >= 0 ? ossl.X509_NAME_get_entry(name, at) : NULL;
    int len =
        e ? ossl.ASN1_STRING_to_UTF8(&utf8, ossl.X509_NAME_ENTRY_get_data(e)) : -1;
    if (len > 0)
      snprintf(out, cap, "%.*s", len, (char *)utf8);
    ossl.CRYPTO_free(utf8, __FILE__, __LINE__);
    if (len > 0)
      return;
  }
  BIGNUM *bn = ossl.ASN1_INTEGER_to_BN(ossl.X509_get0_serialNumber(cert), NULL);
  char *dec = bn ? ossl.BN_bn2dec(bn) : NULL;
  snprintf(out, cap, "serial:%s", dec ? dec : "0");
  ossl.CRYPTO_free(dec, __FILE__, __LINE__);
  ossl.BN_free(bn);
}

/* A signature or key algorithm as Go names it. */
struct go_algo {
  const char *name, *key_type, *failure;
};

static const struct go_algo go_rsa = {"RSA", "*rsa.PublicKey",
                                      "crypto/rsa: verification error"},
                            go_ecdsa = {"ECDSA", "*ecdsa.PublicKey",
                                        "x509: ECDSA verification failure"},
                            go_ed25519 = {"Ed25519", "ed25519.PublicKey",
                                          "x509: Ed25519 verification failure"};

static const struct go_algo *algo_of_key(const EVP_PKEY *key)
{
  switch (key ? ossl.EVP_PKEY_get_base_id(key) : NID_undef) {
  case EVP_PKEY_RSA:
  case EVP_PKEY_RSA_PSS: return &go_rsa;
  case EVP_PKEY_EC: return &go_ecdsa;
  case EVP_PKEY_ED25519: return &go_ed25519;
  }
  return NULL;
}

static const struct go_algo *algo_of_signature(const X509 *cert)
{
  int pk_nid = NID_undef, md_nid = NID_undef;
  ossl.OBJ_find_sigid_algs(ossl.X509_get_signature_nid(cert), &md_nid, &pk_nid);
  switch (pk_nid) {
  case NID_rsaEncryption:
  case NID_rsassaPss: return &go_rsa;
  case NID_X9_62_id_ecPublicKey: return &go_ecdsa;
  case NID_ED25519: return &go_ed25519;
  }
  return NULL;
}

/* Go's Certificate.CheckSignatureFrom: why parent did not sign cert, or
 * NULL when it did. */
static const char *check_signature_from(X509 *cert, X509 *parent, char *buf, size_t cap)
{
  uint32_t flags = ossl.X509_get_extension_flags(parent);
  bool v3 = ossl.X509_get_version(parent) == 2, bc = flags & EXFLAG_BCONS;
  uint32_t usage = ossl.X509_get_key_usage(parent);
  if ((v3 && !bc) || (bc && !(flags & EXFLAG_CA)) ||
      (usage != UINT32_MAX && usage != 0 && !(usage & KU_KEY_CERT_SIGN)))
    return "x509: invalid signature: parent certificate cannot sign this kind of "
           "certificate";
  EVP_PKEY *key = ossl.X509_get0_pubkey(parent);
  const struct go_algo *want = algo_of_signature(cert), *have = algo_of_key(key);
  if (want == NULL || have == NULL)
    return "x509: cannot verify signature: algorithm unimplemented";
  if (want != have) {
    snprintf(
        buf, cap,
        "x509: signature algorithm specifies an %s public key, but have public key "
        "of type %s",
        want->name, have->key_type);
    return buf;
  }
  ossl.ERR_set_mark();
  int ok = ossl.X509_verify(cert, key);
  ossl.ERR_pop_to_mark(); /* curl reads the error queue after the handshake */
  return ok == 1 ? NULL : want->failure;
}

/* Go's findPotentialParents ranks the certificates named like cert's issuer:
 * key identifiers that match, then one of them missing, then mismatching. */
static int key_id_rank(X509 *cert, X509 *candidate)
{
  const ASN1_OCTET_STRING *akid = ossl.X509_get0_authority_key_id(cert);
  const ASN1_OCTET_STRING *skid = ossl.X509_get0_subject_key_id(candidate);
  if ((akid == NULL && skid == NULL) ||
      (akid && skid && ossl.ASN1_OCTET_STRING_cmp(akid, skid) == 0))
    return 0;
  return akid == NULL || skid == NULL ? 1 : 2;
}

static bool in_stack(STACK_OF(X509) * certs, X509 *cert)
{
  for (int i = 0; certs && i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)certs); i++)
    if (ossl.X509_cmp(ossl.OPENSSL_sk_value((OPENSSL_STACK *)certs, i), cert) == 0)
      return true;
  return false;
}

/* The first candidate in certs (a trusted or the server's pool) that fails
 * to verify cert, as Go's hint names it. Returns whether one did. */
static bool hint_from(X509_STORE_CTX *x, X509 *cert, STACK_OF(X509) * certs, bool sent)
{
  STACK_OF(X509) *chain = ossl.X509_STORE_CTX_get0_chain(x);
  X509_NAME *issuer = ossl.X509_get_issuer_name(cert);
  int n = certs ? ossl.OPENSSL_sk_num((OPENSSL_STACK *)certs) : 0;
  for (int rank = 0; rank < 3; rank++) {
    for (int i = sent ? 1 : 0; i < n; i++) { /* the server's first is its own */
      X509 *c = ossl.OPENSSL_sk_value((OPENSSL_STACK *)certs, i);
      if (ossl.X509_NAME_cmp(ossl.X509_get_subject_name(c), issuer) != 0 ||
          key_id_rank(cert, c) != rank || ossl.X509_cmp(c, cert) == 0 ||
          in_stack(chain, c))
        continue;
      char buf[256], why[300], name[300];
      const char *failed = check_signature_from(cert, c, buf, sizeof buf);
      if (failed == NULL)
        continue;
      go_quote(failed, why, sizeof why);
      cert_name(c, buf, sizeof buf);
      go_quote(buf, name, sizeof name);
      snprintf(
          hint, sizeof hint,
          " (possibly because of \"%s\" while trying to verify candidate authority "
          "certificate \"%s\")",
          why, name);
      return true;
    }
  }
  return false;
}

static void free_x509(void *cert)
{
  ossl.X509_free(cert);
}

static void find_hint(X509_STORE_CTX *x, X509 *cert)
{
  STACK_OF(X509) *roots =
      ossl.X509_STORE_CTX_get1_certs(x, ossl.X509_get_issuer_name(cert));
  if (!hint_from(x, cert, roots, false))
    hint_from(x, cert, ossl.X509_STORE_CTX_get0_untrusted(x), true);
  if (roots)
    ossl.OPENSSL_sk_pop_free((OPENSSL_STACK *)roots, free_x509);
}

/* ---- the checks ---- */

/* Whether cert names a DNS name or an IP address in its subjectAltName:
 * curl's OpenSSL backend falls back to the CN exactly when it does not. */
static bool names_a_host(X509 *cert)
{
  GENERAL_NAMES *names = ossl.X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  bool found = false;
  for (int i = 0; names && i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)names); i++) {
    const GENERAL_NAME *g = ossl.OPENSSL_sk_value((OPENSSL_STACK *)names, i);
    found = found || g->type == GEN_DNS || g->type == GEN_IPADD;
  }
  ossl.GENERAL_NAMES_free(names);
  return found;
}

static bool unknown_issuer(int error)
{
  return error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
         error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
         error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
         error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
         error == X509_V_ERR_CERT_SIGNATURE_FAILURE;
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
  X509 *cert = ossl.X509_STORE_CTX_get_current_cert(x);
  if (!ok) {
    if (hint[0] == '\0' && cert && unknown_issuer(ossl.X509_STORE_CTX_get_error(x)))
      find_hint(x, cert);
    return 0;
  }
  if (ossl.X509_STORE_CTX_get_error_depth(x) == 0 && cert && !names_a_host(cert)) {
    ossl.X509_STORE_CTX_set_error(x, X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
  }
  return 1;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
  ossl.SSL_CTX_set_verify(ssl_ctx, ossl.SSL_CTX_get_verify_mode(ssl_ctx), verify_cb);
  return CURLE_OK;
}

void registry_tls_check_install(void *curl)
{
  pthread_once(&load_once, load);
  if (loaded)
    libcurl.curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
}
