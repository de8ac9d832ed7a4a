"""benchsite runners: execute benchmark suites and write one result file per run."""

__version__ = "0.1.0"
