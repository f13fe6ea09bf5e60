package cutover.jmstool;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * The deterministic message of one sequence number: everything the sender
 * sets and the checkers expect is computed here from (prefix, seq, options),
 * so that send, check-jms and check-kafka cannot disagree.
 *
 * The options travel in the record file's first line, so a checker always
 * uses the ones the sender used.
 */
final class Spec {
    static final long TTL_MS = 3_600_000L; /* long enough never to expire during a test */
    static final String CUT_ID = "cut_id"; /* string property "<prefix>-<seq>" on every message */

    /** Generation options (written to and read back from the record file). */
    static final class Options {
        String prefix = "m";
        String queue = "";          /* the queue the sender wrote to: JMSDestination */
        boolean allKinds = true;    /* false: TextMessage and BytesMessage only */
        boolean priorityCycle;      /* JMSPriority = seq % 10, else the default 4 */
        boolean persistentOnly;     /* no NON_PERSISTENT messages (broker restart tests) */
        boolean small;              /* bodies under 2 KB (no large messages) */
        String idType = "DEFAULT";  /* Qpid JMS jms.messageIDPolicy.messageIDType */

        String encode() {
            return "prefix=" + prefix + " queue=" + queue + " kinds=" + (allKinds ? "all" : "basic")
                    + " priority-cycle=" + priorityCycle + " persistent-only=" + persistentOnly
                    + " small=" + small + " id-type=" + idType;
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
                    case "kinds" -> o.allKinds = v.equals("all");
                    case "priority-cycle" -> o.priorityCycle = Boolean.parseBoolean(v);
                    case "persistent-only" -> o.persistentOnly = Boolean.parseBoolean(v);
                    case "small" -> o.small = Boolean.parseBoolean(v);
                    case "id-type" -> o.idType = v;
                    default -> { }
                }
            }
            return o;
        }
    }

    /** Body kinds, named as the jms.body_kind header names them. */
    static final String TEXT = "text", BYTES = "bytes", MAP = "map", STREAM = "stream",
            OBJECT = "object", MESSAGE = "message";

    final int seq;
    final String cutId;
    final String kind;
    final Object body; /* String, byte[], LinkedHashMap, ArrayList, ArrayList (object), null */
    final String correlationId; /* as set with setJMSCorrelationID, null = none */
    final String type;
    final int priority;
    final boolean persistent;
    final long ttl; /* 0 = none */
    final String replyTo;
    final boolean replyToTopic;
    final String groupId; /* null = none */
    final int groupSeq;
    final LinkedHashMap<String, Object> props = new LinkedHashMap<>();

    Spec(Options o, int seq) {
        this.seq = seq;
        String p = o.prefix;
        cutId = p + "-" + seq;
        kind = kindOf(o, seq);
        body = bodyOf(o, seq, kind, cutId);
        correlationId = correlationOf(p, seq);
        type = seq % 5 == 0 ? null : seq % 7 == 6 ? "typé-ü-" + (seq % 7) : "type-" + (seq % 7);
        priority = o.priorityCycle ? seq % 10 : 4;
        persistent = o.persistentOnly || seq % 10 != 7;
        ttl = seq % 3 == 0 ? TTL_MS : 0;
        switch (seq % 4) {
            case 1 -> { replyTo = p + ".reply.q"; replyToTopic = false; }
            case 2 -> { replyTo = p + ".reply.t"; replyToTopic = true; }
            case 3 -> { replyTo = p + ".réply-" + (seq % 3); replyToTopic = false; }
            default -> { replyTo = null; replyToTopic = false; }
        }
        if (seq % 4 == 0) {
            groupId = p + "-grp-" + (seq % 7);
            groupSeq = seq / 4 + 1;
        } else {
            groupId = null;
            groupSeq = 0;
        }
        fillProps(seq);
    }

    private static String kindOf(Options o, int seq) {
        if (o.allKinds) {
            switch (seq % 20) {
                case 3: return MAP;
                case 7: return STREAM;
                case 11: return OBJECT;
                case 15: return MESSAGE;
                default: break;
            }
        }
        return seq % 2 == 0 ? TEXT : BYTES;
    }

    private static Object bodyOf(Options o, int seq, String kind, String cutId) {
        switch (kind) {
            case TEXT: {
                if (seq % 100 == 8) {
                    return "";
                }
                int len = (!o.small && seq % 250 == 4) ? 200_000 : (seq * 13) % 600;
                StringBuilder sb = new StringBuilder("text ").append(cutId).append(" ü✓日本🎉 ");
                while (sb.length() < len) {
                    sb.append("lorem ipsum ").append(seq).append(" — ");
                }
                return sb.toString();
            }
            case BYTES: {
                int len = seq % 100 == 19 ? 0 : (!o.small && seq % 250 == 131) ? 150_000 : (seq * 37) % 2000;
                byte[] b = new byte[len];
                for (int i = 0; i < len; i++) {
                    b[i] = (byte) (i * 31 + seq * 7);
                }
                return b;
            }
            case MAP: {
                LinkedHashMap<String, Object> m = new LinkedHashMap<>();
                m.put("k_bool", seq % 2 == 0);
                m.put("k_byte", (byte) (seq * 3));
                m.put("k_short", (short) (-seq * 11));
                m.put("k_char", (char) ('A' + seq % 26));
                m.put("k_int", seq * -7919);
                m.put("k_long", (long) seq * 1_000_000_007L);
                m.put("k_float", seq * 0.25f);
                m.put("k_double", seq / 3.0);
                m.put("k_string", "v-" + cutId + "-ü");
                m.put("k_bytes", new byte[] {1, (byte) seq, (byte) 0xff});
                return m;
            }
            case STREAM: {
                List<Object> l = new ArrayList<>();
                l.add(seq);
                l.add("s-" + cutId);
                l.add(seq % 2 == 1);
                l.add((long) -seq);
                l.add(seq * 1.5);
                l.add(new byte[] {(byte) seq, 2, 3});
                l.add((short) seq);
                return l;
            }
            case OBJECT: {
                ArrayList<String> l = new ArrayList<>();
                l.add("obj");
                l.add(cutId);
                l.add("ünïcode");
                return l;
            }
            default:
                return null;
        }
    }

    /* Every AMQP id type Qpid JMS can put on the wire from a JMSCorrelationID. */
    private static String correlationOf(String p, int seq) {
        switch (seq % 6) {
            case 1: return "corr-" + p + "-" + seq;
            case 2: return "ID:corr-" + p + "-" + seq;
            case 3: return "ID:AMQP_UUID:" + new UUID(0x1234_5678_9abc_def0L, seq);
            case 4: return "ID:AMQP_ULONG:" + (1_000_000L + seq);
            case 5: {
                /* Qpid JMS prints binary ids in upper-case hex: use it so the round trip is equal. */
                return "ID:AMQP_BINARY:" + String.format(Locale.ROOT, "0A%08X", seq);
            }
            default: return null;
        }
    }

    private void fillProps(int seq) {
        int e = seq % 50;
        props.put(CUT_ID, cutId);
        props.put("p_bool", seq % 2 == 0);
        props.put("p_byte", e == 0 ? Byte.MIN_VALUE : e == 1 ? Byte.MAX_VALUE : (byte) (seq * 7));
        props.put("p_short", e == 0 ? Short.MIN_VALUE : e == 1 ? Short.MAX_VALUE : (short) (seq * -301));
        props.put("p_int", e == 0 ? Integer.MIN_VALUE : e == 1 ? Integer.MAX_VALUE : seq * -65_537);
        props.put("p_long", e == 0 ? Long.MIN_VALUE : e == 1 ? Long.MAX_VALUE : seq * -4_294_967_311L);
        float f;
        double d;
        switch (e) {
            case 0: f = -Float.MAX_VALUE; d = -Double.MAX_VALUE; break;
            case 1: f = Float.MAX_VALUE; d = Double.MAX_VALUE; break;
            case 2: f = -0.0f; d = -0.0; break;
            case 3: f = Float.NaN; d = Double.NaN; break;
            case 4: f = Float.MIN_VALUE; d = Double.MIN_VALUE; break;
            case 5: f = Float.POSITIVE_INFINITY; d = Double.NEGATIVE_INFINITY; break;
            case 6: f = 0.1f; d = 0.1; break;
            case 7: f = 1e10f; d = 1e21; break;
            default: f = seq * 1.1f - 1000.25f; d = seq / 7.0 - 1e6; break;
        }
        props.put("p_float", f);
        props.put("p_double", d);
        String s;
        switch (seq % 13) {
            case 0: s = ""; break;
            case 1: s = "héllo wörld ✓ 日本語 🎉 " + seq; break;
            case 2: s = "L".repeat(1000) + seq; break;
            case 3: s = "a=b;c=d\n\t\"quoted\" " + seq; break;
            default: s = "s-" + seq; break;
        }
        props.put("p_string", s);
        if (seq % 10 == 3) {
            props.put("p_null", null);
        }
        if (seq % 7 == 0) {
            props.put("p_ünï", "unicode name " + seq);
        }
        if (seq % 100 == 42) {
            for (int i = 0; i < 40; i++) {
                props.put("x_" + i, seq + i);
            }
        }
    }

    /** The JMS type name of a property value, as jms.prop_types writes it; null for strings. */
    static String propType(Object v) {
        if (v == null) return "null";
        if (v instanceof Boolean) return "boolean";
        if (v instanceof Byte) return "byte";
        if (v instanceof Short) return "short";
        if (v instanceof Integer) return "int";
        if (v instanceof Long) return "long";
        if (v instanceof Float) return "float";
        if (v instanceof Double) return "double";
        return null;
    }

    /** Java serialization of the ObjectMessage body: the bytes Qpid JMS puts in the Data section. */
    static byte[] serialized(Object o) {
        try (ByteArrayOutputStream bos = new ByteArrayOutputStream();
             ObjectOutputStream oos = new ObjectOutputStream(bos)) {
            oos.writeObject((Serializable) o);
            oos.flush();
            return bos.toByteArray();
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * How docs/connectors.md writes an id on Kafka, from its JMS text (the
     * Qpid JMS encoding of AMQP id types): [text, type or null].
     */
    static String[] kafkaId(String jmsId, boolean correlation) {
        if (jmsId.startsWith("ID:AMQP_UUID:")) {
            return new String[] {jmsId.substring(13).toLowerCase(Locale.ROOT), "uuid"};
        }
        if (jmsId.startsWith("ID:AMQP_ULONG:")) {
            return new String[] {jmsId.substring(14), "ulong"};
        }
        if (jmsId.startsWith("ID:AMQP_BINARY:")) {
            return new String[] {jmsId.substring(15).toLowerCase(Locale.ROOT), "binary"};
        }
        if (jmsId.startsWith("ID:AMQP_STRING:")) {
            return new String[] {jmsId.substring(15), null};
        }
        if (jmsId.startsWith("ID:AMQP_NO_PREFIX:")) {
            return new String[] {jmsId.substring(18), null};
        }
        return new String[] {jmsId, null};
    }

    /** Whether this correlation id is application-specific (no "ID:" prefix): kept as is. */
    boolean appCorrelationId() {
        return correlationId != null && !correlationId.startsWith("ID:");
    }

    static Map<String, Object> copyOf(Map<String, Object> m) {
        return new LinkedHashMap<>(m);
    }
}
