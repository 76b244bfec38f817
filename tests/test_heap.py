"""Objects that live as long as the process are frozen out of the collector's walks
(lib/heap.py)."""

from __future__ import annotations

import gc

import pytest

from dagster_project.lib.heap import long_lived


@pytest.fixture(autouse=True)
def _thaw():
    yield
    gc.unfreeze()  # the test process's own objects go back to being collected
    gc.enable()


def test_what_is_made_inside_is_frozen_and_collection_resumes():
    before = gc.get_freeze_count()
    with long_lived():
        assert not gc.isenabled()  # nothing to free while imports and loads run
        kept = [[i] for i in range(10_000)]
    assert gc.get_freeze_count() >= before + len(kept)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off_and_an_error_still_freezes():
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()
    gc.enable()
    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), long_lived():
        kept = [[i] for i in range(1_000)]
        raise RuntimeError("import failed")
    assert gc.get_freeze_count() >= before + len(kept)
    assert gc.isenabled()
