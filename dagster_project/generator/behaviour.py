"""What happens inside a session: views, carts and purchases, driven by the user's traits.

A session focuses on one category (usually the user's favourite), views products by popularity
(often the favourite brand, sometimes re-viewing the same product or wandering off), may put
products it viewed in the cart and may check out. Purchases are of products viewed in the session,
and only some go through the cart, so "purchase without cart" appears naturally.
All steps are vectorised over a block of sessions.
"""

from __future__ import annotations

import functools
import statistics

import numpy as np

from .catalog import Catalog
from .events import CART, PURCHASE, VIEW, Events
from .params import ModelParams
from .population import Population
from .rand import raw_bits, uniform_u32

CART_DELAY_S = (2, 35)  # a cart follows the view of its product
CHECKOUT_DELAY_S = (40, 400)  # the checkout follows the last view (always after any cart)


_LOW32 = np.uint64(0xFFFFFFFF)


def _u16(bits: np.ndarray, shift: int) -> np.ndarray:
    """A uniform 16-bit field of raw 64-bit words."""
    return ((bits >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int32)


@functools.lru_cache(maxsize=8)
def gap_table(params: ModelParams) -> np.ndarray:
    """65536 quantiles of the log-normal seconds between two views: a 16-bit uniform indexes it,
    which is cheaper than drawing normals and exponentiating per view."""
    normal = statistics.NormalDist(np.log(params.view_gap_median_s), params.view_gap_sigma)
    q = [normal.inv_cdf((k + 0.5) / 65536) for k in range(65536)]
    table = np.clip(np.exp(np.asarray(q)), 1, params.max_gap_s).astype(np.int64)
    table.flags.writeable = False
    return table


def _one_plus_poisson(mask: np.ndarray, mean: float, rng: np.random.Generator) -> np.ndarray:
    """1 + Poisson(mean) where mask is set, else 0; draws only for the (few) masked entries."""
    out = mask.astype(np.int64)
    hits = np.flatnonzero(mask)
    out[hits] += rng.poisson(mean, len(hits))
    return out


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For per-session counts: (owner session of each item, first item of each session,
    position of each item inside its session)."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    first = np.cumsum(counts) - counts
    position = np.arange(len(owner)) - first[owner]
    return owner, first, position


def _pick_views(
    owner: np.ndarray,
    rank: np.ndarray,
    v_first: np.ndarray,
    n_views: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Index of a viewed event for each item: consecutive views from a random one, so the items
    of one session are different views (no accidental exact duplicate rows)."""
    base = (rng.random(len(n_views)) * n_views).astype(np.int64)
    return v_first[owner] + (base[owner] + rank) % n_views[owner]


def expand_sessions(
    first_session: int,
    start: np.ndarray,
    user: np.ndarray,
    purchase_boost: float,
    prices: np.ndarray,
    population: Population,
    catalog: Catalog,
    params: ModelParams,
    rng: np.random.Generator,
) -> Events:
    """Events of sessions first_session, first_session+1, ... (start times, user indices)."""
    n = len(start)
    traits = population.traits
    # --- per-session decisions ------------------------------------------------------------------
    in_favourite = rng.random(n) < traits["category_affinity"][user]
    focus = np.where(
        in_favourite, population.fav_category[user], catalog.sample_category(uniform_u32(rng, n))
    )
    conversion = catalog.category_conversion[focus]
    buy_prob = np.minimum(traits["purchase_prob"][user] * conversion * purchase_boost, 0.95)
    buys = rng.random(n) < buy_prob
    n_items = _one_plus_poisson(buys, params.extra_items_mean, rng)
    abandons = rng.random(n) < traits["cart_prob"][user] * conversion
    n_abandoned = _one_plus_poisson(abandons, params.extra_cart_items_mean, rng)
    # Geometric number of views with mean browse_depth (inverse transform: much faster than
    # Generator.geometric with per-element p); buyers compare a few more products.
    keep_browsing = 1.0 - 1.0 / np.take(traits["browse_depth"], user).astype(np.float64)
    n_views = 1 + (np.log1p(-rng.random(n)) / np.log(np.maximum(keep_browsing, 1e-12))).astype(
        np.int64
    )
    n_views += np.maximum(_one_plus_poisson(buys, params.buying_extra_views_mean, rng) - 1, 0)

    # --- views ----------------------------------------------------------------------------------
    v_session, v_first, v_position = _segments(n_views)
    n_v = len(v_session)
    # Two raw 64-bit words per view, sliced into the view's independent uniforms (fast).
    bits_a, bits_b = raw_bits(rng, n_v), raw_bits(rng, n_v)
    u_product = (bits_a & _LOW32).astype(np.uint32)
    explore = _u16(bits_a, 32) < int(params.explore_prob * 65536)
    loyal_draw = _u16(bits_a, 48)
    repeat_draw = _u16(bits_b, 0)
    gaps = np.take(gap_table(params), _u16(bits_b, 16))
    zero_price = _u16(bits_b, 32) < int(params.zero_price_prob * 65536)
    odd_row = _u16(bits_b, 48) < int(params.inconsistent_row_prob * 65536)

    # (np.take: the fastest gather in numpy; these run once per event.)
    gaps[v_first] = 0
    elapsed = np.cumsum(gaps)
    v_time = np.take(start - np.take(elapsed, v_first), v_session) + elapsed

    # Where each view's product comes from: anywhere (explore), the favourite (category, brand)
    # group (loyal), or the session's focus category; one urn draw covers all three.
    loyalty = (np.take(traits["brand_loyalty"], user) * 65536).astype(np.int32)
    loyal = ~explore & np.take(in_favourite, v_session)
    loyal &= loyal_draw < np.take(loyalty, v_session)
    segment = np.where(
        loyal,
        catalog.group_segment(np.take(np.take(population.fav_group, user), v_session)),
        catalog.category_segment(np.take(focus, v_session)),
    )
    segment[explore] = catalog.GLOBAL_SEGMENT
    product = catalog.sample_products(segment, u_product)
    # Re-views of the previous product: forward-fill over a random subset (never a first view).
    repeat = (v_position > 0) & (repeat_draw < int(params.repeat_view_prob * 65536))
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(n_v)))
    product = np.take(product, source)

    # --- orders: products viewed in the session, checked out after the last view -----------------
    i_session, _, i_rank = _segments(n_items)
    picked = _pick_views(i_session, i_rank, v_first, n_views, rng)
    last_view = v_time[v_first + n_views - 1]
    checkout = last_view + rng.integers(*CHECKOUT_DELAY_S, n)
    p_time = checkout[i_session] + i_rank  # the items of one order, a second apart
    p_product = product[picked]
    via_cart = rng.random(len(i_session)) < traits["cart_first"][user][i_session]
    c1_time = v_time[picked][via_cart] + rng.integers(*CART_DELAY_S, int(via_cart.sum()))
    c1_product = p_product[via_cart]
    c1_session = i_session[via_cart]

    # --- abandoned carts ------------------------------------------------------------------------
    a_session, _, a_rank = _segments(n_abandoned)
    a_pick = _pick_views(a_session, a_rank, v_first, n_views, rng)
    a_time = v_time[a_pick] + rng.integers(*CART_DELAY_S, len(a_session))

    # --- assemble -------------------------------------------------------------------------------
    time = np.concatenate([v_time, c1_time, a_time, p_time])
    session = np.concatenate([v_session, c1_session, a_session, i_session])
    prod = np.concatenate([product, c1_product, product[a_pick], p_product])
    kind = np.concatenate(
        [
            np.full(n_v, VIEW, np.int8),
            np.full(len(c1_time) + len(a_time), CART, np.int8),
            np.full(len(p_time), PURCHASE, np.int8),
        ]
    )
    # Quirks drawn per view; carts and purchases inherit them from the view they come from.
    view_of_row = np.concatenate([np.arange(n_v), picked[via_cart], a_pick, picked])
    cents = np.take(prices, prod)
    cents[np.take(zero_price, view_of_row)] = 0
    brand = np.take(catalog.product_brand, prod)
    code = np.take(catalog.product_code, prod)
    odd = np.flatnonzero(np.take(catalog.inconsistent, prod) & np.take(odd_row, view_of_row))
    brand[odd] = catalog.alt_brand[prod[odd]]
    code[odd] = catalog.alt_code_idx[prod[odd]]
    return Events(
        time=time,
        kind=kind,
        product=prod,
        user=np.take(user, session),
        session=session.astype(np.int64) + first_session,
        cents=cents,
        brand=brand,
        code=code,
    )
