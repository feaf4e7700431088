"""Resource names from object names (expected values written by hand), and bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pulumi_metronome.onboarding.account import Exported, assign_names, identifier


def metric(id_: str, name: str) -> Exported:
    return Exported("BillableMetric", id_, name, {"name": name})


def test_identifiers() -> None:
    assert identifier("Tokens by model") == "tokens_by_model"
    assert identifier("  API -- requests (v2)!") == "api_requests_v2"
    assert identifier("2026 list prices") == "n_2026_list_prices"
    assert identifier("class") == "class_"
    assert identifier("Ünïcode ✓") == "n_code"
    assert identifier("***") == "unnamed"


def test_namesakes_get_the_shortest_telling_id_prefix_and_names_are_stable() -> None:
    items = [
        metric("5fe13376-aaaa", "Shared name"),
        metric("767c84ea-bbbb", "Shared  NAME"),
        metric("0a1b2c3d-cccc", "Tokens"),
        metric("5fe13376-dddd", "other"),
    ]
    named = {o.id: o.name for o in assign_names(items)}
    assert named == {
        "5fe13376-aaaa": "shared_name_5fe13376",
        "767c84ea-bbbb": "shared_name_767c84ea",
        "0a1b2c3d-cccc": "tokens",
        "5fe13376-dddd": "other",
    }
    # Listed in another order, or with another object beside them: the same names.
    more = [metric("99999999-eeee", "New"), *reversed(items)]
    again = {o.id: o.name for o in assign_names(more)}
    assert {k: again[k] for k in named} == named

    same_prefix = [metric("abcdef01-1111", "x"), metric("abcdef01-2222", "x")]
    assert sorted(o.name for o in assign_names(same_prefix)) == ["x_abcdef011111", "x_abcdef012222"]


def test_missing_token_is_one_line_and_status_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRONOME_")}
    done = subprocess.run(
        ["pulumi-metronome", "export", "--out-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("pulumi-metronome export: error: no Metronome bearer token")
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_out_dir_is_named(tmp_path: Path) -> None:
    env = {**os.environ, "METRONOME_BEARER_TOKEN": "t"}
    done = subprocess.run(
        ["pulumi-metronome", "export", "--out-dir", str(tmp_path / "nope")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"pulumi-metronome export: error: --out-dir {tmp_path / 'nope'}: no such folder\n"
    )


def test_bad_base_url_is_named(tmp_path: Path) -> None:
    env = {**os.environ, "METRONOME_BEARER_TOKEN": "t"}
    done = subprocess.run(
        ["pulumi-metronome", "export", "--base-url", "ftp://x", "--out-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("pulumi-metronome export: error: --base-url 'ftp://x' is not")
    assert done.stderr.count("\n") == 1
