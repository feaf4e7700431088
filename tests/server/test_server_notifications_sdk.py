"""The official ``metronome`` SDK creates, reads, edits, lists and archives offset
lifecycle event notifications (``client.v2.notifications.offset``) on the local server,
with strict response validation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import metronome
import pytest
from metronome import Metronome
from metronome.types.v2 import LifecycleEventOffsetNotificationConfig
from metronome.types.v2.notifications import (
    OffsetArchiveResponse,
    OffsetCreateResponse,
    OffsetEditResponse,
    OffsetRetrieveResponse,
)

from metronome_local.process import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Metronome]:
    with Metronome(
        bearer_token=server.token,
        base_url=server.url,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


def test_notification_lifecycle(client: Metronome) -> None:
    offsets = client.v2.notifications.offset
    key = f"renewal-{uuid.uuid4().hex[:8]}"
    created = offsets.create(
        name="Renewal reminder",
        policy={"offset": "-P7D", "type": "contract.end"},
        uniqueness_key=key,
    )
    assert isinstance(created, OffsetCreateResponse)
    notification_id = created.data.id
    assert (created.data.name, created.data.policy.offset, created.data.policy.type) == (
        "Renewal reminder",
        "-P7D",
        "contract.end",
    )
    assert created.data.archived_at is None

    got = offsets.retrieve(id=notification_id)
    assert isinstance(got, OffsetRetrieveResponse) and got.data.id == notification_id

    edited = offsets.edit(id=notification_id, policy={"offset": "-P14D", "type": "contract.end"})
    assert isinstance(edited, OffsetEditResponse)
    assert offsets.retrieve(id=notification_id).data.policy.offset == "-P14D"
    with pytest.raises(metronome.BadRequestError, match=r"policy\.type: must be 'contract.end'"):
        offsets.edit(id=notification_id, policy={"offset": "P1D", "type": "contract.start"})

    with pytest.raises(metronome.ConflictError):
        offsets.create(name="again", policy={"offset": "P1D", "type": "x"}, uniqueness_key=key)

    listed = list(offsets.list())
    assert all(isinstance(n, LifecycleEventOffsetNotificationConfig) for n in listed)
    assert notification_id in {n.id for n in listed}

    archived = offsets.archive(id=notification_id)
    assert isinstance(archived, OffsetArchiveResponse) and archived.data.archived_at is not None
    assert notification_id not in {n.id for n in offsets.list()}
    assert notification_id in {n.id for n in offsets.list(archive_filter="ARCHIVED")}
    assert offsets.retrieve(id=notification_id).data.archived_at is not None


def test_list_pages_with_the_body_cursor(client: Metronome) -> None:
    offsets = client.v2.notifications.offset
    ids = [
        offsets.create(name=f"n{i}", policy={"offset": "P1D", "type": "contract.start"}).data.id
        for i in range(3)
    ]
    first = offsets.list(limit=2)
    assert len(first.data) == 2 and first.cursor is not None
    seen = [n.id for n in offsets.list(limit=2)]
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == ids


def test_bad_requests_name_the_field(client: Metronome) -> None:
    offsets = client.v2.notifications.offset
    with pytest.raises(metronome.BadRequestError, match=r"policy\.offset: '7 days' is not an ISO"):
        offsets.create(name="n", policy={"offset": "7 days", "type": "contract.end"})
    with pytest.raises(metronome.BadRequestError, match=r"policy\.type: is required"):
        offsets.create(name="n", policy={"offset": "P1D"})  # type: ignore[typeddict-item]
    with pytest.raises(metronome.NotFoundError):
        offsets.retrieve(id=str(uuid.uuid4()))


def test_v2_routes_need_the_token(server: LocalServer) -> None:
    with (
        Metronome(bearer_token="wrong", base_url=server.url, max_retries=0) as client,
        pytest.raises(metronome.AuthenticationError),
    ):
        client.v2.notifications.offset.list().data  # noqa: B018
