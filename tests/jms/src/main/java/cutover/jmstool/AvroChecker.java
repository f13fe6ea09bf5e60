package cutover.jmstool;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericArray;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.util.Utf8;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * check-avro: read the topics of an order flow from the beginning and check
 * every order send-xml sent against what mappings/orders.yaml documents:
 *
 * - a good order is on the topic of its priority (--lanes, else --topic)
 *   exactly once; the value is in the Confluent wire format (magic 0, the
 *   schema id big-endian, the Avro binary); the writer schema is fetched
 *   from the registry by that id (GET /schemas/ids/ID) and the value is
 *   decoded with Apache Avro's Java library, logical types converted
 *   (timestamp-millis, date, decimal); every field equals the expected one,
 *   and no byte is left over; the key is the order id; the headers are
 *   exactly the mapping's (Order.expectedHeaders);
 * - a filtered order is on no topic;
 * - a malformed order is on --dlq-topic only, with the original body byte
 *   for byte, no key, dead_letter.reason naming the problem,
 *   dead_letter.flow (--flow), dead_letter.source (the queue),
 *   dead_letter.time and message_id;
 * - with --schema FILE, the registry's schema equals that .avsc (logical
 *   types, defaults and doc included), and each topic's subject
 *   TOPIC-value has that id as its latest version.
 *
 * Records of other runs (unknown message_id) are counted as foreign, not
 * failures. --show N prints the first N good records decoded.
 *
 * Exit status: 0 everything as expected; 1 a difference; 2 usage or
 * connection errors.
 */
final class AvroChecker {
    static final int SHOW = 20;
    /* timestamp-millis as docs/mappings.md renders it: 2024-03-01T10:15:00.000Z */
    static final DateTimeFormatter MILLIS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final OrderRecord rec;
    private final String mainTopic;
    private final String dlqTopic;
    private final String flow;
    private final String registry;
    private final Schema localSchema;
    private final List<int[]> laneRanges = new ArrayList<>();
    private final List<String> laneTopics = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ObjectMapper json = new ObjectMapper();
    private final Map<Integer, Schema> schemas = new HashMap<>();
    private final GenericData model = new GenericData();

    private final Order[] orders;
    private final Map<String, Integer> seqByMessageId = new HashMap<>();
    private final int[] seen;
    private final Map<String, Integer> readByTopic = new TreeMap<>();
    private final Map<String, Integer> foreignByTopic = new TreeMap<>();
    private final Map<String, TreeSet<Integer>> idsByTopic = new TreeMap<>();
    private final Map<String, Integer> problemsByField = new TreeMap<>();
    private final List<String> shown = new ArrayList<>();
    private final Map<String, Integer> notes = new TreeMap<>();
    private int mismatched;
    private int toShow;
    private final java.util.Set<String> shownTopics = new java.util.HashSet<>();

    private AvroChecker(Args a) throws Exception {
        rec = OrderRecord.load(Path.of(a.need("record")));
        mainTopic = a.need("topic");
        dlqTopic = a.get("dlq-topic", null);
        flow = a.get("flow", null);
        String r = a.need("registry");
        registry = r.endsWith("/") ? r.substring(0, r.length() - 1) : r;
        String schemaFile = a.get("schema", null);
        localSchema = schemaFile == null ? null : new Schema.Parser().parse(new File(schemaFile));
        String lanes = a.get("lanes", "");
        for (String lane : lanes.isEmpty() ? new String[0] : lanes.split(",")) {
            int eq = lane.indexOf('=');
            String range = lane.substring(0, Math.max(eq, 0));
            if (eq < 0 || range.isEmpty()) {
                throw new IllegalArgumentException("--lanes: RANGE=TOPIC,... (\"7-9=orders.rush\"), got " + lane);
            }
            String[] lh = range.split("-");
            int lo = Integer.parseInt(lh[0]), hi = Integer.parseInt(lh[lh.length - 1]);
            laneRanges.add(new int[] {lo, hi});
            laneTopics.add(lane.substring(eq + 1));
        }
        toShow = a.intArg("show", 0);
        model.addLogicalTypeConversion(new Conversions.DecimalConversion());
        model.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());
        model.addLogicalTypeConversion(new TimeConversions.DateConversion());

        orders = new Order[rec.count];
        seen = new int[rec.count];
        for (int i = 0; i < rec.count; i++) {
            orders[i] = new Order(rec.options, i);
            seqByMessageId.put(Spec.kafkaId(rec.ids[i], false)[0], i);
        }
    }

    static int run(Args a) throws Exception {
        return new AvroChecker(a).check(a);
    }

    /** The topic a good order belongs on. */
    private String topicOf(Order o) {
        for (int i = 0; i < laneRanges.size(); i++) {
            if (o.priority >= laneRanges.get(i)[0] && o.priority <= laneRanges.get(i)[1]) {
                return laneTopics.get(i);
            }
        }
        return mainTopic;
    }

    private boolean expected(Order o) {
        return o.bad != null || !o.filtered();
    }

    private int check(Args a) throws Exception {
        List<String> topics = new ArrayList<>();
        topics.add(mainTopic);
        topics.addAll(laneTopics);
        if (dlqTopic != null) {
            topics.add(dlqTopic);
        }
        int want = 0;
        for (Order o : orders) {
            want += expected(o) ? 1 : 0;
        }
        long deadline = System.currentTimeMillis() + a.intArg("timeout", 120) * 1000L;
        long quietMs = a.intArg("quiet", 3) * 1000L;
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap", "127.0.0.1:9092"));
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        int distinct = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            List<String> pending = new ArrayList<>(topics);
            long quietUntil = 0, lookup = 0;
            while (System.currentTimeMillis() < deadline) {
                /* Topics appear when the bridge first writes to them (a lane or
                 * the dead-letter topic may never be created): look again now and then. */
                if (!pending.isEmpty() && System.currentTimeMillis() >= lookup) {
                    lookup = System.currentTimeMillis() + 1000;
                    List<TopicPartition> added = new ArrayList<>();
                    for (String t : new ArrayList<>(pending)) {
                        List<PartitionInfo> infos = consumer.partitionsFor(t, Duration.ofSeconds(2));
                        if (infos != null && !infos.isEmpty()) {
                            for (PartitionInfo pi : infos) {
                                added.add(new TopicPartition(t, pi.partition()));
                            }
                            pending.remove(t);
                            idsByTopic.put(t, new TreeSet<>());
                        }
                    }
                    if (!added.isEmpty()) {
                        parts.addAll(added);
                        consumer.assign(parts); /* positions of the partitions already read are kept */
                        consumer.seekToBeginning(added);
                    }
                }
                if (quietUntil == 0 && distinct == want) {
                    quietUntil = System.currentTimeMillis() + quietMs;
                }
                if (quietUntil != 0 && System.currentTimeMillis() >= quietUntil) {
                    break;
                }
                if (parts.isEmpty()) {
                    Thread.sleep(500);
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    readByTopic.merge(r.topic(), 1, Integer::sum);
                    Header idh = r.headers().lastHeader("message_id");
                    String mid = idh == null || idh.value() == null ? null : new String(idh.value(), StandardCharsets.UTF_8);
                    Integer seq = mid == null ? null : seqByMessageId.get(mid);
                    if (seq == null) {
                        foreignByTopic.merge(r.topic(), 1, Integer::sum);
                        continue;
                    }
                    if (seen[seq]++ == 0 && expected(orders[seq])) {
                        distinct++;
                    }
                    idsByTopic.get(r.topic()).add(seq);
                    List<String> p = new ArrayList<>();
                    checkRecord(r, orders[seq], p);
                    report(orders[seq], r, p);
                    if (quietUntil != 0) {
                        quietUntil = System.currentTimeMillis() + quietMs;
                    }
                }
            }
        }
        List<String> p = new ArrayList<>();
        if (localSchema != null) {
            checkSubjects(p);
        }
        return finish(want, distinct, p, a.flag("allow-duplicates"));
    }

    private void checkRecord(ConsumerRecord<byte[], byte[]> r, Order o, List<String> p) throws Exception {
        if (o.bad != null) {
            if (!r.topic().equals(dlqTopic)) {
                p.add("topic: a malformed order (" + o.bad + ") is on " + r.topic() + ", want the dead-letter topic "
                        + dlqTopic);
                return;
            }
            checkDeadLetter(r, o, p);
            return;
        }
        if (o.filtered()) {
            p.add("filter: priority " + o.priority + " region " + o.region + " must be filtered out, found on "
                    + r.topic());
            return;
        }
        if (r.topic().equals(dlqTopic)) {
            Header h = r.headers().lastHeader("dead_letter.reason");
            p.add("topic: a good order was dead-lettered: "
                    + (h == null ? "(no reason)" : new String(h.value(), StandardCharsets.UTF_8)));
            return;
        }
        if (!r.topic().equals(topicOf(o))) {
            p.add("topic: priority " + o.priority + " belongs on " + topicOf(o) + ", found on " + r.topic());
        }
        String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
        if (!o.id.equals(key)) {
            p.add("key: want \"" + o.id + "\", got " + (r.key() == null ? "none" : Values.showBytes(r.key())));
        }
        checkHeaders(r, o.expectedHeaders(rec.ids[o.seq], rec.timestamps[o.seq], rec.expirations[o.seq]), p);
        Map<String, Object> got = decode(r.value(), p);
        if (got == null) {
            return;
        }
        compare("field ", o.value, got, p);
        /* The first good record of each topic first, then any. */
        if (toShow > 0 && p.isEmpty() && (shownTopics.add(r.topic()) || shownTopics.size() > laneTopics.size())) {
            toShow--;
            show(r, got);
        }
    }

    private void checkHeaders(ConsumerRecord<byte[], byte[]> r, Map<String, String> want, List<String> p) {
        Map<String, byte[]> got = new LinkedHashMap<>();
        for (Header h : r.headers()) {
            if (got.containsKey(h.key())) {
                p.add("header " + h.key() + ": present twice");
            }
            got.put(h.key(), h.value());
        }
        for (Map.Entry<String, String> e : want.entrySet()) {
            byte[] v = got.remove(e.getKey());
            if (v == null) {
                if (e.getKey().equals("priority") && e.getValue().equals("4")) {
                    /* docs/connectors.md: Qpid JMS leaves priority 4 off the wire. */
                    note("priority header absent for JMSPriority 4 (not on the wire; documented)");
                    continue;
                }
                p.add("header " + e.getKey() + ": missing (want " + e.getValue() + ")");
            } else if (!Arrays.equals(v, e.getValue().getBytes(StandardCharsets.UTF_8))) {
                p.add("header " + e.getKey() + ": want \"" + e.getValue() + "\", got " + Values.showBytes(v));
            }
        }
        for (Map.Entry<String, byte[]> e : got.entrySet()) {
            p.add("header " + e.getKey() + ": unexpected (value " + Values.showBytes(e.getValue()) + ")");
        }
    }

    private void checkDeadLetter(ConsumerRecord<byte[], byte[]> r, Order o, List<String> p) {
        if (!Arrays.equals(o.body(), r.value())) {
            p.add("dead-letter value: not the original body: want " + Values.show(o.body()) + ", got "
                    + Values.show(r.value()));
        }
        if (r.key() != null) {
            p.add("dead-letter key: want none, got " + Values.showBytes(r.key()));
        }
        String reason = header(r, "dead_letter.reason");
        if (reason == null || !reason.contains(o.badReason)) {
            p.add("header dead_letter.reason: want one containing \"" + o.badReason + "\", got "
                    + (reason == null ? "none" : "\"" + reason + "\""));
        }
        if (flow != null && !flow.equals(header(r, "dead_letter.flow"))) {
            p.add("header dead_letter.flow: want \"" + flow + "\", got " + header(r, "dead_letter.flow"));
        }
        if (!rec.options.queue.equals(header(r, "dead_letter.source"))) {
            p.add("header dead_letter.source: want \"" + rec.options.queue + "\", got " + header(r, "dead_letter.source"));
        }
        String time = header(r, "dead_letter.time");
        long now = System.currentTimeMillis();
        if (time == null || !time.matches("[0-9]+") || Long.parseLong(time) < rec.timestamps[o.seq] - 60_000
                || Long.parseLong(time) > now + 60_000) {
            p.add("header dead_letter.time: want ms since the epoch after the send, got " + time);
        }
        String mid = header(r, "message_id");
        if (!Spec.kafkaId(rec.ids[o.seq], false)[0].equals(mid)) {
            p.add("header message_id: want " + rec.ids[o.seq] + ", got " + mid);
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The Confluent wire format, the writer schema from the registry, the value decoded and normalised. */
    private Map<String, Object> decode(byte[] v, List<String> p) throws Exception {
        if (v == null || v.length < 5 || v[0] != 0) {
            p.add("value: not the Confluent wire format (magic byte 0, 4-byte id): " + Values.show(v));
            return null;
        }
        int id = ByteBuffer.wrap(v, 1, 4).getInt();
        Schema writer = schema(id, p);
        if (writer == null) {
            return null;
        }
        GenericDatumReader<Object> reader = new GenericDatumReader<>(writer, writer, model);
        BinaryDecoder dec = DecoderFactory.get().binaryDecoder(v, 5, v.length - 5, null);
        Object rec;
        try {
            rec = reader.read(null, dec);
        } catch (Exception ex) {
            p.add("value: the Avro binary does not decode with schema id " + id + ": " + ex);
            return null;
        }
        if (!dec.isEnd()) {
            p.add("value: bytes left over after the record (schema id " + id + ")");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) normalise(rec);
        return m;
    }

    /** The schema of @p id, from the registry (cached); null after reporting why not. */
    private Schema schema(int id, List<String> p) throws Exception {
        if (schemas.containsKey(id)) {
            return schemas.get(id);
        }
        HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        Schema s = null;
        if (resp.statusCode() != 200) {
            p.add("schema id " + id + ": the registry answers HTTP " + resp.statusCode() + ": " + Values.clip(resp.body()));
        } else {
            JsonNode body = json.readTree(resp.body());
            String type = body.path("schemaType").asText("AVRO");
            if (!type.equals("AVRO")) {
                p.add("schema id " + id + ": schemaType " + type + ", want AVRO");
            }
            s = new Schema.Parser().parse(body.path("schema").asText());
            String problem = schemaProblem(s);
            if (problem != null) {
                p.add("schema id " + id + ": " + problem);
            }
        }
        schemas.put(id, s);
        return s;
    }

    /** Why the registry's schema is not the local .avsc (equal, doc and logical types included), or null. */
    private String schemaProblem(Schema s) {
        if (localSchema == null) {
            return null;
        }
        if (!s.equals(localSchema)) {
            return "differs from the local .avsc: " + Values.clip(s.toString());
        }
        if (!Objects.equals(s.getDoc(), localSchema.getDoc())) {
            return "doc \"" + s.getDoc() + "\", want \"" + localSchema.getDoc() + "\"";
        }
        for (String f : new String[] {"placed_at", "total"}) {
            if (s.getField(f).schema().getLogicalType() == null) {
                return "field " + f + " lost its logicalType";
            }
        }
        return null;
    }

    /** Each topic's subject TOPIC-value: its latest version is the schema the records carry. */
    private void checkSubjects(List<String> p) throws Exception {
        for (String t : idsByTopic.keySet()) {
            if (t.equals(dlqTopic) || idsByTopic.get(t).isEmpty()) {
                continue;
            }
            String subject = t + "-value";
            HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create(registry + "/subjects/"
                    + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions/latest"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                p.add("subject " + subject + ": HTTP " + resp.statusCode());
                continue;
            }
            int id = json.readTree(resp.body()).path("id").asInt(-1);
            Schema s = schemas.get(id);
            if (s == null && schema(id, p) == null) {
                continue;
            }
            System.err.println("subject " + subject + ": latest version has schema id " + id);
            if (!usedIds.getOrDefault(t, new TreeSet<>()).equals(new TreeSet<>(List.of(id)))) {
                p.add("subject " + subject + ": latest id " + id + ", the records carry ids " + usedIds.get(t));
            }
        }
    }

    private final Map<String, TreeSet<Integer>> usedIds = new TreeMap<>();

    /** Avro's generic values as plain Java: String, Integer, Boolean, Instant, LocalDate, BigDecimal, Map, List. */
    static Object normalise(Object v) {
        if (v instanceof GenericRecord g) {
            LinkedHashMap<String, Object> m = new LinkedHashMap<>();
            for (Schema.Field f : g.getSchema().getFields()) {
                m.put(f.name(), normalise(g.get(f.pos())));
            }
            return m;
        }
        if (v instanceof GenericArray<?> || v instanceof List<?>) {
            List<Object> l = new ArrayList<>();
            for (Object x : (List<?>) v) {
                l.add(normalise(x));
            }
            return l;
        }
        if (v instanceof Utf8 || v instanceof GenericEnumSymbol<?>) {
            return v.toString();
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    static void compare(String path, Object want, Object got, List<String> p) {
        if (want instanceof Map<?, ?> wm && got instanceof Map<?, ?> gm) {
            String sep = path.endsWith(" ") ? "" : ".";
            for (Map.Entry<String, Object> e : ((Map<String, Object>) wm).entrySet()) {
                if (!gm.containsKey(e.getKey())) {
                    p.add(path + sep + e.getKey() + ": missing in the record");
                    continue;
                }
                compare(path + sep + e.getKey(), e.getValue(), gm.get(e.getKey()), p);
            }
            for (Object k : gm.keySet()) {
                if (!wm.containsKey(k)) {
                    p.add(path + sep + k + ": unexpected field");
                }
            }
            return;
        }
        if (want instanceof List<?> wl && got instanceof List<?> gl) {
            if (wl.size() != gl.size()) {
                p.add(path + ": want " + wl.size() + " items, got " + gl.size() + ": " + render(got));
                return;
            }
            for (int i = 0; i < wl.size(); i++) {
                compare(path + "[" + i + "]", wl.get(i), gl.get(i), p);
            }
            return;
        }
        boolean same = want == null ? got == null
                : got != null && want.getClass() == got.getClass() && want.equals(got);
        if (!same) {
            p.add(path + ": want " + render(want) + typeOf(want) + ", got " + render(got) + typeOf(got));
        }
    }

    private static String typeOf(Object v) {
        return v == null ? "" : " (" + v.getClass().getSimpleName() + ")";
    }

    /** JSON as docs/mappings.md renders values: logical types as strings. */
    static String render(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(sb.length() > 1 ? ", " : "").append('"').append(e.getKey()).append("\": ").append(render(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (Object x : l) {
                sb.append(sb.length() > 1 ? ", " : "").append(render(x));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Instant i) {
            return "\"" + MILLIS.format(i) + "\"";
        }
        if (v instanceof LocalDate || v instanceof BigDecimal) {
            return "\"" + (v instanceof BigDecimal b ? b.toPlainString() : v.toString()) + "\"";
        }
        if (v instanceof String s) {
            return json(s);
        }
        if (v instanceof ByteBuffer b) {
            return "bytes" + Values.show(Arrays.copyOfRange(b.array(), b.position(), b.limit()));
        }
        return String.valueOf(v);
    }

    private static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private void show(ConsumerRecord<byte[], byte[]> r, Map<String, Object> got) {
        int id = ByteBuffer.wrap(r.value(), 1, 4).getInt();
        StringBuilder h = new StringBuilder();
        for (Header x : r.headers()) {
            h.append(h.length() > 0 ? ", " : "").append(x.key()).append('=')
                    .append(x.value() == null ? "null" : new String(x.value(), StandardCharsets.UTF_8));
        }
        System.out.printf("%s [partition %d, offset %d]  key %s  schema id %d  %d bytes%n  headers: %s%n",
                r.topic(), r.partition(), r.offset(), new String(r.key(), StandardCharsets.UTF_8), id,
                r.value().length, h);
        for (Map.Entry<String, Object> e : got.entrySet()) {
            System.out.printf("    %-14s %s%n", e.getKey() + ":", render(e.getValue()));
        }
    }

    private void note(String what) {
        notes.merge(what, 1, Integer::sum);
    }

    private void report(Order o, ConsumerRecord<byte[], byte[]> r, List<String> p) {
        if (r.value() != null && r.value().length >= 5 && r.value()[0] == 0 && o.bad == null) {
            usedIds.computeIfAbsent(r.topic(), k -> new TreeSet<>()).add(ByteBuffer.wrap(r.value(), 1, 4).getInt());
        }
        if (p.isEmpty()) {
            return;
        }
        mismatched++;
        for (String s : p) {
            String field = s.substring(0, Math.max(0, s.indexOf(':')));
            int n = problemsByField.merge(field, 1, Integer::sum);
            if (shown.size() < SHOW && n <= 4) {
                shown.add("seq " + o.seq + " (" + o.id + ", " + r.topic() + " " + r.partition() + "/" + r.offset()
                        + "): " + s);
            }
        }
    }

    private int finish(int want, int distinct, List<String> p, boolean allowDuplicates) {
        int good = 0, bad = 0, filtered = 0, missing = 0, dups = 0, filteredSeen = 0;
        StringBuilder miss = new StringBuilder();
        for (Order o : orders) {
            if (o.bad != null) {
                bad++;
            } else if (o.filtered()) {
                filtered++;
                filteredSeen += seen[o.seq] > 0 ? 1 : 0;
                continue;
            } else {
                good++;
            }
            if (seen[o.seq] == 0) {
                missing++;
                if (missing <= SHOW) {
                    miss.append(' ').append(o.seq).append(o.bad != null ? "(" + o.bad + ")" : "");
                }
            } else if (seen[o.seq] > 1) {
                dups += seen[o.seq] - 1;
            }
        }
        for (String s : p) {
            System.err.println("mismatch: " + s);
        }
        for (String s : shown) {
            System.err.println("mismatch: " + s);
        }
        for (Map.Entry<String, Integer> e : problemsByField.entrySet()) {
            System.err.println("mismatched " + e.getKey() + ": " + e.getValue() + " records");
        }
        for (Map.Entry<String, Integer> e : notes.entrySet()) {
            System.err.println("note: " + e.getKey() + ": " + e.getValue());
        }
        if (missing > 0) {
            System.err.println("missing seqs:" + miss + (missing > SHOW ? " ..." : ""));
        }
        StringBuilder per = new StringBuilder();
        for (String t : idsByTopic.keySet()) {
            per.append(per.length() > 0 ? " " : "").append(t).append('=').append(idsByTopic.get(t).size())
                    .append("(read=").append(readByTopic.getOrDefault(t, 0)).append(",foreign=")
                    .append(foreignByTopic.getOrDefault(t, 0)).append(')');
        }
        int foreign = foreignByTopic.values().stream().mapToInt(Integer::intValue).sum();
        System.out.printf("orders=%d converted=%d filtered=%d malformed=%d expected=%d distinct=%d missing=%d "
                        + "duplicates=%d foreign=%d mismatched=%d schema_ids=%s topics: %s%n",
                orders.length, good, filtered, bad, want, distinct, missing, dups, foreign, mismatched + p.size(),
                usedIds.values().stream().flatMap(TreeSet::stream).distinct().sorted().toList().toString()
                        .replace(" ", ""), per);
        boolean ok = missing == 0 && (dups == 0 || allowDuplicates) && mismatched == 0 && p.isEmpty()
                && filteredSeen == 0;
        return ok ? 0 : 1;
    }
}
