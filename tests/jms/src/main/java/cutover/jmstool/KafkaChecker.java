package cutover.jmstool;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.qpid.proton.codec.Data;

/**
 * check-kafka: read a topic from the beginning and compare every record with
 * what send produced: the value is the body, and the headers are exactly the
 * ones docs/connectors.md ("Kafka headers") gives for that message, no more,
 * no fewer, each with its documented text encoding.
 */
final class KafkaChecker {
    /** A header present with a null value (a null property). */
    private static final String NULL = new String("<null>");

    static int run(Args a) throws Exception {
        Record rec = Record.load(Path.of(a.need("record")));
        Spec.Options o = rec.options;
        String topic = a.need("topic");
        int count = a.intArg("count", rec.count);
        if (count != rec.count || !a.get("prefix", o.prefix).equals(o.prefix)) {
            throw new IllegalArgumentException("--count/--prefix differ from the record file ("
                    + rec.count + ", " + o.prefix + ")");
        }
        Map<String, Integer> seqByKafkaId = new HashMap<>();
        for (int i = 0; i < count; i++) {
            seqByKafkaId.put(Spec.kafkaId(rec.ids[i], false)[0], i);
        }
        long deadline = System.currentTimeMillis() + a.intArg("timeout", 120) * 1000L;
        long quietMs = a.intArg("quiet", 3) * 1000L;
        Report report = new Report("topic=" + topic, count);
        boolean idsOnly = a.flag("ids-only");

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap", "127.0.0.1:9092"));
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, String.valueOf(4 << 20));
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            while (parts.isEmpty() && System.currentTimeMillis() < deadline) {
                List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
                if (infos != null) {
                    for (PartitionInfo pi : infos) {
                        parts.add(new TopicPartition(topic, pi.partition()));
                    }
                }
                if (parts.isEmpty()) {
                    Thread.sleep(500); /* the bridge has not created the topic yet */
                }
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long quietUntil = 0;
            while (System.currentTimeMillis() < deadline && !parts.isEmpty()) {
                if (quietUntil == 0 && report.distinct() == count) {
                    quietUntil = System.currentTimeMillis() + quietMs;
                }
                if (quietUntil != 0 && System.currentTimeMillis() >= quietUntil) {
                    break;
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    report.read++;
                    Header idh = r.headers().lastHeader("message_id");
                    String id = idh == null || idh.value() == null ? null
                            : new String(idh.value(), StandardCharsets.UTF_8);
                    Integer seq = id == null ? null : seqByKafkaId.get(id);
                    if (seq == null) {
                        report.foreign("partition " + r.partition() + " offset " + r.offset()
                                + " message_id " + id);
                        continue;
                    }
                    Spec s = new Spec(o, seq);
                    report.message(s, id, idsOnly ? List.of() : compare(r, s, rec, report));
                    if (quietUntil != 0) {
                        quietUntil = System.currentTimeMillis() + quietMs;
                    }
                }
            }
        }
        return report.finish(a.flag("allow-duplicates"), JmsTool.requiredKinds(a));
    }

    /** The headers docs/connectors.md gives for @p s; NULL marks a null value. */
    static Map<String, String> expectedHeaders(Spec s, Record rec) {
        Spec.Options o = rec.options;
        Map<String, String> h = new LinkedHashMap<>();
        String[] id = Spec.kafkaId(rec.ids[s.seq], false);
        h.put("message_id", id[0]);
        if (id[1] != null) {
            h.put("jms.message_id_type", id[1]);
        }
        if (s.correlationId != null) {
            /* Qpid JMS 2.x sends an application correlation id (no "ID:") as a plain string,
             * without the old x-opt-app-correlation-id annotation. */
            String[] c = s.appCorrelationId() ? new String[] {s.correlationId, null}
                    : Spec.kafkaId(s.correlationId, true);
            h.put("jms.correlation_id", c[0]);
            if (c[1] != null) {
                h.put("jms.correlation_id_type", c[1]);
            }
        }
        if (s.type != null) {
            h.put("jms.type", s.type);
        }
        h.put("jms.priority", String.valueOf(s.priority));
        h.put("jms.delivery_mode", s.persistent ? "PERSISTENT" : "NON_PERSISTENT");
        if (rec.timestamps[s.seq] != 0) {
            h.put("jms.timestamp", String.valueOf(rec.timestamps[s.seq]));
        }
        if (rec.expirations[s.seq] != 0) {
            h.put("jms.expiration", String.valueOf(rec.expirations[s.seq]));
        }
        if (s.ttl != 0) {
            h.put("jms.ttl", String.valueOf(s.ttl));
        }
        if (!o.queue.isEmpty()) {
            h.put("jms.destination", o.queue);
            h.put("jms.destination_type", "queue");
        }
        if (s.replyTo != null) {
            h.put("jms.reply_to", s.replyTo);
            h.put("jms.reply_to_type", s.replyToTopic ? "topic" : "queue");
        }
        if (s.groupId != null) {
            h.put("jms.group_id", s.groupId);
            h.put("jms.group_seq", String.valueOf(s.groupSeq));
        }
        if (s.kind.equals(Spec.BYTES)) {
            h.put("jms.content_type", "application/octet-stream");
        } else if (s.kind.equals(Spec.OBJECT)) {
            h.put("jms.content_type", "application/x-java-serialized-object");
        }
        h.put("jms.body_kind", s.kind);
        TreeSet<String> types = new TreeSet<>();
        for (Map.Entry<String, Object> e : s.props.entrySet()) {
            Object v = e.getValue();
            String t = Spec.propType(v);
            if (t != null) {
                types.add(e.getKey() + "=" + t);
            }
            h.put("jms.prop." + e.getKey(), v == null ? NULL : v instanceof String ? (String) v : String.valueOf(v));
        }
        if (!types.isEmpty()) {
            h.put("jms.prop_types", String.join(";", types));
        }
        return h;
    }

    static List<String> compare(ConsumerRecord<byte[], byte[]> r, Spec s, Record rec, Report report) {
        List<String> p = new ArrayList<>();
        checkValue(p, s, r.value(), report);

        Map<String, byte[]> got = new LinkedHashMap<>();
        for (Header h : r.headers()) {
            if (got.containsKey(h.key())) {
                p.add("header " + h.key() + ": present twice");
            }
            got.put(h.key(), h.value());
        }
        Map<String, String> want = expectedHeaders(s, rec);
        for (Map.Entry<String, String> e : want.entrySet()) {
            String name = e.getKey();
            if (!got.containsKey(name)) {
                if (name.equals("jms.priority") && s.priority == 4) {
                    report.note("jms.priority absent for JMSPriority 4 (AMQP default, accepted)");
                    continue;
                }
                p.add("header " + name + ": missing (want " + Values.clip(String.valueOf(e.getValue())) + ")");
                continue;
            }
            byte[] v = got.remove(name);
            if (e.getValue() == NULL) {
                if (v != null) {
                    p.add("header " + name + ": want a null value, got " + Values.showBytes(v));
                }
                continue;
            }
            if (v == null) {
                p.add("header " + name + ": want " + Values.clip(e.getValue()) + ", got a null value");
                continue;
            }
            String text = new String(v, StandardCharsets.UTF_8);
            if (name.equals("jms.prop_types")) {
                TreeSet<String> a = new TreeSet<>(List.of(e.getValue().split(";")));
                TreeSet<String> b = new TreeSet<>(List.of(text.split(";", -1)));
                if (!a.equals(b)) {
                    TreeSet<String> miss = new TreeSet<>(a), extra = new TreeSet<>(b);
                    miss.removeAll(b);
                    extra.removeAll(a);
                    p.add("header jms.prop_types: missing " + miss + ", unexpected " + extra);
                }
                continue;
            }
            if (name.startsWith("jms.prop.")) {
                Object pv = s.props.get(name.substring(9));
                if (pv instanceof Float || pv instanceof Double) {
                    String why = floatText(text, pv);
                    if (why != null) {
                        p.add("header " + name + ": " + why);
                    }
                    continue;
                }
            }
            if (!e.getValue().equals(text) || !java.util.Arrays.equals(Spec.utf8(e.getValue()), v)) {
                p.add("header " + name + ": want \"" + Values.clip(e.getValue()) + "\", got " + Values.showBytes(v));
            }
        }
        byte[] dc = got.remove("jms.delivery_count");
        if (dc != null) {
            String t = new String(dc, StandardCharsets.UTF_8);
            if (!t.matches("[0-9]+")) {
                p.add("header jms.delivery_count: not a decimal count: " + Values.showBytes(dc));
            } else if (!t.equals("0")) {
                report.note("jms.delivery_count > 0 (redelivered)");
            }
        }
        for (String extra : got.keySet()) {
            p.add("header " + extra + ": unexpected (value " + Values.showBytes(got.get(extra)) + ")");
        }
        return p;
    }

    static void checkValue(List<String> p, Spec s, byte[] value, Report report) {
        switch (s.kind) {
            case Spec.TEXT, Spec.BYTES, Spec.OBJECT -> {
                byte[] want = s.kind.equals(Spec.TEXT) ? Spec.utf8((String) s.body)
                        : s.kind.equals(Spec.BYTES) ? (byte[]) s.body : Spec.serialized(s.body);
                if (value == null && want.length == 0) {
                    report.note("empty body written as a null Kafka value");
                } else if (!java.util.Arrays.equals(want, value)) {
                    p.add("value: want " + Values.show(want) + ", got " + Values.show(value));
                }
            }
            case Spec.MAP, Spec.STREAM -> {
                Object got;
                try {
                    got = decodeAmqp(value, report);
                } catch (RuntimeException ex) {
                    p.add("value: not one AMQP 1.0 encoded " + (s.kind.equals(Spec.MAP) ? "map" : "list")
                            + ": " + ex + ": " + Values.show(value));
                    return;
                }
                if (!Values.same(s.body, got)) {
                    p.add("value: decoded " + Values.show(got) + ", want " + Values.show(s.body));
                }
            }
            default -> {
                if (value != null && value.length > 0) {
                    p.add("value: want none for a plain Message, got " + Values.show(value));
                }
            }
        }
    }

    /** One AMQP 1.0 value (a described amqp-value / amqp-sequence section is unwrapped). */
    static Object decodeAmqp(byte[] value, Report report) {
        if (value == null) {
            throw new IllegalArgumentException("null value");
        }
        Data data = Data.Factory.create();
        long n = data.decode(ByteBuffer.wrap(value));
        if (n != value.length) {
            throw new IllegalArgumentException("decoded " + n + " of " + value.length + " bytes");
        }
        data.rewind();
        data.next();
        if (data.type() == Data.DataType.DESCRIBED) {
            data.enter();
            data.next();
            report.note("map/stream value carries its section descriptor " + data.getObject());
            data.next();
            Object v = exact(data);
            data.exit();
            return v;
        }
        return exact(data);
    }

    /** The current value of @p data with its exact AMQP type as a Java type (char stays char). */
    static Object exact(Data data) {
        switch (data.type()) {
            case CHAR:
                return Character.valueOf((char) data.getChar());
            case BINARY:
                return data.getBinary().getArray().length == data.getBinary().getLength()
                        ? data.getBinary().getArray()
                        : java.util.Arrays.copyOfRange(data.getBinary().getArray(), data.getBinary().getArrayOffset(),
                                data.getBinary().getArrayOffset() + data.getBinary().getLength());
            case LIST: {
                int n = (int) data.getList();
                List<Object> out = new ArrayList<>();
                data.enter();
                for (int i = 0; i < n && data.next() != null; i++) {
                    out.add(exact(data));
                }
                data.exit();
                return out;
            }
            case MAP: {
                int n = (int) data.getMap();
                Map<Object, Object> out = new LinkedHashMap<>();
                data.enter();
                for (int i = 0; i < n / 2; i++) {
                    data.next();
                    Object k = exact(data);
                    data.next();
                    out.put(k, exact(data));
                }
                data.exit();
                return out;
            }
            case DESCRIBED:
                throw new IllegalArgumentException("nested described value");
            default:
                return data.getObject();
        }
    }


    /**
     * Why @p text is not the documented encoding of float/double @p want
     * ("the shortest text that reads back to the same value"), or null.
     * Infinities and NaN may be spelt the C way (inf, nan) or the Java way.
     */
    static String floatText(String text, Object want) {
        boolean isFloat = want instanceof Float;
        double w = isFloat ? (Float) want : (Double) want;
        String t = text.trim();
        String lower = t.toLowerCase(Locale.ROOT);
        double got;
        try {
            switch (lower.replace("+", "")) {
                case "inf", "infinity" -> got = Double.POSITIVE_INFINITY;
                case "-inf", "-infinity" -> got = Double.NEGATIVE_INFINITY;
                case "nan", "-nan" -> got = Double.NaN;
                default -> got = isFloat ? (double) Float.parseFloat(t) : Double.parseDouble(t);
            }
        } catch (NumberFormatException ex) {
            return "\"" + t + "\" is not a number";
        }
        boolean same = isFloat ? Float.floatToIntBits((float) got) == Float.floatToIntBits((float) w)
                : Double.doubleToLongBits(got) == Double.doubleToLongBits(w);
        if (!same || !t.equals(text)) {
            return "\"" + text + "\" does not read back to " + (isFloat ? Float.toString((float) w) : Double.toString(w));
        }
        if (Double.isNaN(w) || Double.isInfinite(w) || w == 0) {
            return null;
        }
        int digits = sigDigits(t), shortest = shortestDigits(w, isFloat);
        if (digits > shortest) {
            return "\"" + text + "\" has " + digits + " significant digits, the shortest form has " + shortest;
        }
        return null;
    }

    static int sigDigits(String t) {
        String m = t.toLowerCase(Locale.ROOT);
        int e = m.indexOf('e');
        if (e >= 0) {
            m = m.substring(0, e);
        }
        m = m.replace("-", "").replace("+", "").replace(".", "");
        m = m.replaceFirst("^0+", "").replaceFirst("0+$", "");
        return Math.max(1, m.length());
    }

    static int shortestDigits(double w, boolean isFloat) {
        BigDecimal exact = new BigDecimal(w);
        for (int n = 1; n <= 17; n++) {
            String s = exact.round(new MathContext(n, RoundingMode.HALF_EVEN)).toString();
            boolean ok = isFloat ? Float.floatToIntBits(Float.parseFloat(s)) == Float.floatToIntBits((float) w)
                    : Double.doubleToLongBits(Double.parseDouble(s)) == Double.doubleToLongBits(w);
            if (ok) {
                return n;
            }
        }
        return 17;
    }
}
