package cutover.jmstool;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** "--name value" and "--flag" options; a flag is a name listed in FLAGS. */
final class Args {
    private static final Set<String> FLAGS = Set.of("priority-cycle", "async", "basic-kinds",
            "persistent-only", "small", "allow-duplicates", "ids-only");
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();

    Args(String[] argv, int from) {
        for (int i = from; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument: " + a);
            }
            String name = a.substring(2);
            if (FLAGS.contains(name)) {
                flags.add(name);
            } else if (i + 1 < argv.length) {
                values.put(name, argv[++i]);
            } else {
                throw new IllegalArgumentException("--" + name + " needs a value");
            }
        }
    }

    String need(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }

    String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    int intArg(String name, int dflt) {
        String v = values.get(name);
        return v == null ? dflt : Integer.parseInt(v);
    }

    boolean flag(String name) {
        return flags.contains(name);
    }
}
