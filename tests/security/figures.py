"""Each security suite states what it tried: `record(suite, cases, failures)` adds a line
to the "security suites" section that pytest prints at the end of the run. A sweep ends
with `check(suite, cases, failures)`: it records, then fails naming every failing case."""

from dataclasses import dataclass
from typing import Any

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


def check(suite: str, *, cases: int, failures: list[Any]) -> None:
    """record() a sweep of `cases`, then fail with every one of `failures` on a line of its
    own (each says which case broke which rule), not only the first."""
    __tracebackhide__ = True
    record(suite, cases=cases, failures=len(failures))
    if failures:
        lines = [item if isinstance(item, str) else repr(item) for item in failures]
        pytest.fail(f"{len(failures)} failures in {cases:,} cases:\n" + "\n".join(lines))


def report(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("security suites")
    for figure in sorted(_FIGURES.values(), key=lambda f: f.suite):
        terminalreporter.write_line(
            f"{figure.suite}: {figure.cases:,} cases tried, {figure.failures:,} failures"
        )
