/*
 * cut-verify: the test verifier. Reads a Kafka topic from the beginning and
 * checks that the messages "<prefix>-0" .. "<prefix>-(COUNT-1)" are all there,
 * by their message_id header, and reports duplicates. Exit 0 only when none
 * is missing and (unless --allow-duplicates) none is there twice.
 *
 *   cut-verify --bootstrap HOST:PORT --topic T --count N [--prefix P]
 *              [--timeout SECONDS] [--allow-duplicates]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define HDR "message_id"

static long parse_seq(const char *id, size_t len, const char *prefix, long count)
{
    size_t plen = strlen(prefix);
    if (len <= plen + 1 || memcmp(id, prefix, plen) != 0 || id[plen] != '-') {
        return -1;
    }
    long seq = 0;
    for (size_t i = plen + 1; i < len; i++) {
        if (id[i] < '0' || id[i] > '9') {
            return -1;
        }
        seq = seq * 10 + (id[i] - '0');
    }
    return seq < count ? seq : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"prefix", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 'T'},
        {"allow-duplicates", no_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap = "127.0.0.1:9092", *topic = NULL, *prefix = "m";
    long count = 0, timeout_s = 120;
    int allow_dups = 0, c;
    while ((c = getopt_long(argc, argv, "b:t:n:p:T:D", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'T':
            timeout_s = atol(optarg);
            break;
        case 'D':
            allow_dups = 1;
            break;
        default:
            return 2;
        }
    }
    if (topic == NULL || count <= 0) {
        fprintf(stderr, "usage: cut-verify --bootstrap B --topic T --count N [--prefix P] "
                        "[--timeout S] [--allow-duplicates]\n");
        return 2;
    }

    char errstr[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "cut-verify-%ld-%d", (long)time(NULL), rand());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr))) {
        fprintf(stderr, "cut-verify: %s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cut-verify: %s\n", errstr);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);

    unsigned char *seen = calloc((size_t)count, 1);
    long distinct = 0, dups = 0, foreign = 0, total = 0;
    time_t deadline = time(NULL) + timeout_s, quiet_until = 0;
    /* Once every id is seen, keep reading for 3 quiet seconds to catch late duplicates. */
    while (time(NULL) < deadline) {
        if (distinct == count && quiet_until == 0) {
            quiet_until = time(NULL) + 3;
        }
        if (quiet_until && time(NULL) >= quiet_until) {
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "cut-verify: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        total++;
        rd_kafka_headers_t *hdrs = NULL;
        const void *val = NULL;
        size_t len = 0;
        long seq = -1;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, HDR, &val, &len) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            seq = parse_seq(val, len, prefix, count);
        }
        if (seq < 0) {
            foreign++;
        } else if (seen[seq]++) {
            dups++;
            if (quiet_until) {
                quiet_until = time(NULL) + 3;
            }
        } else {
            distinct++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    long missing = count - distinct;
    printf("topic=%s expected=%ld read=%ld distinct=%ld missing=%ld duplicates=%ld foreign=%ld\n",
           topic, count, total, distinct, missing, dups, foreign);
    if (missing > 0) {
        long shown = 0;
        fprintf(stderr, "cut-verify: missing ids:");
        for (long i = 0; i < count && shown < 10; i++) {
            if (!seen[i]) {
                fprintf(stderr, " %s-%ld", prefix, i);
                shown++;
            }
        }
        fprintf(stderr, "%s\n", missing > shown ? " ..." : "");
    }
    free(seen);
    return (missing == 0 && (allow_dups || dups == 0)) ? 0 : 1;
}
