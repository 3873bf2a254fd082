package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelCompiler;
import dev.ltrr.ltr.model.RankingModel;
import dev.ltrr.ltr.store.NormalizerSpec;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.query.AbstractQueryBuilder;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.QueryRewriteContext;
import org.opensearch.index.query.QueryShardContext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An {@code sltr} query after its element was loaded and its templates rendered: what the shards get.
 * It carries the feature names, one rendered query per feature (null for an inactive feature) and,
 * unless in feature set mode, the model's type, definition, normalizers and definition hash; each
 * shard compiles the model through the node's {@link CompiledModelCache}.
 */
public final class ResolvedLtrQueryBuilder extends AbstractQueryBuilder<ResolvedLtrQueryBuilder> {
    public static final String NAME = "ltrr_resolved_sltr";

    /** The model to compile; {@code hash} is {@link CompiledModelCache#definitionHash}. */
    public record ModelSpec(String name, String type, String definition, Map<String, NormalizerSpec> normalizers,
                            String hash) {
        public ModelSpec {
            normalizers = normalizers == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(normalizers));
        }
    }

    private final LtrSearchServices services;
    private final String storeIndex;
    private final String featureSetName;
    private final List<String> featureNames;
    private final List<QueryBuilder> featureQueries;
    private final ModelSpec model;

    public ResolvedLtrQueryBuilder(LtrSearchServices services, String storeIndex, String featureSetName,
                                   List<String> featureNames, List<QueryBuilder> featureQueries, ModelSpec model) {
        if (featureNames.size() != featureQueries.size()) {
            throw new IllegalArgumentException("feature names and queries differ in length");
        }
        this.services = services;
        this.storeIndex = storeIndex;
        this.featureSetName = featureSetName;
        this.featureNames = List.copyOf(featureNames);
        this.featureQueries = Collections.unmodifiableList(new ArrayList<>(featureQueries));
        this.model = model;
    }

    public ResolvedLtrQueryBuilder(StreamInput in, LtrSearchServices services) throws IOException {
        super(in);
        this.services = services;
        this.storeIndex = in.readString();
        this.featureSetName = in.readString();
        this.featureNames = in.readStringList();
        int n = in.readVInt();
        List<QueryBuilder> queries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            queries.add(in.readOptionalNamedWriteable(QueryBuilder.class));
        }
        this.featureQueries = Collections.unmodifiableList(queries);
        if (in.readBoolean()) {
            String name = in.readString();
            String type = in.readString();
            String definition = in.readString();
            int count = in.readVInt();
            Map<String, NormalizerSpec> normalizers = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                normalizers.put(in.readString(), new NormalizerSpec(in.readString(), in.readDouble(), in.readDouble()));
            }
            this.model = new ModelSpec(name, type, definition, normalizers, in.readString());
        } else {
            this.model = null;
        }
    }

    @Override
    protected void doWriteTo(StreamOutput out) throws IOException {
        out.writeString(storeIndex);
        out.writeString(featureSetName);
        out.writeStringCollection(featureNames);
        out.writeVInt(featureQueries.size());
        for (QueryBuilder q : featureQueries) {
            out.writeOptionalNamedWriteable(q);
        }
        out.writeBoolean(model != null);
        if (model != null) {
            out.writeString(model.name());
            out.writeString(model.type());
            out.writeString(model.definition());
            out.writeVInt(model.normalizers().size());
            for (Map.Entry<String, NormalizerSpec> e : model.normalizers().entrySet()) {
                out.writeString(e.getKey());
                out.writeString(e.getValue().kind());
                out.writeDouble(e.getValue().a());
                out.writeDouble(e.getValue().b());
            }
            out.writeString(model.hash());
        }
    }

    /** Never parsed from a request: this query only exists between the coordinating node and the shards. */
    public static ResolvedLtrQueryBuilder fromXContent(XContentParser parser) {
        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] is internal to the [sltr] query and "
            + "cannot be written in a request; use [sltr]");
    }

    public List<String> featureNames() {
        return featureNames;
    }

    public List<QueryBuilder> featureQueries() {
        return featureQueries;
    }

    public ModelSpec model() {
        return model;
    }

    public String storeIndex() {
        return storeIndex;
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    /** A readable summary (profiles, slow logs); the model definition itself is left out. */
    @Override
    protected void doXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(NAME);
        builder.field("store_index", storeIndex);
        builder.field("featureset", featureSetName);
        builder.startArray("features");
        for (int i = 0; i < featureNames.size(); i++) {
            builder.startObject();
            builder.field("name", featureNames.get(i));
            if (featureQueries.get(i) != null) {
                builder.field("query", featureQueries.get(i));
            } else {
                builder.field("active", false);
            }
            builder.endObject();
        }
        builder.endArray();
        if (model != null) {
            builder.startObject("model");
            builder.field("name", model.name());
            builder.field("type", model.type());
            builder.field("definition_sha256", model.hash());
            builder.endObject();
        }
        printBoostAndQueryName(builder);
        builder.endObject();
    }

    @Override
    protected QueryBuilder doRewrite(QueryRewriteContext context) throws IOException {
        List<QueryBuilder> rewritten = new ArrayList<>(featureQueries.size());
        boolean changed = false;
        for (QueryBuilder q : featureQueries) {
            QueryBuilder r = q == null ? null : q.rewrite(context);
            changed |= r != q;
            rewritten.add(r);
        }
        if (!changed) {
            return this;
        }
        ResolvedLtrQueryBuilder copy = new ResolvedLtrQueryBuilder(services, storeIndex, featureSetName, featureNames,
            rewritten, model);
        copy.queryName(queryName);
        copy.boost(boost);
        return copy;
    }

    @Override
    protected Query doToQuery(QueryShardContext context) throws IOException {
        List<Query> queries = new ArrayList<>(featureQueries.size());
        for (QueryBuilder q : featureQueries) {
            if (q == null) {
                queries.add(null);
            } else {
                Query query = q.toQuery(context);
                queries.add(query == null ? new MatchNoDocsQuery("feature query matches nothing") : query);
            }
        }
        RankingModel compiled = null;
        if (model != null) {
            CompiledModelCache.Key key = new CompiledModelCache.Key(storeIndex, model.name(), model.hash());
            compiled = services.modelCache().getOrCompile(key, () -> ModelCompiler.compile(model.name(), model.type(),
                featureNames, model.definition(), model.normalizers(), services.limits().get()));
        }
        return new RankerQuery(featureNames, queries, compiled, model == null ? null : model.hash());
    }

    @Override
    protected boolean doEquals(ResolvedLtrQueryBuilder other) {
        return storeIndex.equals(other.storeIndex) && featureSetName.equals(other.featureSetName)
            && featureNames.equals(other.featureNames) && featureQueries.equals(other.featureQueries)
            && Objects.equals(model, other.model);
    }

    @Override
    protected int doHashCode() {
        return Objects.hash(storeIndex, featureSetName, featureNames, featureQueries, model);
    }
}
