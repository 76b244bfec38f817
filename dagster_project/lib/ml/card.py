"""The model card (markdown) written beside each artifact."""

from __future__ import annotations

from .config import MLConfig

ROWS = ("model", "current", "logistic", "boosted", "bgnbd", "heuristic", "oracle")


def metrics_table(metrics: dict) -> str:
    lines = [
        "| scorer | ROC AUC | PR AUC | log loss | Brier | calib. err | precision@thr"
        " | recall@thr | top-decile lift |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(m: dict, k: str) -> str:
        return f"{m[k]:.4f}" if k in m else "-"

    for name in ROWS:
        if name in metrics:
            m = metrics[name]
            keys = ("roc_auc", "pr_auc", "log_loss", "brier", "calibration_error",
                    "precision_at_threshold", "recall_at_threshold", "top_decile_lift")  # fmt: skip
            lines.append(f"| {name} | " + " | ".join(f(m, k) for k in keys) + " |")
    return "\n".join(lines)


def model_card(metadata: dict, config: MLConfig) -> str:
    task = metadata["task"]
    purpose = (
        f"P(the user places an order in the next {metadata['horizon_days']} days), for every user"
        " active in the last 90 days: whom to target with a purchase campaign."
        if task == "purchase"
        else f"P(a buyer places no order in the next {metadata['horizon_days']} days): who is"
        " about to lapse, ranked for retention by expected value."
    )
    m = metadata["metrics"]["model"]
    oracle = (
        f"- Share of the oracle's lift over chance: {m['oracle_fraction']:.2f}"
        " ((model AUC - 0.5) / (oracle AUC - 0.5); the target is >= 0.85)\n"
        if "oracle_fraction" in m
        else ""
    )
    return f"""# Model card: {metadata["model"]} {metadata["version"]}

## Purpose
{purpose}

## Data
- Point-in-time features `ml_user_features` (dbt): only events strictly before each as_of;
  the dates each model trains and is evaluated on are `ml_as_of_dates`' roles.
- Training as_of dates: {", ".join(metadata["train_as_of_dates"])} ({metadata["train_rows"]} rows,
  stratified sample cap {config.sample_cap}); holdout as_of {metadata["eval_as_of_date"]}
  ({metadata["eval_rows"]} rows). Every training label horizon ends before the holdout as_of.
- Data hash {metadata["data_hash"]}, code version {metadata["code_version"]}.

## Model
HistGradientBoostingClassifier on {len(metadata["features"])} features; parameters in metadata.json.

## Metrics on the holdout
{metrics_table(metadata["metrics"])}

{oracle}- Decision: {"promoted" if metadata["promoted"] else "not promoted"}: {metadata["decision"]}

## Retention economics (defaults)
expected value = P(churn) x expected future value x win-back rate - contact cost
- expected future value = the buyer's revenue per day of tenure (at least 30 days) x
  {config.value_horizon_days} days: what the buyer would bring in the next quarter at their
  own pace.
- win-back rate {config.win_back_rate:.0%}: retention e-mail/voucher campaigns typically bring
  back a few to ~15% of lapsing customers; 10% is a middle, deliberately modest figure.
- contact cost {config.contact_cost:.2f}: an e-mail plus the expected cost of a small voucher.
Change them in `MLConfig` (and on the Dagster `ml_config` resource).

## Limits
- Trained and validated on a few weekly as_of dates: seasonality longer than the window (and the
  spike day's effect on one horizon) is not learned.
- The oracle and its ratio exist only for generated data (ground truth of latent traits).
- Probabilities are calibrated on the training dates' base rate; a campaign shifts behaviour and
  invalidates the scores it acted on.
"""
