package cutover.jmstool;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.QueueBrowser;
import jakarta.jms.Session;
import java.util.Enumeration;
import java.util.Set;
import org.apache.qpid.jms.JmsConnectionFactory;

/**
 * jms-tool: the JMS side of the integration tests. Modes:
 *
 *   send        --url U --queue Q --count N --prefix P --record FILE
 *               [--priority-cycle] [--async] [--basic-kinds] [--persistent-only]
 *               [--small] [--id-type DEFAULT|UUID|UUID_STRING|PREFIXED_UUID_STRING]
 *   check-jms   --url U --queue Q --record FILE [--count N --prefix P]
 *               [--timeout S] [--quiet S] [--allow-duplicates] [--required-kinds K,K]
 *               [--ids-only]
 *   check-kafka --bootstrap B --topic T --record FILE [--count N --prefix P]
 *               [--timeout S] [--quiet S] [--allow-duplicates] [--required-kinds K,K]
 *               [--ids-only]
 *   depth       --url U --queue Q          (messages a browser sees on Q)
 *   send-xml    --url U --queue Q --count N --prefix P --record FILE [--bad-every K]
 *               (order documents, see Order: what mappings/orders.yaml converts,
 *               filters and, every K-th with K > 0, dead-letters)
 *   check-avro  --bootstrap B --topic T --registry URL --record FILE
 *               [--lanes 7-9=T2,...] [--dlq-topic T3] [--flow NAME] [--schema FILE.avsc]
 *               [--timeout S] [--quiet S] [--allow-duplicates] [--show N]
 *               (the Avro records of those orders, decoded with the registry's
 *               schema, and the dead letters; see AvroChecker)
 *   drain       --url U --queue Q [--record FILE] [--quiet S] [--timeout S]
 *               (consumes Q as its legacy reader would; with a send-xml record,
 *               checks that every order of it is there once, unchanged)
 *   produce-reference --bootstrap B --topic T --record FILE [--break HEADER]
 *               (writes what docs/connectors.md says the bridge writes: a
 *               self-test of check-kafka, not a test of the bridge)
 *
 * --ids-only: only presence and duplicates (by id), no field comparison.
 *
 * Exit status of the checks: 0 every message present once and equal; 3 only
 * messages of kinds outside --required-kinds (default: all kinds) differ;
 * 1 otherwise; 2 usage or connection errors.
 */
public final class JmsTool {
    public static void main(String[] argv) {
        /* Before any logger exists: clients talk only when something is wrong. */
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        int rc;
        try {
            if (argv.length == 0) {
                throw new IllegalArgumentException("no mode");
            }
            Args a = new Args(argv, 1);
            rc = switch (argv[0]) {
                case "send" -> Sender.run(a);
                case "check-jms" -> JmsChecker.run(a);
                case "check-kafka" -> KafkaChecker.run(a);
                case "depth" -> depth(a);
                case "produce-reference" -> Reference.run(a);
                case "send-xml" -> XmlSender.run(a);
                case "check-avro" -> AvroChecker.run(a);
                case "drain" -> Drain.run(a);
                default -> throw new IllegalArgumentException("unknown mode " + argv[0]);
            };
        } catch (IllegalArgumentException ex) {
            System.err.println("jms-tool: " + ex.getMessage());
            System.err.println("usage: jms-tool send|check-jms|check-kafka|depth|send-xml|check-avro|drain --option value ... "
                    + "(see tests/jms/src/main/java/cutover/jmstool/JmsTool.java)");
            rc = 2;
        } catch (Exception ex) {
            System.err.println("jms-tool: " + ex);
            rc = 2;
        }
        System.exit(rc);
    }

    static Connection connect(String url) throws JMSException {
        Connection conn = new JmsConnectionFactory(url).createConnection();
        conn.setExceptionListener(ex -> System.err.println("jms-tool: connection: " + ex));
        return conn;
    }

    /** @p url with ?name=value added (or &name=value). */
    static String withOption(String url, String name, String value) {
        return url + (url.contains("?") ? "&" : "?") + name + "=" + value;
    }

    static Set<String> requiredKinds(Args a) {
        String k = a.get("required-kinds", "text,bytes,map,stream,object,message");
        return Set.of(k.split(","));
    }

    static int depth(Args a) throws JMSException {
        try (Connection conn = connect(a.need("url"))) {
            Session session = conn.createSession(false, Session.AUTO_ACKNOWLEDGE);
            conn.start();
            QueueBrowser browser = session.createBrowser(session.createQueue(a.need("queue")));
            int n = 0;
            for (Enumeration<?> en = browser.getEnumeration(); en.hasMoreElements(); en.nextElement()) {
                n++;
            }
            System.out.println(n);
        }
        return 0;
    }
}
