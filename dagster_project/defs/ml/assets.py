"""The purchase and churn models (train + evaluate + promote) and the warehouse scores.

Training, scoring and plotting (scikit-learn, pandas, matplotlib) are imported by the assets
that use them: every process that loads the definitions (`estore run`, each Dagster run, the
code server) would otherwise pay seconds of imports for models it does not train."""

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from dagster_project.defs.dbt.assets import dbt_marts
from dagster_project.defs.ingest.assets import WAREHOUSE_POOL
from dagster_project.defs.ingest.resources import Warehouse
from dagster_project.defs.ml.resources import MLSettings
from dagster_project.lib.automation import retrain, upstream_or_code_changed
from dagster_project.lib.ml import artifacts, card
from dagster_project.lib.ml.config import CHURN, PURCHASE, Task

if TYPE_CHECKING:
    from dagster_project.lib.ml.training import TrainingResult

FEATURES_KEY = get_asset_key_for_model([dbt_marts], "ml_user_features")
SCORE_FEATURES_KEY = get_asset_key_for_model([dbt_marts], "ml_score_features")
LABELS_KEY = get_asset_key_for_model([dbt_marts], "ml_user_labels")
GROUP = "ml"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"![{path.stem}](data:image/png;base64,{data})"


def _metadata(result: "TrainingResult", config) -> dict:
    import json

    from dagster_project.lib.ml import plots

    md = json.loads((result.artifact_dir / "metadata.json").read_text())
    card_text = card.model_card(md, config)
    (result.artifact_dir / "model_card.md").write_text(card_text)
    paths = plots.write_plots(result, result.artifact_dir)
    out: dict = {
        "version": result.version,
        "promoted": result.decision.promote,
        "decision": result.decision.reason,
        "current_version": result.current_version or "none",
        "train_as_of_dates": ", ".join(d.isoformat() for d in result.split.train_dates),
        "eval_as_of_date": result.split.eval_date.isoformat(),
        "artifact_dir": dg.MetadataValue.path(str(result.artifact_dir)),
        "metrics": dg.MetadataValue.md(card.metrics_table(result.metrics)),
        "model_card": dg.MetadataValue.md(card_text),
        "plots": dg.MetadataValue.md("\n\n".join(_image(p) for p in paths.values())),
        "training_seconds": result.seconds,
    }
    for name, m in result.metrics.items():
        out[f"{name}_roc_auc"] = dg.MetadataValue.float(m["roc_auc"])
    if "oracle_fraction" in result.metrics["model"]:
        out["oracle_fraction"] = dg.MetadataValue.float(result.metrics["model"]["oracle_fraction"])
    return out


def _train(context: dg.AssetExecutionContext, task: Task, warehouse: Warehouse, ml: MLSettings):
    from dagster_project.lib.ml.data import InsufficientHistory
    from dagster_project.lib.ml.training import train_task

    config = ml.config()
    with warehouse.connect() as con:
        try:
            result = train_task(con, task, Path(ml.data_dir), config, truth=ml.ground_truth())
        except InsufficientHistory as exc:
            # Too little data is a state, not a failure (like churn's insufficient_history):
            # recorded here, retrained on the weekly schedule or when materialized by hand.
            context.log.warning(f"{task.model_name} not trained: {exc}")
            return dg.MaterializeResult(metadata={"status": f"not trained: {exc}"})
    context.log.info(f"{task.model_name} {result.version}: {result.decision.reason}")
    return dg.MaterializeResult(metadata=_metadata(result, config))


@dg.asset(
    name="purchase_model", group_name=GROUP, deps=[FEATURES_KEY, LABELS_KEY],
    automation_condition=retrain, pool=WAREHOUSE_POOL,
    description="P(order in the next 7 days): trained, evaluated on a later as_of against the"
    " baselines and the oracle, promoted only if it beats them and the current model.",
)  # fmt: skip
def purchase_model(context: dg.AssetExecutionContext, warehouse: Warehouse, ml: MLSettings):
    return _train(context, PURCHASE, warehouse, ml)


@dg.asset(
    name="churn_model", group_name=GROUP, deps=[FEATURES_KEY, LABELS_KEY],
    automation_condition=retrain, pool=WAREHOUSE_POOL,
    description="P(a buyer places no order in the next 30 days), same protocol as purchase_model.",
)  # fmt: skip
def churn_model(context: dg.AssetExecutionContext, warehouse: Warehouse, ml: MLSettings):
    return _train(context, CHURN, warehouse, ml)


@dg.multi_asset(
    specs=[
        dg.AssetSpec("ml_purchase_scores", group_name=GROUP,
                     deps=[SCORE_FEATURES_KEY, "purchase_model"],
                     automation_condition=upstream_or_code_changed),
        dg.AssetSpec("ml_churn_scores", group_name=GROUP,
                     deps=[SCORE_FEATURES_KEY, "churn_model"],
                     automation_condition=upstream_or_code_changed),
        dg.AssetSpec("ml_retention_targets", group_name=GROUP,
                     deps=[SCORE_FEATURES_KEY, "churn_model"],
                     automation_condition=upstream_or_code_changed),
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)  # fmt: skip
def ml_scores(context: dg.AssetExecutionContext, warehouse: Warehouse, ml: MLSettings):
    """Scores of the latest as_of with the promoted models (rebuilt after every marts update)."""
    untrained = [
        t.model_name
        for t in (PURCHASE, CHURN)
        if artifacts.current_version(Path(ml.data_dir), t.model_name) is None
    ]
    if untrained:
        context.log.warning(f"no promoted {', '.join(untrained)} yet: nothing scored")
        for key in ("ml_purchase_scores", "ml_churn_scores", "ml_retention_targets"):
            yield dg.MaterializeResult(
                asset_key=key, metadata={"status": f"no promoted {', '.join(untrained)}"}
            )
        return
    from dagster_project.lib.ml import scoring

    with warehouse.connect() as con:
        out = scoring.score_all(con, Path(ml.data_dir), ml.config())
    for name, key in (("purchase", "ml_purchase_scores"), ("churn", "ml_churn_scores")):
        frame = out[name]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows": len(frame),
                "mean_probability": float(frame["probability"].mean()) if len(frame) else 0.0,
                "model_version": frame["model_version"].iloc[0] if len(frame) else "none",
            },
        )
    targets = out["targets"]
    yield dg.MaterializeResult(
        asset_key="ml_retention_targets",
        metadata={
            "rows": len(targets),
            "total_expected_value": float(targets["expected_value"].sum()) if len(targets) else 0.0,
            "preview": dg.MetadataValue.md(targets.head(10).to_markdown(index=False))
            if len(targets)
            else "no buyer worth contacting",
        },
    )


ml_job = dg.define_asset_job(
    "ml_job",
    selection=dg.AssetSelection.assets(purchase_model, churn_model, ml_scores),
    description="Train, evaluate and promote both models, then score (the runner routes ML here).",
)
