/*
 * cut-amqp091-check: AMQP 0-9-1 fidelity tool. Publishes deterministic
 * messages with every basic property and every header field kind
 * (amqp091_spec.c), and checks a queue or a Kafka topic against them.
 *
 *   cut-amqp091-check declare --url U --queue Q [--dlx EXCHANGE --dlq QUEUE]
 *   cut-amqp091-check publish --url U --queue Q --count N --prefix P [--start S]
 *                             [--no-large] [--persistent] [--size BYTES]
 *                             [--dlx X --dlq DQ]
 *   cut-amqp091-check check   --url U --queue Q --count N --prefix P [--start S]
 *                             [--no-large] [--persistent] [--timeout S] [--allow-duplicates]
 *                             [--expiration-remaining]
 *   cut-amqp091-check check-kafka --bootstrap B --topic T --count N --prefix P
 *                             --source-queue A [--start S] [--no-large] [--persistent]
 *                             [--timeout S] [--allow-duplicates]
 *   cut-amqp091-check ids     --url U --queue Q     (drains Q: "message_id x-death-reason")
 *   cut-amqp091-check depth   --url U --queue Q     (ready messages on Q)
 *
 * check: every basic property present exactly when it was published and
 * equal (expiration too, or with --expiration-remaining any value in
 * (0, published]), every header with the same name, kind and value (floats
 * bit for bit). Nested tables and arrays may be dropped (counted as a note)
 * but if kept must be identical. No extra property or header. Exit 0 only
 * if all N are there, none twice (unless --allow-duplicates), all equal.
 * check-kafka: see amqp091_kafka.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "amqp091_check.h"
#include "amqp091_report.h"
#include "amqp091_spec.h"

#define WINDOW 2000 /* unconfirmed publishes allowed at once */
#define CH     1

static void die_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *c = r.reply.decoded;
        fprintf(stderr, "cut-amqp091-check: %s: %.*s\n", what, (int)c->reply_text.len,
                (const char *)c->reply_text.bytes);
    } else {
        fprintf(stderr, "cut-amqp091-check: %s failed (reply type %d, %s)\n", what, r.reply_type,
                amqp_error_string2(r.library_error));
    }
    exit(2);
}

static amqp_connection_state_t open_conn(const char *url)
{
    struct amqp_connection_info ci;
    char *buf = strdup(url);
    if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK) {
        fprintf(stderr, "cut-amqp091-check: bad url\n");
        exit(2);
    }
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(sock, ci.host, ci.port) != AMQP_STATUS_OK) {
        fprintf(stderr, "cut-amqp091-check: cannot connect to %s:%d\n", ci.host, ci.port);
        exit(2);
    }
    die_reply(
        amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password),
        "login");
    amqp_channel_open(conn, CH);
    die_reply(amqp_get_rpc_reply(conn), "channel.open");
    free(buf);
    return conn;
}

static void close_conn(amqp_connection_state_t conn)
{
    amqp_channel_close(conn, CH, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* The durable queue, with a dead-letter exchange (fanout, durable) and queue when asked. */
static void declare(amqp_connection_state_t conn, const char *queue, const char *dlx,
                    const char *dlq)
{
    amqp_table_entry_t arg;
    amqp_table_t args = amqp_empty_table;
    if (dlx != NULL) {
        amqp_exchange_declare(conn, CH, amqp_cstring_bytes(dlx), amqp_cstring_bytes("fanout"), 0, 1,
                              0, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(conn), "exchange.declare (dead-letter exchange)");
        if (dlq != NULL) {
            amqp_queue_declare(conn, CH, amqp_cstring_bytes(dlq), 0, 1, 0, 0, amqp_empty_table);
            die_reply(amqp_get_rpc_reply(conn), "queue.declare (dead-letter queue)");
            amqp_queue_bind(conn, CH, amqp_cstring_bytes(dlq), amqp_cstring_bytes(dlx),
                            amqp_cstring_bytes(""), amqp_empty_table);
            die_reply(amqp_get_rpc_reply(conn), "queue.bind (dead-letter queue)");
        }
        arg = (amqp_table_entry_t){
            .key = amqp_cstring_bytes("x-dead-letter-exchange"),
            .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(dlx)}};
        args = (amqp_table_t){.num_entries = 1, .entries = &arg};
    }
    amqp_queue_declare(conn, CH, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    die_reply(amqp_get_rpc_reply(conn), "queue.declare");
}

/* Read frames until every publish up to @p want is confirmed; a return or nack is fatal. */
static void wait_confirms(amqp_connection_state_t conn, uint64_t *confirmed, uint64_t want)
{
    while (*confirmed < want) {
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
            fprintf(stderr, "cut-amqp091-check: connection lost while waiting for confirms\n");
            exit(2);
        }
        if (frame.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            if (ack->delivery_tag > *confirmed) {
                *confirmed = ack->delivery_tag;
            }
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            fprintf(stderr, "cut-amqp091-check: a publish was unroutable (basic.return)\n");
            exit(2);
        case AMQP_BASIC_NACK_METHOD:
            fprintf(stderr, "cut-amqp091-check: broker refused a publish (nack)\n");
            exit(2);
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *c = frame.payload.method.decoded;
            fprintf(stderr, "cut-amqp091-check: broker closed the channel: %.*s\n",
                    (int)c->reply_text.len, (const char *)c->reply_text.bytes);
            exit(2);
        }
        default:
            break;
        }
    }
}

static int do_publish(const struct tool_opts *o)
{
    amqp_connection_state_t conn = open_conn(o->url);
    declare(conn, o->queue, o->dlx, o->dlq);
    amqp_confirm_select(conn, CH);
    die_reply(amqp_get_rpc_reply(conn), "confirm.select");
    struct spec_opts so = {
        .prefix = o->prefix, .no_large = o->no_large, .persistent = o->persistent};
    uint64_t confirmed = 0, sent = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long seq = o->start; seq < o->start + o->count; seq++) {
        struct spec s;
        spec_make(&s, &so, seq);
        amqp_bytes_t body = {.len = s.body_len, .bytes = s.body};
        unsigned char *big = NULL;
        if (o->size >= 0) { /* a fixed size body instead: the poison test's oversized one */
            big = calloc(1, (size_t)o->size + 1);
            memset(big, 'P', (size_t)o->size);
            body = (amqp_bytes_t){.len = (size_t)o->size, .bytes = big};
        }
        if (amqp_basic_publish(conn, CH, amqp_empty_bytes, amqp_cstring_bytes(o->queue), 1, 0,
                               &s.props, body) != AMQP_STATUS_OK) {
            fprintf(stderr, "cut-amqp091-check: publish failed at seq %ld\n", seq);
            return 2;
        }
        free(big);
        spec_free(&s);
        sent++;
        if (sent - confirmed >= WINDOW) {
            wait_confirms(conn, &confirmed, sent - WINDOW / 2);
        }
    }
    wait_confirms(conn, &confirmed, sent);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("published %ld messages to %s (all confirmed) in %.1f s\n", o->count, o->queue, secs);
    close_conn(conn);
    return 0;
}

static bool bytes_eq(amqp_bytes_t a, amqp_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.bytes, b.bytes, a.len) == 0);
}

/* A shortstr property: present exactly when published, and equal. */
static void check_str(struct report *r, const char *name, amqp_flags_t flag,
                      const amqp_basic_properties_t *want, const amqp_basic_properties_t *got,
                      amqp_bytes_t wv, amqp_bytes_t gv)
{
    bool wp = (want->_flags & flag) != 0, gp = (got->_flags & flag) != 0;
    if (wp != gp) {
        report_bad(r, name, "want %s\"%.*s\", got %s\"%.*s\"", wp ? "" : "absent ",
                   wp ? (int)wv.len : 0, wp ? (const char *)wv.bytes : "", gp ? "" : "absent ",
                   gp ? (int)gv.len : 0, gp ? (const char *)gv.bytes : "");
    } else if (wp && !bytes_eq(wv, gv)) {
        report_bad(r, name, "want \"%.*s\", got \"%.*s\"", (int)wv.len, (const char *)wv.bytes,
                   (int)gv.len, (const char *)gv.bytes);
    }
}

static void check_num(struct report *r, const char *name, amqp_flags_t flag,
                      const amqp_basic_properties_t *want, const amqp_basic_properties_t *got,
                      uint64_t wv, uint64_t gv)
{
    bool wp = (want->_flags & flag) != 0, gp = (got->_flags & flag) != 0;
    if (wp != gp || (wp && wv != gv)) {
        report_bad(r, name, "want %s%" PRIu64 ", got %s%" PRIu64, wp ? "" : "absent ", wp ? wv : 0,
                   gp ? "" : "absent ", gp ? gv : 0);
    }
}

static const amqp_table_entry_t *find(const amqp_table_t *t, amqp_bytes_t key)
{
    for (int i = 0; i < t->num_entries; i++) {
        if (bytes_eq(t->entries[i].key, key)) {
            return &t->entries[i];
        }
    }
    return NULL;
}

static void check_headers(struct report *r, const amqp_basic_properties_t *want,
                          const amqp_basic_properties_t *got)
{
    amqp_table_t none = amqp_empty_table;
    const amqp_table_t *wt = &want->headers;
    const amqp_table_t *gt = (got->_flags & AMQP_BASIC_HEADERS_FLAG) ? &got->headers : &none;
    char a[160], b[160];
    for (int i = 0; i < wt->num_entries; i++) {
        const amqp_table_entry_t *w = &wt->entries[i], *g = find(gt, w->key);
        if (g == NULL && spec_nested(w->value.kind)) {
            report_note(r, "nested table/array header dropped (accepted)");
        } else if (g == NULL) {
            report_bad(r, "headers", "%.*s missing (want %s)", (int)w->key.len,
                       (const char *)w->key.bytes, spec_field_text(&w->value, a, sizeof(a)));
        } else if (!spec_field_equal(&w->value, &g->value)) {
            report_bad(r, "headers", "%.*s: want %s, got %s", (int)w->key.len,
                       (const char *)w->key.bytes, spec_field_text(&w->value, a, sizeof(a)),
                       spec_field_text(&g->value, b, sizeof(b)));
        } else if (spec_nested(w->value.kind)) {
            report_note(r, "nested table/array header kept identical");
        }
    }
    for (int i = 0; i < gt->num_entries; i++) {
        const amqp_table_entry_t *g = &gt->entries[i];
        if (find(wt, g->key) == NULL) {
            report_bad(r, "headers", "unexpected %.*s = %s", (int)g->key.len,
                       (const char *)g->key.bytes, spec_field_text(&g->value, a, sizeof(a)));
        }
    }
}

static void check_message(struct report *r, const struct tool_opts *o, const struct spec *s,
                          const amqp_message_t *m, bool redelivered)
{
    const amqp_basic_properties_t *w = &s->props, *g = &m->properties;
    if (m->body.len != s->body_len ||
        (s->body_len > 0 && memcmp(m->body.bytes, s->body, s->body_len) != 0)) {
        report_bad(r, "body", "want %zu bytes, got %zu bytes (different)", s->body_len,
                   m->body.len);
    }
    check_str(r, "content_type", AMQP_BASIC_CONTENT_TYPE_FLAG, w, g, w->content_type,
              g->content_type);
    check_str(r, "content_encoding", AMQP_BASIC_CONTENT_ENCODING_FLAG, w, g, w->content_encoding,
              g->content_encoding);
    check_str(r, "correlation_id", AMQP_BASIC_CORRELATION_ID_FLAG, w, g, w->correlation_id,
              g->correlation_id);
    check_str(r, "reply_to", AMQP_BASIC_REPLY_TO_FLAG, w, g, w->reply_to, g->reply_to);
    check_str(r, "message_id", AMQP_BASIC_MESSAGE_ID_FLAG, w, g, w->message_id, g->message_id);
    check_str(r, "type", AMQP_BASIC_TYPE_FLAG, w, g, w->type, g->type);
    check_str(r, "user_id", AMQP_BASIC_USER_ID_FLAG, w, g, w->user_id, g->user_id);
    check_str(r, "app_id", AMQP_BASIC_APP_ID_FLAG, w, g, w->app_id, g->app_id);
    check_str(r, "cluster_id", AMQP_BASIC_CLUSTER_ID_FLAG, w, g, w->cluster_id, g->cluster_id);
    check_num(r, "timestamp", AMQP_BASIC_TIMESTAMP_FLAG, w, g, w->timestamp, g->timestamp);
    check_num(r, "priority", AMQP_BASIC_PRIORITY_FLAG, w, g, w->priority, g->priority);
    check_num(r, "delivery_mode", AMQP_BASIC_DELIVERY_MODE_FLAG, w, g, w->delivery_mode,
              g->delivery_mode);
    if (o->expiration_remaining && (w->_flags & g->_flags & AMQP_BASIC_EXPIRATION_FLAG)) {
        long want = atol(s->expiration);
        char buf[32];
        snprintf(buf, sizeof(buf), "%.*s", (int)g->expiration.len,
                 (const char *)g->expiration.bytes);
        long got = atol(buf);
        if (got <= 0 || got > want) {
            report_bad(r, "expiration", "want a remaining TTL in (0, %ld], got \"%s\"", want, buf);
        } else if (got < want) {
            report_note(r, "expiration written as the remaining TTL");
        }
    } else {
        check_str(r, "expiration", AMQP_BASIC_EXPIRATION_FLAG, w, g, w->expiration, g->expiration);
    }
    check_headers(r, w, g);
    if (redelivered) {
        report_note(r, "redelivered");
    }
}

static int do_check(const struct tool_opts *o)
{
    amqp_connection_state_t conn = open_conn(o->url);
    amqp_basic_qos(conn, CH, 0, 1000, 0);
    die_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, CH, amqp_cstring_bytes(o->queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "basic.consume");

    char what[300];
    snprintf(what, sizeof(what), "queue=%s", o->queue);
    struct report r;
    report_init(&r, what, o->start, o->count);
    struct spec_opts so = {
        .prefix = o->prefix, .no_large = o->no_large, .persistent = o->persistent};
    time_t deadline = time(NULL) + o->timeout, quiet_until = 0;
    uint64_t unacked = 0;
    while (time(NULL) < deadline) {
        if (quiet_until == 0 && report_distinct(&r) == o->count) {
            quiet_until = time(NULL) + 2;
        }
        if (quiet_until != 0 && time(NULL) >= quiet_until) {
            break;
        }
        amqp_envelope_t env;
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t res = amqp_consume_message(conn, &env, &tv, 0);
        if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            res.library_error == AMQP_STATUS_TIMEOUT) {
            if (unacked > 0) {
                amqp_basic_ack(conn, CH, unacked, 1);
                unacked = 0;
            }
            continue;
        }
        die_reply(res, "basic.consume (delivery)");
        r.read++;
        const amqp_basic_properties_t *p = &env.message.properties;
        long seq = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                       ? spec_parse_id(p->message_id.bytes, p->message_id.len, o->prefix, o->start,
                                       o->count)
                       : -1;
        if (seq < 0) {
            r.foreign++;
        } else {
            struct spec s;
            spec_make(&s, &so, seq);
            report_begin(&r, seq);
            check_message(&r, o, &s, &env.message, env.redelivered != 0);
            report_end(&r);
            spec_free(&s);
            if (quiet_until != 0) {
                quiet_until = time(NULL) + 2; /* a late duplicate: keep listening */
            }
        }
        unacked = env.delivery_tag;
        if (r.read % 500 == 0) {
            amqp_basic_ack(conn, CH, unacked, 1);
            unacked = 0;
        }
        amqp_destroy_envelope(&env);
    }
    if (unacked > 0) {
        amqp_basic_ack(conn, CH, unacked, 1);
    }
    close_conn(conn);
    return report_finish(&r, o->allow_duplicates);
}

/* The first x-death entry's reason, for the dead-letter assertions. */
static void death_reason(const amqp_basic_properties_t *p, char *buf, size_t size)
{
    snprintf(buf, size, "-");
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
        return;
    }
    const amqp_table_entry_t *xd = find(&p->headers, amqp_cstring_bytes("x-death"));
    if (xd == NULL || xd->value.kind != AMQP_FIELD_KIND_ARRAY ||
        xd->value.value.array.num_entries == 0 ||
        xd->value.value.array.entries[0].kind != AMQP_FIELD_KIND_TABLE) {
        return;
    }
    const amqp_table_entry_t *reason =
        find(&xd->value.value.array.entries[0].value.table, amqp_cstring_bytes("reason"));
    if (reason != NULL && (reason->value.kind == AMQP_FIELD_KIND_UTF8 ||
                           reason->value.kind == AMQP_FIELD_KIND_BYTES)) {
        snprintf(buf, size, "%.*s", (int)reason->value.value.bytes.len,
                 (const char *)reason->value.value.bytes.bytes);
    }
}

static int do_ids(const struct tool_opts *o)
{
    amqp_connection_state_t conn = open_conn(o->url);
    for (;;) {
        amqp_rpc_reply_t res = amqp_basic_get(conn, CH, amqp_cstring_bytes(o->queue), 0);
        die_reply(res, "basic.get");
        if (res.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
            break;
        }
        uint64_t tag = ((amqp_basic_get_ok_t *)res.reply.decoded)->delivery_tag;
        amqp_message_t m;
        die_reply(amqp_read_message(conn, CH, &m, 0), "basic.get (message)");
        char reason[64];
        death_reason(&m.properties, reason, sizeof(reason));
        if (m.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
            printf("%.*s %s\n", (int)m.properties.message_id.len,
                   (const char *)m.properties.message_id.bytes, reason);
        } else {
            printf("(no message_id) %s\n", reason);
        }
        amqp_basic_ack(conn, CH, tag, 0);
        amqp_destroy_message(&m);
        amqp_maybe_release_buffers(conn);
    }
    close_conn(conn);
    return 0;
}

static int do_depth(const struct tool_opts *o)
{
    amqp_connection_state_t conn = open_conn(o->url);
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn, CH, amqp_cstring_bytes(o->queue), 1, 0, 0, 0, amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "queue.declare (passive)");
    printf("%" PRIu32 "\n", ok->message_count);
    close_conn(conn);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: cut-amqp091-check declare|publish|check|check-kafka|ids|depth --url U "
                    "--queue Q [--count N --prefix P --start S --no-large --persistent --size B "
                    "--dlx X --dlq Q "
                    "--timeout S --allow-duplicates --expiration-remaining --bootstrap B --topic T "
                    "--source-queue A]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"queue", required_argument, NULL, 'q'},
        {"count", required_argument, NULL, 'n'},
        {"prefix", required_argument, NULL, 'p'},
        {"start", required_argument, NULL, 's'},
        {"no-large", no_argument, NULL, 'L'},
        {"persistent", no_argument, NULL, 'P'},
        {"size", required_argument, NULL, 'z'},
        {"dlx", required_argument, NULL, 'x'},
        {"dlq", required_argument, NULL, 'X'},
        {"timeout", required_argument, NULL, 'T'},
        {"allow-duplicates", no_argument, NULL, 'D'},
        {"expiration-remaining", no_argument, NULL, 'E'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"source-queue", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    struct tool_opts o = {
        .url = "amqp://guest:guest@127.0.0.1:5672/%2F",
        .prefix = "m",
        .size = -1,
        .timeout = 120,
        .bootstrap = "127.0.0.1:9092",
    };
    if (argc < 2) {
        return usage();
    }
    const char *mode = argv[1];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o.url = optarg;
            break;
        case 'q':
            o.queue = optarg;
            break;
        case 'n':
            o.count = atol(optarg);
            break;
        case 'p':
            o.prefix = optarg;
            break;
        case 's':
            o.start = atol(optarg);
            break;
        case 'L':
            o.no_large = true;
            break;
        case 'P':
            o.persistent = true;
            break;
        case 'z':
            o.size = atol(optarg);
            break;
        case 'x':
            o.dlx = optarg;
            break;
        case 'X':
            o.dlq = optarg;
            break;
        case 'T':
            o.timeout = atol(optarg);
            break;
        case 'D':
            o.allow_duplicates = true;
            break;
        case 'E':
            o.expiration_remaining = true;
            break;
        case 'b':
            o.bootstrap = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'a':
            o.source_queue = optarg;
            break;
        default:
            return usage();
        }
    }
    if (strcmp(mode, "check-kafka") == 0) {
        if (o.topic == NULL || o.count <= 0 || o.source_queue == NULL) {
            return usage();
        }
        return kafka_check(&o);
    }
    if (o.queue == NULL) {
        return usage();
    }
    if (strcmp(mode, "declare") == 0) {
        amqp_connection_state_t conn = open_conn(o.url);
        declare(conn, o.queue, o.dlx, o.dlq);
        close_conn(conn);
        return 0;
    }
    if (strcmp(mode, "ids") == 0) {
        return do_ids(&o);
    }
    if (strcmp(mode, "depth") == 0) {
        return do_depth(&o);
    }
    if (o.count <= 0) {
        return usage();
    }
    if (strcmp(mode, "publish") == 0) {
        return do_publish(&o);
    }
    if (strcmp(mode, "check") == 0) {
        return do_check(&o);
    }
    return usage();
}
