{{ config(materialized='table', tags=['ml']) }}
-- The features the promoted models score: the warehouse's as_of (the day after the last event
-- day) only, the same query as the training set's ml_user_features (macros/ml_features.sql).
-- Rebuilt on every new day, at a fraction of the training set's cost (one as_of date, not 13).
{{ estore_ml_user_features("select as_of_date from " ~ ref('int_as_of')) }}
