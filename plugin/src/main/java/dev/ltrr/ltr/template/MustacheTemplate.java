package dev.ltrr.ltr.template;

import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.core.xcontent.XContentBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * The mustache subset LTR feature templates use, rendering into JSON text: {@code {{var}}} (the value
 * JSON-string-escaped, so user text cannot leave the string it sits in), {@code {{{var}}}} and
 * {@code {{&var}}} (raw), {@code {{#toJson}}var{{/toJson}}} (the value as JSON), {@code {{#join}}var{{/join}}}
 * (a list joined with commas, each element escaped), sections {@code {{#var}}..{{/var}}} and inverted
 * sections {@code {{^var}}..{{/var}}} over lists, booleans and objects, {@code {{.}}}, dotted names
 * and comments {@code {{! ..}}}. Compiled templates are immutable.
 */
public final class MustacheTemplate {
    private sealed interface Node permits Text, Var, Section, Function {
    }

    private record Text(String text) implements Node {
    }

    private record Var(String name, boolean escape) implements Node {
    }

    private record Section(String name, boolean inverted, List<Node> children) implements Node {
    }

    /** {@code toJson} / {@code join}: the section's content is a variable name. */
    private record Function(String function, String name) implements Node {
    }

    private final List<Node> nodes;

    private MustacheTemplate(List<Node> nodes) {
        this.nodes = nodes;
    }

    /** Parses a template; an IllegalArgumentException names the syntax problem and its position. */
    public static MustacheTemplate compile(String template) {
        if (template == null) {
            throw new IllegalArgumentException("template is missing");
        }
        Deque<List<Node>> stack = new ArrayDeque<>();
        Deque<String> open = new ArrayDeque<>();
        Deque<Integer> openAt = new ArrayDeque<>();
        List<Node> current = new ArrayList<>();
        int pos = 0;
        while (pos < template.length()) {
            int start = template.indexOf("{{", pos);
            if (start < 0) {
                current.add(new Text(template.substring(pos)));
                break;
            }
            if (start > pos) {
                current.add(new Text(template.substring(pos, start)));
            }
            boolean triple = template.startsWith("{{{", start);
            String close = triple ? "}}}" : "}}";
            int contentStart = start + (triple ? 3 : 2);
            int end = template.indexOf(close, contentStart);
            if (end < 0) {
                throw new IllegalArgumentException("unclosed mustache tag at offset " + start);
            }
            String tag = template.substring(contentStart, end).strip();
            pos = end + close.length();
            if (triple) {
                current.add(new Var(name(tag, start), false));
                continue;
            }
            if (tag.isEmpty()) {
                throw new IllegalArgumentException("empty mustache tag at offset " + start);
            }
            char kind = tag.charAt(0);
            String rest = tag.substring(1).strip();
            switch (kind) {
                case '!' -> {
                }
                case '&' -> current.add(new Var(name(rest, start), false));
                case '#', '^' -> {
                    String name = name(rest, start);
                    if (kind == '#' && (name.equals("toJson") || name.equals("join"))) {
                        String endTag = "{{/" + name + "}}";
                        int fnEnd = template.indexOf(endTag, pos);
                        if (fnEnd < 0) {
                            throw new IllegalArgumentException("section [" + name + "] opened at offset " + start
                                + " is never closed");
                        }
                        current.add(new Function(name, name(template.substring(pos, fnEnd).strip(), pos)));
                        pos = fnEnd + endTag.length();
                        continue;
                    }
                    List<Node> children = new ArrayList<>();
                    current.add(new Section(name, kind == '^', children));
                    stack.push(current);
                    open.push(name);
                    openAt.push(start);
                    current = children;
                }
                case '/' -> {
                    String name = name(rest, start);
                    if (open.isEmpty() || !open.peek().equals(name)) {
                        throw new IllegalArgumentException("closing tag [" + name + "] at offset " + start
                            + (open.isEmpty() ? " has no open section" : " does not match the open section ["
                            + open.peek() + "]"));
                    }
                    open.pop();
                    openAt.pop();
                    current = stack.pop();
                }
                case '>' -> throw new IllegalArgumentException("partials are not supported (offset " + start + ")");
                case '=' -> throw new IllegalArgumentException("changing delimiters is not supported (offset "
                    + start + ")");
                default -> current.add(new Var(name(tag, start), true));
            }
        }
        if (!open.isEmpty()) {
            throw new IllegalArgumentException("section [" + open.peek() + "] opened at offset " + openAt.peek()
                + " is never closed");
        }
        return new MustacheTemplate(List.copyOf(current));
    }

    private static String name(String tag, int offset) {
        if (tag.isEmpty() || tag.contains("{") || tag.contains("}") || tag.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("invalid mustache variable name [" + tag + "] at offset " + offset);
        }
        return tag;
    }

    /** Renders with the given params (the root context). */
    public String render(Map<String, ?> params) {
        StringBuilder out = new StringBuilder();
        Deque<Object> context = new ArrayDeque<>();
        context.push(params == null ? Map.of() : params);
        render(nodes, context, out);
        return out.toString();
    }

    private static void render(List<Node> nodes, Deque<Object> context, StringBuilder out) {
        for (Node node : nodes) {
            switch (node) {
                case Text t -> out.append(t.text());
                case Var v -> {
                    Object value = lookup(context, v.name());
                    if (value != null) {
                        String s = scalar(value);
                        if (v.escape()) {
                            escapeJson(s, out);
                        } else {
                            out.append(s);
                        }
                    }
                }
                case Function f -> {
                    Object value = lookup(context, f.name());
                    if (f.function().equals("toJson")) {
                        out.append(toJson(value));
                    } else if (value instanceof Iterable<?> list) {
                        boolean first = true;
                        for (Object item : list) {
                            if (!first) {
                                out.append(',');
                            }
                            first = false;
                            escapeJson(scalar(item), out);
                        }
                    } else if (value != null) {
                        escapeJson(scalar(value), out);
                    }
                }
                case Section s -> {
                    Object value = lookup(context, s.name());
                    if (s.inverted()) {
                        if (falsey(value)) {
                            render(s.children(), context, out);
                        }
                    } else if (value instanceof Iterable<?> list) {
                        for (Object item : list) {
                            context.push(item);
                            render(s.children(), context, out);
                            context.pop();
                        }
                    } else if (value instanceof Object[] array) {
                        for (Object item : array) {
                            context.push(item);
                            render(s.children(), context, out);
                            context.pop();
                        }
                    } else if (!falsey(value)) {
                        context.push(value);
                        render(s.children(), context, out);
                        context.pop();
                    }
                }
            }
        }
    }

    private static boolean falsey(Object value) {
        if (value == null || Boolean.FALSE.equals(value)) {
            return true;
        }
        if (value instanceof Iterable<?> it) {
            return !it.iterator().hasNext();
        }
        if (value instanceof Object[] array) {
            return array.length == 0;
        }
        return value instanceof String s && s.isEmpty();
    }

    private static Object lookup(Deque<Object> context, String name) {
        if (name.equals(".")) {
            return context.peek();
        }
        String[] parts = name.split("\\.", -1);
        Object value = null;
        boolean found = false;
        for (Object frame : context) {
            if (frame instanceof Map<?, ?> map && map.containsKey(parts[0])) {
                value = map.get(parts[0]);
                found = true;
                break;
            }
        }
        if (!found) {
            return null;
        }
        for (int i = 1; i < parts.length && value != null; i++) {
            value = child(value, parts[i]);
        }
        return value;
    }

    private static Object child(Object value, String part) {
        if (value instanceof Map<?, ?> map) {
            return map.get(part);
        }
        if (value instanceof List<?> list) {
            try {
                int index = Integer.parseInt(part);
                return index >= 0 && index < list.size() ? list.get(index) : null;
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    private static String scalar(Object value) {
        return String.valueOf(value);
    }

    private static String toJson(Object value) {
        try (XContentBuilder builder = XContentFactory.jsonBuilder()) {
            builder.value(value);
            return builder.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot render param as JSON: " + e.getMessage(), e);
        }
    }

    /** Appends {@code s} escaped for the inside of a JSON string. */
    public static void escapeJson(String s, StringBuilder out) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        out.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
    }
}
