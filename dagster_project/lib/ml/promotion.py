"""Whether a newly trained model replaces the current one (a pure rule, tested by hand cases)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide_promotion(
    candidate_auc: float,
    baseline_aucs: dict[str, float],
    current_auc: float | None,
    min_gain: float = 0.0,
) -> Decision:
    """Promote only if the candidate's holdout ROC AUC beats every baseline and the current
    model (all measured on the same holdout) by more than `min_gain`."""
    for name, auc in sorted(baseline_aucs.items()):
        if not candidate_auc > auc + min_gain:
            return Decision(
                False,
                f"candidate AUC {candidate_auc:.4f} does not beat baseline {name} ({auc:.4f})",
            )
    if current_auc is not None and not candidate_auc > current_auc + min_gain:
        return Decision(
            False,
            f"candidate AUC {candidate_auc:.4f} does not beat the current model ({current_auc:.4f})"
            " on the same holdout: keeping the current model",
        )
    best = max(baseline_aucs.values(), default=float("nan"))
    against = "no current model" if current_auc is None else f"current {current_auc:.4f}"
    return Decision(
        True, f"candidate AUC {candidate_auc:.4f} beats the baselines (best {best:.4f}), {against}"
    )
