"""Each security suite states what it tried: `record(suite, cases, failures)` adds a line
to the "security suites" section that pytest prints at the end of the run."""

from dataclasses import dataclass

import pytest


@dataclass
class Figure:
    suite: str
    cases: int = 0
    failures: int = 0


_FIGURES: dict[str, Figure] = {}


def record(suite: str, *, cases: int, failures: int) -> None:
    """Add `cases` tried and `failures` found to `suite`'s line (several tests may share one)."""
    figure = _FIGURES.setdefault(suite, Figure(suite))
    figure.cases += cases
    figure.failures += failures


def report(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("security suites")
    for figure in sorted(_FIGURES.values(), key=lambda f: f.suite):
        terminalreporter.write_line(
            f"{figure.suite}: {figure.cases:,} cases tried, {figure.failures:,} failures"
        )
