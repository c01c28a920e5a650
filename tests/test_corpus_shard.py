"""scripts/corpus past one machine: `--shard I/N` on each runner, `--merge` of their tables gives
the table one whole run gives, row for row (the seconds column aside: a measurement), and the
same summary counts. On a few modules of Debian's tree (the .deb that scripts/install --test
downloads; scripts/corpus extracts it into the same cache)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEBS, ROOT

CORPUS = ROOT / "scripts/corpus"
# dependencies (xfs -> libcrc32c, vfat -> fat, gfs2 -> dlm -> configfs), a softdep (libcrc32c ->
# crc32c_generic), an oops (dlm) and the modules it stops, ENODEV (floppy), platform probes
ONLY = ["xfs", "libcrc32c", "vfat", "msdos", "fat", "crc16", "configfs", "dlm", "gfs2", "floppy",
        "snd_dummy", "dummy", "veth", "loop", "nbd", "crc_itu_t"]


def corpus(*args: str | Path) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(CORPUS), *map(str, args)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def load_script():
    loader = importlib.machinery.SourceFileLoader("corpus_script", str(CORPUS))
    spec = importlib.util.spec_from_loader("corpus_script", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def table(path: Path) -> list[list[str]]:
    """The rows without the seconds column."""
    return [line.split("\t")[:2] + line.split("\t")[3:] for line in path.read_text().splitlines()]


def counts(summary: str) -> str:
    """The summary without its time and memory section (the run's measurements)."""
    head, _, rest = summary.partition("## Time and memory")
    return head + rest[rest.index("## Modules that did not go LIVE"):]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    common = ["--cache", DEBS, "--jobs", "1", "--batch", "4", "--only", *ONLY]
    corpus(*common, "--out", d / "whole.tsv", "--summary", d / "whole.md")
    for i in (1, 2):
        corpus(*common, "--shard", f"{i}/2", "--out", d / f"part{i}.tsv")
    return d


def test_two_shards_merged_are_the_whole_run(runs):
    r = corpus("--merge", runs / "merged.tsv", runs / "part2.tsv", runs / "part1.tsv", "--summary", runs / "merged.md")
    whole, merged = table(runs / "whole.tsv"), table(runs / "merged.tsv")
    assert [row[0] for row in whole[1:]] == sorted(ONLY)
    assert merged == whole
    parts = [table(runs / f"part{i}.tsv")[1:] for i in (1, 2)]
    assert parts[0] and parts[1]  # each shard ran some of the modules
    outcomes = {row[0]: row[1] for row in whole[1:]}
    assert outcomes["dlm"] == "oops" and outcomes["xfs"] == "live" and outcomes["floppy"] == "ENODEV"
    assert counts((runs / "merged.md").read_text()) == counts((runs / "whole.md").read_text())
    assert "summed over 2 shards" in (runs / "merged.md").read_text()
    assert "Outcomes (16 modules)" in r.stderr


def test_merge_refuses_a_missing_or_repeated_shard(runs):
    for shards in (["part1.tsv"], ["part1.tsv", "part1.tsv"], ["part1.tsv", "whole.tsv"]):
        r = subprocess.run([sys.executable, str(CORPUS), "--merge", str(runs / "bad.tsv"), *(str(runs / s) for s in shards)],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "corpus:" in r.stderr, shards
    meta = json.loads((runs / "part1.run.json").read_text())
    assert meta["shard"] == "1/2" and meta["modules"] == len(ONLY) and meta["batch"] == 4


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
def test_shards_are_whole_batches_covering_every_module_once(n):
    """The split depends on the modules' paths alone (not the order they are listed in, nor where
    the tree is extracted): every machine cuts the same shards, and their union is the whole."""
    script = load_script()
    rng = random.Random(n)
    names = [f"m{i:03}" for i in range(203)]
    rels = {nm: f"kernel/{rng.choice(['drivers', 'fs', 'net', 'sound'])}/{nm}.ko" for nm in names}
    whole = script.plan(names, {nm: "/a/" + p for nm, p in rels.items()}, 10, "1/1")
    shards = [script.plan(names, {nm: "/a/" + p for nm, p in rels.items()}, 10, f"{i}/{n}") for i in range(1, n + 1)]
    elsewhere = [script.plan(rng.sample(names, len(names)), {nm: "/b/c/" + p for nm, p in rels.items()}, 10, f"{i}/{n}")
                 for i in range(1, n + 1)]
    assert shards == elsewhere
    batches = [b for s in shards for b in s]
    assert sorted(map(tuple, batches)) == sorted(map(tuple, whole))  # the whole run's batches, each once
    assert sorted(nm for b in batches for nm in b) == names


def test_workers_take_the_biggest_batches_first(tmp_path):
    """biggest_first(): the same batches, each whole, ordered by the bytes of their files (a
    missing file counts as 0), so that a slow batch does not start last."""
    c = load_script()
    sizes = {"a": 10, "b": 500, "c": 40, "d": 300, "e": 1}
    path_of = {}
    for name, size in sizes.items():
        (tmp_path / f"{name}.ko").write_bytes(b"\0" * size)
        path_of[name] = str(tmp_path / f"{name}.ko")
    path_of["gone"] = str(tmp_path / "gone.ko")
    batches = [["a", "e"], ["b"], ["c", "gone"], ["d", "e"]]
    assert c.biggest_first(batches, path_of) == [["b"], ["d", "e"], ["c", "gone"], ["a", "e"]]
