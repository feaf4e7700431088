"""docs/local-server.md's "A unit test for your pricing" runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "docs" / "local-server.md"


def test_the_readme_pricing_test_passes() -> None:
    text = README.read_text()
    section = text.split("## A unit test for your pricing", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/local-server.md", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0]()
