package cutover.jmstool;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.qpid.proton.amqp.Binary;
import org.apache.qpid.proton.codec.Data;

/**
 * produce-reference: writes to a topic what docs/connectors.md says the
 * bridge writes for the messages of a record file. Not a test of the bridge:
 * it proves that check-kafka accepts the documented encoding (and, run with
 * --break FIELD, that it catches a wrong one) before the bridge exists.
 */
final class Reference {
    static int run(Args a) throws Exception {
        Record rec = Record.load(Path.of(a.need("record")));
        String topic = a.need("topic");
        String breakField = a.get("break", "");
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap", "127.0.0.1:9092"));
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(4 << 20));
        try (KafkaProducer<byte[], byte[]> producer =
                     new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int seq = 0; seq < rec.count; seq++) {
                Spec s = new Spec(rec.options, seq);
                List<org.apache.kafka.common.header.Header> headers = new ArrayList<>();
                for (Map.Entry<String, String> e : KafkaChecker.expectedHeaders(s, rec).entrySet()) {
                    String name = e.getKey();
                    byte[] v = e.getValue().equals("<null>") && s.props.containsKey(name.replace("jms.prop.", ""))
                            && s.props.get(name.replace("jms.prop.", "")) == null ? null
                            : e.getValue().getBytes(StandardCharsets.UTF_8);
                    if (name.startsWith("jms.prop.")) {
                        Object pv = s.props.get(name.substring(9));
                        if (pv instanceof Float || pv instanceof Double) {
                            v = shortest(pv).getBytes(StandardCharsets.UTF_8);
                        }
                    }
                    if (name.equals(breakField) && seq % 7 == 1) {
                        v = "broken".getBytes(StandardCharsets.UTF_8);
                    }
                    headers.add(new RecordHeader(name, v));
                }
                producer.send(new ProducerRecord<byte[], byte[]>(topic, (Integer) null, (byte[]) null, value(s), headers));
            }
            producer.flush();
        }
        System.out.println("produced " + rec.count + " reference records to " + topic);
        return 0;
    }

    static byte[] value(Spec s) {
        switch (s.kind) {
            case Spec.TEXT: return Spec.utf8((String) s.body);
            case Spec.BYTES: return (byte[]) s.body;
            case Spec.OBJECT: return Spec.serialized(s.body);
            case Spec.MAP:
            case Spec.STREAM: {
                Data data = Data.Factory.create();
                Object body = s.body;
                if (body instanceof Map) {
                    java.util.LinkedHashMap<Object, Object> m = new java.util.LinkedHashMap<>();
                    for (Map.Entry<?, ?> e : ((Map<?, ?>) body).entrySet()) {
                        m.put(e.getKey(), amqp(e.getValue()));
                    }
                    data.putObject(m);
                } else {
                    List<Object> l = new ArrayList<>();
                    for (Object v : (List<?>) body) {
                        l.add(amqp(v));
                    }
                    data.putObject(l);
                }
                ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
                data.encode(buf);
                buf.flip();
                byte[] out = new byte[buf.remaining()];
                buf.get(out);
                return out;
            }
            default: return null;
        }
    }

    private static Object amqp(Object v) {
        return v instanceof byte[] ? new Binary((byte[]) v) : v;
    }

    /** Shortest decimal text that reads back to the same float/double; C spellings for the rest. */
    static String shortest(Object v) {
        boolean isFloat = v instanceof Float;
        double w = isFloat ? (Float) v : (Double) v;
        if (Double.isNaN(w)) return "nan";
        if (Double.isInfinite(w)) return w > 0 ? "inf" : "-inf";
        if (w == 0) return (1 / w < 0) ? "-0" : "0";
        int n = KafkaChecker.shortestDigits(w, isFloat);
        return new BigDecimal(w).round(new MathContext(n, RoundingMode.HALF_EVEN)).stripTrailingZeros().toString();
    }
}
