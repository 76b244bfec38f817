"""Tunable constants of the behavioural model, calibrated against the REES46 statistics.

They live in one frozen dataclass so a calibration can vary them: `generate(config, params=...)`;
by default `generate()` uses `ModelParams()`. Calibrated on 0.5M-3M events over 31-60 days.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelParams:
    # --- time ---------------------------------------------------------------------------------
    # Users arriving this many days before the window are simulated so the window starts with a
    # steady-state population of returning users (no warm-up ramp in the first weeks).
    burn_in_days: int = 150
    # Hour-of-day session intensity (UTC); the store's customers live around UTC+3.
    hour_profile: tuple[float, ...] = (
        0.45, 0.35, 0.35, 0.45, 0.65, 0.85, 1.0, 1.1, 1.15, 1.2, 1.2, 1.2,
        1.2, 1.25, 1.3, 1.35, 1.4, 1.4, 1.35, 1.2, 1.0, 0.8, 0.65, 0.55,
    )  # fmt: skip
    # Monday..Sunday traffic factors (weekly seasonality).
    weekday_profile: tuple[float, ...] = (1.0, 0.97, 0.96, 0.95, 0.9, 1.08, 1.14)
    spike_traffic: float = 2.0  # sessions on the spike day vs a normal day
    spike_purchase: float = 6.0  # purchase probability multiplier on the spike day (~7x purchases)
    # --- users (latent traits) ------------------------------------------------------------------
    visit_rate_median: float = 0.075  # sessions per average day
    visit_rate_sigma: float = 1.25
    churn_hazard_median: float = 0.22  # per day
    churn_hazard_sigma: float = 0.9
    churn_engagement_coupling: float = 0.8  # engaged users churn slower
    max_lifetime_days: float = 400.0
    buyer_share: float = 0.175  # users who ever consider buying
    purchase_logit_mean: float = -0.45  # per-session purchase logit of a buyer
    purchase_logit_sigma: float = 0.6
    purchase_engagement_coupling: float = 0.5
    non_buyer_purchase_prob: float = 0.002
    reference_visit_rate: float = 0.2  # above it, per-visit buy/cart propensities are diluted
    visit_dilution: float = 1.0
    cart_logit_mean: float = -5.0  # per-session "add to cart and leave" logit
    cart_logit_sigma: float = 1.8
    cart_first_alpha: float = 1.5  # Beta(a, b) of the chance a purchase goes through the cart
    cart_first_beta: float = 1.6
    browse_depth_median: float = 3.7  # mean views per session, per user
    browse_depth_sigma: float = 0.55
    category_affinity_alpha: float = 3.0  # Beta: share of sessions in the favourite category
    category_affinity_beta: float = 2.0
    brand_loyalty_alpha: float = 1.2  # Beta: share of favourite-category views on the fav brand
    brand_loyalty_beta: float = 3.0
    # --- sessions -------------------------------------------------------------------------------
    repeat_view_prob: float = 0.22  # view the previous product again (refresh, back)
    explore_prob: float = 0.12  # a view outside the session's focus category
    extra_items_mean: float = 0.12  # extra items in one order (Poisson)
    extra_cart_items_mean: float = 2.3  # extra items in one abandoned cart (Poisson)
    buying_extra_views_mean: float = 2.0  # buyers compare more products (Poisson)
    view_gap_median_s: float = 22.0
    view_gap_sigma: float = 1.05
    max_gap_s: int = 1800
    # --- catalogue ------------------------------------------------------------------------------
    events_per_product: int = 250  # catalogue size scales with volume (real: 42.4M rows, 167k ids)
    min_products: int = 8_000
    max_products: int = 250_000
    n_category_ids: int = 624
    uncoded_row_share: float = 0.32
    product_zipf: float = 1.05  # Zipf-Mandelbrot popularity (rank + offset) ** -zipf
    product_zipf_offset: float = 4.0
    price_sigma_low: float = 0.4  # product price around its category's level, below / above
    price_sigma_high: float = 1.0
    brand_price_sigma: float = 0.2
    price_popularity: float = 0.3  # popularity ~ (relative price) ** -this
    brand_popularity: float = 0.5  # exponent on the brand's rank weight in product popularity
    price_scale: float = 0.75
    max_price: float = 2574.07
    min_price: float = 0.77
    no_brand_coded: float = 0.08
    no_brand_uncoded: float = 0.26
    drifting_price_share: float = 0.4  # products whose price moves a little each week
    drift_sigma: float = 0.012  # relative weekly price step
    n_brands_per_product: float = 1 / 48  # real: 3,446 brands for 167k products
    min_brands: int = 600
    max_brands: int = 4_000
    # --- quirks ---------------------------------------------------------------------------------
    duplicate_prob: float = 0.0003  # exact duplicate rows (plus the cart bursts)
    burst_prob: float = 0.0012  # a cart event repeated many times in one second
    burst_max: int = 80
    zero_price_prob: float = 0.002
    inconsistent_product_share: float = 0.004
    inconsistent_row_prob: float = 0.3
    empty_session_rate: float = 2e-6  # rows per row, plus ~0.5 per block
