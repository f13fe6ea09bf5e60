package cutover.jmstool;

import jakarta.jms.BytesMessage;
import jakarta.jms.CompletionListener;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Destination;
import jakarta.jms.JMSException;
import jakarta.jms.MapMessage;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.ObjectMessage;
import jakarta.jms.Session;
import jakarta.jms.StreamMessage;
import java.io.BufferedWriter;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * send: COUNT deterministic messages (see Spec) to a queue, persistent ones
 * in transactions of BATCH (one journal sync per batch on Artemis) or, with
 * --async, as JMS 2.0 asynchronous sends with a bounded window of
 * outstanding completions. Prints nothing per message; the record file gets
 * what the client assigned (JMSMessageID, JMSTimestamp, JMSExpiration).
 */
final class Sender {
    static final int BATCH = 500;
    static final int WINDOW = 1000;

    static int run(Args a) throws Exception {
        Spec.Options o = new Spec.Options();
        o.prefix = a.need("prefix");
        o.queue = a.need("queue");
        o.allKinds = !a.flag("basic-kinds");
        o.priorityCycle = a.flag("priority-cycle");
        o.persistentOnly = a.flag("persistent-only");
        o.small = a.flag("small");
        o.idType = a.get("id-type", "DEFAULT").toUpperCase();
        int count = a.intArg("count", -1);
        int start = 0;
        boolean async = a.flag("async");
        Path recordFile = Path.of(a.need("record"));
        if (count <= 0) {
            throw new IllegalArgumentException("--count must be > 0");
        }
        String url = JmsTool.withOption(a.need("url"), "jms.messageIDPolicy.messageIDType", o.idType);
        long t0 = System.nanoTime();
        try (Connection conn = JmsTool.connect(url);
             BufferedWriter rec = Record.create(recordFile, o, count)) {
            Session session = conn.createSession(!async, async ? Session.AUTO_ACKNOWLEDGE : Session.SESSION_TRANSACTED);
            Destination queue = session.createQueue(o.queue);
            MessageProducer producer = session.createProducer(queue);
            Semaphore window = new Semaphore(WINDOW);
            AtomicReference<Exception> failure = new AtomicReference<>();
            CompletionListener done = new CompletionListener() {
                @Override
                public void onCompletion(Message m) {
                    window.release();
                }

                @Override
                public void onException(Message m, Exception e) {
                    failure.compareAndSet(null, e);
                    window.release();
                }
            };
            for (int seq = start; seq < start + count; seq++) {
                Spec spec = new Spec(o, seq);
                Message m = build(session, spec);
                int mode = spec.persistent ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT;
                if (async) {
                    if (!window.tryAcquire(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("no send completion within 60 s");
                    }
                    producer.send(m, mode, spec.priority, spec.ttl, done);
                } else {
                    producer.send(m, mode, spec.priority, spec.ttl);
                    if ((seq - start + 1) % BATCH == 0) {
                        session.commit();
                    }
                }
                if (failure.get() != null) {
                    throw failure.get();
                }
                /* The id, timestamp and expiration are set on m by send(). */
                Record.append(rec, seq, m.getJMSMessageID(), m.getJMSTimestamp(), m.getJMSExpiration());
            }
            if (async) {
                if (!window.tryAcquire(WINDOW, 120, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("sends not completed within 120 s");
                }
                if (failure.get() != null) {
                    throw failure.get();
                }
            } else {
                session.commit();
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("sent %d messages to %s (%s) in %.1f s, %.0f msg/s%n", count, o.queue,
                async ? "async, all completed" : "transacted, all committed", secs, count / secs);
        return 0;
    }

    static Message build(Session session, Spec spec) throws JMSException {
        Message m;
        switch (spec.kind) {
            case Spec.TEXT -> m = session.createTextMessage((String) spec.body);
            case Spec.BYTES -> {
                BytesMessage b = session.createBytesMessage();
                b.writeBytes((byte[]) spec.body);
                m = b;
            }
            case Spec.MAP -> {
                MapMessage mm = session.createMapMessage();
                for (Map.Entry<String, Object> e : ((Map<String, Object>) spec.body).entrySet()) {
                    mm.setObject(e.getKey(), e.getValue());
                }
                m = mm;
            }
            case Spec.STREAM -> {
                StreamMessage sm = session.createStreamMessage();
                for (Object v : (List<Object>) spec.body) {
                    sm.writeObject(v);
                }
                m = sm;
            }
            case Spec.OBJECT -> m = session.createObjectMessage((Serializable) spec.body);
            default -> m = session.createMessage();
        }
        if (spec.correlationId != null) {
            m.setJMSCorrelationID(spec.correlationId);
        }
        if (spec.type != null) {
            m.setJMSType(spec.type);
        }
        if (spec.replyTo != null) {
            m.setJMSReplyTo(spec.replyToTopic ? session.createTopic(spec.replyTo) : session.createQueue(spec.replyTo));
        }
        if (spec.groupId != null) {
            m.setStringProperty("JMSXGroupID", spec.groupId);
            m.setIntProperty("JMSXGroupSeq", spec.groupSeq);
        }
        for (Map.Entry<String, Object> e : spec.props.entrySet()) {
            Object v = e.getValue();
            if (v == null) {
                m.setStringProperty(e.getKey(), null);
            } else {
                m.setObjectProperty(e.getKey(), v);
            }
        }
        return m;
    }
}
