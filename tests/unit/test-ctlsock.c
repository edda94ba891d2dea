/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The control socket's request parser: framing of a stream of JSON
 * objects, what is refused, the size limit and the command line; and long
 * replies (in pieces, or whole) through a real socket. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ctlsock.h"
#include "openvswitch/dynamic-string.h"
#include "jsonrpc.h"
#include "openvswitch/json.h"
#include "tests.h"
#include "timeval.h"
#include "util.h"

#define REQ1 "{\"method\":\"fail\",\"params\":[\"dlp-1\",\"down\"],\"id\":7}"
#define REQ2 " \n{\"method\":\"version\",\"params\":[],\"id\":\"x\"}"

/* Feeds 'stream' to a new parser with limit 'max', in pieces of 'chunk'
 * bytes, until an error or the end.  Stores the requests' methods in
 * 'methods' (at most 'n', for the caller to free) and returns how many
 * requests there were, or -1 after an error. */
static int
parse_all(const char *stream, size_t max, size_t chunk, char **methods,
          int n)
{
    struct ctlsock_parser p;
    size_t len = strlen(stream);
    int n_requests = 0;

    ctlsock_parser_init(&p, max);
    for (size_t ofs = 0; ofs < len; ) {
        size_t piece = MIN(chunk, len - ofs);
        enum ctlsock_parse_status status;
        struct jsonrpc_msg *request;
        char *error;
        size_t used;

        status = ctlsock_parse_request(&p, stream + ofs, piece, &used,
                                       &request, &error);
        CU_ASSERT_FATAL(used <= piece);
        ofs += used;
        if (status == CTLSOCK_PARSE_ERROR) {
            CU_ASSERT_PTR_NOT_NULL(error);
            CU_ASSERT_PTR_NULL(request);
            free(error);
            n_requests = -1;
            break;
        }
        CU_ASSERT_PTR_NULL(error);
        if (status == CTLSOCK_PARSE_REQUEST) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(request);
            CU_ASSERT_EQUAL(request->type, JSONRPC_REQUEST);
            if (n_requests < n) {
                methods[n_requests] = xstrdup(request->method);
            }
            n_requests++;
            jsonrpc_msg_destroy(request);
        } else {
            CU_ASSERT_EQUAL(used, piece);
            CU_ASSERT_PTR_NULL(request);
        }
    }
    ctlsock_parser_destroy(&p);
    return n_requests;
}

static void
test_pipelined_any_pieces(void)
{
    /* Two requests back to back, cut into pieces of every size: always the
     * same two requests. */
    for (size_t chunk = 1; chunk <= strlen(REQ1 REQ2); chunk++) {
        char *methods[2] = { NULL, NULL };

        CU_ASSERT_EQUAL(parse_all(REQ1 REQ2, CTLSOCK_MAX_REQUEST, chunk,
                                  methods, 2), 2);
        CU_ASSERT_STRING_EQUAL(methods[0], "fail");
        CU_ASSERT_STRING_EQUAL(methods[1], "version");
        free(methods[0]);
        free(methods[1]);
    }
}

static void
test_first_request_only(void)
{
    struct ctlsock_parser p;
    struct jsonrpc_msg *request;
    char *error;
    size_t used;

    /* One call returns the first request and reads no further. */
    ctlsock_parser_init(&p, CTLSOCK_MAX_REQUEST);
    CU_ASSERT_EQUAL(ctlsock_parse_request(&p, REQ1 REQ2, strlen(REQ1 REQ2),
                                          &used, &request, &error),
                    CTLSOCK_PARSE_REQUEST);
    CU_ASSERT_EQUAL(used, strlen(REQ1));
    CU_ASSERT_PTR_NULL(error);
    CU_ASSERT_STRING_EQUAL(request->method, "fail");
    jsonrpc_msg_destroy(request);

    /* An incomplete one holds its bytes until the rest comes. */
    CU_ASSERT_EQUAL(ctlsock_parse_request(&p, REQ2, 10, &used, &request,
                                          &error), CTLSOCK_PARSE_MORE);
    CU_ASSERT_EQUAL(used, 10);
    CU_ASSERT_PTR_NULL(request);
    CU_ASSERT_EQUAL(ctlsock_parse_request(&p, REQ2 + 10, strlen(REQ2) - 10,
                                          &used, &request, &error),
                    CTLSOCK_PARSE_REQUEST);
    CU_ASSERT_STRING_EQUAL(request->method, "version");
    jsonrpc_msg_destroy(request);
    ctlsock_parser_destroy(&p);
}

static void
test_refused(void)
{
    static const char *const bad[] = {
        "{\"method\":\"status\",,}",                         /* Not JSON. */
        "[\"method\",\"status\"]",                          /* Not object. */
        "{\"method\":\"status\",\"params\":[],\"id\":null}", /* Notify. */
        "{\"result\":\"ok\",\"error\":null,\"id\":1}",      /* Reply. */
        "{\"method\":\"status\",\"params\":{},\"id\":1}",   /* Params. */
        "{\"method\":1,\"params\":[],\"id\":1}",            /* Method. */
        "{\"method\":\"s\",\"params\":[],\"id\":1,\"x\":0}", /* Member. */
        "\"status\"",                                       /* String. */
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *stream = xasprintf("%s" REQ1, bad[i]);

        /* Refused at once, and the request after it is never read. */
        CU_ASSERT_EQUAL(parse_all(stream, CTLSOCK_MAX_REQUEST, 1, NULL, 0),
                        -1);
        CU_ASSERT_EQUAL(parse_all(stream, CTLSOCK_MAX_REQUEST, 4096, NULL,
                                  0), -1);
        free(stream);
    }
}

static void
test_size_limit(void)
{
    size_t len = strlen(REQ1);

    /* A request of exactly the limit passes; one byte over never does,
     * however the bytes arrive. */
    for (size_t chunk = 1; chunk <= 2 * len; chunk++) {
        CU_ASSERT_EQUAL(parse_all(REQ1, len, chunk, NULL, 0), 1);
        CU_ASSERT_EQUAL(parse_all(REQ1, len - 1, chunk, NULL, 0), -1);
        /* The limit is per request. */
        CU_ASSERT_EQUAL(parse_all(REQ1 REQ1 REQ1, len, chunk, NULL, 0), 3);
    }
    /* White space before a request counts. */
    CU_ASSERT_EQUAL(parse_all(" " REQ1, len, 4096, NULL, 0), -1);
}

static void
test_argv(void)
{
    struct jsonrpc_msg *msg;
    const char **argv;
    struct json *params;

    params = json_array_create_2(json_string_create("a"),
                                 json_string_create("b"));
    msg = jsonrpc_create_request("cmd", params, NULL);
    CU_ASSERT_PTR_NULL(ctlsock_request_argv(msg, &argv));
    CU_ASSERT_STRING_EQUAL(argv[0], "cmd");
    CU_ASSERT_STRING_EQUAL(argv[1], "a");
    CU_ASSERT_STRING_EQUAL(argv[2], "b");
    CU_ASSERT_PTR_NULL(argv[3]);
    free(argv);
    jsonrpc_msg_destroy(msg);

    params = json_array_create_2(json_string_create("a"),
                                 json_integer_create(1));
    msg = jsonrpc_create_request("cmd", params, NULL);
    CU_ASSERT_PTR_NOT_NULL(ctlsock_request_argv(msg, &argv));
    CU_ASSERT_PTR_NULL(argv);
    jsonrpc_msg_destroy(msg);
}

/* The long answer of the tests below: 'n' numbered lines holding every
 * character JSON must escape. */
static void
long_text(struct ds *s, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        ds_put_format(s, "line %d: \"quoted\" back\\slash\ttab \x01\n", i);
    }
}

enum { N_LINES = 40000 };        /* About 1.6 MB. */

struct pieces {
    int next;                   /* Next line to give. */
    bool *done;                 /* Set when freed. */
};

static bool
piece_cb(struct ds *out, void *p_)
{
    struct pieces *p = p_;
    int n = MIN(1000, N_LINES - p->next);

    long_text(out, p->next, n);
    p->next += n;
    return p->next < N_LINES;
}

static void
done_cb(void *p_)
{
    struct pieces *p = p_;

    *p->done = true;
    free(p);
}

static bool pieces_done;

static void
pieces_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct pieces *p = xzalloc(sizeof *p);

    p->done = &pieces_done;
    ctlsock_reply_pieces(conn, piece_cb, done_cb, p);
}

static void
whole_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    long_text(&s, 0, N_LINES);
    ctlsock_reply_ds(conn, &s);
    ds_destroy(&s);
}

/* Stops the loop once the client child has exited. */
static void
child_check_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
               void *base)
{
    event_base_loopbreak(base);
}

/* Runs 'command' from a client in a child process against a control
 * socket served here, and returns true if the child got exactly the long
 * text back. */
static bool
transact_long(const char *command)
{
    char dir[] = "/tmp/sfmesh-ctlsock.XXXXXX";
    struct event_base *base = event_base_new();
    struct timeval tick = { 0, 10 * 1000 };
    struct ctlsock *server;
    struct event *check;
    char *path, *error;
    int status = -1;
    pid_t pid;

    signal(SIGPIPE, SIG_IGN);   /* As the daemons do: a client may go. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    path = xasprintf("%s/ctl", dir);
    server = ctlsock_create(base, path, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(server);
    ctlsock_register(server, "pieces", "", 0, 0, pieces_cmd, NULL);
    ctlsock_register(server, "whole", "", 0, 0, whole_cmd, NULL);

    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (!pid) {
        char *argv[] = { CONST_CAST(char *, command), NULL };
        struct ds want = DS_EMPTY_INITIALIZER;
        char *result = NULL, *err = NULL;
        int retval;

        time_alarm(10);
        retval = ctlsock_transact(path, 1, argv, &result, &err);
        long_text(&want, 0, N_LINES);
        _exit(!retval && !err && result && !strcmp(result, ds_cstr(&want))
              ? 0 : 1);
    }
    check = event_new(base, -1, EV_PERSIST, child_check_cb, base);
    event_add(check, &tick);
    for (int i = 0; i < 1000; i++) {
        event_base_dispatch(base);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            break;
        }
    }
    event_free(check);
    ctlsock_destroy(server);
    event_base_free(base);
    rmdir(dir);
    free(path);
    return WIFEXITED(status) && !WEXITSTATUS(status);
}

/* A reply given in pieces arrives whole and correctly escaped, and its
 * producer is freed. */
static void
test_reply_pieces(void)
{
    pieces_done = false;
    CU_ASSERT_TRUE(transact_long("pieces"));
    CU_ASSERT_TRUE(pieces_done);
}

/* A long reply given whole arrives whole. */
static void
test_reply_ds(void)
{
    CU_ASSERT_TRUE(transact_long("whole"));
}

static const struct test_case ctlsock_tests[] = {
    { "pipelined requests, cut anywhere", test_pipelined_any_pieces },
    { "one request per call", test_first_request_only },
    { "what is not a request is refused", test_refused },
    { "the size limit does not depend on the pieces", test_size_limit },
    { "command line from a request", test_argv },
    { "a long reply in pieces", test_reply_pieces },
    { "a long reply in one piece", test_reply_ds },
    { NULL, NULL },
};
TEST_SUITE("ctlsock", ctlsock_tests)
