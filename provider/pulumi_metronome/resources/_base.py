"""What every resource kind's provider and resource class share, written once.

- ``MetronomeProvider``: credentials from ``configure`` (stack config, else the environment),
  the base URL checked there (a malformed ``metronome:baseUrl`` fails ``pulumi preview``),
  and one client built lazily on first use (check and diff never need the network).
  Providers live in importable modules, so ``pulumi.dynamic.Resource`` pickles them *by
  reference*: the serialized ``__provider`` names the class, and ``__getstate__`` keeps the
  token and the client out of it.
- Pulumi's unknown values (``is_unknown``), the check helpers (``unexpected_arguments``,
  ``check_failures``) and the typed ``*Args`` classes as plain dicts (``plain``).
- ``validate_declaration``: a resource class checks its fully known arguments when it is
  declared, so one ``pulumi preview`` reports every problem of every declaration.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pulumi
from pulumi.dynamic import CheckFailure, ConfigureRequest, ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import rpc

from ..client import BASE_URL_CONFIG, TOKEN_CONFIG, MetronomeClient, resolve_base_url
from ..errors import MetronomeError, ProviderRefusal
from ..models import SpecError, Violation
from .diffs import DiffPlan
from .ownership import Ownership

#: Inputs that steer the provider and are not sent to Metronome.
ADOPT = "adopt_existing"
#: The Pulumi resource name, so the provider can tell resources apart (see ``ownership``).
RESOURCE_KEY = "__resource"
PROVIDER_KEY = "__provider"
#: The opt-in that lets a change replace an object Metronome cannot edit.
ALLOW_REPLACE = "allow_replace"
PULUMI_KEYS = frozenset({ADOPT, RESOURCE_KEY, PROVIDER_KEY})


def is_unknown(value: Any) -> bool:
    """True if ``value`` is, or holds, a value not known until apply (preview).

    Through the engine, ``pulumi.dynamic`` deserializes check/diff inputs with
    ``keep_unknowns=True``: an unknown arrives as a ``pulumi.output.Unknown`` instance, not
    as the ``rpc.UNKNOWN`` sentinel string (accepted too, for direct calls).
    """
    return _anywhere(
        value, lambda v: isinstance(v, Unknown) or (isinstance(v, str) and v == rpc.UNKNOWN)
    )


def _anywhere(value: Any, test: Callable[[Any], bool]) -> bool:
    """``test`` holds for ``value`` or for anything inside its dicts, lists and tuples."""
    if test(value):
        return True
    if isinstance(value, Mapping):
        return any(_anywhere(v, test) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_anywhere(v, test) for v in value)
    return False


def unexpected_arguments(news: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """Names in ``news`` that are neither one of ``fields`` nor one of Pulumi's keys."""
    known = set(fields) | PULUMI_KEYS
    return [key for key in news if key not in known]


def check_failures(violations: Iterable[Violation]) -> list[CheckFailure]:
    """Violations as Pulumi check failures: the property is the top-level argument (the
    engine looks its value up by that name and prints it), the reason starting with the
    full path when the problem is deeper (``group_keys[0]: ...``)."""
    failures = []
    for violation in violations:
        top = violation.field.split("[")[0].split(".")[0] or "name"
        reason = violation.message if violation.field == top else str(violation)
        failures.append(CheckFailure(top, reason))
    return failures


S = TypeVar("S")


def parse_declaration(
    kind: str, news: Mapping[str, Any], fields: Iterable[str], parse: Callable[[Any], S]
) -> tuple[S | None, list[CheckFailure]]:
    """``check``'s common start for a kind whose rules need every field known: the failures
    of arguments the kind does not take, and ``parse(news)``; None instead of the spec when
    a field is unknown until apply (checked then) or breaks a rule (its failures added)."""
    fields = tuple(fields)
    failures = [
        CheckFailure(key, f"is not an argument of {kind}")
        for key in unexpected_arguments(news, (*fields, ALLOW_REPLACE))
    ]
    if any(is_unknown(news.get(k)) for k in fields):
        return None, failures
    try:
        return parse(news), failures
    except SpecError as error:
        return None, failures + check_failures(error.violations)


def text_of(props: Mapping[str, Any], key: str) -> str:
    """``props[key]`` when it is known text, else "" (for messages)."""
    value = props.get(key)
    return value if isinstance(value, str) else ""


def resource_of(props: Mapping[str, Any]) -> str | None:
    """The Pulumi resource name stored with the inputs (None in state from before it was)."""
    value = props.get(RESOURCE_KEY)
    return value if isinstance(value, str) else None


def stored(state: Mapping[str, Any], props: Mapping[str, Any], *flags: str) -> dict[str, Any]:
    """What a resource stores: the object's own state, the steering ``flags`` it takes
    (``adopt_existing``, ``allow_replace``) as booleans, and the resource name when known."""
    outs = dict(state)
    for flag in flags:
        outs[flag] = bool(props.get(flag) or False)
    if resource_of(props) is not None:
        outs[RESOURCE_KEY] = props[RESOURCE_KEY]
    return outs


def plain(value: Any) -> Any:
    """Typed arg classes to the dicts Pulumi serializes, also inside ``Output``s (Pulumi
    cannot serialize a dataclass that an ``Output`` resolves to)."""
    if isinstance(value, pulumi.Output):
        return value.apply(plain)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _is_plain(value: Any) -> bool:
    """Fully known now, in the program: no ``Output``, no awaitable anywhere inside."""
    return not _anywhere(value, lambda v: isinstance(v, pulumi.Output) or hasattr(v, "__await__"))


T = TypeVar("T")


def found_or_none(get: Callable[[str], T], id_: str) -> T | None:
    """``get(id_)``, or None when Metronome answers 404 (the object is gone); any other
    failure is raised, never taken for "gone"."""
    try:
        return get(id_)
    except MetronomeError as error:
        if error.not_found:
            return None
        raise


class InvalidDeclarations(pulumi.RunError, ProviderRefusal):
    """The program declared resources that break Metronome's rules (each problem was
    logged as an error above). A ``RunError``: Pulumi prints its message, no traceback."""


_invalid_lock = threading.Lock()
_invalid: list[str] = []


def validate_declaration(
    kind: str,
    resource_name: str,
    props: Mapping[str, Any],
    validate: Callable[[dict[str, Any], frozenset[str]], None],
) -> pulumi.Output[Any] | None:
    """Check the plain arguments of a declaration now, with the provider's own rules.

    Arguments that are ``Output``s are left to the provider's ``check``. Each problem is
    logged as its own error, and the returned ``Output`` (to be passed as an input) fails
    the resource's registration, so that the program ends in error once every declaration
    has been checked. None when nothing is wrong.
    """
    known = {k: v for k, v in props.items() if v is not None and _is_plain(v)}
    unknown = frozenset(k for k, v in props.items() if v is not None and k not in known)
    try:
        validate(known, unknown)
    except SpecError as error:
        problems = error.violations
    else:
        return None
    for violation in problems:
        pulumi.log.error(f"{kind} {resource_name!r}: {violation}")
    with _invalid_lock:
        _invalid.append(resource_name)

    def fail(_: Any) -> Any:
        with _invalid_lock:
            names = ", ".join(repr(n) for n in _invalid)
        raise InvalidDeclarations(
            f"invalid declarations ({names}); every problem is listed above. Nothing was "
            "sent to Metronome."
        )

    return pulumi.Output.from_input(None).apply(fail)


_ONCE_LOCK = threading.RLock()  # a build may need another (the snapshot, the client)


class MetronomeProvider(ResourceProvider):
    """Shared plumbing: credentials from ``configure`` and one lazily built client."""

    #: Nothing secret is ever captured, so the serialized provider need not be a secret.
    serialize_as_secret_always = False

    # Unpickling an empty state runs no __init__: these class defaults are the fresh state.
    _token: str | None = None
    _base_url: str | None = None
    _client: MetronomeClient | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Whatever a configured instance holds (the token, the client), pickle none of it.
        return {}

    def configure(self, req: ConfigureRequest) -> None:
        """Keep the stack's credentials; refuse a malformed base URL here, at preview."""
        self.use_credentials(req.config.get(TOKEN_CONFIG), req.config.get(BASE_URL_CONFIG))

    def use_credentials(self, token: str | None, base_url: str | None) -> None:
        """Take the configured token and base URL (None or "": the environment's, then
        Metronome's); a malformed base URL raises ``ConfigurationError`` naming the setting.
        Both front ends configure through here."""
        base_url = base_url or None
        # Raises ConfigurationError naming the setting (config or environment variable).
        resolve_base_url(base_url)
        with _ONCE_LOCK:
            self._token = token or None
            self._base_url = base_url
            self._client = None

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """The diff of stored outputs ``olds`` and checked inputs ``news``, per field and
        per entry; ``diff`` answers its summary. Each kind defines it."""
        raise NotImplementedError

    @staticmethod
    def end(
        owners: Ownership,
        id_: str,
        props: Mapping[str, Any],
        remove: Callable[[str], None],
        *,
        left: str = "not archived",
    ) -> None:
        """``delete``: ``remove(id_)`` (archive: Metronome has no delete), unless another
        resource of this run took the object over (a rename). Already gone counts as done;
        any other failure (401, 5xx, the network) is raised, never taken for success."""
        if owners.handed_over(id_, resource_of(props), left):
            return
        try:
            remove(id_)
        except MetronomeError as error:
            if not error.not_found:
                raise

    def sync_custom_fields(
        self, entity: str, object_id: str, old: Mapping[str, str], new: Mapping[str, str]
    ) -> None:
        """Bring an object's custom fields from ``old`` to ``new`` in place: one call sets the
        changed values, one deletes the removed keys (none when nothing differs)."""
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        removed = sorted(k for k in old if k not in new)
        if changed:
            self.client.set_custom_field_values(entity, object_id, changed)
        if removed:
            self.client.delete_custom_field_values(entity, object_id, removed)

    @property
    def client(self) -> MetronomeClient:
        """Built on first use: check and diff never need credentials or the network."""
        return self.once("_client", lambda: MetronomeClient(self._token, self._base_url))

    def once(self, attribute: str, build: Callable[[], T]) -> T:
        """``self.<attribute>``, built by ``build`` on first use, once even when the
        provider's four threads ask at the same moment."""
        found: T | None = getattr(self, attribute)
        if found is None:
            with _ONCE_LOCK:
                found = getattr(self, attribute)
                if found is None:
                    found = build()
                    setattr(self, attribute, found)
        return found
