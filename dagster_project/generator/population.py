"""Users with latent traits, and the visits (sessions) that follow from them.

Users arrive over time (also during a burn-in period before the window, so the window opens with a
realistic mix of returning users). Each user visits at their own rate until they churn; their first
visit is their arrival. Session counts, returns and churn are therefore consequences of the traits,
not separately sampled statistics. Everything is vectorised over blocks of arrivals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import arrow
from .catalog import Catalog
from .params import ModelParams
from .rand import rng_for, uniform_u32
from .timeline import DAY, Timeline

# New users of the window get ids from here up (the real October newcomers are ~555M).
NEW_USER_ID_BASE = 555_000_000
# Ids of users who arrived during the burn-in spread below it, like the older real ids (51xM..).
OLD_USER_ID_SPAN = 40_000_000
ARRIVALS_PER_BLOCK = 1_000_000
PILOT_ARRIVALS = 250_000

TRAIT_COLUMNS = (
    "visit_rate",
    "churn_hazard",
    "purchase_prob",
    "cart_prob",
    "cart_first",
    "browse_depth",
    "category_affinity",
    "brand_loyalty",
)


@dataclass(frozen=True)
class Population:
    user_id: np.ndarray  # int64, ascending (ids grow with arrival time)
    arrived_at: np.ndarray  # int64 epoch seconds (may be before the window)
    churned_at: np.ndarray  # int64 epoch seconds (may be after the window)
    fav_category: np.ndarray  # int32 catalog category index
    fav_group: np.ndarray  # int32 catalog (category, brand) group index
    traits: dict[str, np.ndarray]  # float32 per TRAIT_COLUMNS
    n_sessions: np.ndarray  # int32 sessions inside the window
    # Sessions, sorted by start time; the position is the session's global index.
    session_start: np.ndarray  # int64
    session_user: np.ndarray  # int32 index into the user arrays

    @property
    def n_users(self) -> int:
        return len(self.user_id)

    def ground_truth(self, catalog: Catalog) -> pa.Table:
        code = catalog.category_code_idx[self.fav_category]
        group_brand = catalog.product_brand[np.searchsorted(catalog.product_group, self.fav_group)]
        # UTC, like event_time; milliseconds because Parquet has no second unit.
        ms = pa.timestamp("ms")
        columns: dict[str, pa.Array] = {
            "user_id": arrow.numeric(self.user_id),
            "arrived_at": arrow.numeric(self.arrived_at * 1000, type=ms),
            "churned_at": arrow.numeric(self.churned_at * 1000, type=ms),
        }
        columns.update({name: arrow.numeric(self.traits[name]) for name in TRAIT_COLUMNS})
        columns.update(
            {
                "favourite_category_id": arrow.numeric(catalog.category_id[self.fav_category]),
                "favourite_category_code": arrow.take(
                    arrow.strings(catalog.codes), np.maximum(code, 0), valid=code >= 0
                ),
                "favourite_brand": arrow.take(
                    arrow.strings(catalog.brands),
                    np.maximum(group_brand, 0),
                    valid=group_brand >= 0,
                ),
                "n_sessions": arrow.numeric(self.n_sessions),
            }
        )
        return pa.table(columns)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sample_activity(
    rng: np.random.Generator, n: int, params: ModelParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(engagement, visit rate, churn hazard) of n arrivals: one latent engagement factor makes
    frequent visitors stay longer. Drawn first so arrivals who churned before the window can be
    dropped before anything else is sampled for them."""
    engagement = rng.standard_normal(n)
    visit_rate = params.visit_rate_median * np.exp(params.visit_rate_sigma * engagement)
    c = params.churn_engagement_coupling
    churn_noise = -c * engagement + np.sqrt(1 - c * c) * rng.standard_normal(n)
    churn = params.churn_hazard_median * np.exp(params.churn_hazard_sigma * churn_noise)
    return engagement, visit_rate, np.maximum(churn, 1.0 / params.max_lifetime_days)


def sample_preferences(
    rng: np.random.Generator,
    engagement: np.ndarray,
    visit_rate: np.ndarray,
    params: ModelParams,
    catalog: Catalog,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Buying, carting, browsing and taste traits; engaged users are more often buyers."""
    n = len(engagement)
    buyer_logit = np.log(params.buyer_share / (1 - params.buyer_share)) + 0.5 * engagement
    buyer = rng.random(n) < _sigmoid(buyer_logit)
    purchase_logit = (
        params.purchase_logit_mean
        + params.purchase_logit_sigma * rng.standard_normal(n)
        + params.purchase_engagement_coupling * engagement
    )
    # Frequent visitors browse more per purchase: per-visit propensities are diluted above a
    # reference visit rate, so buying grows with visits but sub-linearly (no 30-order users).
    dilution = np.minimum(1.0, params.reference_visit_rate / visit_rate) ** params.visit_dilution
    purchase = np.where(buyer, _sigmoid(purchase_logit), params.non_buyer_purchase_prob) * dilution
    cart_logit = params.cart_logit_mean + params.cart_logit_sigma * rng.standard_normal(n)
    cart = _sigmoid(cart_logit + 0.8 * buyer) * dilution
    cart_first = rng.beta(params.cart_first_alpha, params.cart_first_beta, n)
    depth = params.browse_depth_median * np.exp(params.browse_depth_sigma * rng.standard_normal(n))
    affinity = rng.beta(params.category_affinity_alpha, params.category_affinity_beta, n)
    loyalty = rng.beta(params.brand_loyalty_alpha, params.brand_loyalty_beta, n)
    fav_category = catalog.sample_category(uniform_u32(rng, n))
    fav_group = catalog.sample_group_in_category(fav_category, uniform_u32(rng, n))
    traits = {
        "purchase_prob": purchase,
        "cart_prob": cart,
        "cart_first": cart_first,
        "browse_depth": np.maximum(depth, 1.0),
        "category_affinity": affinity,
        "brand_loyalty": loyalty,
    }
    return {k: v.astype(np.float32) for k, v in traits.items()}, fav_category, fav_group


def expected_events_per_session(
    traits: dict[str, np.ndarray], fav_category: np.ndarray, catalog: Catalog, params: ModelParams
) -> np.ndarray:
    """Mean rows of one session of each user (used to size the population and the progress bar);
    mirrors behaviour.expand_sessions on an ordinary day."""
    affinity = traits["category_affinity"].astype(np.float64)
    mean_conversion = float(np.dot(catalog.category_weight, catalog.category_conversion))
    conversion = affinity * catalog.category_conversion[fav_category]
    conversion += (1 - affinity) * mean_conversion
    buy = np.minimum(traits["purchase_prob"] * conversion, 0.95)
    items = 1 + params.extra_items_mean
    views = traits["browse_depth"] + buy * params.buying_extra_views_mean
    carts = buy * items * traits["cart_first"]
    carts += traits["cart_prob"] * conversion * (1 + params.extra_cart_items_mean)
    return views + carts + buy * items


@dataclass
class _Arrivals:
    """Users of one arrival block that have at least one session in the window."""

    user_id: np.ndarray
    arrived_at: np.ndarray
    churned_at: np.ndarray
    fav_category: np.ndarray
    fav_group: np.ndarray
    traits: dict[str, np.ndarray]
    is_new: np.ndarray
    extra_sessions: np.ndarray
    # Session start times and the block-local index of their user (empty in the pilot run).
    session_start: np.ndarray
    session_user: np.ndarray


def _simulate_arrivals(
    seed: int,
    stage: str,
    rate: float,
    timeline: Timeline,
    params: ModelParams,
    catalog: Catalog,
    with_sessions: bool,
) -> list[_Arrivals]:
    """Arrivals at `rate` users per average day from the burn-in origin to the window end."""
    cum0, cum_start, cum_end = (
        timeline.cum[0],
        float(timeline.warp(timeline.start)),
        timeline.cum[-1],
    )
    n_old = int(round(rate * (cum_start - cum0)))
    n_new = int(round(rate * (cum_end - cum_start)))
    old_gap = max(1, OLD_USER_ID_SPAN // max(n_old, 1))
    blocks: list[_Arrivals] = []
    next_id = NEW_USER_ID_BASE - int(n_old * old_gap)
    # Two phases (burn-in, window) so ids can be denser for newcomers; blocks keep memory bounded.
    phases = [(cum0, cum_start, n_old, old_gap), (cum_start, cum_end, n_new, 3)]
    block_no = 0
    for lo, hi, count, gap in phases:
        n_blocks = max(1, -(-count // ARRIVALS_PER_BLOCK))
        bounds = np.linspace(lo, hi, n_blocks + 1)
        sizes = np.diff(np.round(np.linspace(0, count, n_blocks + 1)).astype(np.int64))
        for b in range(n_blocks):
            rng = rng_for(seed, stage, block_no)
            block_no += 1
            n = int(sizes[b])
            if n == 0:
                continue
            # Sorted uniform arrival positions in O(n): normalised cumulative exponential gaps.
            steps = np.cumsum(rng.exponential(1.0, n + 1))
            warped = bounds[b] + (bounds[b + 1] - bounds[b]) * steps[:-1] / steps[-1]
            arrived = timeline.unwarp(warped)
            ids = next_id + np.cumsum(rng.integers(1, 2 * int(gap), n))  # increasing, unique
            next_id = int(ids[-1])
            engagement, visit_rate, churn = sample_activity(rng, n, params)
            churned = arrived + (rng.exponential(1.0 / churn) * DAY).astype(np.int64)
            is_new = arrived >= timeline.start
            lo_t = np.maximum(arrived, timeline.start)
            hi_t = np.minimum(churned, timeline.end)
            active = np.maximum(timeline.warp(hi_t) - timeline.warp(lo_t), 0.0)
            extra = rng.poisson(visit_rate * active)
            keep = is_new | (extra > 0)
            traits, fav_cat, fav_group = sample_preferences(
                rng, engagement[keep], visit_rate[keep], params, catalog
            )
            traits["visit_rate"] = visit_rate[keep].astype(np.float32)
            traits["churn_hazard"] = churn[keep].astype(np.float32)
            kept = _Arrivals(
                user_id=ids[keep],
                arrived_at=arrived[keep],
                churned_at=churned[keep],
                fav_category=fav_cat,
                fav_group=fav_group,
                traits=traits,
                is_new=is_new[keep],
                extra_sessions=extra[keep],
                session_start=np.empty(0, dtype=np.int64),
                session_user=np.empty(0, dtype=np.int32),
            )
            if with_sessions:
                kept.session_start, kept.session_user = _session_times(kept, timeline, rng)
            blocks.append(kept)
    return blocks


def _session_times(
    users: _Arrivals, timeline: Timeline, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Session starts: the arrival itself for newcomers, then visits spread uniformly (on the
    intensity axis) over the user's active span inside the window."""
    local = np.arange(len(users.user_id), dtype=np.int32)
    extra_user = np.repeat(local, users.extra_sessions)
    lo = timeline.warp(np.maximum(users.arrived_at, timeline.start))
    hi = timeline.warp(np.minimum(users.churned_at, timeline.end))
    u = rng.random(len(extra_user))
    extra_start = timeline.unwarp(np.take(lo, extra_user) + np.take(hi - lo, extra_user) * u)
    start = np.concatenate([users.arrived_at[users.is_new], extra_start])
    return start, np.concatenate([local[users.is_new], extra_user])


def _expected_events(blocks: list[_Arrivals], catalog: Catalog, params: ModelParams) -> float:
    total = 0.0
    for b in blocks:
        per_session = expected_events_per_session(b.traits, b.fav_category, catalog, params)
        total += float(np.sum((b.is_new + b.extra_sessions) * per_session))
    return total


def build_population(
    seed: int, target_events: int, timeline: Timeline, params: ModelParams, catalog: Catalog
) -> Population:
    # Pilot run at a known arrival rate tells how many rows one arrival per day yields.
    pilot_rate = PILOT_ARRIVALS / (timeline.cum[-1] - timeline.cum[0])
    pilot = _simulate_arrivals(seed, "pilot", pilot_rate, timeline, params, catalog, False)
    per_rate = _expected_events(pilot, catalog, params) / pilot_rate
    rate = target_events / per_rate
    blocks = _simulate_arrivals(seed, "users", rate, timeline, params, catalog, True)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])

    offsets = np.cumsum([0] + [len(b.user_id) for b in blocks[:-1]])
    start = cat("session_start")
    user = np.concatenate(
        [b.session_user + np.int32(o) for b, o in zip(blocks, offsets, strict=True)]
    )
    order = np.argsort(start, kind="stable")
    return Population(
        user_id=cat("user_id"),
        arrived_at=cat("arrived_at"),
        churned_at=cat("churned_at"),
        fav_category=cat("fav_category"),
        fav_group=cat("fav_group"),
        traits={k: np.concatenate([b.traits[k] for b in blocks]) for k in TRAIT_COLUMNS},
        n_sessions=(cat("is_new") + cat("extra_sessions")).astype(np.int32),
        session_start=np.take(start, order),
        session_user=np.take(user, order),
    )
