/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "ctlsock.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "bevflush.h"
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ctlsock);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The socket file's mode: the owner alone may connect. */
#define CTLSOCK_MODE 0700

/* A command and its handler. */
struct ctlsock_command {
    char *usage;                /* Arguments, for list-commands. */
    int min_args, max_args;     /* Allowed number of arguments. */
    ctlsock_cb *cb;             /* Handler. */
    void *aux;                  /* Passed to 'cb'. */
};

struct ctlsock {
    char *path;                 /* Socket file, removed on destroy. */
    struct evconnlistener *listener; /* Accepts clients. */
    struct shash commands;      /* Contains "struct ctlsock_command"s. */
    struct ovs_list conns;      /* Contains "struct ctlsock_conn"s. */
};

struct ctlsock_conn {
    struct ovs_list list_node;  /* In 'ctlsock->conns'. */
    struct ctlsock *server;     /* Owner. */
    struct bufferevent *bev;    /* The client socket. */
    struct ctlsock_parser parser; /* The client's requests. */
    struct json *id;            /* Id of the request being answered. */
    bool replied;               /* True once the handler answered. */
    bool closing;               /* Close once the output drains. */

    /* A reply going out in pieces (ctlsock_reply_pieces()). */
    ctlsock_piece_cb *next;     /* Gives the next piece; NULL if none. */
    void (*done)(void *aux);    /* Frees 'piece_aux'. */
    void *piece_aux;
};

/* A reply in pieces is refilled whenever its output drains below the low
 * mark, up to the high one. */
#define CTLSOCK_PIECES_LOW (64 * 1024)
#define CTLSOCK_PIECES_HIGH (256 * 1024)

static void conn_destroy__(struct ctlsock_conn *);

static void
list_commands__(struct ctlsock_conn *conn, int argc OVS_UNUSED,
                const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    const struct shash_node **nodes = shash_sort(&conn->server->commands);
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_cstr(&s, "The available commands are:\n");
    for (size_t i = 0; i < shash_count(&conn->server->commands); i++) {
        const struct ctlsock_command *c = nodes[i]->data;
        ds_put_format(&s, "  %-23s %s\n", nodes[i]->name, c->usage);
    }
    free(nodes);
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
version__(struct ctlsock_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    ctlsock_reply(conn, SFMESH_VERSION);
}

static void
free_cb__(const void *data, size_t len OVS_UNUSED, void *aux OVS_UNUSED)
{
    free(CONST_CAST(void *, data));
}

/* Queues the contents of 'out' on 'conn' without copying them, and leaves
 * 'out' empty.  A reply of many megabytes (the flows of a large switch) is
 * then held once, not twice. */
static void
write_ds__(struct ctlsock_conn *conn, struct ds *out)
{
    size_t len = out->length;
    char *s = ds_steal_cstr(out);

    if (evbuffer_add_reference(bufferevent_get_output(conn->bev), s, len,
                               free_cb__, NULL)) {
        free(s);
    }
}

static void
send_json__(struct ctlsock_conn *conn, struct jsonrpc_msg *msg)
{
    struct json *json = jsonrpc_msg_to_json(msg);
    struct ds out = DS_EMPTY_INITIALIZER;

    json_to_ds(json, 0, &out);
    json_destroy(json);
    write_ds__(conn, &out);
}

/* Answers the current request on 'conn' with the result 'text'. */
void
ctlsock_reply(struct ctlsock_conn *conn, const char *text)
{
    if (!conn->replied) {
        conn->replied = true;
        send_json__(conn, jsonrpc_create_reply(json_string_create(text),
                                               conn->id));
    }
}

/* Answers the current request on 'conn' with the result 'text', which it
 * empties.  Long answers that should not be held whole go out with
 * ctlsock_reply_pieces() instead. */
void
ctlsock_reply_ds(struct ctlsock_conn *conn, struct ds *text)
{
    if (!conn->replied) {
        struct ds out = DS_EMPTY_INITIALIZER;

        conn->replied = true;
        ds_reserve(&out, text->length + text->length / 16 + 64);
        ds_put_cstr(&out, "{\"id\":");
        json_to_ds(conn->id, 0, &out);
        ds_put_cstr(&out, ",\"result\":");
        json_string_escape(ds_cstr(text), &out);
        ds_put_cstr(&out, ",\"error\":null}");
        write_ds__(conn, &out);
    }
    ds_destroy(text);
    ds_init(text);
}

/* Appends 'text' to 'out' escaped as the inside of a JSON string, with
 * libopenvswitch's escaping (less the quotes it puts around). */
static void
escape_into__(struct ds *out, const struct ds *text)
{
    size_t start = out->length;

    json_string_escape(ds_cstr_ro(text), out);
    /* Drop the closing quote, then the opening one. */
    out->length--;
    memmove(&out->string[start], &out->string[start + 1],
            out->length - start - 1);
    out->length--;
    out->string[out->length] = '\0';
}

/* Ends the reply in pieces of 'conn', if there is one. */
static void
end_pieces__(struct ctlsock_conn *conn)
{
    if (conn->next) {
        conn->next = NULL;
        conn->done(conn->piece_aux);
        bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
    }
}

/* Queues pieces of the reply in pieces of 'conn' until its output holds
 * CTLSOCK_PIECES_HIGH bytes or the reply is complete. */
static void
more_pieces__(struct ctlsock_conn *conn)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    struct ds piece = DS_EMPTY_INITIALIZER;
    struct ds escaped = DS_EMPTY_INITIALIZER;

    while (conn->next && evbuffer_get_length(out) < CTLSOCK_PIECES_HIGH) {
        bool more = conn->next(&piece, conn->piece_aux);

        escape_into__(&escaped, &piece);
        if (!more) {
            ds_put_cstr(&escaped, "\",\"error\":null}");
            end_pieces__(conn);
        }
        evbuffer_add(out, escaped.string, escaped.length);
        ds_clear(&piece);
        ds_clear(&escaped);
    }
    ds_destroy(&piece);
    ds_destroy(&escaped);
}

/* Answers the current request on 'conn' with a result text that 'next'
 * gives piece by piece as the client reads (a listing of many megabytes
 * is then never held whole).  'done' frees 'aux' when the last piece is
 * out or the client went away; requests that follow on the connection
 * wait until then. */
void
ctlsock_reply_pieces(struct ctlsock_conn *conn, ctlsock_piece_cb *next,
                     void (*done)(void *aux), void *aux)
{
    struct ds head = DS_EMPTY_INITIALIZER;

    if (conn->replied) {
        done(aux);
        return;
    }
    conn->replied = true;
    ds_put_cstr(&head, "{\"id\":");
    json_to_ds(conn->id, 0, &head);
    ds_put_cstr(&head, ",\"result\":\"");
    write_ds__(conn, &head);

    conn->next = next;
    conn->done = done;
    conn->piece_aux = aux;
    bufferevent_setwatermark(conn->bev, EV_WRITE, CTLSOCK_PIECES_LOW, 0);
    more_pieces__(conn);
}

/* Answers the current request on 'conn' with the error 'text'. */
void
ctlsock_reply_error(struct ctlsock_conn *conn, const char *text)
{
    if (!conn->replied) {
        conn->replied = true;
        send_json__(conn, jsonrpc_create_error(json_string_create(text),
                                               conn->id));
    }
}

/* Runs 'msg', a request (whose ownership is taken). */
static void
handle_request__(struct ctlsock_conn *conn, struct jsonrpc_msg *msg)
{
    const struct ctlsock_command *command;
    size_t n;

    conn->id = msg->id;
    conn->replied = false;
    command = shash_find_data(&conn->server->commands, msg->method);
    n = json_array(msg->params)->n;
    if (!command) {
        char *s = xasprintf("\"%s\" is not a valid command (use "
                            "list-commands to see the valid ones)",
                            msg->method);
        ctlsock_reply_error(conn, s);
        free(s);
    } else if (n < command->min_args || n > command->max_args) {
        char *s = xasprintf("\"%s\" takes %d to %d arguments (usage: %s %s)",
                            msg->method, command->min_args,
                            command->max_args, msg->method, command->usage);
        ctlsock_reply_error(conn, s);
        free(s);
    } else {
        const char **argv;
        const char *error = ctlsock_request_argv(msg, &argv);

        if (error) {
            ctlsock_reply_error(conn, error);
        } else {
            command->cb(conn, n + 1, argv, command->aux);
            free(argv);
        }
        if (!conn->replied) {
            ctlsock_reply_error(conn, "command did not answer");
        }
    }
    conn->id = NULL;
    jsonrpc_msg_destroy(msg);
}

/* Initializes 'p' to read requests of at most 'max_request' bytes from the
 * start of a client's byte stream. */
void
ctlsock_parser_init(struct ctlsock_parser *p, size_t max_request)
{
    p->json = NULL;
    p->received = 0;
    p->max_request = max_request;
}

/* Frees what 'p' holds. */
void
ctlsock_parser_destroy(struct ctlsock_parser *p)
{
    if (p->json) {
        json_parser_abort(p->json);
        p->json = NULL;
    }
}

/* Reads the 'size' bytes at 'data', the next bytes of the stream of 'p', up
 * to the end of the first request that ends in them, and stores in
 * '*usedp' how many it read.  Returns:
 *
 *   - CTLSOCK_PARSE_REQUEST with the request in '*requestp' (for the caller
 *     to free), a JSONRPC_REQUEST whose "params" is an array.  The rest of
 *     the bytes belong to the requests that follow.
 *
 *   - CTLSOCK_PARSE_MORE if every byte was read and the request is not
 *     complete yet.
 *
 *   - CTLSOCK_PARSE_ERROR, with a message in '*errorp' (for the caller to
 *     free), if the bytes are not JSON, not a JSON-RPC request, or the
 *     request goes over the limit of 'p'.  The stream cannot go on: the
 *     caller drops the client and destroys 'p'.
 *
 * The outcome does not depend on how the stream is cut into pieces: in
 * particular, a request is refused if and only if it is longer than the
 * limit. */
enum ctlsock_parse_status
ctlsock_parse_request(struct ctlsock_parser *p, const char *data, size_t size,
                      size_t *usedp, struct jsonrpc_msg **requestp,
                      char **errorp)
{
    struct jsonrpc_msg *msg;
    struct json *json;
    char *error;

    *usedp = 0;
    *requestp = NULL;
    *errorp = NULL;
    if (!size) {
        return CTLSOCK_PARSE_MORE;
    }
    if (!p->json) {
        p->json = json_parser_create(0);
        p->received = 0;
    }
    *usedp = json_parser_feed(p->json, data,
                              MIN(size, p->max_request - p->received));
    p->received += *usedp;
    if (!json_parser_is_done(p->json)) {
        if (p->received >= p->max_request) {
            *errorp = xasprintf("request over %"PRIuSIZE" bytes",
                                p->max_request);
            return CTLSOCK_PARSE_ERROR;
        }
        return CTLSOCK_PARSE_MORE;
    }

    json = json_parser_finish(p->json);
    p->json = NULL;
    if (json->type == JSON_STRING) {
        *errorp = xasprintf("bad JSON: %s", json_string(json));
        json_destroy(json);
        return CTLSOCK_PARSE_ERROR;
    }
    error = jsonrpc_msg_from_json(json, &msg);
    if (error) {
        *errorp = xasprintf("invalid request: %s", error);
        free(error);
        return CTLSOCK_PARSE_ERROR;
    }
    if (msg->type != JSONRPC_REQUEST) {
        *errorp = xasprintf("unexpected %s message",
                            jsonrpc_msg_type_to_string(msg->type));
        jsonrpc_msg_destroy(msg);
        return CTLSOCK_PARSE_ERROR;
    }
    *requestp = msg;
    return CTLSOCK_PARSE_REQUEST;
}

/* Stores in '*argvp' the command line of 'request', as a command handler
 * takes it: the method, the parameters and a null pointer (an array for the
 * caller to free, of strings that belong to 'request').  Returns NULL, or,
 * with '*argvp' NULL, a static message if a parameter is not a string. */
const char *
ctlsock_request_argv(const struct jsonrpc_msg *request, const char ***argvp)
{
    const struct json_array *params = json_array(request->params);
    const char **argv;

    *argvp = NULL;
    for (size_t i = 0; i < params->n; i++) {
        if (params->elems[i]->type != JSON_STRING) {
            return "command arguments must be strings";
        }
    }
    argv = xmalloc((params->n + 2) * sizeof *argv);
    argv[0] = request->method;
    for (size_t i = 0; i < params->n; i++) {
        argv[i + 1] = json_string(params->elems[i]);
    }
    argv[params->n + 1] = NULL;
    *argvp = argv;
    return NULL;
}

static void
read_cb__(struct bufferevent *bev, void *conn_)
{
    struct ctlsock_conn *conn = conn_;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (evbuffer_get_length(in) && !conn->closing && !conn->next) {
        size_t avail = evbuffer_get_contiguous_space(in);
        const char *data = (const char *) evbuffer_pullup(in, avail);
        struct jsonrpc_msg *request;
        char *error;
        size_t used;

        ctlsock_parse_request(&conn->parser, data, avail, &used, &request,
                              &error);
        evbuffer_drain(in, used);
        if (error) {
            VLOG_WARN_RL(&rl, "control socket: %s", error);
            free(error);
            conn->closing = true;
        } else if (request) {
            handle_request__(conn, request);
        }
    }

    if (conn->closing) {
        bufferevent_disable(bev, EV_READ);
        if (!evbuffer_get_length(bufferevent_get_output(bev))) {
            conn_destroy__(conn);
        }
    }
}

static void
write_cb__(struct bufferevent *bev, void *conn_)
{
    struct ctlsock_conn *conn = conn_;

    if (conn->next) {
        more_pieces__(conn);
        if (!conn->next && evbuffer_get_length(bufferevent_get_input(bev))) {
            read_cb__(bev, conn);   /* Requests that waited for it. */
        }
    } else if (conn->closing) {
        conn_destroy__(conn);
    }
}

static void
event_cb__(struct bufferevent *bev OVS_UNUSED, short what OVS_UNUSED,
           void *conn_)
{
    conn_destroy__(conn_);
}

static void
conn_destroy__(struct ctlsock_conn *conn)
{
    end_pieces__(conn);
    ovs_list_remove(&conn->list_node);
    ctlsock_parser_destroy(&conn->parser);
    bufferevent_free(conn->bev);
    free(conn);
}

static void
accept_cb__(struct evconnlistener *listener, evutil_socket_t fd,
            struct sockaddr *sa OVS_UNUSED, int socklen OVS_UNUSED,
            void *server_)
{
    struct ctlsock *server = server_;
    struct ctlsock_conn *conn = xzalloc(sizeof *conn);

    conn->server = server;
    ctlsock_parser_init(&conn->parser, CTLSOCK_MAX_REQUEST);
    conn->bev = bufferevent_socket_new(evconnlistener_get_base(listener), fd,
                                       BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(conn->bev, read_cb__, write_cb__, event_cb__, conn);
    bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
    ovs_list_push_back(&server->conns, &conn->list_node);
}

/* Creates a control socket at 'path' served on 'base', replacing a stale
 * socket file, with mode CTLSOCK_MODE.  Returns NULL and an error message
 * in '*errorp' (to be freed) on failure.  The commands "list-commands" and
 * "version" are built in. */
struct ctlsock *
ctlsock_create(struct event_base *base, const char *path, char **errorp)
{
    struct sockaddr_un sun;
    struct ctlsock *server;
    int fd;

    *errorp = NULL;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        *errorp = xasprintf("%s: control socket path too long", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    unlink(path);

    /* Whoever may connect may run every command, "exit" included, so the
     * socket is the owner's alone, whatever the umask: on Linux a socket
     * file takes the mode of its socket at bind(), as in OVS's
     * make_unix_socket(), and the chmod() covers other systems. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0
        || fchmod(fd, CTLSOCK_MODE)
        || bind(fd, (struct sockaddr *) &sun, sizeof sun)
        || chmod(path, CTLSOCK_MODE)) {
        *errorp = xasprintf("%s: cannot listen (%s)", path,
                            ovs_strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return NULL;
    }

    server = xzalloc(sizeof *server);
    server->listener = evconnlistener_new(
        base, accept_cb__, server,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!server->listener) {
        *errorp = xasprintf("%s: cannot listen (%s)", path,
                            ovs_strerror(errno));
        close(fd);
        unlink(path);
        free(server);
        return NULL;
    }
    server->path = xstrdup(path);
    shash_init(&server->commands);
    ovs_list_init(&server->conns);

    ctlsock_register(server, "list-commands", "", 0, 0, list_commands__,
                     NULL);
    ctlsock_register(server, "version", "", 0, 0, version__, NULL);
    return server;
}

/* Closes 'server', its clients and removes its socket file.  Accepts NULL. */
void
ctlsock_destroy(struct ctlsock *server)
{
    struct ctlsock_conn *conn;

    if (!server) {
        return;
    }
    LIST_FOR_EACH_SAFE (conn, list_node, &server->conns) {
        bevflush_now(conn->bev);
        conn_destroy__(conn);
    }
    evconnlistener_free(server->listener);
    unlink(server->path);

    struct shash_node *node;
    SHASH_FOR_EACH (node, &server->commands) {
        struct ctlsock_command *command = node->data;
        free(command->usage);
        free(command);
    }
    shash_destroy(&server->commands);
    free(server->path);
    free(server);
}

/* Registers command 'name', taking 'min_args' to 'max_args' arguments
 * described by 'usage', handled by 'cb' with 'aux'. */
void
ctlsock_register(struct ctlsock *server, const char *name, const char *usage,
                 int min_args, int max_args, ctlsock_cb *cb, void *aux)
{
    struct ctlsock_command *command = xmalloc(sizeof *command);

    command->usage = xstrdup(usage);
    command->min_args = min_args;
    command->max_args = max_args;
    command->cb = cb;
    command->aux = aux;
    free(shash_replace(&server->commands, name, command));
}

int
ctlsock_transact(const char *path, int argc, char *argv[],
                 char **resultp, char **errorp)
{
    struct jsonrpc *client;
    int error;

    *resultp = *errorp = NULL;
    error = unixctl_client_create(path, &client);
    if (error) {
        *errorp = xasprintf("cannot connect to %s (%s); is the daemon "
                            "running?", path, ovs_strerror(error));
        return error;
    }
    error = unixctl_client_transact(client, argv[0], argc - 1, argv + 1,
                                    resultp, errorp);
    jsonrpc_close(client);
    if (error) {
        free(*resultp);
        free(*errorp);
        *resultp = NULL;
        *errorp = xasprintf("%s: %s", path, ovs_retval_to_string(error));
    }
    return error;
}
