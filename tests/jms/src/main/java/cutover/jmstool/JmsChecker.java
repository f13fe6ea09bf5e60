package cutover.jmstool;

import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Destination;
import jakarta.jms.JMSException;
import jakarta.jms.MapMessage;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageEOFException;
import jakarta.jms.ObjectMessage;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.StreamMessage;
import jakarta.jms.TemporaryQueue;
import jakarta.jms.TemporaryTopic;
import jakarta.jms.TextMessage;
import jakarta.jms.Topic;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * check-jms: consume the messages of a queue and compare each, field by
 * field and with exact Java types, with what send produced (Spec + record).
 */
final class JmsChecker {
    static int run(Args a) throws Exception {
        Record rec = Record.load(Path.of(a.need("record")));
        Spec.Options o = rec.options;
        String queueName = a.need("queue");
        int count = a.intArg("count", rec.count);
        if (count != rec.count || !a.get("prefix", o.prefix).equals(o.prefix)) {
            throw new IllegalArgumentException("--count/--prefix differ from the record file ("
                    + rec.count + ", " + o.prefix + ")");
        }
        long timeoutMs = a.intArg("timeout", 120) * 1000L;
        long quietMs = a.intArg("quiet", 2) * 1000L;
        Report report = new Report("queue=" + queueName, count);
        long deadline = System.currentTimeMillis() + timeoutMs;
        try (Connection conn = JmsTool.connect(a.need("url"))) {
            Session session = conn.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer consumer = session.createConsumer(session.createQueue(queueName));
            conn.start();
            long quietUntil = 0;
            while (System.currentTimeMillis() < deadline) {
                if (quietUntil == 0 && report.distinct() == count) {
                    quietUntil = System.currentTimeMillis() + quietMs;
                }
                if (quietUntil != 0 && System.currentTimeMillis() >= quietUntil) {
                    break;
                }
                Message m = consumer.receive(200);
                if (m == null) {
                    continue;
                }
                report.read++;
                String id = m.getJMSMessageID();
                Integer seq = rec.seqById.get(id);
                if (seq == null) {
                    report.foreign("JMSMessageID " + id + " cut_id " + m.getObjectProperty(Spec.CUT_ID));
                    continue;
                }
                Spec spec = new Spec(o, seq);
                report.message(spec, id, a.flag("ids-only") ? List.of() : compare(m, spec, rec, report));
                if (quietUntil != 0) {
                    quietUntil = System.currentTimeMillis() + quietMs; /* a late duplicate: keep listening */
                }
            }
        }
        return report.finish(a.flag("allow-duplicates"), JmsTool.requiredKinds(a));
    }

    static String kindOf(Message m) {
        if (m instanceof TextMessage) return Spec.TEXT;
        if (m instanceof BytesMessage) return Spec.BYTES;
        if (m instanceof MapMessage) return Spec.MAP;
        if (m instanceof StreamMessage) return Spec.STREAM;
        if (m instanceof ObjectMessage) return Spec.OBJECT;
        return Spec.MESSAGE;
    }

    static List<String> compare(Message m, Spec s, Record rec, Report report) throws JMSException {
        List<String> p = new ArrayList<>();
        String kind = kindOf(m);
        eq(p, "class", s.kind, kind);
        if (kind.equals(s.kind)) {
            Object body = body(m, kind);
            if (!Values.same(s.body, body)) {
                p.add("body: want " + Values.show(s.body) + ", got " + Values.show(body));
            }
        }
        eq(p, "JMSMessageID", rec.ids[s.seq], m.getJMSMessageID());
        eq(p, "JMSCorrelationID", s.correlationId, m.getJMSCorrelationID());
        eq(p, "JMSType", s.type, m.getJMSType());
        eq(p, "JMSPriority", s.priority, m.getJMSPriority());
        eq(p, "JMSDeliveryMode", s.persistent ? "PERSISTENT" : "NON_PERSISTENT",
                m.getJMSDeliveryMode() == DeliveryMode.PERSISTENT ? "PERSISTENT" : "NON_PERSISTENT");
        eq(p, "JMSExpiration", rec.expirations[s.seq], m.getJMSExpiration());
        eq(p, "JMSTimestamp", rec.timestamps[s.seq], m.getJMSTimestamp());
        eq(p, "JMSReplyTo", s.replyTo == null ? null : (s.replyToTopic ? "topic:" : "queue:") + s.replyTo,
                dest(m.getJMSReplyTo()));
        eq(p, "JMSXGroupID", s.groupId, m.getStringProperty("JMSXGroupID"));
        eq(p, "JMSXGroupSeq", s.groupId == null ? null : s.groupSeq,
                m.propertyExists("JMSXGroupSeq") ? m.getIntProperty("JMSXGroupSeq") : null);

        /* Application properties: the same names, and each with the same Java type and value. */
        Map<String, Object> got = new LinkedHashMap<>();
        for (Enumeration<?> en = m.getPropertyNames(); en.hasMoreElements(); ) {
            String name = (String) en.nextElement();
            if (!name.startsWith("JMSX")) {
                got.put(name, m.getObjectProperty(name));
            }
        }
        TreeSet<String> missing = new TreeSet<>(s.props.keySet()), extra = new TreeSet<>(got.keySet());
        missing.removeAll(got.keySet());
        extra.removeAll(s.props.keySet());
        if (!missing.isEmpty()) {
            p.add("properties: missing " + missing);
        }
        if (!extra.isEmpty()) {
            p.add("properties: unexpected " + extra);
        }
        for (Map.Entry<String, Object> e : s.props.entrySet()) {
            if (got.containsKey(e.getKey()) && !Values.same(e.getValue(), got.get(e.getKey()))) {
                p.add("property " + e.getKey() + ": want " + Values.show(e.getValue()) + ", got "
                        + Values.show(got.get(e.getKey())));
            }
        }

        /* Not compared, counted: where the broker says it came from, and redeliveries. */
        report.note("JMSDestination " + dest(m.getJMSDestination()));
        if (m.getJMSRedelivered()) {
            report.note("JMSRedelivered=true");
        }
        return p;
    }

    static Object body(Message m, String kind) throws JMSException {
        switch (kind) {
            case Spec.TEXT:
                return ((TextMessage) m).getText();
            case Spec.BYTES: {
                BytesMessage b = (BytesMessage) m;
                byte[] data = new byte[(int) b.getBodyLength()];
                b.readBytes(data);
                return data;
            }
            case Spec.MAP: {
                MapMessage mm = (MapMessage) m;
                Map<String, Object> out = new LinkedHashMap<>();
                List<String> names = new ArrayList<>();
                for (Enumeration<?> en = mm.getMapNames(); en.hasMoreElements(); ) {
                    names.add((String) en.nextElement());
                }
                Collections.sort(names);
                for (String n : names) {
                    out.put(n, mm.getObject(n));
                }
                return out;
            }
            case Spec.STREAM: {
                StreamMessage sm = (StreamMessage) m;
                List<Object> out = new ArrayList<>();
                try {
                    while (true) {
                        out.add(sm.readObject());
                    }
                } catch (MessageEOFException eof) {
                    return out;
                }
            }
            case Spec.OBJECT:
                return ((ObjectMessage) m).getObject();
            default:
                return null;
        }
    }

    static String dest(Destination d) throws JMSException {
        if (d == null) return null;
        if (d instanceof TemporaryQueue) return "temp-queue:" + ((Queue) d).getQueueName();
        if (d instanceof TemporaryTopic) return "temp-topic:" + ((Topic) d).getTopicName();
        if (d instanceof Queue) return "queue:" + ((Queue) d).getQueueName();
        if (d instanceof Topic) return "topic:" + ((Topic) d).getTopicName();
        return d.toString();
    }

    static void eq(List<String> p, String field, Object want, Object got) {
        if (!Objects.equals(want, got)) {
            p.add(field + ": want " + Values.show(want) + ", got " + Values.show(got));
        }
    }
}
