package cutover.jmstool;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a checker found: per sequence number how often it was seen, and the
 * field mismatches (the first 20 in full, all of them counted per field and
 * per body kind). Prints the summary line and decides the exit status.
 */
final class Report {
    static final int SHOW = 20;      /* mismatch lines shown at most... */
    static final int SHOW_FIELD = 4; /* ...and at most this many per field */

    final String what;
    final int count;
    final int[] seen;
    long read;
    long foreign;
    long mismatched; /* messages with at least one mismatch */
    final List<String> shown = new ArrayList<>();
    final Map<String, Integer> byField = new TreeMap<>();
    final Map<String, int[]> byKind = new TreeMap<>(); /* kind -> {messages, bad} */
    final Map<String, Integer> notes = new TreeMap<>();
    final List<String> foreignShown = new ArrayList<>();
    final List<String> duplicateIds = new ArrayList<>();

    Report(String what, int count) {
        this.what = what;
        this.count = count;
        this.seen = new int[count];
    }

    int distinct() {
        int d = 0;
        for (int s : seen) {
            if (s > 0) {
                d++;
            }
        }
        return d;
    }

    long duplicates() {
        long d = 0;
        for (int s : seen) {
            if (s > 1) {
                d += s - 1;
            }
        }
        return d;
    }

    /** Count something worth telling that is not a failure. */
    void note(String what) {
        notes.merge(what, 1, Integer::sum);
    }

    void foreign(String desc) {
        foreign++;
        if (foreignShown.size() < 5) {
            foreignShown.add(desc);
        }
    }

    /** One message checked: its mismatches ("field: want X, got Y"), maybe none. */
    void message(Spec spec, String id, List<String> problems) {
        int[] k = byKind.computeIfAbsent(spec.kind, x -> new int[2]);
        if (seen[spec.seq]++ > 0) {
            if (duplicateIds.size() < SHOW) {
                duplicateIds.add(spec.cutId + " (" + id + ")");
            }
        } else {
            k[0]++;
        }
        if (problems.isEmpty()) {
            return;
        }
        mismatched++;
        k[1]++;
        for (String p : problems) {
            String field = p.substring(0, Math.max(0, p.indexOf(':')));
            int n = byField.merge(field, 1, Integer::sum);
            if (shown.size() < SHOW && n <= SHOW_FIELD) {
                shown.add("seq " + spec.seq + " (" + spec.kind + ", " + id + "): " + p);
            }
        }
    }

    /**
     * Print everything and return the exit status: 0 all present, none twice
     * (unless allowed) and every field equal; 3 when only messages of kinds
     * outside requiredKinds differ; 1 otherwise.
     */
    int finish(boolean allowDuplicates, java.util.Set<String> requiredKinds) {
        int distinct = distinct();
        long missing = count - distinct;
        long dups = duplicates();
        StringBuilder kinds = new StringBuilder();
        boolean requiredBad = false, otherBad = false;
        for (Map.Entry<String, int[]> e : byKind.entrySet()) {
            kinds.append(kinds.length() > 0 ? " " : "").append(e.getKey()).append('=')
                    .append(e.getValue()[0]).append("(bad=").append(e.getValue()[1]).append(')');
            if (e.getValue()[1] > 0) {
                if (requiredKinds.contains(e.getKey())) {
                    requiredBad = true;
                } else {
                    otherBad = true;
                }
            }
        }
        for (String s : shown) {
            System.err.println("mismatch: " + s);
        }
        if (mismatched > shown.size()) {
            System.err.println("mismatch: ... (at most " + SHOW_FIELD + " shown per field, " + SHOW + " in all)");
        }
        for (Map.Entry<String, Integer> e : byField.entrySet()) {
            System.err.println("mismatched field " + e.getKey() + ": " + e.getValue() + " messages");
        }
        for (Map.Entry<String, Integer> e : notes.entrySet()) {
            System.err.println("note: " + e.getKey() + ": " + e.getValue());
        }
        for (String f : foreignShown) {
            System.err.println("foreign: " + f);
        }
        if (missing > 0) {
            StringBuilder sb = new StringBuilder("missing seqs:");
            int n = 0;
            for (int i = 0; i < count && n < SHOW; i++) {
                if (seen[i] == 0) {
                    sb.append(' ').append(i);
                    n++;
                }
            }
            System.err.println(sb + (missing > n ? " ..." : ""));
        }
        if (!duplicateIds.isEmpty()) {
            System.err.println("duplicates: " + String.join(" ", duplicateIds)
                    + (dups > duplicateIds.size() ? " ..." : ""));
        }
        System.out.printf("%s expected=%d read=%d distinct=%d missing=%d duplicates=%d "
                        + "foreign=%d mismatched=%d kinds: %s%n",
                what, count, read, distinct, missing, dups, foreign, mismatched, kinds);
        if (missing > 0 || (dups > 0 && !allowDuplicates) || requiredBad) {
            return 1;
        }
        return otherBad ? 3 : 0;
    }
}
