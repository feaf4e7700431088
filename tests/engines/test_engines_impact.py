"""The hand-computed impact tests (``tests/impact/test_impact.py``) on every engine: the
same assertions, the events given as Parquet and evaluated by DuckDB, Spark or ClickHouse."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from engine_helpers import ENGINES, runner


def _hand_tests() -> ModuleType:
    path = Path(__file__).parents[1] / "impact" / "test_impact.py"
    spec = importlib.util.spec_from_file_location("hand_computed_impact", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


HAND = _hand_tests()
CASES: dict[str, Callable[[Path], None]] = {
    "filter": (
        HAND.test_a_filter_that_excludes_internal_events_removes_exactly_their_usage_and_charge
    ),
    "tiers": HAND.test_a_tier_price_change_shows_the_per_customer_delta,
    "moved": HAND.test_a_product_moved_to_a_new_metric_shows_usage_and_charges,
    "groups": HAND.test_pricing_groups_conversion_rounding_subscription_and_percentage,
    "mapping": HAND.test_a_mapping_file_prices_each_customer_on_its_card_only,
    "rate change": HAND.test_a_price_change_inside_the_period_prices_each_part_at_its_rate,
    "sql metric": HAND.test_a_sql_metric_is_evaluated_by_the_engine_sql_module,
}


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CASES))
def test_hand_computed_impact_on_every_engine(
    case: str, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HAND, "run", runner(engine))
    CASES[case](tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("value", [5, 5.0, "5"])
def test_numbers_read_as_their_shortest_text_on_every_engine(
    engine: str, value: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HAND, "run", runner(engine))
    HAND.test_numbers_read_as_their_shortest_text_in_filters(tmp_path, value)
