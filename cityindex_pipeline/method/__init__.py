"""The index method: indicators, treatment, normalisation, weighting, aggregation and ranking."""
