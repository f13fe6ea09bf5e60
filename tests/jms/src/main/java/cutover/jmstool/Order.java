package cutover.jmstool;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The deterministic order document of one sequence number, for send-xml and
 * check-avro: the XML body and JMS headers the legacy order service would
 * send (the shape of mappings/samples/orders.xml), and what
 * mappings/orders.yaml makes of it: the Avro value, key, headers and topic,
 * or that it is filtered, or the dead-letter reason.
 *
 * Expected values use the Java types of Avro's logical type conversions:
 * Instant (timestamp-millis), LocalDate (date), BigDecimal (decimal, scale
 * 2); records are maps, arrays lists, enums and strings String.
 *
 * Variation by seq: every status code (and an unknown one, which becomes
 * the enum default UNKNOWN), placedAt as ISO 8601 with an offset, with Z,
 * without a zone and as epoch milliseconds, optional delivery date and
 * e-mail, 0-5 lines with qty padded by white space, prices written as
 * "12", "12.3" or "12.34" and some negative, gift as true/1/0/absent,
 * optional currency (default EUR), 0-3 tags, JMSPriority 0-9, region
 * EU/US/APAC/absent (default EU) or TEST, optional channel, JMSType,
 * JMSCorrelationID and TTL, non-ASCII and XML-escaped customer names, and
 * every 25th order a BytesMessage instead of a TextMessage.
 *
 * Filtered (the mapping's filter): JMSPriority 0-1 or region TEST.
 * Bad (dead-lettered): when --bad-every K > 0, the seqs with
 * seq % K == K / 2 + 1, cycling through BAD kinds; they get a priority
 * 5..9 and region EU so that the filter never hides them.
 */
final class Order {
    static final long TTL_MS = 3_600_000L;
    static final long BASE_MS = 1_709_284_500_000L; /* 2024-03-01T09:15:00Z */

    /** Kinds of malformed documents and the reason (a substring) the bridge must give. */
    static final String[][] BAD = {
        {"truncated", "XML not well-formed"},
        {"qty", "field lines[1].qty: cannot convert \"x\" to int"},
        {"doctype", "XML refused: a DOCTYPE (DTD) is not allowed"},
        {"decimal", "field lines[0].unit_price: cannot convert \"1.005\" to decimal(10,2)"},
        {"date", "field placed_at: cannot convert \"2023-02-29T10:00:00Z\" to timestamp-millis"},
        {"not-xml", "XML not well-formed"},
        {"no-name", "field customer.name: required value missing"},
    };

    static final String[] STATUS_CODES = {"N", "P", "S", "C", "X"};
    static final String[] STATUS = {"NEW", "PAID", "SHIPPED", "CANCELLED", "UNKNOWN"};
    static final String[] NAMES = {"Ada Lovelace", "Zoë Ångström", "李雷", "O'Brien & Sons <Ltd>",
        "Grace \"Amazing\" Hopper"};
    static final String[] TAGS = {"web", "first-order", "b2b", "vip"};
    static final String[] CURRENCIES = {"EUR", "USD", "GBP"};
    static final String[] REGIONS = {null, "EU", "US", "APAC"};

    /** Generation options, in the record file's first line. */
    static final class Options {
        String prefix = "o";
        String queue = "";
        int badEvery; /* 0: no bad documents */

        String encode() {
            return "prefix=" + prefix + " queue=" + queue + " bad-every=" + badEvery;
        }

        static Options decode(String line) {
            Options o = new Options();
            for (String kv : line.trim().split(" ")) {
                int eq = kv.indexOf('=');
                if (eq < 0) {
                    continue;
                }
                String k = kv.substring(0, eq), v = kv.substring(eq + 1);
                switch (k) {
                    case "prefix" -> o.prefix = v;
                    case "queue" -> o.queue = v;
                    case "bad-every" -> o.badEvery = Integer.parseInt(v);
                    default -> { }
                }
            }
            return o;
        }
    }

    final int seq;
    final String id;
    final String bad;       /* null, or a BAD kind */
    final String badReason; /* the reason's expected substring */
    final boolean bytesBody;
    final int priority;
    final String correlationId; /* null = none */
    final String type;          /* null = none */
    final String region;        /* property, null = absent */
    final String channel;       /* property, null = absent */
    final long ttl;             /* 0 = none */
    final String xml;
    /** The Avro value the mapping makes (null for bad documents). */
    final LinkedHashMap<String, Object> value;

    Order(Options o, int seq) {
        this.seq = seq;
        id = o.prefix + "-" + seq;
        int k = o.badEvery;
        if (k > 0 && seq % k == k / 2 + 1) {
            String[] b = BAD[(seq / k) % BAD.length];
            bad = b[0];
            badReason = b[1];
        } else {
            bad = null;
            badReason = null;
        }
        bytesBody = seq % 25 == 12;
        priority = bad != null ? 5 + (seq / Math.max(k, 1)) % 5 : seq % 10;
        correlationId = seq % 6 == 5 ? null : "corr-" + id;
        type = seq % 5 == 4 ? null : seq % 2 == 0 ? "OrderPlaced" : "OrderUpdated";
        region = bad != null ? "EU" : seq % 13 == 5 ? "TEST" : REGIONS[seq % 4];
        channel = seq % 3 == 0 ? null : seq % 3 == 1 ? "web" : "phone";
        ttl = seq % 2 == 0 ? TTL_MS : 0;

        value = new LinkedHashMap<>();
        StringBuilder x = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        if ("doctype".equals(bad)) {
            x.append("<!DOCTYPE order [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>\n");
        }
        int st = seq % STATUS_CODES.length;
        x.append("<order id=\"").append(esc(id)).append("\" status=\"").append(STATUS_CODES[st]).append("\">\n");
        value.put("id", id);
        value.put("status", STATUS[st]);

        /* placedAt in four spellings; whole seconds where the spelling has no fraction. */
        long ms = BASE_MS + seq * 61_003L;
        Instant placed;
        String placedText;
        switch (seq % 4) {
            case 0 -> {
                placed = Instant.ofEpochMilli(ms);
                placedText = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
                        .format(placed.atOffset(ZoneOffset.ofHours(seq % 8 == 0 ? 1 : -5)));
            }
            case 1 -> {
                placed = Instant.ofEpochMilli(ms).truncatedTo(ChronoUnit.SECONDS);
                placedText = DateTimeFormatter.ISO_INSTANT.format(placed);
            }
            case 2 -> {
                placed = Instant.ofEpochMilli(ms).truncatedTo(ChronoUnit.SECONDS);
                placedText = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").format(placed.atOffset(ZoneOffset.UTC));
            }
            default -> {
                placed = Instant.ofEpochMilli(ms);
                placedText = String.valueOf(ms);
            }
        }
        if ("date".equals(bad)) {
            placedText = "2023-02-29T10:00:00Z";
        }
        x.append("  <placedAt>").append(placedText).append("</placedAt>\n");
        value.put("placed_at", placed);

        LocalDate delivery = null;
        if (seq % 3 != 0) {
            delivery = placed.atOffset(ZoneOffset.UTC).toLocalDate().plusDays(seq % 5 + 1);
            x.append("  <delivery date=\"").append(delivery).append("\"/>\n");
        }
        value.put("delivery_date", delivery);

        LinkedHashMap<String, Object> customer = new LinkedHashMap<>();
        String cid = "C-" + (seq % 97);
        String name = NAMES[seq % NAMES.length];
        String email = seq % 4 == 1 ? null : "c" + (seq % 97) + "@example.org";
        x.append("  <customer id=\"").append(cid).append("\">\n");
        if (!"no-name".equals(bad)) {
            x.append("    <name>").append(esc(name)).append("</name>\n");
        }
        if (email != null) {
            x.append("    <email>").append(email).append("</email>\n");
        }
        x.append("  </customer>\n");
        customer.put("id", cid);
        customer.put("name", name);
        customer.put("email", email);
        value.put("customer", customer);

        int nLines = bad != null ? 3 : seq % 6;
        List<Object> lines = new ArrayList<>();
        BigDecimal total = BigDecimal.ZERO.setScale(2);
        x.append(nLines == 0 ? "  <lines/>\n" : "  <lines>\n");
        for (int i = 0; i < nLines; i++) {
            String sku = "SKU-" + ((seq * 7 + i) % 1000);
            int qty = 1 + (seq + i) % 20;
            long cents = (seq * 37L + i * 101L) % 100_000;
            if (i == 2 && seq % 11 == 0) {
                cents = -cents; /* a discount line */
            }
            BigDecimal price = BigDecimal.valueOf(cents, 2);
            String priceText = cents % 100 == 0 ? String.valueOf(cents / 100)
                    : cents % 10 == 0 ? price.setScale(1).toPlainString() : price.toPlainString();
            String qtyText = i == 1 ? " " + qty + " " : String.valueOf(qty);
            if ("qty".equals(bad) && i == 1) {
                qtyText = "x";
            }
            if ("decimal".equals(bad) && i == 0) {
                priceText = "1.005";
            }
            String giftAttr = "";
            boolean gift = false;
            switch ((seq + i) % 5) {
                case 1 -> { giftAttr = " gift=\"true\""; gift = true; }
                case 2 -> { giftAttr = " gift=\"1\""; gift = true; }
                case 3 -> giftAttr = " gift=\"0\"";
                default -> { }
            }
            x.append("    <line sku=\"").append(sku).append('"').append(giftAttr).append("><qty>")
                    .append(qtyText).append("</qty><price>").append(priceText).append("</price></line>\n");
            LinkedHashMap<String, Object> line = new LinkedHashMap<>();
            line.put("sku", sku);
            line.put("qty", qty);
            line.put("unit_price", price);
            line.put("gift", gift);
            lines.add(line);
            total = total.add(price.multiply(BigDecimal.valueOf(qty)));
        }
        if (nLines > 0) {
            x.append("  </lines>\n");
        }
        value.put("lines", lines);

        String currency = seq % 7 == 3 ? null : CURRENCIES[seq % CURRENCIES.length];
        x.append("  <total").append(currency == null ? "" : " currency=\"" + currency + "\"").append('>')
                .append(total.toPlainString()).append("</total>\n");
        value.put("total", total);
        value.put("currency", currency == null ? "EUR" : currency);
        value.put("priority", priority);
        value.put("region", region == null ? "EU" : region);
        value.put("channel", channel);

        List<Object> tags = new ArrayList<>();
        int nTags = seq % 4;
        if (nTags > 0) {
            x.append("  <tags>");
            for (int i = 0; i < nTags; i++) {
                String t = TAGS[(seq + i) % TAGS.length];
                x.append("<tag>").append(t).append("</tag>");
                tags.add(t);
            }
            x.append("</tags>\n");
        } else if (seq % 8 == 0) {
            x.append("  <tags/>\n");
        }
        value.put("tags", tags);
        value.put("source", "legacy-oms");
        x.append("</order>\n");

        String doc = x.toString();
        if ("truncated".equals(bad)) {
            doc = doc.substring(0, doc.length() / 2);
        } else if ("not-xml".equals(bad)) {
            doc = "{\"order\": {\"id\": \"" + id + "\", \"status\": \"P\"}}";
        }
        xml = doc;
    }

    boolean filtered() {
        return bad == null && (priority < 2 || "TEST".equals(region));
    }

    byte[] body() {
        return xml.getBytes(StandardCharsets.UTF_8);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /**
     * The Kafka headers mappings/orders.yaml gives a good order: its
     * include list (JMSCorrelationID renamed correlation_id, JMSType,
     * JMSTimestamp, region) plus what is always sent (message_id, the
     * priority as "priority", the absolute expiry as "expires_at").
     */
    Map<String, String> expectedHeaders(String messageId, long timestamp, long expiration) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("message_id", Spec.kafkaId(messageId, false)[0]);
        h.put("priority", String.valueOf(priority));
        if (correlationId != null) {
            h.put("correlation_id", correlationId);
        }
        if (type != null) {
            h.put("jms.type", type);
        }
        if (timestamp != 0) {
            h.put("jms.timestamp", String.valueOf(timestamp));
        }
        if (region != null) {
            h.put("region", region);
        }
        if (expiration != 0) {
            h.put("expires_at", String.valueOf(expiration));
        }
        return h;
    }
}
