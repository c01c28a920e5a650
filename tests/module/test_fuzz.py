"""The loader's fuzz harness for a few seconds (the full run: `scripts/fuzz --runs 1000000 --jobs 2`).

Fixture seeds only and fixed recipes, so a failure here replays with
`scripts/fuzz --replay HEX --debian 0`.
"""

from __future__ import annotations

from pseudokernel import fuzz as F

SECONDS = 4.0


def test_recipes_are_reproducible():
    seeds = F.load_seeds(debian=0)
    recipe = bytes(range(200))
    a, b = F.build_case(recipe, seeds), F.build_case(recipe, seeds)
    assert a == b and a.ops
    assert F.build_case(b"", seeds).data == seeds[0].body  # an empty recipe: the first seed, untouched


def test_fuzz_short_budget(profile):
    h = F.Harness(profile, debian=0, budget=0.05)
    stats = F.fuzz(seconds=SECONDS, seed=1, harness=h)
    report = "\n\n".join(f"{kind} (replay: scripts/fuzz --replay {recipe.hex()} --debian 0)\n{detail}"
                         for kind, detail, recipe in stats.findings)
    assert not stats.findings, report
    assert stats.execs >= 50
    assert stats.outcomes["LIVE"] and len(stats.outcomes) > 3  # loads that work, and several kinds of failure
