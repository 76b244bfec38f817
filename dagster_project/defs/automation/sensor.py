"""The automation sensor: evaluates every asset's automation condition (lib/automation.py)."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import MAX_RETRIES_TAG, RETRY_ON_ASSET_OR_OP_FAILURE_TAG

# A build that failed or was cancelled is retried (from the failed step) at most this many
# times by the daemon; the days it covers stay "not built" in `estore summary` meanwhile.
MAX_BUILD_RETRIES = 2

automation_sensor = dg.AutomationConditionSensorDefinition(
    "estore_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Short: a dropped file reaches the marts in well under a minute (issue 13.11).
    minimum_interval_seconds=5,
    # Plain runs with a day-range tag, as `estore run` launches them (not backfills): both paths
    # read alike in the UI, and run retries apply (a backfill's runs are not retried).
    emit_backfills=False,
    run_tags={MAX_RETRIES_TAG: str(MAX_BUILD_RETRIES), RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "true"},
    description="Rebuilds the days a load touched, then the marts that read them.",
)
