package cutover.jmstool;

import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * drain: consume every message of a queue, as the legacy application that
 * reads it would, until it has been quiet for --quiet seconds (2) or
 * --timeout (60) has passed. With --record (a send-xml record file), the
 * orders of that run must all be there, once, with the body and JMSPriority
 * they were sent with; other messages are counted, not judged.
 *
 * Prints one line; exit status 0, or 1 when an order of the record is
 * missing, twice or different.
 */
final class Drain {
    static int run(Args a) throws Exception {
        String queue = a.need("queue");
        long quietMs = a.intArg("quiet", 2) * 1000L;
        long deadline = System.currentTimeMillis() + a.intArg("timeout", 60) * 1000L;
        String recordFile = a.get("record", null);
        OrderRecord rec = recordFile == null ? null : OrderRecord.load(Path.of(recordFile));
        Map<String, Integer> seqById = new HashMap<>();
        int[] seen = new int[rec == null ? 0 : rec.count];
        for (int i = 0; rec != null && i < rec.count; i++) {
            seqById.put(rec.ids[i], i);
        }
        int total = 0, others = 0, different = 0;
        try (Connection conn = JmsTool.connect(a.need("url"))) {
            Session session = conn.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer consumer = session.createConsumer(session.createQueue(queue));
            conn.start();
            long quietUntil = System.currentTimeMillis() + quietMs;
            while (System.currentTimeMillis() < Math.min(quietUntil, deadline)) {
                Message m = consumer.receive(200);
                if (m == null) {
                    continue;
                }
                quietUntil = System.currentTimeMillis() + quietMs;
                total++;
                Integer seq = seqById.get(m.getJMSMessageID());
                if (seq == null) {
                    others++;
                    continue;
                }
                seen[seq]++;
                Order o = new Order(rec.options, seq);
                byte[] body = m instanceof TextMessage t ? Spec.utf8(t.getText())
                        : m instanceof BytesMessage b ? b.getBody(byte[].class) : null;
                if (!Arrays.equals(o.body(), body) || m.getJMSPriority() != o.priority
                        || (m instanceof BytesMessage) != o.bytesBody) {
                    if (different++ < 5) {
                        System.err.println("drain: order " + o.id + " differs from what was sent (body, priority "
                                + m.getJMSPriority() + " or kind " + m.getClass().getSimpleName() + ")");
                    }
                }
            }
        }
        if (rec == null) {
            System.out.printf("drained %d messages from %s%n", total, queue);
            return 0;
        }
        int missing = 0, dups = 0;
        for (int s : seen) {
            missing += s == 0 ? 1 : 0;
            dups += s > 1 ? s - 1 : 0;
        }
        System.out.printf("drained %d messages from %s: %d of the %d orders sent (missing=%d duplicates=%d "
                + "different=%d), %d others%n", total, queue, rec.count - missing, rec.count, missing, dups,
                different, others);
        return missing == 0 && dups == 0 && different == 0 ? 0 : 1;
    }
}
