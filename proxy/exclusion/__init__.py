"""Training-set exclusion: fingerprint every recorded completion and find it in a corpus.

normalise/lexer (symbols) → fingerprint (k-gram hashes, winnowing; three engines
with one result) → matcher (containment against the in-memory index) → scan,
index, export, Spark job on top.
"""
