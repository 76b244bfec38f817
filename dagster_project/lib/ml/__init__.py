"""Purchase-propensity and churn models: pure code (no Dagster decorators).

Features and labels are dbt models (`dbt-project/models/ml`); this package reads them, trains and
evaluates models against baselines and the generator's ground truth, versions artifacts and
writes scores back to the warehouse. `defs/ml` wires it into Dagster.
"""
