"""``pulumi-metronome export``: an existing account as code, and what a stack leaves out.

    pulumi-metronome export [--base-url URL] [--out-dir DIR] [--import-file import.json]
        [--program __main__.py] [--quiet]
    pulumi-metronome export --diff state.json [--format text|json]
    pulumi-metronome export --from-stack state.json [--out-dir DIR] > urns.txt

Reads the account with ``METRONOME_BEARER_TOKEN`` (a read-only token is enough) and writes:

- ``import.json``, for ``pulumi import --file import.json`` with the native provider: one
  entry (type, name, id) per live object. Pulumi's import file has no way to spell a
  reference between the imported resources (its ``nameTable`` and ``parent`` are for parents
  and providers); its code generation turns any value equal to the id of another imported
  resource into a reference, so a product's ``billableMetricId`` and a rate's ``productId``
  come out as ``<metric>.id`` and ``<product>.id``. Except when a name is held by exactly
  two objects: Pulumi then writes every id as a literal (see ``pair_namesakes``), which
  export reports on stderr.
- ``__main__.py``, a Python program for the dynamic provider declaring the same objects with
  ``adopt_existing=True`` and the references written out: the first ``pulumi up`` takes every
  object over without a write to Metronome.

Both files are written to temporary files first and renamed into place, so a failed read
(every failed part named on stderr) leaves nothing behind, and no file is ever half written.
``--diff`` compares the account with a ``pulumi stack export`` and lists what is in one but
not the other. ``--from-stack`` writes the import file that moves a stack's dynamic resources
to native ones and prints their URNs for ``pulumi state delete`` (see docs/onboarding.md).
Exit status: 0 done; 1 the account could not be read whole; 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from ..client import TOKEN_ENV, MetronomeClient, check_base_url
from ..errors import ConfigurationError, MetronomeError
from ..native.schema import TOKENS, token_of
from ..resources.rate_card import RATES
from .account import (
    ADOPTABLE,
    ENTITIES,
    KINDS,
    NOT_EXPORTED,
    Account,
    Exported,
    ExportError,
    read_account,
)

ERROR_PREFIX = "pulumi-metronome export: error: "
WARNING_PREFIX = "pulumi-metronome export: warning: "
#: Where each kind refers to objects of another kind by id: (field, inside each rate).
REFERENCES: dict[str, tuple[tuple[str, bool], ...]] = {
    "Product": (("billable_metric_id", False), ("composite_product_ids", False)),
    "RateCard": (("product_id", True),),
}


class InputError(ValueError):
    """A bad option or input file (exit status 2)."""


# --- the CLI --------------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    """The ``export`` subcommand on the top-level parser's subparsers."""
    cmd = commands.add_parser(
        "export",
        help="write an existing account as a pulumi import file and a Python program",
        description=__doc__.split("\n")[0] if __doc__ else None,
    )
    cmd.add_argument("--base-url", help="Metronome's URL (default: $METRONOME_BASE_URL)")
    cmd.add_argument("--out-dir", default=".", help="where to write the files (default: .)")
    cmd.add_argument("--import-file", default="import.json", help="default: import.json")
    cmd.add_argument("--program", default="__main__.py", help="default: __main__.py")
    cmd.add_argument(
        "--diff",
        metavar="STATE",
        help="instead: list what differs between the account and this `pulumi stack export`",
    )
    cmd.add_argument(
        "--from-stack",
        metavar="STATE",
        help="instead: write the import file of this `pulumi stack export`'s dynamic resources "
        "(same names and ids, native types), and print their URNs (dependents first) for "
        "`pulumi state delete`; no Metronome call",
    )
    cmd.add_argument("--format", choices=("text", "json"), default="text", help="of --diff")
    cmd.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    """The ``export`` subcommand: 0 done, 1 the account was not read whole, 2 bad input."""

    def say(line: str) -> None:
        if not args.quiet:
            print(f"pulumi-metronome export: {line}", file=sys.stderr)

    if args.from_stack:
        return _from_stack(args, say)
    try:
        managed = load_stack(args.diff) if args.diff else None
        out_dir = Path(args.out_dir)
        if managed is None and not out_dir.is_dir():
            raise InputError(f"--out-dir {out_dir}: no such folder")
        if not os.environ.get(TOKEN_ENV):
            raise InputError(
                f"no Metronome bearer token: set the environment variable {TOKEN_ENV} "
                "(a read-only token is enough)"
            )
        if args.base_url:
            check_base_url(args.base_url, "--base-url")
        client = MetronomeClient(base_url=args.base_url)
        say(f"reading {client.base_url}")
        account = read_account(client, say)
    except InputError as error:
        print(ERROR_PREFIX + str(error), file=sys.stderr)
        return 2
    except ConfigurationError as error:  # a missing token or a bad URL: the setting named
        print(ERROR_PREFIX + error.message, file=sys.stderr)
        return 2
    except (ExportError, MetronomeError) as error:
        print(ERROR_PREFIX + str(error), file=sys.stderr)
        return 1
    say(f"read {account.count()} objects in {account.calls} API calls")
    for why in NOT_EXPORTED:
        say(f"not exported: {why}")
    left = [o for o in account.all() if o.kind not in ADOPTABLE]
    if left and managed is None:
        say(
            f"in {args.import_file} only, not in {args.program}: {len(left)} packages and "
            "notifications (the dynamic provider cannot adopt them; `pulumi import --file` "
            "takes them over with the native provider)"
        )
    if managed is not None:
        drift = diff(account, managed)
        sys.stdout.write(render_drift(drift, args.format))
        return 0
    for line in namesake_warnings(account):
        print(WARNING_PREFIX + line, file=sys.stderr)
    files = {
        out_dir / args.import_file: json.dumps(import_file(account), indent=2) + "\n",
        out_dir / args.program: program(account),
    }
    try:
        write_all(files)
    except OSError as error:
        print(ERROR_PREFIX + f"cannot write the files ({error})", file=sys.stderr)
        return 2
    for path in files:
        say(f"wrote {path}")
    return 0


def write_all(files: dict[Path, str]) -> None:
    """Each file written to a temporary file beside it, then renamed over it: a reader
    never sees a half-written file, and a failure before the renames leaves none."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps.append((temp, path))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        for temp, path in temps:
            os.replace(temp, path)
    finally:
        for temp, _ in temps:
            if os.path.exists(temp):
                os.unlink(temp)


# --- the import file ------------------------------------------------------------------------


def import_file(account: Account) -> dict[str, Any]:
    """``pulumi import --file``'s input: every object as the native provider's resource."""
    return {
        "resources": [{"type": token_of(o.kind), "name": o.name, "id": o.id} for o in account.all()]
    }


def pair_namesakes(account: Account) -> list[tuple[str, list[Exported]]]:
    """The names held by exactly two objects of the import, with the two objects.

    Pulumi's import guesses references: a string equal to the id or to the ``name`` output
    of exactly one other imported resource is written as a reference to it. Two namesakes
    A and B then get ``name = B.name`` and ``name = A.name``, a cycle; Pulumi's code
    generation sees it and starts over without guessing any reference, so every id of the
    whole import is written as a literal. (A name held by three or more objects is
    ambiguous to Pulumi and stays a literal, harmlessly.) The account cannot be changed by
    an export, so this is reported, not fixed.
    """
    holders: dict[str, list[Exported]] = {}
    for obj in account.all():
        name = obj.props.get("name")
        if isinstance(name, str):
            holders.setdefault(name, []).append(obj)
    return sorted((name, objs) for name, objs in holders.items() if len(objs) == 2)


def namesake_warnings(account: Account) -> list[str]:
    """One line per name held by exactly two objects (see ``pair_namesakes``)."""
    return [
        f"{name!r} is the name of exactly two objects ("
        + ", ".join(f"{o.kind} {o.name}" for o in objs)
        + "): `pulumi import` will write every id in the code it generates as a literal, "
        "not as a reference to the resource (a limit of Pulumi's import; the imported "
        "resources are right; see 'Known limits' in docs/onboarding.md)"
        for name, objs in pair_namesakes(account)
    ]


# --- the Python program ---------------------------------------------------------------------


class _Ref:
    """A reference to another exported object in the generated program."""

    def __init__(self, target: Exported) -> None:
        self.target = target


def _with_refs(obj: Exported, ids: dict[str, Exported]) -> dict[str, Any]:
    """The object's fields, each id of another exported object it names as a ``_Ref``."""

    def ref(value: Any) -> Any:
        target = ids.get(value) if isinstance(value, str) else None
        return _Ref(target) if target is not None else value

    props = dict(obj.props)
    for field, in_rates in REFERENCES.get(obj.kind, ()):
        if in_rates:
            props[RATES] = [
                {**r, field: ref(r[field])} if field in r else r for r in props.get(RATES, [])
            ]
        elif isinstance(props.get(field), list):
            props[field] = [ref(v) for v in props[field]]
        elif field in props:
            props[field] = ref(props[field])
    return props


def _source(value: Any) -> str:
    """A Python expression for a plain value (strings double-quoted, refs as ``x.id``)."""
    if isinstance(value, _Ref):
        return f"{value.target.variable}.id"
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(
            f"{json.dumps(str(k))}: {_source(v)}" for k, v in value.items() if v is not None
        )
        return "{" + items + "}"
    raise TypeError(f"cannot write {type(value).__name__} as Python")


def _refs_in(value: Any) -> list[Exported]:
    if isinstance(value, _Ref):
        return [value.target]
    if isinstance(value, list):
        return [t for v in value for t in _refs_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _refs_in(v)]
    return []


def _ordered(account: Account, props: dict[str, dict[str, Any]]) -> list[Exported]:
    """Declaration order: by kind, and within a kind every object after those it refers to
    (composite products after their parts); a cycle keeps the listing's order."""
    out: list[Exported] = []
    placed: set[str] = set()

    def place(obj: Exported, path: frozenset[str]) -> None:
        if obj.id in placed or obj.id in path:
            return
        for target in _refs_in(props[obj.id]):
            if target.kind == obj.kind:
                place(target, path | {obj.id})
        placed.add(obj.id)
        out.append(obj)

    for obj in account.all():
        if obj.id in props:
            place(obj, frozenset())
    return out


def program(account: Account) -> str:
    """The dynamic provider's program for the account (formatted by ``ruff`` when it is
    installed)."""
    ids = account.by_id()
    props = {o.id: _with_refs(o, ids) for o in account.all() if o.kind in ADOPTABLE}
    keys = {
        (o.props["entity"], o.props["key"]): o for o in account.objects.get("CustomFieldKey", [])
    }
    kinds = sorted({o.kind for o in account.all() if o.kind in ADOPTABLE})
    lines = [
        f'"""The Metronome account at {account.base_url}, as code: {len(props)} objects.',
        "",
        "Written by `pulumi-metronome export`. Every resource adopts the object that exists",
        "(adopt_existing=True), so the first `pulumi up` takes them over without a write.",
        '"""',
        "",
        "import pulumi",
        "",
        f"from pulumi_metronome import {', '.join(kinds)}" if kinds else "",
        "",
    ]
    for obj in _ordered(account, props):
        fields = dict(sorted(props[obj.id].items(), key=lambda kv: kv[0] != "name"))
        args = [json.dumps(obj.name)]
        args += [f"{k}={_source(v)}" for k, v in fields.items()]
        args.append("adopt_existing=True")
        entity = ENTITIES.get(obj.kind)
        needs = [
            keys[(entity, k)].variable
            for k in sorted(fields.get("custom_fields") or {})
            if (entity, k) in keys
        ]
        if needs:
            args.append(f"opts=pulumi.ResourceOptions(depends_on=[{', '.join(needs)}])")
        lines.append(f"{obj.variable} = {obj.kind}(" + ", ".join(args) + ")")
    lines.append("")
    return format_python("\n".join(lines) + "\n")


def format_python(source: str) -> str:
    """``source`` formatted by ``ruff format`` when ruff is on PATH, else as it is."""
    ruff = shutil.which("ruff")
    if ruff is None:
        return source
    done = subprocess.run(
        [ruff, "format", "--line-length", "100", "--stdin-filename", "__main__.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else source


# --- drift ----------------------------------------------------------------------------------


def stack_resources(path: str, kinds: Collection[str] = KINDS) -> list[tuple[str, str, str, bool]]:
    """The Metronome resources of ``kinds`` in a ``pulumi stack export``, in state order
    (each after what it depends on): (kind, id, urn, dynamic), dynamic and native alike."""
    from ..impact.inputs import TYPE_PREFIX, read_json
    from ..impact.inputs import InputError as StateError

    try:
        data = read_json(path, "state export")
    except StateError as error:
        raise InputError(str(error)) from None
    resources = data.get("deployment", {}).get("resources") if isinstance(data, dict) else None
    if not isinstance(resources, list):
        raise InputError(f"{path}: not a `pulumi stack export` (no deployment.resources list)")
    out = []
    for item in resources:
        if not isinstance(item, dict) or item.get("delete"):
            continue
        token = str(item.get("type", ""))
        dynamic = token.startswith(TYPE_PREFIX)
        kind = token[len(TYPE_PREFIX) :] if dynamic else TOKENS.get(token)
        if kind in kinds and item.get("id"):
            out.append((str(kind), str(item["id"]), str(item.get("urn", "")), dynamic))
    return out


def load_stack(path: str) -> dict[str, tuple[str, str]]:
    """The Metronome objects a ``pulumi stack export`` manages: id -> (kind, resource name)."""
    return {id_: (kind, urn.rsplit("::", 1)[-1]) for kind, id_, urn, _ in stack_resources(path)}


def _from_stack(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """``--from-stack``: the import file that moves a stack's dynamic resources to native
    ones (same names, same ids), and their URNs on stdout, dependents first, for
    ``pulumi state delete`` (which forgets a resource without calling its provider, so
    nothing is archived)."""
    try:
        # Every kind the native provider serves, not only the ones export reads.
        native_kinds = set(TOKENS.values())
        found = [r for r in stack_resources(args.from_stack, native_kinds) if r[3]]
        out_dir = Path(args.out_dir)
        if not out_dir.is_dir():
            raise InputError(f"--out-dir {out_dir}: no such folder")
    except InputError as error:
        print(ERROR_PREFIX + str(error), file=sys.stderr)
        return 2
    spec = {
        "resources": [
            {"type": token_of(kind), "name": urn.rsplit("::", 1)[-1], "id": id_}
            for kind, id_, urn, _ in found
        ]
    }
    path = out_dir / args.import_file
    try:
        write_all({path: json.dumps(spec, indent=2) + "\n"})
    except OSError as error:
        print(ERROR_PREFIX + f"cannot write {path} ({error})", file=sys.stderr)
        return 2
    say(f"wrote {path}: {len(found)} dynamic resources as native ones")
    sys.stdout.write("".join(f"{urn}\n" for _, _, urn, _ in reversed(found)))
    return 0


def diff(account: Account, managed: dict[str, tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """What the account has that the stack does not manage, and the reverse."""
    live = account.by_id()
    return {
        "unmanaged": [
            {"kind": o.kind, "id": o.id, "name": o.label, "resource": o.name}
            for o in account.all()
            if o.id not in managed
        ],
        "missing": [
            {"kind": kind, "id": id_, "resource": name}
            for id_, (kind, name) in sorted(managed.items(), key=lambda i: (i[1], i[0]))
            if id_ not in live
        ],
    }


def render_drift(drift: dict[str, list[dict[str, str]]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(drift, indent=2) + "\n"
    lines = [f"In the account, not in the stack: {len(drift['unmanaged'])}"]
    lines += [f"  {d['kind']} {d['name']!r} ({d['id']})" for d in drift["unmanaged"]]
    lines.append(f"In the stack, not in the account (or archived): {len(drift['missing'])}")
    lines += [f"  {d['kind']} {d['resource']} ({d['id']})" for d in drift["missing"]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pulumi_metronome.onboarding.export``: the subcommand on its own."""
    top = argparse.ArgumentParser(prog="pulumi-metronome")
    add_parser(top.add_subparsers(dest="command", required=True))
    return run(top.parse_args(["export", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
