/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CTLSOCK_H
#define CTLSOCK_H 1

/* The control socket of an sfmesh daemon.
 *
 * A Unix domain socket on which the daemon answers commands, in the JSON-RPC
 * dialect of OVS's unixctl: a request is {"method": NAME, "params": [ARG...],
 * "id": ID} and the reply carries a string "result" or "error".  So both
 * sfmesh-ctl and 'ovs-appctl -t PATH' can talk to it.  The server runs on a
 * libevent base; commands are answered synchronously.
 *
 * The socket file has mode 0700 whatever the umask: any client may run any
 * command, "exit" included, so only the daemon's user may connect.
 *
 * Garbage, oversized requests and unknown commands get an error reply or a
 * closed connection; they never disturb other clients. */

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct ctlsock;
struct ctlsock_conn;
struct ds;
struct json_parser;
struct jsonrpc_msg;

/* Handles command 'argv[0]' with arguments 'argv[1..argc-1]'.  It must
 * answer exactly once, with ctlsock_reply() or ctlsock_reply_error(). */
typedef void ctlsock_cb(struct ctlsock_conn *, int argc, const char *argv[],
                        void *aux);

struct ctlsock *ctlsock_create(struct event_base *, const char *path,
                               char **errorp);
void ctlsock_destroy(struct ctlsock *);

void ctlsock_register(struct ctlsock *, const char *name, const char *usage,
                      int min_args, int max_args, ctlsock_cb *, void *aux);

void ctlsock_reply(struct ctlsock_conn *, const char *text);
void ctlsock_reply_ds(struct ctlsock_conn *, struct ds *text);

/* Appends the next piece of a result text to 'out' and returns true if
 * more pieces follow. */
typedef bool ctlsock_piece_cb(struct ds *out, void *aux);
void ctlsock_reply_pieces(struct ctlsock_conn *, ctlsock_piece_cb *next,
                          void (*done)(void *aux), void *aux);
void ctlsock_reply_error(struct ctlsock_conn *, const char *text);

/* Client side: sends command 'argv[0]' with its arguments to the daemon at
 * 'path' with libopenvswitch's unixctl client and waits for the answer
 * (for a time limit, use time_alarm() as ovs-appctl does).  On success
 * returns 0 and stores the result text in '*resultp'; a daemon's error
 * reply returns 0 with the text in '*errorp'; otherwise returns a positive
 * errno with a message in '*errorp'.  The caller frees both. */
int ctlsock_transact(const char *path, int argc, char *argv[],
                     char **resultp, char **errorp);

/* Reading requests, without I/O: a client's byte stream is a series of JSON
 * objects, each a JSON-RPC request.  The server feeds what it receives, in
 * pieces of any size, to a ctlsock_parser; so do the tests. */

/* The largest request the server accepts, in bytes (white space before it
 * included). */
#define CTLSOCK_MAX_REQUEST (64 * 1024)

/* The state of one client's byte stream. */
struct ctlsock_parser {
    struct json_parser *json;   /* Request being parsed, or NULL. */
    size_t received;            /* Bytes of the request being parsed. */
    size_t max_request;         /* Longest request accepted, in bytes. */
};

/* What ctlsock_parse_request() found. */
enum ctlsock_parse_status {
    CTLSOCK_PARSE_MORE,         /* Every byte used; no complete request. */
    CTLSOCK_PARSE_REQUEST,      /* A request. */
    CTLSOCK_PARSE_ERROR         /* Bad input: the client must go. */
};

void ctlsock_parser_init(struct ctlsock_parser *, size_t max_request);
void ctlsock_parser_destroy(struct ctlsock_parser *);
enum ctlsock_parse_status ctlsock_parse_request(struct ctlsock_parser *,
                                                const char *data,
                                                size_t size, size_t *usedp,
                                                struct jsonrpc_msg **requestp,
                                                char **errorp);
const char *ctlsock_request_argv(const struct jsonrpc_msg *request,
                                 const char ***argvp);

#endif /* ctlsock.h */
