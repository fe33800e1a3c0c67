"""Fixtures for the async_core tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def server(recording_server):
    return recording_server
