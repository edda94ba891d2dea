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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ctlsock);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The socket file's mode: the owner alone may connect. */
#define CTLSOCK_MODE 0700

/* A request larger than this is refused and its connection closed. */
#define CTLSOCK_MAX_REQUEST (64 * 1024)

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
    struct json_parser *parser; /* Request being parsed, or NULL. */
    size_t received;            /* Bytes of the current request. */
    struct json *id;            /* Id of the request being answered. */
    bool replied;               /* True once the handler answered. */
    bool closing;               /* Close once the output drains. */
};

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
send_json__(struct ctlsock_conn *conn, struct jsonrpc_msg *msg)
{
    struct json *json = jsonrpc_msg_to_json(msg);
    char *s = json_to_string(json, 0);

    bufferevent_write(conn->bev, s, strlen(s));
    free(s);
    json_destroy(json);
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

/* Runs the request 'json' (whose ownership is taken). */
static void
handle_request__(struct ctlsock_conn *conn, struct json *json)
{
    const struct ctlsock_command *command;
    struct jsonrpc_msg *msg;
    const char **argv = NULL;
    char *error;
    size_t n;

    error = jsonrpc_msg_from_json(json, &msg);
    if (error) {
        VLOG_WARN_RL(&rl, "invalid request on control socket: %s", error);
        free(error);
        conn->closing = true;
        return;
    }
    if (msg->type != JSONRPC_REQUEST) {
        VLOG_WARN_RL(&rl, "control socket: unexpected %s message",
                     jsonrpc_msg_type_to_string(msg->type));
        jsonrpc_msg_destroy(msg);
        conn->closing = true;
        return;
    }

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
        argv = xmalloc((n + 2) * sizeof *argv);
        argv[0] = msg->method;
        for (size_t i = 0; i < n; i++) {
            const struct json *arg = json_array(msg->params)->elems[i];
            if (arg->type != JSON_STRING) {
                ctlsock_reply_error(conn, "command arguments must be "
                                    "strings");
                break;
            }
            argv[i + 1] = json_string(arg);
        }
        argv[n + 1] = NULL;
        if (!conn->replied) {
            command->cb(conn, n + 1, argv, command->aux);
        }
        if (!conn->replied) {
            ctlsock_reply_error(conn, "command did not answer");
        }
        free(argv);
    }
    conn->id = NULL;
    jsonrpc_msg_destroy(msg);
}

static void
read_cb__(struct bufferevent *bev, void *conn_)
{
    struct ctlsock_conn *conn = conn_;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (evbuffer_get_length(in) && !conn->closing) {
        size_t avail = evbuffer_get_contiguous_space(in);
        const char *data = (const char *) evbuffer_pullup(in, avail);
        size_t used;

        if (!conn->parser) {
            conn->parser = json_parser_create(0);
            conn->received = 0;
        }
        used = json_parser_feed(conn->parser, data, avail);
        evbuffer_drain(in, used);
        conn->received += used;

        if (json_parser_is_done(conn->parser)) {
            struct json *json = json_parser_finish(conn->parser);
            conn->parser = NULL;
            if (json->type == JSON_STRING) {
                VLOG_WARN_RL(&rl, "control socket: bad JSON: %s",
                             json_string(json));
                json_destroy(json);
                conn->closing = true;
            } else {
                handle_request__(conn, json);
            }
        } else if (conn->received > CTLSOCK_MAX_REQUEST) {
            VLOG_WARN_RL(&rl, "control socket: request over %d bytes",
                         CTLSOCK_MAX_REQUEST);
            conn->closing = true;
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
write_cb__(struct bufferevent *bev OVS_UNUSED, void *conn_)
{
    struct ctlsock_conn *conn = conn_;

    if (conn->closing) {
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
    ovs_list_remove(&conn->list_node);
    if (conn->parser) {
        json_parser_abort(conn->parser);
    }
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

/* Waits until 'fd' is ready for 'events' or 'deadline' passes. */
static int
wait_fd__(int fd, short events, long long int deadline)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    long long int left = deadline - time_msec();
    int retval;

    if (left <= 0) {
        return ETIMEDOUT;
    }
    retval = poll(&pfd, 1, left);
    return retval > 0 ? 0 : retval == 0 ? ETIMEDOUT : errno;
}

int
ctlsock_transact(const char *path, int argc, char *argv[], int timeout_ms,
                 char **resultp, char **errorp)
{
    long long int deadline = time_msec() + timeout_ms;
    struct json_parser *parser = NULL;
    struct jsonrpc_msg *request, *reply = NULL;
    struct sockaddr_un sun;
    struct json *params, *request_json;
    char *s, *error;
    size_t len, sent;
    int fd, retval;

    *resultp = *errorp = NULL;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        *errorp = xasprintf("%s: path too long", path);
        return ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        retval = errno;
        *errorp = xasprintf("cannot connect to %s (%s); is the daemon "
                            "running?", path, ovs_strerror(retval));
        if (fd >= 0) {
            close(fd);
        }
        return retval;
    }

    params = json_array_create_empty();
    for (int i = 1; i < argc; i++) {
        json_array_add(params, json_string_create(argv[i]));
    }
    request = jsonrpc_create_request(argv[0], params, NULL);
    request_json = jsonrpc_msg_to_json(request);
    s = json_to_string(request_json, 0);
    json_destroy(request_json);
    len = strlen(s);
    for (sent = 0, retval = 0; sent < len && !retval; ) {
        ssize_t n = send(fd, s + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += n;
        } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
            retval = errno;
        } else {
            retval = wait_fd__(fd, POLLOUT, deadline);
        }
    }
    free(s);

    parser = json_parser_create(0);
    while (!retval && !json_parser_is_done(parser)) {
        char buf[4096];
        ssize_t n;

        retval = wait_fd__(fd, POLLIN, deadline);
        if (retval) {
            break;
        }
        n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            json_parser_feed(parser, buf, n);
        } else if (n == 0) {
            retval = EPROTO;
        } else if (errno != EINTR && errno != EAGAIN) {
            retval = errno;
        }
    }
    close(fd);

    if (retval) {
        json_parser_abort(parser);
        *errorp = xasprintf("%s: %s", path, retval == EPROTO
                            ? "connection closed before the reply"
                            : ovs_strerror(retval));
        return retval;
    }

    error = jsonrpc_msg_from_json(json_parser_finish(parser), &reply);
    if (error) {
        *errorp = xasprintf("%s: bad reply: %s", path, error);
        free(error);
        return EPROTO;
    }
    if (reply->error) {
        *errorp = (reply->error->type == JSON_STRING
                   ? xstrdup(json_string(reply->error))
                   : json_to_string(reply->error, 0));
    } else if (reply->result && reply->result->type == JSON_STRING) {
        *resultp = xstrdup(json_string(reply->result));
    } else {
        *resultp = reply->result ? json_to_string(reply->result, 0)
                                 : xstrdup("");
    }
    jsonrpc_msg_destroy(reply);
    return 0;
}
