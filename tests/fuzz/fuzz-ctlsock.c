/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the control socket's request parser (lib/ctlsock.c): the
 * bytes a client sends.
 *
 * The first input byte sets the parser's size limit (0: the daemon's; else
 * twice the byte), the second seeds the cutting of the stream into pieces;
 * the rest is the byte stream.  It is parsed twice, all at once and in
 * pieces of 1 to 16 bytes, each time until the first error, as the server
 * reads it.  Checked:
 *
 *  - Both readings give the same requests, and the same error if any, at
 *    the same offsets: the outcome does not depend on how the bytes arrive.
 *    (Not the error's text: libopenvswitch's JSON lexer keeps the bytes of
 *    a string that ends a piece in its buffer until the next punctuation,
 *    so a keyword or number straight after a string, which is an error
 *    anyway, is reported with those bytes in front; see
 *    regress/fuzz-ctlsock/error-text-after-string.)
 *  - Every request is a JSON-RPC request with a method, an id and an array
 *    of parameters; it fits the limit; its command line is the method and
 *    the parameters, or refused exactly when a parameter is not a string.
 *  - A request, written out again, parses back to a request that writes
 *    out the same. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ctlsock.h"
#include "jsonrpc.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the request 'msg', which took 'len' bytes of a stream parsed with
 * limit 'max'. */
static void
check_request(const struct jsonrpc_msg *msg, size_t len, size_t max)
{
    const struct json_array *params;
    struct ctlsock_parser p;
    struct jsonrpc_msg *again;
    bool all_strings = true;
    const char **argv;
    const char *error;
    struct json *json;
    char *text, *text2, *perror;
    size_t used;

    if (msg->type != JSONRPC_REQUEST || !msg->method || !msg->id
        || !msg->params || msg->params->type != JSON_ARRAY || len > max) {
        abort();
    }
    params = json_array(msg->params);
    for (size_t i = 0; i < params->n; i++) {
        all_strings &= params->elems[i]->type == JSON_STRING;
    }
    error = ctlsock_request_argv(msg, &argv);
    if (!error != all_strings || !error != !!argv) {
        abort();
    }
    if (argv) {
        if (strcmp(argv[0], msg->method) || argv[params->n + 1]) {
            abort();
        }
        for (size_t i = 0; i < params->n; i++) {
            if (argv[i + 1] != json_string(params->elems[i])) {
                abort();
            }
        }
        free(argv);
    }

    /* Written out and read back, it writes out the same.  (Not equal: a
     * number is written with DBL_DIG digits, so a number with more reads
     * back a little different, once.) */
    json = jsonrpc_msg_to_json(jsonrpc_msg_clone(msg));
    text = json_to_string(json, JSSF_SORT);
    json_destroy(json);
    ctlsock_parser_init(&p, SIZE_MAX);
    if (ctlsock_parse_request(&p, text, strlen(text), &used, &again,
                              &perror) != CTLSOCK_PARSE_REQUEST
        || used != strlen(text)) {
        abort();
    }
    json = jsonrpc_msg_to_json(again);
    text2 = json_to_string(json, JSSF_SORT);
    if (strcmp(text, text2)) {
        abort();
    }
    json_destroy(json);
    ctlsock_parser_destroy(&p);
    free(text);
    free(text2);
}

/* Parses the 'size' bytes at 'data' with limit 'max', in pieces whose sizes
 * come from 'seed' (0: all at once), until the first error, and writes what
 * it found into 'out': each request's end offset and text, then the error's
 * offset. */
static void
parse_stream(const uint8_t *data, size_t size, size_t max, uint32_t seed,
             struct ds *out)
{
    struct ctlsock_parser p;
    size_t ofs = 0, start = 0;

    ctlsock_parser_init(&p, max);
    while (ofs < size) {
        enum ctlsock_parse_status status;
        struct jsonrpc_msg *request;
        size_t piece, used;
        char *error;

        if (seed) {
            seed = seed * 1103515245 + 12345;
            piece = MIN(size - ofs, 1 + (seed >> 16) % 16);
        } else {
            piece = size - ofs;
        }
        status = ctlsock_parse_request(&p, (const char *) data + ofs, piece,
                                       &used, &request, &error);
        if (used > piece) {
            abort();
        }
        ofs += used;
        if (status == CTLSOCK_PARSE_ERROR) {
            if (!error || request) {
                abort();
            }
            ds_put_format(out, "%"PRIuSIZE" error\n", ofs);
            free(error);
            break;
        } else if (status == CTLSOCK_PARSE_REQUEST) {
            struct json *json;
            char *text;

            if (error || !request) {
                abort();
            }
            check_request(request, ofs - start, max);
            start = ofs;
            json = jsonrpc_msg_to_json(request);
            text = json_to_string(json, JSSF_SORT);
            ds_put_format(out, "%"PRIuSIZE" %s\n", ofs, text);
            free(text);
            json_destroy(json);
        } else if (error || request || used != piece) {
            abort();
        }
    }
    ctlsock_parser_destroy(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct ds whole = DS_EMPTY_INITIALIZER;
    struct ds pieces = DS_EMPTY_INITIALIZER;
    size_t max;
    uint32_t seed;

    if (!initialized) {
        initialized = true;
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    }
    if (size < 2) {
        return 0;
    }
    max = data[0] ? data[0] * 2 : CTLSOCK_MAX_REQUEST;
    seed = data[1] | 0x100;
    data += 2;
    size -= 2;

    parse_stream(data, size, max, 0, &whole);
    parse_stream(data, size, max, seed, &pieces);
    if (strcmp(ds_cstr(&whole), ds_cstr(&pieces))) {
        abort();
    }
    ds_destroy(&whole);
    ds_destroy(&pieces);
    return 0;
}
