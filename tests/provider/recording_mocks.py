"""Pulumi mocks that record what a program registers, for tests that run programs."""

from __future__ import annotations

import pulumi


class RecordingMocks(pulumi.runtime.Mocks):
    """Records what ``new_resource`` receives; echoes the inputs back as the state."""

    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources[args.name] = args
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, None]:
        return {}, None
