package cutover.jmstool;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** Exact comparison and printing of typed values (Java types are part of the value). */
final class Values {
    private Values() { }

    static boolean same(Object want, Object got) {
        if (want == null || got == null) {
            return want == got;
        }
        if (want instanceof List && got instanceof List) {
            List<?> a = (List<?>) want, b = (List<?>) got;
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!same(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (want instanceof Map && got instanceof Map) {
            Map<?, ?> a = (Map<?, ?>) want, b = (Map<?, ?>) got;
            if (!a.keySet().equals(b.keySet())) {
                return false;
            }
            for (Object k : a.keySet()) {
                if (!same(a.get(k), b.get(k))) {
                    return false;
                }
            }
            return true;
        }
        if (want.getClass() != got.getClass()) {
            return false;
        }
        if (want instanceof Float) {
            return Float.floatToIntBits((Float) want) == Float.floatToIntBits((Float) got);
        }
        if (want instanceof Double) {
            return Double.doubleToLongBits((Double) want) == Double.doubleToLongBits((Double) got);
        }
        if (want instanceof byte[]) {
            return Arrays.equals((byte[]) want, (byte[]) got);
        }
        return Objects.equals(want, got);
    }

    /** A value with its type, short enough for a report line. */
    static String show(Object v) {
        if (v == null) {
            return "null";
        }
        String s;
        if (v instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            for (Object o : (List<?>) v) {
                sb.append(sb.length() > 1 ? ", " : "").append(show(o));
            }
            return clip(sb.append(']').toString(), 400);
        }
        if (v instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                sb.append(sb.length() > 1 ? ", " : "").append(e.getKey()).append('=').append(show(e.getValue()));
            }
            return clip(sb.append('}').toString(), 400);
        }
        if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < Math.min(b.length, 24); i++) {
                sb.append(String.format("%02x", b[i]));
            }
            s = "[" + b.length + " bytes " + sb + (b.length > 24 ? "..." : "") + "]";
        } else if (v instanceof String) {
            s = '"' + clip((String) v) + '"';
        } else {
            s = clip(String.valueOf(v));
        }
        return s + " (" + v.getClass().getSimpleName() + ")";
    }

    static String showBytes(byte[] b) {
        if (b == null) {
            return "null";
        }
        return '"' + clip(new String(b, StandardCharsets.UTF_8)) + '"';
    }

    static String clip(String s) {
        return clip(s, 80);
    }

    static String clip(String s, int max) {
        String t = s.replace("\n", "\\n").replace("\t", "\\t");
        return t.length() > max ? t.substring(0, max - 20) + "...(" + s.length() + " chars)" : t;
    }
}
