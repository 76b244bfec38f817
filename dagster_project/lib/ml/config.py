"""What the two models predict, which features they use, and the tunable economics."""

from __future__ import annotations

from dataclasses import dataclass

FEATURES_TABLE = "analytics.ml_user_features"  # the training set: the dates with a role
SCORE_FEATURES_TABLE = "analytics.ml_score_features"  # the warehouse's as_of only: scored
LABELS_TABLE = "analytics.ml_user_labels"
AS_OF_TABLE = "analytics.ml_as_of_dates"

# Columns of ml_user_features used as model inputs (all numeric; nulls mean "never happened").
FEATURES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "days_since_last_order",
    "days_since_first_order",
    "frequency",
    "order_days",
    "monetary",
    "avg_order_value",
    "items_total",
    "active_days",
    "sessions_total",
    "cart_abandonment_rate",
    "days_between_orders",
    *(f"{c}_{d}d" for d in (7, 14, 30, 90) for c in ("sessions", "views", "carts", "orders")),
    "sessions_prev_7d",
    "sessions_trend_7d",
    "revenue_30d",
    "categories_seen",
    "brands_seen",
    "avg_viewed_price",
)


@dataclass(frozen=True)
class Task:
    name: str  # purchase | churn
    label: str  # column of ml_user_labels
    buyers_only: bool  # churn is defined for buyers only
    horizon_column: str  # column of ml_as_of_dates with the horizon in days
    role_column: str  # column of ml_as_of_dates: 'train' / 'evaluate' (the time split)

    @property
    def model_name(self) -> str:
        return f"{self.name}_model"


PURCHASE = Task("purchase", "purchased", False, "purchase_horizon_days", "purchase_role")
CHURN = Task("churn", "churned", True, "churn_horizon_days", "churn_role")
TASKS = {t.name: t for t in (PURCHASE, CHURN)}


@dataclass(frozen=True)
class MLConfig:
    # Training reads at most this many rows (stratified by label) so cost is bounded at scale.
    sample_cap: int = 200_000
    seed: int = 7
    # Fit the BG/NBD baseline (pymc-marketing; ~30 s of import and compile the first time).
    with_bgnbd: bool = True
    bgnbd_fit_cap: int = 50_000
    # Promotion: a candidate must beat every baseline and the current model by this ROC AUC margin.
    min_auc_gain: float = 0.0
    # Retention economics (see the model card for why these defaults).
    win_back_rate: float = 0.10  # share of contacted likely churners who order again thanks to it
    contact_cost: float = 0.50  # cost of one contact (an e-mail with a voucher), in currency units
    value_horizon_days: int = 90  # horizon of the "expected future value" of a retained buyer
    # Generator seed of the demo data (the oracle rebuilds the category mix from it).
    generator_seed: int = 42


# Where scoring writes each task's scores.
SCORE_TABLES = {"purchase": "analytics.ml_purchase_scores", "churn": "analytics.ml_churn_scores"}
