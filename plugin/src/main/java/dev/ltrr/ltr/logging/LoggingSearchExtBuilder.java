package dev.ltrr.ltr.logging;

import org.opensearch.core.ParseField;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.SearchExtBuilder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code ltr_log} search extension: {@code {"log_specs": [{"name", "named_query" | "rescore_index",
 * "missing_as_zero"}]}} ({@code log_specs} may also be a single object). Each spec points at one
 * {@code sltr} query whose feature values are logged into the hits' {@code _ltrlog} field.
 */
public final class LoggingSearchExtBuilder extends SearchExtBuilder {
    public static final String NAME = "ltr_log";
    static final ParseField LOG_SPECS = new ParseField("log_specs");

    /** One logging request; exactly one of {@code namedQuery} and {@code rescoreIndex} is set. */
    public record LogSpec(String name, String namedQuery, Integer rescoreIndex, boolean missingAsZero) {
        public LogSpec {
            if ((namedQuery == null) == (rescoreIndex == null)) {
                throw new IllegalArgumentException("[" + NAME + "] a log spec needs exactly one of [named_query] or "
                    + "[rescore_index]");
            }
            if (rescoreIndex != null && rescoreIndex < 0) {
                throw new IllegalArgumentException("[" + NAME + "] [rescore_index] must be >= 0, got " + rescoreIndex);
            }
        }

        /** The key of this spec's entry in {@code _ltrlog}: its name, else the query it reads. */
        public String logName() {
            if (name != null) {
                return name;
            }
            return namedQuery != null ? namedQuery : "rescore[" + rescoreIndex + "]";
        }
    }

    private final List<LogSpec> logSpecs;

    public LoggingSearchExtBuilder(List<LogSpec> logSpecs) {
        if (logSpecs == null || logSpecs.isEmpty()) {
            throw new IllegalArgumentException("[" + NAME + "] needs at least one log spec in [log_specs]");
        }
        this.logSpecs = List.copyOf(logSpecs);
    }

    public LoggingSearchExtBuilder(StreamInput in) throws IOException {
        int n = in.readVInt();
        List<LogSpec> specs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String name = in.readOptionalString();
            String namedQuery = in.readOptionalString();
            Integer rescoreIndex = in.readOptionalVInt();
            specs.add(new LogSpec(name, namedQuery, rescoreIndex, in.readBoolean()));
        }
        this.logSpecs = List.copyOf(specs);
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeVInt(logSpecs.size());
        for (LogSpec spec : logSpecs) {
            out.writeOptionalString(spec.name());
            out.writeOptionalString(spec.namedQuery());
            out.writeOptionalVInt(spec.rescoreIndex());
            out.writeBoolean(spec.missingAsZero());
        }
    }

    public List<LogSpec> logSpecs() {
        return logSpecs;
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(NAME);
        builder.startArray(LOG_SPECS.getPreferredName());
        for (LogSpec spec : logSpecs) {
            builder.startObject();
            if (spec.name() != null) {
                builder.field("name", spec.name());
            }
            if (spec.namedQuery() != null) {
                builder.field("named_query", spec.namedQuery());
            } else {
                builder.field("rescore_index", spec.rescoreIndex());
            }
            builder.field("missing_as_zero", spec.missingAsZero());
            builder.endObject();
        }
        builder.endArray();
        return builder.endObject();
    }

    /** Parses the value of {@code ext.ltr_log} (the parser sits on its START_OBJECT or just before it). */
    public static LoggingSearchExtBuilder parse(XContentParser parser) throws IOException {
        XContentParser.Token token = parser.currentToken();
        if (token != XContentParser.Token.START_OBJECT) {
            token = parser.nextToken();
        }
        if (token != XContentParser.Token.START_OBJECT) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] must be an object");
        }
        List<LogSpec> specs = null;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token != XContentParser.Token.FIELD_NAME) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] unexpected " + token);
            }
            String field = parser.currentName();
            token = parser.nextToken();
            if (!LOG_SPECS.match(field, parser.getDeprecationHandler())) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] does not support [" + field
                    + "] (supported: log_specs)");
            }
            specs = new ArrayList<>();
            if (token == XContentParser.Token.START_OBJECT) {
                specs.add(parseSpec(parser));
            } else if (token == XContentParser.Token.START_ARRAY) {
                while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                    if (token != XContentParser.Token.START_OBJECT) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [log_specs] must hold "
                            + "objects, found " + token);
                    }
                    specs.add(parseSpec(parser));
                }
            } else {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [log_specs] must be an object "
                    + "or a list of objects");
            }
        }
        if (specs == null || specs.isEmpty()) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] needs at least one log spec in "
                + "[log_specs]");
        }
        return new LoggingSearchExtBuilder(specs);
    }

    private static LogSpec parseSpec(XContentParser parser) throws IOException {
        String name = null;
        String namedQuery = null;
        Integer rescoreIndex = null;
        boolean missingAsZero = false;
        XContentParser.Token token;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token != XContentParser.Token.FIELD_NAME) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] unexpected " + token);
            }
            String field = parser.currentName();
            token = parser.nextToken();
            switch (field) {
                case "name" -> name = string(parser, field, token);
                case "named_query" -> namedQuery = string(parser, field, token);
                case "rescore_index" -> {
                    if (token != XContentParser.Token.VALUE_NUMBER) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME
                            + "] [rescore_index] must be an integer");
                    }
                    rescoreIndex = parser.intValue(false);
                }
                case "missing_as_zero" -> {
                    if (token != XContentParser.Token.VALUE_BOOLEAN) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME
                            + "] [missing_as_zero] must be a boolean");
                    }
                    missingAsZero = parser.booleanValue();
                }
                default -> throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] a log spec does not "
                    + "support [" + field + "] (supported: name, named_query, rescore_index, missing_as_zero)");
            }
        }
        try {
            return new LogSpec(name, namedQuery, rescoreIndex, missingAsZero);
        } catch (IllegalArgumentException e) {
            throw new ParsingException(parser.getTokenLocation(), e.getMessage());
        }
    }

    private static String string(XContentParser parser, String field, XContentParser.Token token) throws IOException {
        if (token != XContentParser.Token.VALUE_STRING || parser.text().isEmpty()) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [" + field
                + "] must be a non-empty string");
        }
        return parser.text();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LoggingSearchExtBuilder other && logSpecs.equals(other.logSpecs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(NAME, logSpecs);
    }
}
