{{ config(materialized='table', tags=['ml', 'ml_training']) }}
-- The training set's features: every as_of date of ml_as_of_dates (macros/ml_features.sql).
-- Only training reads it, so it is rebuilt when the models retrain, not on every new day.
{{ estore_ml_user_features("select as_of_date from " ~ ref('ml_as_of_dates')) }}
