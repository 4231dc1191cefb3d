"""Pass/fail for `rag eval --require METRIC=VALUE`: a CI gate on the offline metrics.

Only offline metrics can decide: judge figures depend on a model and its mood, so they
are reported beside, never gated on. A metric where lower is better (false refusals)
takes the value as a ceiling; the others as a floor. The overall figure is checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.errors import ConfigError
from rag.evaluation.records import RunSummary
from rag.evaluation.scores import BY_NAME


def parse_requirements(items: Sequence[str]) -> dict[str, float]:
    required: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise ConfigError(f"--require {item!r}: write METRIC=VALUE, e.g. recall=0.85")
        if name not in BY_NAME:
            raise ConfigError(f"--require {item!r}: unknown metric; known: {', '.join(BY_NAME)}")
        if BY_NAME[name].group in ("judge", "cost"):
            raise ConfigError(
                f"--require {item!r}: only offline quality metrics decide pass/fail "
                f"({name} is a {BY_NAME[name].group} figure)"
            )
        try:
            required[name] = float(value)
        except ValueError:
            raise ConfigError(f"--require {item!r}: {value!r} is not a number") from None
    return required


def failures(summary: RunSummary, required: Mapping[str, float]) -> list[str]:
    """One line per requirement the run's overall figures miss (absent counts as missed)."""
    missed = []
    for name, bound in required.items():
        m, value = BY_NAME[name], summary.overall.mean(name)
        if value is None:
            missed.append(f"{name}: not measured in this run (needed {bound:g})")
        elif m.verdict(value, floor=bound) == "bad":
            side = "below the required" if m.higher_is_better else "above the allowed"
            missed.append(f"{name} = {value:.3f}, {side} {bound:g}")
    return missed
