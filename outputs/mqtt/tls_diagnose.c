/* Why a TLS connection to the broker failed, in words an operator can act
 * on. paho reports "TCP/TLS connect failure" or "certificate verify failed"
 * for a wrong host name, an expired certificate, a CA that did not sign it
 * and a missing client certificate alike; this makes a handshake of its
 * own with the same files and settings, lets it complete without checks,
 * and then asks OpenSSL what its verification found. */
#include "outputs/mqtt/tls_diagnose.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DIAGNOSE_TIMEOUT_S 3

/* host and port of ssl://host:port (mqtts:// is normalised before). */
static bool split_uri(const char *uri, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *p = strstr(uri, "://");
    p = p ? p + 3 : uri;
    const char *colon = strrchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len == 0 || len >= host_size)
        return false;
    memcpy(host, p, len);
    host[len] = '\0';
    snprintf(port, port_size, "%s", colon ? colon + 1 : "8883");
    return true;
}

static int connect_tcp(const char *host, const char *port, char *why, size_t size)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, size, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = DIAGNOSE_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            snprintf(why, size, "cannot reach %s:%s: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* The files first: a missing or unreadable one is the answer. */
static bool load_files(SSL_CTX *ctx, const struct mqtt_config *m, char *why, size_t size)
{
    const char *file = NULL, *key = NULL;
    if (m->tls_ca_file[0] && SSL_CTX_load_verify_locations(ctx, m->tls_ca_file, NULL) != 1)
        file = m->tls_ca_file, key = "tls_ca_file";
    else if (!m->tls_ca_file[0] && SSL_CTX_set_default_verify_paths(ctx) != 1)
        file = "the system's CA store", key = "tls_ca_file";
    else if (m->tls_cert_file[0] && SSL_CTX_use_certificate_chain_file(ctx, m->tls_cert_file) != 1)
        file = m->tls_cert_file, key = "tls_cert_file";
    else if (m->tls_key_file[0] &&
             (SSL_CTX_use_PrivateKey_file(ctx, m->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
              SSL_CTX_check_private_key(ctx) != 1))
        file = m->tls_key_file, key = "tls_key_file";
    if (!file)
        return true;
    char err[200];
    ERR_error_string_n(ERR_get_error(), err, sizeof(err));
    snprintf(why, size, "%s %s cannot be used: %s", key, file, err);
    return false;
}

static void name_of(X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    if (name)
        X509_NAME_oneline(name, out, (int)size);
}

static void asn1_time(const ASN1_TIME *t, char *out, size_t size)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b && t && ASN1_TIME_print(b, t) == 1) {
        int n = BIO_read(b, out, (int)size - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

/* What the broker's certificate failed on, with what it would take. */
static void explain_verify(SSL *ssl, long result, const char *host, const struct mqtt_config *m,
                           char *why, size_t size)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    char subject[256] = "?", issuer[256] = "?", until[64] = "", from[64] = "";
    if (cert) {
        name_of(X509_get_subject_name(cert), subject, sizeof(subject));
        name_of(X509_get_issuer_name(cert), issuer, sizeof(issuer));
        asn1_time(X509_get0_notAfter(cert), until, sizeof(until));
        asn1_time(X509_get0_notBefore(cert), from, sizeof(from));
    }
    const char *what = X509_verify_cert_error_string(result);
    const char *ca = m->tls_ca_file[0] ? m->tls_ca_file : "the system's CA store";
    switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(why, size,
                 "the broker's certificate does not name %s, the host in the URI (%s): it is "
                 "for %s; use the name it was issued for",
                 host, what, subject);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(why, size,
                 "the broker's certificate (%s) is valid from %s until %s (%s): check the "
                 "broker's certificate and this box's clock",
                 subject, from, until, what);
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        snprintf(why, size,
                 "the broker's certificate (%s) is issued by %s, which is not a CA in %s (%s): "
                 "set tls_ca_file to the CA that signed it",
                 subject, issuer, ca, what);
        break;
    default:
        snprintf(why, size, "the broker's certificate (%s, issued by %s) failed verification: %s",
                 subject, issuer, what);
    }
    X509_free(cert);
}

/* A refused handshake, or an alert right after it (TLS 1.3 sends a
 * missing client certificate's alert only then). */
static void explain_alert(const struct mqtt_config *m, char *why, size_t size)
{
    char err[200];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, err, sizeof(err));
    if (strstr(err, "certificate required") || strstr(err, "handshake failure"))
        snprintf(why, size, "the broker refused the handshake (%s)%s", err,
                 m->tls_cert_file[0] ? ": it may not accept this client certificate"
                                     : ": it asks for a client certificate; set tls_cert_file "
                                       "and tls_key_file");
    else
        snprintf(why, size, "the TLS handshake failed: %s", e ? err : "the broker closed it");
}

static void handshake(SSL *ssl, const char *host, const struct mqtt_config *m, char *why,
                      size_t size)
{
    if (SSL_connect(ssl) != 1) {
        explain_alert(m, why, size);
        return;
    }
    long result = SSL_get_verify_result(ssl);
    if (m->tls_verify && result != X509_V_OK) {
        explain_verify(ssl, result, host, m, why, size);
        return;
    }
    /* Nothing to read is the good answer (the timeout ends it); an alert
     * here is the broker refusing the client's certificate or its lack. */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(SSL_get_fd(ssl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char byte;
    if (SSL_read(ssl, &byte, 1) <= 0 && ERR_peek_error() != 0) {
        explain_alert(m, why, size);
        return;
    }
    snprintf(why, size,
             "a handshake of the gateway's own with the same files succeeds: the failure is "
             "not in the certificates");
}

void tls_diagnose(const struct mqtt_config *m, const char *uri, char *why, size_t size)
{
    char host[256], port[16];
    if (!split_uri(uri, host, sizeof(host), port, sizeof(port))) {
        snprintf(why, size, "cannot read host and port from %s", uri);
        return;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(why, size, "OpenSSL cannot make a TLS context");
        return;
    }
    SSL *ssl = NULL;
    int fd = -1;
    if (!load_files(ctx, m, why, size) || (fd = connect_tcp(host, port, why, size)) < 0)
        goto done;
    ssl = SSL_new(ctx);
    if (!ssl) {
        snprintf(why, size, "OpenSSL cannot make a TLS connection");
        goto done;
    }
    /* As paho checks it: the URI's host against the certificate's names. */
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    SSL_set_tlsext_host_name(ssl, host);
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), host, 0);
    SSL_set_fd(ssl, fd);
    handshake(ssl, host, m, why, size);
done:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}
