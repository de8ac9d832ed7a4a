"""The project's exceptions; the CLI turns them into one line and an exit code."""


class BenchsiteError(Exception):
    """A user-facing problem: shown as its message, never as a traceback."""


class InvalidResults(BenchsiteError):
    """Result files failed validation (strict build or ``validate``)."""


class BuildError(BenchsiteError):
    """The site could not be generated or mkdocs failed."""
