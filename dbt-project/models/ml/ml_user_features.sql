{{ config(materialized='table', tags=['ml', 'ml_training']) }}
-- The training set's features: the as_of dates of ml_as_of_dates that a model trains or is
-- evaluated on (in_training_set; none until a task has both), macros/ml_features.sql.
-- Only training reads it, so it is rebuilt when the models retrain, not on every new day.
{{ estore_ml_user_features(
    "select as_of_date from " ~ ref('ml_as_of_dates') ~ " where in_training_set"
) }}
