/*
 * The schema registry client against a tiny HTTP/1.1 server in this process
 * (plain sockets on 127.0.0.1, an ephemeral port, one thread answering from a
 * script of canned responses): ids, caches (requests counted on the server
 * side), retries and the budget, refusals, garbage and oversized answers,
 * secrets, subject names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "registry.h"

/* ---- the canned server ---- */

#define ANSWER_CLOSE (-1) /* close the connection without answering */
#define ANSWER_HANG  (-2) /* read the request, never answer */

struct canned {
    int status; /* HTTP status, or ANSWER_CLOSE / ANSWER_HANG */
    const char *body;
    size_t pad;     /* bytes of 'x' after the body (oversized answers) */
    bool no_length; /* no Content-Length: the body ends when the connection closes */
};

struct srv {
    bool running;
    int lfd, port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    const struct canned *script; /* the last entry answers every further request */
    size_t n_script, next;
    int requests, connections;
    char method[8], path[512], auth[256], content_type[128];
    char *body;
};

static bool srv_stopping(struct srv *srv)
{
    return atomic_load(&srv->stop);
}

/* Waits until @p fd is readable; false on stop. */
static bool srv_wait(struct srv *srv, int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!srv_stopping(srv)) {
        if (poll(&pfd, 1, 20) > 0) {
            return true;
        }
    }
    return false;
}

static void srv_header(const char *head, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ') {
                v++;
            }
            size_t vl = strcspn(v, "\r");
            snprintf(out, len, "%.*s", (int)(vl < len ? vl : len - 1), v);
            return;
        }
    }
}

/* Reads one request; false when the client closed the connection (or stop). */
static bool srv_read_request(struct srv *srv, int fd)
{
    static char buf[256 * 1024];
    size_t len = 0, head_len = 0, body_len = 0;
    for (;;) {
        char *end = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (end && head_len == 0) {
            char cl[32];
            head_len = (size_t)(end - buf) + 4;
            buf[head_len - 2] = '\0';
            srv_header(buf, "Content-Length", cl, sizeof(cl));
            body_len = (size_t)atol(cl);
        }
        if (head_len && len >= head_len + body_len) {
            break;
        }
        if (len == sizeof(buf) || !srv_wait(srv, fd)) {
            return false;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0) {
            return false;
        }
        len += (size_t)n;
    }
    pthread_mutex_lock(&srv->mu);
    srv->requests++;
    sscanf(buf, "%7s %511s", srv->method, srv->path);
    srv_header(buf, "Authorization", srv->auth, sizeof(srv->auth));
    srv_header(buf, "Content-Type", srv->content_type, sizeof(srv->content_type));
    free(srv->body);
    srv->body = strndup(buf + head_len, body_len);
    pthread_mutex_unlock(&srv->mu);
    return true;
}

static bool srv_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Answers one request; false when the connection is to be closed. */
static bool srv_answer(struct srv *srv, int fd)
{
    pthread_mutex_lock(&srv->mu);
    const struct canned *c =
        &srv->script[srv->next < srv->n_script ? srv->next++ : srv->n_script - 1];
    pthread_mutex_unlock(&srv->mu);
    if (c->status == ANSWER_CLOSE) {
        return false;
    }
    if (c->status == ANSWER_HANG) {
        char tmp[512];
        while (srv_wait(srv, fd) && recv(fd, tmp, sizeof(tmp), 0) > 0) {
        }
        return false;
    }
    char head[256];
    size_t blen = strlen(c->body);
    if (c->no_length) {
        snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n\r\n", c->status);
    } else {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 c->status, blen + c->pad);
    }
    bool ok = srv_send(fd, head, strlen(head)) && srv_send(fd, c->body, blen);
    static char xs[64 * 1024];
    memset(xs, 'x', sizeof(xs));
    for (size_t left = c->pad; ok && left > 0;) {
        size_t n = left < sizeof(xs) ? left : sizeof(xs);
        ok = srv_send(fd, xs, n);
        left -= n;
    }
    return ok && !c->no_length;
}

static void *srv_main(void *opaque)
{
    struct srv *srv = opaque;
    while (srv_wait(srv, srv->lfd)) {
        int fd = accept(srv->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&srv->mu);
        srv->connections++;
        pthread_mutex_unlock(&srv->mu);
        while (srv_read_request(srv, fd) && srv_answer(srv, fd)) {
        }
        close(fd);
    }
    return NULL;
}

/* A socket bound to an ephemeral loopback port; listening when @p listening. */
static int bound_socket(bool listening, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (listening) {
        assert_int_equal(listen(fd, 8), 0);
    }
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void srv_start(struct srv *srv, const struct canned *script, size_t n)
{
    memset(srv, 0, sizeof(*srv));
    pthread_mutex_init(&srv->mu, NULL);
    srv->script = script;
    srv->n_script = n;
    srv->lfd = bound_socket(true, &srv->port);
    assert_int_equal(pthread_create(&srv->thread, NULL, srv_main, srv), 0);
    srv->running = true;
}

static void srv_stop(struct srv *srv)
{
    if (!srv->running) {
        return;
    }
    srv->running = false;
    atomic_store(&srv->stop, true);
    pthread_join(srv->thread, NULL);
    close(srv->lfd);
    free(srv->body);
    pthread_mutex_destroy(&srv->mu);
}

/*
 * The one server of the test running now. Static, and stopped by the teardown
 * even when an assertion ends the test early, so its thread never outlives
 * what it reads.
 */
static struct srv the_srv;

static int srv_teardown(void **state)
{
    (void)state;
    srv_stop(&the_srv);
    return 0;
}

static int srv_requests(struct srv *srv)
{
    pthread_mutex_lock(&srv->mu);
    int n = srv->requests;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

#define SRV_START(srv, ...)                                                                        \
    do {                                                                                           \
        static const struct canned script_[] = {__VA_ARGS__};                                      \
        srv_start((srv), script_, sizeof(script_) / sizeof(script_[0]));                           \
    } while (0)

/* ---- helpers ---- */

static const char *const SCHEMA =
    "{\n  \"type\": \"record\", \"name\": \"Order\", \"namespace\": \"com.x\",\n"
    "  \"doc\": \"caf\xc3\xa9 \\\"quoted\\\"\",\n"
    "  \"fields\": [{\"name\": \"ts\", \"type\": {\"type\": \"long\", "
    "\"logicalType\": \"timestamp-millis\"}, \"default\": 0}]\n}";

static struct cut_registry *client(struct srv *srv, int budget_ms, int timeout_ms)
{
    char url[128];
    struct cut_registry *reg = NULL;
    struct cut_err err;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/apis/ccompat/v7", srv->port);
    struct cut_registry_opts opts = {
        .url = url,
        .timeout_ms = timeout_ms,
        .retry_budget_ms = budget_ms,
        .backoff_initial_ms = 10,
        .backoff_max_ms = 40,
    };
    assert_int_equal(cut_registry_create_opts(&reg, &opts, &err), CUT_OK);
    return reg;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL) {                                                     \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
        }                                                                                          \
    } while (0)

/* ---- register ---- */

static void test_register_posts_the_original_text_and_returns_the_id(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":42}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "orders-value", SCHEMA, &id, &err), CUT_OK);
    assert_int_equal(id, 42);
    assert_string_equal(the_srv.method, "POST");
    assert_string_equal(the_srv.path, "/apis/ccompat/v7/subjects/orders-value/versions");
    assert_string_equal(the_srv.content_type, "application/vnd.schemaregistry.v1+json");
    json_t *body = json_loads(the_srv.body, 0, NULL);
    assert_non_null(body);
    /* byte for byte: whitespace, doc, logicalType and default all kept */
    assert_string_equal(json_string_value(json_object_get(body, "schema")), SCHEMA);
    assert_string_equal(json_string_value(json_object_get(body, "schemaType")), "AVRO");
    json_decref(body);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_register_twice_makes_one_request_per_subject_and_text(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":7}"},
              {.status = 200, .body = "{\"id\":8}"}, {.status = 200, .body = "{\"id\":9}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "a-value", SCHEMA, &id, &err), CUT_OK);
    assert_int_equal(cut_registry_register(reg, "a-value", SCHEMA, &id, &err), CUT_OK);
    assert_int_equal(id, 7);
    assert_int_equal(srv_requests(&the_srv), 1);
    /* another subject, same text: asked */
    assert_int_equal(cut_registry_register(reg, "b-value", SCHEMA, &id, &err), CUT_OK);
    assert_int_equal(id, 8);
    /* same subject, another text (one space more): asked */
    assert_int_equal(cut_registry_register(reg, "a-value", "\"string\" ", &id, &err), CUT_OK);
    assert_int_equal(id, 9);
    assert_int_equal(srv_requests(&the_srv), 3);
    assert_int_equal(cut_registry_register(reg, "b-value", SCHEMA, &id, &err), CUT_OK);
    assert_int_equal(id, 8);
    assert_int_equal(srv_requests(&the_srv), 3);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_subject_is_url_encoded_and_base_slash_ignored(void **state)
{
    (void)state;
    struct cut_err err;
    struct cut_registry *reg = NULL;
    char url[128];
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":1}"});
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/apis/ccompat/v7/", the_srv.port);
    assert_int_equal(cut_registry_create(&reg, url, &err), CUT_OK);
    assert_int_equal(cut_registry_register(reg, "a/b c?d", "\"int\"", &id, &err), CUT_OK);
    assert_string_equal(the_srv.path, "/apis/ccompat/v7/subjects/a%2Fb%20c%3Fd/versions");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_register_retries_5xx_429_and_dropped_connections(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 500, .body = "{\"error_code\":50001,\"message\":\"store\"}"},
              {.status = 503, .body = "busy"}, {.status = ANSWER_CLOSE, .body = ""},
              {.status = 429, .body = ""}, {.status = 200, .body = "{\"id\":3}"});
    struct cut_registry *reg = client(&the_srv, 5000, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_OK);
    assert_int_equal(id, 3);
    assert_int_equal(srv_requests(&the_srv), 5);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_5xx_for_longer_than_the_budget_is_eretry(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 502, .body = "bad gateway"});
    struct cut_registry *reg = client(&the_srv, 300, 1000);
    int64_t t0 = now_ms();
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_ERETRY);
    int64_t took = now_ms() - t0;
    assert_true(took >= 200 && took < 1300);
    assert_true(srv_requests(&the_srv) > 2);
    /* the reason is the last attempt's: 502, or a timeout when the budget cut it short */
    assert_contains(err.msg, "unavailable");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_no_retry_with_a_negative_budget(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 500, .body = ""}, {.status = 200, .body = "{\"id\":3}"});
    struct cut_registry *reg = client(&the_srv, -1, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_ERETRY);
    assert_contains(err.msg, "HTTP 500");
    assert_int_equal(srv_requests(&the_srv), 1);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_connection_refused_is_eretry_after_the_budget(void **state)
{
    (void)state;
    struct cut_registry *reg = NULL;
    struct cut_err err;
    char url[128];
    int port;
    int32_t id = 0;
    /* bound but not listening: connecting is refused, and no one else can take the port */
    int fd = bound_socket(false, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/apis/ccompat/v7", port);
    struct cut_registry_opts opts = {.url = url, .retry_budget_ms = 400, .backoff_initial_ms = 20};
    assert_int_equal(cut_registry_create_opts(&reg, &opts, &err), CUT_OK);
    int64_t t0 = now_ms();
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_ERETRY);
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"int\"", &err), CUT_ERETRY);
    int64_t took = now_ms() - t0;
    assert_true(took >= 2 * 300 && took < 2 * 400 + 1000);
    assert_contains(err.msg, "unavailable");
    assert_contains(err.msg, "attempts");
    cut_registry_destroy(reg);
    close(fd);
}

static void test_a_registry_that_never_answers_times_out_within_the_budget(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = ANSWER_HANG, .body = ""});
    struct cut_registry *reg = client(&the_srv, 700, 300);
    int64_t t0 = now_ms();
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_ERETRY);
    int64_t took = now_ms() - t0;
    assert_true(took >= 500 && took < 700 + 600);
    assert_true(srv_requests(&the_srv) >= 2);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_409_is_einval_with_the_registry_message_and_not_cached(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 409,
                         .body = "{\"error_code\":409,\"message\":\"Incompatible: reader type INT "
                                 "not compatible with writer type STRING\"}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EINVAL);
    assert_int_equal(err.code, CUT_EINVAL);
    assert_contains(err.msg, "HTTP 409");
    assert_contains(err.msg, "error_code 409");
    assert_contains(err.msg, "reader type INT not compatible with writer type STRING");
    assert_int_equal(srv_requests(&the_srv), 1); /* a refusal is never retried */
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EINVAL);
    assert_int_equal(srv_requests(&the_srv), 2); /* nor cached */
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_422_and_non_json_4xx_are_einval(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv,
              {.status = 422, .body = "{\"error_code\":42201,\"message\":\"Invalid schema\"}"},
              {.status = 400, .body = "<html>Bad\r\nRequest</html>"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "{", &id, &err), CUT_EINVAL);
    assert_contains(err.msg, "42201");
    assert_contains(err.msg, "Invalid schema");
    assert_int_equal(cut_registry_register(reg, "s", "{", &id, &err), CUT_EINVAL);
    assert_contains(err.msg, "HTTP 400: <html>Bad  Request</html>");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_garbage_answers_are_efatal(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    char *text = NULL;
    SRV_START(&the_srv, {.status = 200, .body = "<html>hello</html>"},
              {.status = 200, .body = "{\"id\":\"7\"}"},
              {.status = 200, .body = "{\"id\":4294967296}"}, {.status = 200, .body = "[1]"},
              {.status = 200, .body = ""}, {.status = 200, .body = "{\"schema\":3}"},
              {.status = 200, .body = "{}"}, {.status = 302, .body = ""});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EFATAL);
    }
    assert_contains(err.msg, "without a schema id");
    assert_int_equal(cut_registry_get_schema(reg, 1, &text, &err), CUT_EFATAL);
    assert_null(text);
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"int\"", &err), CUT_EFATAL);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EFATAL);
    assert_contains(err.msg, "HTTP 302");
    assert_int_equal(srv_requests(&the_srv), 8);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_oversized_answers_are_efatal_and_oversized_5xx_retried(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    char url[128];
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":1}", .pad = 4096},
              {.status = 200, .body = "{\"id\":1}", .pad = 4096, .no_length = true},
              {.status = 500, .body = "", .pad = 4096}, {.status = 200, .body = "{\"id\":5}"},
              {.status = 200, .body = "{\"id\":1}", .pad = 2 << 20});
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", the_srv.port);
    struct cut_registry_opts opts = {.url = url, .max_response = 1024, .backoff_initial_ms = 10};
    struct cut_registry *reg = NULL;
    assert_int_equal(cut_registry_create_opts(&reg, &opts, &err), CUT_OK);
    /* with a Content-Length, and without one (the body ends at close) */
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EFATAL);
    assert_contains(err.msg, "larger than 1024 bytes");
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EFATAL);
    assert_contains(err.msg, "larger than 1024 bytes");
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_OK);
    assert_int_equal(id, 5);
    cut_registry_destroy(reg);
    /* the default limit is 1 MiB */
    assert_int_equal(cut_registry_create(&reg, url, &err), CUT_OK);
    assert_int_equal(cut_registry_register(reg, "t", "\"int\"", &id, &err), CUT_EFATAL);
    assert_contains(err.msg, "larger than 1048576 bytes");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_invalid_utf8_schema_is_einval_without_a_request(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":1}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "\"\xff\"", &id, &err), CUT_EINVAL);
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"\xc3\"", &err), CUT_EINVAL);
    assert_int_equal(cut_registry_register(reg, "", "\"int\"", &id, &err), CUT_EINVAL);
    assert_int_equal(cut_registry_register(reg, "s", NULL, &id, &err), CUT_EINVAL);
    assert_int_equal(srv_requests(&the_srv), 0);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_one_connection_is_kept_alive_across_calls(void **state)
{
    (void)state;
    struct cut_err err;
    int32_t id = -1;
    char *text = NULL;
    SRV_START(&the_srv, {.status = 200, .body = "{\"id\":1}"},
              {.status = 200, .body = "{\"is_compatible\":true}"},
              {.status = 200, .body = "{\"schema\":\"\\\"int\\\"\"}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_OK);
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"int\"", &err), CUT_OK);
    assert_int_equal(cut_registry_get_schema(reg, 1, &text, &err), CUT_OK);
    free(text);
    assert_int_equal(srv_requests(&the_srv), 3);
    assert_int_equal(the_srv.connections, 1);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

/* ---- compatibility ---- */

static void test_compatible_is_ok_and_uses_the_latest_version(void **state)
{
    (void)state;
    struct cut_err err;
    SRV_START(&the_srv, {.status = 500, .body = ""},
              {.status = 200, .body = "{\"is_compatible\":true}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_check_compatible(reg, "orders-value", SCHEMA, &err), CUT_OK);
    assert_string_equal(the_srv.method, "POST");
    assert_string_equal(the_srv.path,
                        "/apis/ccompat/v7/compatibility/subjects/orders-value/versions/"
                        "latest?verbose=true");
    json_t *body = json_loads(the_srv.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "schema")), SCHEMA);
    json_decref(body);
    assert_int_equal(srv_requests(&the_srv), 2);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_incompatible_is_einval_with_the_registry_messages(void **state)
{
    (void)state;
    struct cut_err err;
    SRV_START(&the_srv,
              {.status = 200,
               .body =
                   "{\"is_compatible\":false,\"messages\":[\"READER_FIELD_MISSING_DEFAULT_VALUE "
                   "note\",\"{oldSchemaVersion: 1}\"]}"},
              {.status = 200, .body = "{\"is_compatible\":false}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"int\"", &err), CUT_EINVAL);
    assert_contains(err.msg, "not compatible");
    assert_contains(err.msg, "READER_FIELD_MISSING_DEFAULT_VALUE note; {oldSchemaVersion: 1}");
    /* Apicurio 3.0 sends no messages: the reason still says what happened */
    assert_int_equal(cut_registry_check_compatible(reg, "s", "\"int\"", &err), CUT_EINVAL);
    assert_contains(err.msg, "not compatible with the latest version of subject s");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_compatibility_of_an_unknown_subject_is_ok(void **state)
{
    (void)state;
    struct cut_err err;
    SRV_START(
        &the_srv,
        {.status = 404, .body = "{\"error_code\":40401,\"message\":\"Subject 'x' not found.\"}"},
        {.status = 404, .body = "{\"error_code\":40402,\"message\":\"Version not found.\"}"},
        {.status = 404, .body = "<html>no such path</html>"},
        {.status = 422, .body = "{\"error_code\":42201,\"message\":\"bad\"}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_check_compatible(reg, "x", "\"int\"", &err), CUT_OK);
    assert_int_equal(cut_registry_check_compatible(reg, "x", "\"int\"", &err), CUT_OK);
    /* a 404 that is not the registry's "not found" means a wrong URL */
    assert_int_equal(cut_registry_check_compatible(reg, "x", "\"int\"", &err), CUT_EINVAL);
    assert_contains(err.msg, "HTTP 404");
    assert_int_equal(cut_registry_check_compatible(reg, "x", "{", &err), CUT_EINVAL);
    assert_contains(err.msg, "42201");
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

/* ---- get schema ---- */

static void test_get_schema_fetches_once_and_returns_a_copy(void **state)
{
    (void)state;
    struct cut_err err;
    char *a = NULL, *b = NULL;
    SRV_START(&the_srv,
              {.status = 200,
               .body = "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\",\"schemaType\":\"AVRO\","
                       "\"references\":[]}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_get_schema(reg, 12, &a, &err), CUT_OK);
    assert_string_equal(the_srv.method, "GET");
    assert_string_equal(the_srv.path, "/apis/ccompat/v7/schemas/ids/12");
    assert_int_equal(cut_registry_get_schema(reg, 12, &b, &err), CUT_OK);
    assert_string_equal(a, "{\"type\":\"string\"}");
    assert_string_equal(b, a);
    assert_ptr_not_equal(a, b);
    assert_int_equal(srv_requests(&the_srv), 1);
    free(a);
    free(b);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

static void test_get_schema_of_an_unknown_id_is_einval(void **state)
{
    (void)state;
    struct cut_err err;
    char *text = (char *)"untouched";
    SRV_START(&the_srv, {.status = 404,
                         .body = "{\"error_code\":40403,\"message\":\"No content with ID '99' was "
                                 "found.\"}"});
    struct cut_registry *reg = client(&the_srv, 2000, 1000);
    assert_int_equal(cut_registry_get_schema(reg, 99, &text, &err), CUT_EINVAL);
    assert_null(text);
    assert_contains(err.msg, "40403");
    assert_int_equal(cut_registry_get_schema(reg, -1, &text, &err), CUT_EINVAL);
    assert_int_equal(srv_requests(&the_srv), 1);
    cut_registry_destroy(reg);
    srv_stop(&the_srv);
}

/* ---- secrets, create ---- */

static void test_basic_auth_is_sent_and_the_password_never_shown(void **state)
{
    (void)state;
    struct cut_err err;
    struct cut_registry *reg = NULL;
    char url[128];
    int32_t id = -1;
    SRV_START(&the_srv,
              {.status = 401, .body = "{\"error_code\":401,\"message\":\"Unauthorized\"}"});
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/apis/ccompat/v7", the_srv.port);
    struct cut_registry_opts opts = {.url = url, .username = "alice", .password = "s3cr3t"};
    assert_int_equal(cut_registry_create_opts(&reg, &opts, &err), CUT_OK);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_EINVAL);
    assert_string_equal(the_srv.auth, "Basic YWxpY2U6czNjcjN0"); /* alice:s3cr3t */
    assert_null(strstr(err.msg, "s3cr3t"));
    cut_registry_destroy(reg);
    srv_stop(&the_srv);

    /* user:password in the URL: the messages show the URL without them */
    int port;
    int fd = bound_socket(false, &port);
    snprintf(url, sizeof(url), "http://bob:hunter2@127.0.0.1:%d/apis/ccompat/v7", port);
    struct cut_registry_opts refused = {.url = url, .retry_budget_ms = -1};
    assert_int_equal(cut_registry_create_opts(&reg, &refused, &err), CUT_OK);
    assert_int_equal(cut_registry_register(reg, "s", "\"int\"", &id, &err), CUT_ERETRY);
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(strstr(err.msg, "bob"));
    assert_contains(err.msg, "http://127.0.0.1:");
    cut_registry_destroy(reg);
    close(fd);
    assert_int_equal(cut_registry_create(&reg, "http://u:pw@[bad", &err), CUT_EINVAL);
    assert_null(strstr(err.msg, "pw"));
}

static void test_create_refuses_bad_urls(void **state)
{
    (void)state;
    struct cut_registry *reg = (struct cut_registry *)&reg;
    struct cut_err err;
    const char *bad[] = {"", "ftp://127.0.0.1/x", "file:///etc/passwd", "http://h:8081/x?y=1",
                         "http://[::1"};
    assert_int_equal(cut_registry_create(&reg, NULL, &err), CUT_EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cut_registry_create(&reg, bad[i], &err), CUT_EINVAL);
    }
    assert_int_equal(cut_registry_create(&reg, "https://registry.example:8081/", &err), CUT_OK);
    assert_non_null(reg);
    cut_registry_destroy(reg);
    cut_registry_destroy(NULL);
}

/* ---- subject names ---- */

static void test_subject_names_follow_confluent_strategies(void **state)
{
    (void)state;
    char buf[64];
    const char *t = "orders", *r = "com.x.Order";
    assert_string_equal(cut_registry_subject(CUT_SUBJECT_TOPIC, t, r, false, buf, sizeof(buf)),
                        "orders-value");
    assert_string_equal(cut_registry_subject(CUT_SUBJECT_TOPIC, t, NULL, true, buf, sizeof(buf)),
                        "orders-key");
    assert_string_equal(cut_registry_subject(CUT_SUBJECT_RECORD, t, r, false, buf, sizeof(buf)),
                        "com.x.Order");
    assert_string_equal(cut_registry_subject(CUT_SUBJECT_RECORD, NULL, r, true, buf, sizeof(buf)),
                        "com.x.Order");
    assert_string_equal(
        cut_registry_subject(CUT_SUBJECT_TOPIC_RECORD, t, r, false, buf, sizeof(buf)),
        "orders-com.x.Order");
    assert_string_equal(
        cut_registry_subject(CUT_SUBJECT_TOPIC_RECORD, t, r, true, buf, sizeof(buf)),
        "orders-com.x.Order");
    /* missing inputs, no room, unknown strategy */
    assert_null(cut_registry_subject(CUT_SUBJECT_TOPIC, NULL, r, false, buf, sizeof(buf)));
    assert_null(cut_registry_subject(CUT_SUBJECT_RECORD, t, "", false, buf, sizeof(buf)));
    assert_null(cut_registry_subject(CUT_SUBJECT_TOPIC_RECORD, t, NULL, false, buf, sizeof(buf)));
    assert_null(cut_registry_subject(CUT_SUBJECT_TOPIC, t, r, false, buf, strlen("orders-value")));
    assert_non_null(
        cut_registry_subject(CUT_SUBJECT_TOPIC, t, r, false, buf, strlen("orders-value") + 1));
    assert_null(cut_registry_subject((enum cut_subject_strategy)9, t, r, false, buf, sizeof(buf)));
}

static void test_strategy_names_parse_and_print(void **state)
{
    (void)state;
    enum cut_subject_strategy s = CUT_SUBJECT_RECORD;
    assert_int_equal(cut_subject_strategy_parse("topic", &s), CUT_OK);
    assert_int_equal(s, CUT_SUBJECT_TOPIC);
    assert_int_equal(cut_subject_strategy_parse("record", &s), CUT_OK);
    assert_int_equal(s, CUT_SUBJECT_RECORD);
    assert_int_equal(cut_subject_strategy_parse("topic_record", &s), CUT_OK);
    assert_int_equal(s, CUT_SUBJECT_TOPIC_RECORD);
    assert_int_equal(cut_subject_strategy_parse("Topic", &s), CUT_EINVAL);
    assert_int_equal(cut_subject_strategy_parse("topic-record", &s), CUT_EINVAL);
    assert_int_equal(cut_subject_strategy_parse(NULL, &s), CUT_EINVAL);
    assert_int_equal(s, CUT_SUBJECT_TOPIC_RECORD);
    assert_string_equal(cut_subject_strategy_name(CUT_SUBJECT_TOPIC_RECORD), "topic_record");
    assert_string_equal(cut_subject_strategy_name((enum cut_subject_strategy)7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_register_posts_the_original_text_and_returns_the_id,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_register_twice_makes_one_request_per_subject_and_text,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_subject_is_url_encoded_and_base_slash_ignored, srv_teardown),
        cmocka_unit_test_teardown(test_register_retries_5xx_429_and_dropped_connections,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_5xx_for_longer_than_the_budget_is_eretry, srv_teardown),
        cmocka_unit_test_teardown(test_no_retry_with_a_negative_budget, srv_teardown),
        cmocka_unit_test_teardown(test_connection_refused_is_eretry_after_the_budget, srv_teardown),
        cmocka_unit_test_teardown(test_a_registry_that_never_answers_times_out_within_the_budget,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_409_is_einval_with_the_registry_message_and_not_cached,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_422_and_non_json_4xx_are_einval, srv_teardown),
        cmocka_unit_test_teardown(test_garbage_answers_are_efatal, srv_teardown),
        cmocka_unit_test_teardown(test_oversized_answers_are_efatal_and_oversized_5xx_retried,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_invalid_utf8_schema_is_einval_without_a_request,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_one_connection_is_kept_alive_across_calls, srv_teardown),
        cmocka_unit_test_teardown(test_compatible_is_ok_and_uses_the_latest_version, srv_teardown),
        cmocka_unit_test_teardown(test_incompatible_is_einval_with_the_registry_messages,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_compatibility_of_an_unknown_subject_is_ok, srv_teardown),
        cmocka_unit_test_teardown(test_get_schema_fetches_once_and_returns_a_copy, srv_teardown),
        cmocka_unit_test_teardown(test_get_schema_of_an_unknown_id_is_einval, srv_teardown),
        cmocka_unit_test_teardown(test_basic_auth_is_sent_and_the_password_never_shown,
                                  srv_teardown),
        cmocka_unit_test_teardown(test_create_refuses_bad_urls, srv_teardown),
        cmocka_unit_test_teardown(test_subject_names_follow_confluent_strategies, srv_teardown),
        cmocka_unit_test_teardown(test_strategy_names_parse_and_print, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
