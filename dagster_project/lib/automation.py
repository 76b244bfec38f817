"""Declarative automation conditions: what rebuilds when upstream data changes."""

from __future__ import annotations

import dagster as dg

# Any day whose upstream day changed is rebuilt. (`eager()` only looks at the latest time
# window, and a late or re-dropped file touches older days.) Missing upstream days are normal:
# data covers only some days, so they do not block.
any_day_updated = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("any_day_updated")

# Whole-table models rebuild once their inputs changed, or their own code did.
upstream_or_code_changed = (
    (
        dg.AutomationCondition.any_deps_updated() | dg.AutomationCondition.code_version_changed()
    ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("upstream_or_code_changed")
