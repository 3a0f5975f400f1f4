"""The opportunity service: sales opportunities moving through product pipelines."""
