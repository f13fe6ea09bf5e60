package cutover.jmstool;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The record file: what the client and broker assigned at send time, which
 * the checkers cannot recompute. First line "#jms-tool v1 count=N <options>",
 * then one line per message: "seq JMSMessageID JMSTimestamp JMSExpiration".
 */
final class Record {
    static final String MAGIC = "#jms-tool v1";

    final Spec.Options options;
    final int count;
    final String[] ids;
    final long[] timestamps;
    final long[] expirations;
    final Map<String, Integer> seqById = new HashMap<>();

    private Record(Spec.Options options, int count) {
        this.options = options;
        this.count = count;
        ids = new String[count];
        timestamps = new long[count];
        expirations = new long[count];
    }

    static BufferedWriter create(Path file, Spec.Options o, int count) throws IOException {
        BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        w.write(MAGIC + " count=" + count + " " + o.encode() + "\n");
        return w;
    }

    static void append(BufferedWriter w, int seq, String id, long ts, long exp) throws IOException {
        w.write(seq + " " + id + " " + ts + " " + exp + "\n");
    }

    static Record load(Path file) throws IOException {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String head = r.readLine();
            if (head == null || !head.startsWith(MAGIC)) {
                throw new IOException(file + ": not a jms-tool record file");
            }
            int count = -1;
            for (String kv : head.split(" ")) {
                if (kv.startsWith("count=")) {
                    count = Integer.parseInt(kv.substring(6));
                }
            }
            Record rec = new Record(Spec.Options.decode(head), count);
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
                rec.seqById.put(f[1], seq);
                n++;
            }
            if (n != count) {
                throw new IOException(file + ": " + n + " messages recorded, header says " + count
                        + " (did the send fail?)");
            }
            return rec;
        }
    }
}
