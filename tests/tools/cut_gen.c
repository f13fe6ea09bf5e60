/*
 * cut-gen: the test generator. Publishes COUNT persistent messages to a
 * RabbitMQ queue, each stamped with message_id "<prefix>-<seq>" and the
 * headers flow/seq, using publisher confirms so that a message counted as
 * sent is really on the broker. With --depth it prints the queue's ready
 * message count instead (a passive queue.declare).
 *
 *   cut-gen --url URL --queue Q --count N [--prefix P] [--size BYTES] [--purge]
 *   cut-gen --url URL --queue Q --depth
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#define WINDOW 2000 /* unconfirmed publishes allowed at once */

static void die_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return;
    }
    fprintf(stderr, "cut-gen: %s failed (reply type %d, library error %s)\n", what, r.reply_type,
            amqp_error_string2(r.library_error));
    exit(1);
}

/* Read frames until the broker has confirmed every tag up to *confirmed >= want. */
static void wait_confirms(amqp_connection_state_t conn, uint64_t *confirmed, uint64_t want)
{
    while (*confirmed < want) {
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
            fprintf(stderr, "cut-gen: connection lost while waiting for confirms\n");
            exit(1);
        }
        if (frame.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            /* Tags are sequential from 1; a multiple ack confirms all below. */
            if (ack->delivery_tag > *confirmed) {
                *confirmed = ack->delivery_tag;
            }
        } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf(stderr, "cut-gen: broker refused a publish (nack)\n");
            exit(1);
        } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            fprintf(stderr, "cut-gen: broker closed the channel\n");
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"queue", required_argument, NULL, 'q'},
        {"count", required_argument, NULL, 'n'}, {"prefix", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},  {"depth", no_argument, NULL, 'd'},
        {"purge", no_argument, NULL, 'P'},       {NULL, 0, NULL, 0},
    };
    const char *url = "amqp://guest:guest@127.0.0.1:5672/%2F", *queue = NULL, *prefix = "m";
    long count = 0, size = 64;
    int depth = 0, purge = 0, c;
    while ((c = getopt_long(argc, argv, "u:q:n:p:s:dP", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'q':
            queue = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'p':
            prefix = optarg;
            break;
        case 's':
            size = atol(optarg);
            break;
        case 'd':
            depth = 1;
            break;
        case 'P':
            purge = 1;
            break;
        default:
            return 2;
        }
    }
    if (queue == NULL || (!depth && count <= 0) || size < 16) {
        fprintf(stderr, "usage: cut-gen --url URL --queue Q (--count N [--prefix P] [--size B] "
                        "[--purge] | --depth)\n");
        return 2;
    }

    struct amqp_connection_info ci;
    char *urlbuf = strdup(url);
    if (amqp_parse_url(urlbuf, &ci) != AMQP_STATUS_OK) {
        fprintf(stderr, "cut-gen: bad url\n");
        return 2;
    }
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(sock, ci.host, ci.port) != AMQP_STATUS_OK) {
        fprintf(stderr, "cut-gen: cannot connect to %s:%d\n", ci.host, ci.port);
        return 1;
    }
    die_reply(
        amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password),
        "login");
    amqp_channel_open(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "channel.open");

    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), depth, 1, 0, 0, amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "queue.declare");
    if (depth) {
        printf("%" PRIu32 "\n", ok->message_count);
        return 0;
    }
    if (purge) {
        amqp_queue_purge(conn, 1, amqp_cstring_bytes(queue));
        die_reply(amqp_get_rpc_reply(conn), "queue.purge");
    }
    amqp_confirm_select(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "confirm.select");

    char *body = malloc((size_t)size);
    char id[128], seqtxt[32];
    amqp_table_entry_t hdrs[2];
    uint64_t confirmed = 0;
    for (long seq = 0; seq < count; seq++) {
        snprintf(id, sizeof(id), "%s-%ld", prefix, seq);
        snprintf(seqtxt, sizeof(seqtxt), "%ld", seq);
        int n = snprintf(body, (size_t)size, "{\"id\":\"%s\",\"seq\":%ld}", id, seq);
        memset(body + n, ' ', (size_t)(size - n)); /* pad to the asked size */

        hdrs[0] = (amqp_table_entry_t){
            .key = amqp_cstring_bytes("flow"),
            .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(prefix)}};
        hdrs[1] = (amqp_table_entry_t){.key = amqp_cstring_bytes("seq"),
                                       .value = {.kind = AMQP_FIELD_KIND_I64, .value.i64 = seq}};
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                      AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG,
            .message_id = amqp_cstring_bytes(id),
            .delivery_mode = AMQP_DELIVERY_PERSISTENT,
            .content_type = amqp_cstring_bytes("application/json"),
            .timestamp = (uint64_t)time(NULL),
            .headers = {.num_entries = 2, .entries = hdrs},
        };
        if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 1, 0, &props,
                               (amqp_bytes_t){.len = (size_t)size, .bytes = body}) != 0) {
            fprintf(stderr, "cut-gen: publish failed at seq %ld\n", seq);
            return 1;
        }
        /* Pipelined: only wait when the unconfirmed window is full. */
        if ((uint64_t)seq + 1 - confirmed >= WINDOW) {
            wait_confirms(conn, &confirmed, (uint64_t)seq + 1 - WINDOW / 2);
        }
    }
    wait_confirms(conn, &confirmed, (uint64_t)count);
    printf("published %ld messages to %s (all confirmed)\n", count, queue);
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(body);
    free(urlbuf);
    return 0;
}
