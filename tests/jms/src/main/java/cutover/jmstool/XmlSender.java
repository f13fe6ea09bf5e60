package cutover.jmstool;

import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import java.io.BufferedWriter;
import java.nio.file.Path;

/**
 * send-xml: COUNT order documents (Order) to a queue as the legacy order
 * service sends them: a TextMessage (every 25th a BytesMessage) with the XML
 * body, JMSPriority, JMSCorrelationID, JMSType, TTL and the string
 * properties region and channel; persistent, in transactions of 500. The
 * record file gets what the client assigned (JMSMessageID, JMSTimestamp,
 * JMSExpiration). Prints one line: how many, and how many of them the
 * mapping should send, filter and dead-letter.
 */
final class XmlSender {
    static final int BATCH = 500;

    static int run(Args a) throws Exception {
        Order.Options o = new Order.Options();
        o.prefix = a.need("prefix");
        o.queue = a.need("queue");
        o.badEvery = a.intArg("bad-every", 0);
        int count = a.intArg("count", -1);
        if (count <= 0) {
            throw new IllegalArgumentException("--count must be > 0");
        }
        if (o.badEvery < 0 || o.badEvery == 1) {
            throw new IllegalArgumentException("--bad-every must be 0 (none) or >= 2");
        }
        Path recordFile = Path.of(a.need("record"));
        int send = 0, filtered = 0, bad = 0;
        long t0 = System.nanoTime();
        try (Connection conn = JmsTool.connect(a.need("url"));
             BufferedWriter rec = OrderRecord.create(recordFile, o, count)) {
            Session session = conn.createSession(true, Session.SESSION_TRANSACTED);
            MessageProducer producer = session.createProducer(session.createQueue(o.queue));
            for (int seq = 0; seq < count; seq++) {
                Order order = new Order(o, seq);
                Message m;
                if (order.bytesBody) {
                    BytesMessage b = session.createBytesMessage();
                    b.writeBytes(order.body());
                    m = b;
                } else {
                    m = session.createTextMessage(order.xml);
                }
                if (order.correlationId != null) {
                    m.setJMSCorrelationID(order.correlationId);
                }
                if (order.type != null) {
                    m.setJMSType(order.type);
                }
                if (order.region != null) {
                    m.setStringProperty("region", order.region);
                }
                if (order.channel != null) {
                    m.setStringProperty("channel", order.channel);
                }
                producer.send(m, DeliveryMode.PERSISTENT, order.priority, order.ttl);
                if ((seq + 1) % BATCH == 0) {
                    session.commit();
                }
                rec.write(seq + " " + m.getJMSMessageID() + " " + m.getJMSTimestamp() + " "
                        + m.getJMSExpiration() + "\n");
                if (order.bad != null) {
                    bad++;
                } else if (order.filtered()) {
                    filtered++;
                } else {
                    send++;
                }
            }
            session.commit();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("sent %d order documents to %s in %.1f s: %d to convert, %d the filter "
                + "drops, %d malformed (dead letters)%n", count, o.queue, secs, send, filtered, bad);
        return 0;
    }
}
