package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.RankingModel;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.ScorerSupplier;
import org.apache.lucene.search.Weight;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Matches every document; its score is the model's output over the feature vector, where a feature's
 * value is its query's score for the document when that query matches it and NaN (missing) otherwise.
 * Inactive features (null queries) are always missing. Without a model (feature set mode) every
 * document scores 0; the features can still be read through {@link RankerWeight#leafFeatures}.
 */
public final class RankerQuery extends Query {
    private final List<String> featureNames;
    private final List<Query> features;
    private final RankingModel model;
    private final String modelKey;
    /** Shared with the copies rewrites make, so the fetch phase finds what the rescore recorded. */
    private final RecordedFeatures recorded;

    /**
     * @param features one query per feature name, null for an inactive feature
     * @param model    null in feature set mode
     * @param modelKey identifies the model for equals/hashCode (its definition hash), null without model
     */
    public RankerQuery(List<String> featureNames, List<Query> features, RankingModel model, String modelKey) {
        this(featureNames, features, model, modelKey, new RecordedFeatures());
    }

    private RankerQuery(List<String> featureNames, List<Query> features, RankingModel model, String modelKey,
                        RecordedFeatures recorded) {
        if (featureNames.size() != features.size()) {
            throw new IllegalArgumentException("feature names and queries differ in length");
        }
        if (model != null && model.featureCount() != features.size()) {
            throw new IllegalArgumentException("the model reads " + model.featureCount() + " features, the query has "
                + features.size());
        }
        this.featureNames = List.copyOf(featureNames);
        this.features = java.util.Collections.unmodifiableList(new ArrayList<>(features));
        this.model = model;
        this.modelKey = modelKey;
        this.recorded = recorded;
    }

    /**
     * The feature vectors this query (or a rewrite of it) scored documents with, once recording was enabled;
     * not part of equals/hashCode.
     */
    public RecordedFeatures recorded() {
        return recorded;
    }

    public List<String> featureNames() {
        return featureNames;
    }

    public List<Query> features() {
        return features;
    }

    public RankingModel model() {
        return model;
    }

    @Override
    public Query rewrite(IndexSearcher searcher) throws IOException {
        List<Query> rewritten = new ArrayList<>(features.size());
        boolean changed = false;
        for (Query q : features) {
            Query r = q == null ? null : q.rewrite(searcher);
            changed |= r != q;
            rewritten.add(r);
        }
        return changed ? new RankerQuery(featureNames, rewritten, model, modelKey, recorded) : this;
    }

    @Override
    public void visit(QueryVisitor visitor) {
        QueryVisitor sub = visitor.getSubVisitor(BooleanClause.Occur.SHOULD, this);
        for (Query q : features) {
            if (q != null) {
                q.visit(sub);
            }
        }
    }

    @Override
    public RankerWeight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) throws IOException {
        Weight[] weights = new Weight[features.size()];
        for (int i = 0; i < weights.length; i++) {
            Query q = features.get(i);
            if (q != null) {
                weights[i] = searcher.createWeight(searcher.rewrite(q), ScoreMode.COMPLETE, 1f);
            }
        }
        return new RankerWeight(this, weights, boost);
    }

    /** Reads feature vectors of one segment's documents, in increasing doc id order. */
    public static final class LeafFeatures {
        private final Scorer[] scorers;
        private final DocIdSetIterator[] iterators;
        private int lastDoc = -1;

        LeafFeatures(Scorer[] scorers) {
            this.scorers = scorers;
            this.iterators = new DocIdSetIterator[scorers.length];
            for (int i = 0; i < scorers.length; i++) {
                // iterator() confirms two-phase matches: only documents the feature really matches.
                iterators[i] = scorers[i] == null ? null : scorers[i].iterator();
            }
        }

        /** The last doc id asked for must not be greater than {@code doc}. */
        public void vector(int doc, float[] into) throws IOException {
            if (doc < lastDoc) {
                throw new IllegalStateException("feature vectors must be read in doc id order: " + doc + " after "
                    + lastDoc);
            }
            lastDoc = doc;
            for (int i = 0; i < scorers.length; i++) {
                DocIdSetIterator it = iterators[i];
                if (it == null) {
                    into[i] = Float.NaN;
                    continue;
                }
                if (it.docID() < doc) {
                    it.advance(doc);
                }
                into[i] = it.docID() == doc ? scorers[i].score() : Float.NaN;
            }
        }

        /** The last doc id read; reading an earlier one needs fresh {@link RankerWeight#leafFeatures}. */
        public int lastDoc() {
            return lastDoc;
        }
    }

    public static final class RankerWeight extends Weight {
        private final RankerQuery query;
        private final Weight[] weights;
        private final float boost;

        RankerWeight(RankerQuery query, Weight[] weights, float boost) {
            super(query);
            this.query = query;
            this.weights = weights;
            this.boost = boost;
        }

        public int featureCount() {
            return weights.length;
        }

        /** Fresh feature scorers positioned before the first document of the segment. */
        public LeafFeatures leafFeatures(LeafReaderContext context) throws IOException {
            Scorer[] scorers = new Scorer[weights.length];
            for (int i = 0; i < weights.length; i++) {
                if (weights[i] != null) {
                    ScorerSupplier supplier = weights[i].scorerSupplier(context);
                    scorers[i] = supplier == null ? null : supplier.get(Long.MAX_VALUE);
                }
            }
            return new LeafFeatures(scorers);
        }

        float modelScore(float[] vector) {
            return query.model == null ? 0f : boost * query.model.score(vector);
        }

        @Override
        public ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
            int maxDoc = context.reader().maxDoc();
            RankerWeight weight = this;
            return new ScorerSupplier() {
                @Override
                public Scorer get(long leadCost) throws IOException {
                    return new RankerScorer(weight, leafFeatures(context), maxDoc, context.docBase);
                }

                @Override
                public long cost() {
                    return maxDoc;
                }
            };
        }

        @Override
        public Explanation explain(LeafReaderContext context, int doc) throws IOException {
            float[] vector = new float[weights.length];
            leafFeatures(context).vector(doc, vector);
            List<Explanation> details = new ArrayList<>();
            for (int i = 0; i < vector.length; i++) {
                String name = query.featureNames.get(i);
                details.add(Float.isNaN(vector[i])
                    ? Explanation.noMatch("feature [" + name + "]: missing")
                    : Explanation.match(vector[i], "feature [" + name + "]"));
            }
            String what = query.model == null ? "feature set (no model), score 0" : "LtR model over the features";
            return Explanation.match(modelScore(vector), what, details);
        }

        @Override
        public boolean isCacheable(LeafReaderContext ctx) {
            return false;
        }
    }

    private static final class RankerScorer extends Scorer {
        private final RankerWeight weight;
        private final LeafFeatures features;
        private final DocIdSetIterator all;
        private final float[] vector;
        private final int docBase;
        private final RecordedFeatures recorded;

        RankerScorer(RankerWeight weight, LeafFeatures features, int maxDoc, int docBase) {
            this.weight = weight;
            this.features = features;
            this.all = DocIdSetIterator.all(maxDoc);
            this.vector = new float[weight.featureCount()];
            this.docBase = docBase;
            this.recorded = weight.query.recorded;
        }

        @Override
        public int docID() {
            return all.docID();
        }

        @Override
        public DocIdSetIterator iterator() {
            return all;
        }

        @Override
        public float getMaxScore(int upTo) {
            // Models can score below zero or above any bound we could compute cheaply.
            return Float.POSITIVE_INFINITY;
        }

        @Override
        public float score() throws IOException {
            int doc = all.docID();
            features.vector(doc, vector);
            if (recorded.enabled()) {
                // Copied before the model runs: exactly the raw values the model is given.
                recorded.record(docBase + doc, vector);
            }
            return weight.modelScore(vector);
        }
    }

    @Override
    public String toString(String field) {
        StringBuilder sb = new StringBuilder("RankerQuery(model=").append(modelKey).append(", features=[");
        for (int i = 0; i < featureNames.size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            Query q = features.get(i);
            sb.append(featureNames.get(i)).append('=').append(q == null ? "inactive" : q.toString(field));
        }
        return sb.append("])").toString();
    }

    @Override
    public boolean equals(Object other) {
        if (!sameClassAs(other)) {
            return false;
        }
        RankerQuery o = (RankerQuery) other;
        return featureNames.equals(o.featureNames) && features.equals(o.features) && Objects.equals(modelKey, o.modelKey)
            && (modelKey != null || model == o.model);
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), featureNames, features, modelKey);
    }
}
