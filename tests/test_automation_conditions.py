"""The whole-table condition on a graph that an upgrade changes: evaluated by Dagster itself."""

from __future__ import annotations

import dagster as dg

from dagster_project.lib.automation import upstream_or_code_changed


def graph(with_new_asset: bool) -> dg.Definitions:
    @dg.asset
    def facts() -> None: ...

    @dg.asset(deps=[facts], automation_condition=upstream_or_code_changed)
    def features() -> None: ...

    @dg.asset(deps=["features"], automation_condition=upstream_or_code_changed)
    def scores() -> None: ...

    return dg.Definitions(assets=[facts, features, scores] if with_new_asset else [facts])


def requested(defs: dg.Definitions, instance: dg.DagsterInstance, cursor):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    keys = {
        r.key.to_user_string() for r in result.results if result.get_requested_partitions(r.key)
    }
    return keys, result.cursor


def test_an_asset_added_by_an_upgrade_is_built_before_what_reads_it_and_only_once():
    instance = dg.DagsterInstance.ephemeral()
    before = graph(with_new_asset=False)
    dg.materialize([before.resolve_assets_def("facts")], instance=instance)
    _, cursor = requested(before, instance, None)

    # The upgrade adds `features` (its input exists) and `scores`, which reads it: both are
    # requested on the first tick, so `scores` never runs against a table that does not exist.
    after = graph(with_new_asset=True)
    keys, cursor = requested(after, instance, cursor)
    assert keys == {"features", "scores"}

    # Requested once: a tick with nothing new requests nothing, even before they are built.
    keys, cursor = requested(after, instance, cursor)
    assert keys == set()
