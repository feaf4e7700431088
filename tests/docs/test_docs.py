"""The docs as a reader meets them: every relative link of README.md resolves, every page
under docs/ can be reached from README.md by following links, the generated resource
reference matches the schema, and ``pulumi-metronome --version`` says the package's version.

Links are read here with a deliberately naive parser (``[text](target)``), independent of
MkDocs (which ``scripts/test.sh`` also runs with ``--strict``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference" / "resources"
REGENERATE = "python -m pulumi_metronome.native.reference"

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"```.*?```", re.S)


def _links(page: Path) -> list[str]:
    """Relative link targets of a Markdown page (code blocks left out)."""
    text = _FENCE.sub("", page.read_text("utf-8"))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z]+:|^#", t)]


def _slug(heading: str) -> str:
    """The anchor of a heading as MkDocs' default ``toc`` makes it (lowercase, words joined
    by hyphens, punctuation dropped)."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s]+", "-", text)


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text("utf-8"))
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return (page.parent / path).resolve(), anchor


def test_every_relative_link_in_the_readme_resolves() -> None:
    broken = []
    for target in _links(README):
        path, anchor = _resolve(README, target)
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, "README.md has broken links:\n" + "\n".join(broken)
    assert len(_links(README)) >= 10  # the front door links to the docs


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    seen: set[Path] = set()
    todo = [README.resolve()]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in _links(page):
            path, _ = _resolve(page, target)
            if path.suffix == ".md" and path.is_file():
                todo.append(path)
    pages = {p.resolve() for p in DOCS.rglob("*.md")}
    unreachable = sorted(str(p.relative_to(ROOT)) for p in pages - seen)
    assert not unreachable, "pages no link from README.md leads to: " + ", ".join(unreachable)


def _check(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulumi_metronome.native.reference", "--check", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_committed_resource_reference_is_current() -> None:
    done = _check(REFERENCE)
    assert done.returncode == 0, done.stderr
    # One page per resource of the schema, plus the index and the nested types.
    schema = __import__("json").loads((ROOT / "sdk" / "schema.json").read_text("utf-8"))
    kinds = [token.rsplit(":", 1)[-1] for token in schema["resources"]]
    assert len(kinds) == 8
    for kind in kinds:
        page = REFERENCE / (re.sub(r"(?<!^)([A-Z])", r"-\1", kind).lower() + ".md")
        text = page.read_text("utf-8")
        assert f"# {kind}\n" in text
        for name in schema["resources"][f"metronome:index:{kind}"]["inputProperties"]:
            assert f"| `{name}`" in text, f"{page.name} lacks the argument {name}"


def test_a_stale_reference_fails_and_says_how_to_regenerate(tmp_path: Path) -> None:
    copy = tmp_path / "resources"
    shutil.copytree(REFERENCE, copy)
    page = copy / "rate-card.md"
    page.write_text(page.read_text("utf-8").replace("allowRateRemoval", "allowRateRemovals"))
    (copy / "product.md").unlink()
    (copy / "old-kind.md").write_text("# OldKind\n")
    done = _check(copy)
    assert done.returncode == 1
    assert "rate-card.md" in done.stderr
    assert "product.md" in done.stderr
    assert "old-kind.md (no such resource)" in done.stderr
    assert REGENERATE in done.stderr


def test_version_is_the_package_version() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    exe = Path(sys.executable).parent / "pulumi-metronome"
    done = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"pulumi-metronome {declared}\n"
