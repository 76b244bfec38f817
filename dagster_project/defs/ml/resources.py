"""ML resources: the tunable training/scoring settings, and where artifacts and truth live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dagster_project.lib.ml.config import MLConfig
from dagster_project.lib.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

GROUND_TRUTH = "ground_truth/users.parquet"


class MLSettings(dg.ConfigurableResource):
    """Where model artifacts go, the generator's ground truth (if any), and MLConfig values."""

    data_dir: str
    bucket: str
    sample_cap: int = MLConfig.sample_cap
    with_bgnbd: bool = MLConfig.with_bgnbd
    win_back_rate: float = MLConfig.win_back_rate
    contact_cost: float = MLConfig.contact_cost
    value_horizon_days: int = MLConfig.value_horizon_days

    def config(self) -> MLConfig:
        return MLConfig(
            sample_cap=self.sample_cap,
            with_bgnbd=self.with_bgnbd,
            win_back_rate=self.win_back_rate,
            contact_cost=self.contact_cost,
            value_horizon_days=self.value_horizon_days,
        )

    def ground_truth(self) -> pd.DataFrame | None:
        """The generator's latent traits per user, when the bucket is a local folder holding
        them (generated data); None for real data."""
        if self.bucket.startswith("gs://"):
            return None
        import pandas as pd

        path = Path(self.bucket) / GROUND_TRUTH
        return pd.read_parquet(path) if path.exists() else None


def ml_settings(settings: Settings) -> MLSettings:
    return MLSettings(data_dir=str(settings.data_dir), bucket=settings.bucket)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ml": ml_settings(Settings.from_env())})
