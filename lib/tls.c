/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "util.h"

struct tls_ctx {
    SSL_CTX *ctx;
};

/* Returns true if any of the files of 'o' is given: the daemon is to use
 * TLS (and then needs all three). */
bool
tls_options_any(const struct tls_options *o)
{
    return o->private_key || o->certificate || o->ca_cert || o->peer_ca_cert;
}

/* Returns "WHAT: FILE: REASON" with OpenSSL's latest reason, to be
 * freed, and clears OpenSSL's error queue. */
static char *
openssl_error__(const char *what, const char *file)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256];

    if (e) {
        ERR_error_string_n(e, reason, sizeof reason);
    } else {
        ovs_strlcpy(reason, "unknown error", sizeof reason);
    }
    ERR_clear_error();
    return xasprintf("%s: %s: %s", what, file, reason);
}

/* Adds the certificate in PEM file 'file' to the chain that 'ctx' sends
 * with its own. */
static char *
add_peer_ca__(SSL_CTX *ctx, const char *file)
{
    FILE *stream = fopen(file, "r");
    X509 *cert;

    if (!stream) {
        return xasprintf("--peer-ca-cert: %s: %s", file,
                         ovs_strerror(errno));
    }
    cert = PEM_read_X509(stream, NULL, NULL, NULL);
    fclose(stream);
    if (!cert) {
        return openssl_error__("--peer-ca-cert", file);
    }
    if (!SSL_CTX_add_extra_chain_cert(ctx, cert)) {
        X509_free(cert);
        return openssl_error__("--peer-ca-cert", file);
    }
    return NULL;
}

/* Makes a context from the files of 'o' into '*ctxp'.  Returns NULL, or
 * an error (to be freed) that names the option and the file: a file
 * missing or unreadable, a key that does not match its certificate, a CA
 * file with no certificate in it. */
char *
tls_ctx_create(const struct tls_options *o, struct tls_ctx **ctxp)
{
    STACK_OF(X509_NAME) *names;
    SSL_CTX *ctx;
    char *error;

    *ctxp = NULL;
    if (!o->private_key || !o->certificate || !o->ca_cert) {
        struct ds missing = DS_EMPTY_INITIALIZER;

        ds_put_format(&missing, "%s%s%s",
                      o->private_key ? "" : " --private-key",
                      o->certificate ? "" : " --certificate",
                      o->ca_cert ? "" : " --ca-cert");
        error = xasprintf("TLS needs --private-key, --certificate and "
                          "--ca-cert (missing:%s)", ds_cstr(&missing));
        ds_destroy(&missing);
        return error;
    }
    ctx = SSL_CTX_new(TLS_method());
    if (!ctx) {
        return openssl_error__("TLS", "context");
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A peer that closes without a TLS close alert (a crash, a cut) is an
     * ordinary end of stream, as OVS takes it: libevent's "dirty shutdown"
     * setting does not see OpenSSL 3's error for it. */
    SSL_CTX_set_options(ctx, (SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                              | SSL_OP_IGNORE_UNEXPECTED_EOF));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    if (SSL_CTX_use_certificate_chain_file(ctx, o->certificate) != 1) {
        error = openssl_error__("--certificate", o->certificate);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, o->private_key,
                                           SSL_FILETYPE_PEM) != 1) {
        error = openssl_error__(
            (ERR_GET_REASON(ERR_peek_last_error())
             == X509_R_KEY_VALUES_MISMATCH
             ? "--private-key does not match --certificate"
             : "--private-key"), o->private_key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        error = openssl_error__("--private-key does not match "
                                "--certificate", o->private_key);
    } else if (SSL_CTX_load_verify_locations(ctx, o->ca_cert, NULL) != 1) {
        error = openssl_error__("--ca-cert", o->ca_cert);
    } else if (!(names = SSL_load_client_CA_file(o->ca_cert))) {
        error = openssl_error__("--ca-cert", o->ca_cert);
    } else {
        SSL_CTX_set_client_CA_list(ctx, names);
        error = o->peer_ca_cert ? add_peer_ca__(ctx, o->peer_ca_cert) : NULL;
    }
    if (error) {
        SSL_CTX_free(ctx);
        return error;
    }
    *ctxp = xmalloc(sizeof **ctxp);
    (*ctxp)->ctx = ctx;
    return NULL;
}

/* Frees 'ctx'.  Accepts NULL.  Connections made with it keep what they
 * need. */
void
tls_ctx_destroy(struct tls_ctx *ctx)
{
    if (ctx) {
        SSL_CTX_free(ctx->ctx);
        free(ctx);
    }
}

/* Returns a bufferevent that runs TLS on socket 'fd', as the side that
 * accepted it (the server) if 'accepting', else as the side that
 * connected.  Freeing the bufferevent closes 'fd'.  A peer that closes
 * without a TLS close alert is taken as an ordinary end of stream, as
 * OVS takes it. */
struct bufferevent *
tls_bufferevent_new(struct tls_ctx *ctx, struct event_base *base, int fd,
                    bool accepting)
{
    SSL *ssl = SSL_new(ctx->ctx);
    struct bufferevent *bev;

    if (!ssl) {
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(
        base, fd, ssl,
        accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Returns true if 'bev' runs TLS. */
bool
tls_is_tls(struct bufferevent *bev)
{
    return bufferevent_openssl_get_ssl(bev) != NULL;
}

/* Appends to 's' why TLS failed on 'bev': OpenSSL's reasons, and the
 * verification error of the peer's certificate if there is one. */
void
tls_format_error(struct bufferevent *bev, struct ds *s)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    unsigned long e;
    bool any = false;

    while ((e = bufferevent_get_openssl_error(bev))) {
        char reason[256];

        if (!ERR_GET_LIB(e)) {
            continue;           /* libevent's own marker, no reason. */
        }
        ERR_error_string_n(e, reason, sizeof reason);
        ds_put_format(s, "%s%s", any ? "; " : "", reason);
        any = true;
    }
    if (ssl && SSL_get_verify_result(ssl) != X509_V_OK) {
        ds_put_format(s, "%scertificate: %s", any ? "; " : "",
                      X509_verify_cert_error_string(
                          SSL_get_verify_result(ssl)));
        any = true;
    }
    if (!any) {
        ds_put_cstr(s, "TLS error");
    }
}

/* Adds 'name' (of 'len' bytes) to 'names' if it is a plain name: no NUL
 * inside, nothing but printable ASCII. */
static void
add_name__(struct sset *names, const unsigned char *name, int len)
{
    if (len <= 0 || len > 255) {
        return;
    }
    for (int i = 0; i < len; i++) {
        if (name[i] <= ' ' || name[i] >= 0x7f) {
            return;
        }
    }
    sset_add_and_free(names, xmemdup0((const char *) name, len));
}

/* Adds to 'names' the names that the certificate of the peer of 'bev'
 * bears and returns true, or returns false if 'bev' does not run TLS or
 * has no peer certificate yet.  The names are the certificate's DNS
 * subject alternative names and the first word of its common name:
 * "ovs-pki req NAME" makes the common name "NAME id:UUID" (or just "NAME"
 * with -u), so the word is the name it was made for. */
bool
tls_peer_names(struct bufferevent *bev, struct sset *names)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
    GENERAL_NAMES *sans;
    X509_NAME *subject;
    int i;

    if (!cert) {
        return false;
    }
    subject = X509_get_subject_name(cert);
    i = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (i >= 0) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
            X509_NAME_get_entry(subject, i));
        const unsigned char *data = ASN1_STRING_get0_data(cn);
        int len = ASN1_STRING_length(cn), word = 0;

        while (word < len && data[word] != ' ') {
            word++;
        }
        add_name__(names, data, word);
    }
    sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

        if (gn->type == GEN_DNS) {
            add_name__(names, ASN1_STRING_get0_data(gn->d.dNSName),
                       ASN1_STRING_length(gn->d.dNSName));
        }
    }
    GENERAL_NAMES_free(sans);
    X509_free(cert);
    return true;
}

/* Returns the SHA-256 fingerprint of the certificate of the peer of 'bev'
 * as hex (to be freed), or NULL if it has none. */
char *
tls_peer_fingerprint(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!cert) {
        return NULL;
    }
    if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
        for (unsigned int i = 0; i < len; i++) {
            ds_put_format(&s, "%02x", md[i]);
        }
    }
    X509_free(cert);
    return ds_steal_cstr(&s);
}
