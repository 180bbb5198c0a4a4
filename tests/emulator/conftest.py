"""Fixtures of the emulator tests: a small school and an authenticated in-process client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from class_source.emulator import Emulator
from emulator_helpers import Api


@pytest.fixture
def emu() -> Emulator:
    return Emulator(seed=7, classes=20)


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.close()
