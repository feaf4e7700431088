"""MkDocs hook: links from a page to a repository file outside ``docs/`` (``../examples/``,
``../README.md``) are rewritten to the file on the repository's site, so the same Markdown
reads right on GitHub and in the built site; a link to a file that does not exist is an
error, so the strict build catches it like a missing page."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs_dir = Path(config["docs_dir"]).resolve()
    root = docs_dir.parent
    repo = str(config["repo_url"]).rstrip("/")
    here = Path(page.file.abs_src_path).parent

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = Path(posixpath.normpath((here / path).as_posix()))
        if resolved.is_relative_to(docs_dir):
            return match.group(0)  # a page of the site: MkDocs validates it
        if not resolved.is_relative_to(root) or not resolved.exists():
            raise PluginError(
                f"{page.file.src_path}: link '{target}' points to {resolved}, which does not "
                "exist in the repository"
            )
        kind = "tree" if resolved.is_dir() else "blob"
        rel = resolved.relative_to(root).as_posix()
        url = f"{repo}/{kind}/main/{rel}" + (f"#{anchor}" if anchor else "")
        return f"{match.group(1)}{url}{match.group(3)}"

    return _LINK.sub(rewrite, markdown)
