/*
 * Microbenchmark of the mapping converter: order documents of 1 and 2 KB
 * (ten and twenty-five lines) through mappings/orders.yaml (expiry, filter, safe parse,
 * XPath, Avro writing, key, headers, lane), repeated, and the time per
 * message printed. Target: tens of microseconds.
 *
 *   bench_convert MAPPINGS_DIR [ITERATIONS]
 *
 * Also measures the json format and a hostile document (a DOCTYPE) being
 * refused, so regressions in either show. Exit status 1 only when the
 * conversion itself fails; the timings are printed, never asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mapping.h"
#include "mapping_msg.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t order_doc(char *buf, size_t size, int lines)
{
    size_t at = (size_t)snprintf(buf, size,
                                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                 "<order id=\"A-1001\" status=\"P\">\n"
                                 "  <placedAt>2024-03-01T10:15:00.250+01:00</placedAt>\n"
                                 "  <delivery date=\"2024-03-04\"/>\n"
                                 "  <customer id=\"C-42\"><name>Ada Lovelace</name>"
                                 "<email>ada@example.org</email></customer>\n"
                                 "  <lines>\n");
    for (int i = 0; i < lines; i++) {
        at += (size_t)snprintf(buf + at, size - at,
                               "    <line sku=\"SKU-%04d\"%s><qty>%d</qty><price>%d.%02d</price>"
                               "</line>\n",
                               i, i % 3 == 0 ? " gift=\"true\"" : "", i + 1, 10 + i, i * 7 % 100);
    }
    at += (size_t)snprintf(buf + at, size - at,
                           "  </lines>\n  <total currency=\"EUR\">1234.50</total>\n"
                           "  <tags><tag>web</tag><tag>first-order</tag><tag>promo</tag></tags>\n"
                           "</order>\n");
    return at;
}

static int run(const char *label, const char *mapping, const char *body, size_t len,
               enum cut_verdict want, long iterations)
{
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_mapping_msg m;
    struct cut_err err = {0};
    struct cut_record rec;
    enum cut_verdict verdict;
    int status = 1;

    cut_mapping_msg_init(&m);
    if (cut_mapping_load(mapping, &map, &errs) != CUT_OK) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        goto out;
    }
    struct cut_mapping_settings settings = {.map = map, .flow = "bench", .schema_id = 1};
    if (cut_mapping_converter.create(&conv, &settings, &err) != CUT_OK ||
        cut_mapping_msg_set(&m, "JMSPriority", "8", &err) != CUT_OK ||
        cut_mapping_msg_set(&m, "JMSCorrelationID", "corr-1", &err) != CUT_OK ||
        cut_mapping_msg_set(&m, "region", "EU", &err) != CUT_OK) {
        fprintf(stderr, "%s: %s\n", label, err.msg);
        goto out;
    }
    m.msg.body = body;
    m.msg.body_len = len;
    /* Warm up: buffers grow to their size once. */
    for (int i = 0; i < 1000; i++) {
        if (cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err) != CUT_OK ||
            verdict != want) {
            fprintf(stderr, "%s: verdict %d: %s\n", label, (int)verdict, err.msg);
            goto out;
        }
    }
    double t0 = now_s();
    for (long i = 0; i < iterations; i++) {
        cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err);
    }
    double us = (now_s() - t0) * 1e6 / (double)iterations;
    printf("%-28s %6zu bytes in  %5zu bytes out  %8.2f us/message  (%ld messages)\n", label, len,
           verdict == CUT_VERDICT_SEND ? rec.value_len : 0, us, iterations);
    status = 0;
out:
    cut_mapping_converter.destroy(conv);
    cut_mapping_destroy(map);
    cut_cfg_errors_fini(&errs);
    cut_mapping_msg_fini(&m);
    return status;
}

/* mappings/orders.yaml with value.format json, in a temporary file. */
static int json_variant(const char *dir, char *out, size_t size)
{
    char src[1024], line[512];
    snprintf(src, sizeof(src), "%s/orders.yaml", dir);
    snprintf(out, size, "/tmp/bench_convert_XXXXXX.yaml");
    FILE *in = fopen(src, "r");
    int fd = mkstemps(out, 5);
    FILE *tmp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (in == NULL || tmp == NULL) {
        if (in != NULL) {
            fclose(in);
        }
        return -1;
    }
    while (fgets(line, sizeof(line), in) != NULL) {
        if (strncmp(line, "schema:", 7) == 0) {
            char *abs = realpath(dir, NULL);
            fprintf(tmp, "schema: %s/orders.avsc\n", abs ? abs : dir);
            free(abs);
        } else if (strstr(line, "format: avro") != NULL) {
            fprintf(tmp, "  format: json\n");
        } else {
            fputs(line, tmp);
        }
    }
    fclose(in);
    fclose(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    char doc[4096], path[1024], hostile[4096];
    long iterations = argc > 2 ? atol(argv[2]) : 20000;
    int status = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_convert MAPPINGS_DIR [ITERATIONS]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/orders.yaml", argv[1]);
    size_t len = order_doc(doc, sizeof(doc), 25);
    status |= run("orders, 25 lines (avro)", path, doc, len, CUT_VERDICT_SEND, iterations);
    len = order_doc(doc, sizeof(doc), 10);
    status |= run("orders, 10 lines (avro)", path, doc, len, CUT_VERDICT_SEND, iterations);
    if (json_variant(argv[1], path, sizeof(path)) == 0) {
        status |= run("orders, 10 lines (json)", path, doc, len, CUT_VERDICT_SEND, iterations / 4);
        unlink(path);
    }
    int n = snprintf(hostile, sizeof(hostile),
                     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                     "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                     "<order id=\"&lol1;\"/>");
    snprintf(path, sizeof(path), "%s/orders.yaml", argv[1]);
    status |= run("hostile DOCTYPE (refused)", path, hostile, (size_t)n, CUT_VERDICT_DEAD_LETTER,
                  iterations);
    return status;
}
