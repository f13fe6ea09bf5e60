package cutover.jmstool;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The record file of send-xml: first line "#jms-tool orders v1 count=N
 * <options>", then "seq JMSMessageID JMSTimestamp JMSExpiration" per order,
 * as Record does for send.
 */
final class OrderRecord {
    static final String MAGIC = "#jms-tool orders v1";

    final Order.Options options;
    final int count;
    final String[] ids;
    final long[] timestamps;
    final long[] expirations;

    private OrderRecord(Order.Options options, int count) {
        this.options = options;
        this.count = count;
        ids = new String[count];
        timestamps = new long[count];
        expirations = new long[count];
    }

    static BufferedWriter create(Path file, Order.Options o, int count) throws IOException {
        BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        w.write(MAGIC + " count=" + count + " " + o.encode() + "\n");
        return w;
    }

    static OrderRecord load(Path file) throws IOException {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String head = r.readLine();
            if (head == null || !head.startsWith(MAGIC)) {
                throw new IOException(file + ": not a send-xml record file");
            }
            int count = -1;
            for (String kv : head.split(" ")) {
                if (kv.startsWith("count=")) {
                    count = Integer.parseInt(kv.substring(6));
                }
            }
            OrderRecord rec = new OrderRecord(Order.Options.decode(head), count);
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                String[] f = line.split(" ");
                if (f.length != 4) {
                    throw new IOException(file + ": bad line: " + line);
                }
                int seq = Integer.parseInt(f[0]);
                rec.ids[seq] = f[1];
                rec.timestamps[seq] = Long.parseLong(f[2]);
                rec.expirations[seq] = Long.parseLong(f[3]);
                n++;
            }
            if (n != count) {
                throw new IOException(file + ": " + n + " orders recorded, header says " + count
                        + " (did the send fail?)");
            }
            return rec;
        }
    }
}
