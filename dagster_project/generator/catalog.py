"""The product catalogue: categories, brands and products with stable attributes.

Products are stored sorted by (category, brand) so that "a product of category c" and "a product of
brand group g" are contiguous slices; sampling one is a single table lookup (sampling.py), which
keeps per-event sampling fully vectorised and cheap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._taxonomy_data import CODED_CATEGORIES, UNCODED_CATEGORIES
from .params import ModelParams
from .rand import rng_for
from .sampling import Urn, build_urn

PREMIUM_BRANDS = {"apple": 3.0, "samsung": 1.25, "bosch": 1.3, "sony": 1.3, "dyson": 2.0}
# Sessions focused on these categories end in a purchase more often (first matching prefix wins):
# half of the real purchases are smartphones, a quarter of the views.
CONVERSION = (
    ("electronics.smartphone", 2.0),
    ("electronics", 1.2),
    ("appliances", 1.0),
    ("computers", 0.9),
    ("", 0.7),
)
UNCODED_CONVERSION = 0.55
NO_BRAND_FACTOR = 0.85  # products without a brand are a bit cheaper

_ONSETS = ("b", "br", "d", "g", "gr", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "tr")
_ONSETS += ("v", "z", "f", "h", "sh", "ch", "j", "pl")
_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "e", "ia", "y")
_ENDINGS = ("", "", "", "n", "r", "s", "x", "ks", "tek", "on", "er", "ia", "ma", "co", "line")


@dataclass(frozen=True)
class Catalog:
    # Categories (index c). `category_code_idx` points into `codes`, -1 = empty code.
    category_id: np.ndarray  # int64
    category_code_idx: np.ndarray  # int16
    category_weight: np.ndarray  # float64, sums to 1
    category_conversion: np.ndarray  # float64 purchase-probability factor of sessions
    codes: list[str]
    brands: list[str]
    # Products (index p), sorted by (category, brand).
    product_id: np.ndarray  # int64
    product_cat: np.ndarray  # int32
    product_brand: np.ndarray  # int32, -1 = no brand
    product_group: np.ndarray  # int32, run of equal (category, brand)
    base_cents: np.ndarray  # int64
    weekly_drift: np.ndarray  # float64, relative price step per week
    # Quirk: rows of these products sometimes show another brand or an empty category_code.
    alt_brand: np.ndarray  # int32
    alt_code_idx: np.ndarray  # int16
    inconsistent: np.ndarray  # bool
    # Sampling tables (see sampling.py).
    category_urn: Urn  # categories by popularity (one segment)
    # Products: segment 0 = all products, 1..C = one category, C+1.. = one (category, brand).
    product_urn: Urn
    group_in_category: Urn  # groups, segment = category

    GLOBAL_SEGMENT = 0

    @property
    def n_products(self) -> int:
        return len(self.product_id)

    @functools.cached_property
    def product_category_id(self) -> np.ndarray:
        return self.category_id[self.product_cat]

    @functools.cached_property
    def product_code(self) -> np.ndarray:
        return self.category_code_idx[self.product_cat]

    # All samplers take uniform uint32 draws (e.g. bits of Generator.bit_generator.random_raw).
    def sample_category(self, u32: np.ndarray) -> np.ndarray:
        return self.category_urn.sample(0, u32)

    def sample_group_in_category(self, cats: np.ndarray, u32: np.ndarray) -> np.ndarray:
        return self.group_in_category.sample(cats, u32)

    def category_segment(self, cats: np.ndarray) -> np.ndarray:
        return cats.astype(np.int64) + 1

    def group_segment(self, groups: np.ndarray) -> np.ndarray:
        return groups.astype(np.int64) + 1 + len(self.category_id)

    def sample_products(self, segment: np.ndarray, u32: np.ndarray) -> np.ndarray:
        """A product per draw from its segment (GLOBAL_SEGMENT, category_segment, group_segment)."""
        return self.product_urn.sample(segment, u32)

    def prices_on_day(self, day_index: int) -> np.ndarray:
        """Price in cents of every product on a day: stable, with small weekly repricing steps."""
        factor = np.power(1.0 + self.weekly_drift, day_index // 7)
        return np.maximum(np.rint(self.base_cents * factor), 1).astype(np.int32)


def _brand_names(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """Invented lower-case brand names (syllables); one Python step per brand, not per row."""
    names: list[str] = []
    seen = set(taken)
    while len(names) < count:
        syllables = int(rng.integers(1, 4))
        parts = [
            _ONSETS[int(rng.integers(len(_ONSETS)))] + _VOWELS[int(rng.integers(len(_VOWELS)))]
            for _ in range(syllables)
        ]
        name = "".join(parts) + _ENDINGS[int(rng.integers(len(_ENDINGS)))]
        if len(name) >= 3 and name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _split_lognormal(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Median-1 multiplier with a longer upper tail (real prices: p75/p50 > p50/p25)."""
    z = rng.standard_normal(n)
    return np.exp(np.where(z < 0, low, high) * z)


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.float64) ** -exponent


@dataclass
class _Categories:
    category_id: list[int]
    code: list[int]  # index into the code list, -1 = empty code
    weight: np.ndarray  # row share, sums to 1
    median_price: list[float]
    real_brands: list[tuple[str, ...]]


def _categories(rng: np.random.Generator, params: ModelParams) -> _Categories:
    """Real coded ids, real uncoded ids, then invented uncoded ids up to ~624 ids."""
    cats = _Categories([], [], np.empty(0), [], [])
    weight: list[float] = []
    for code_idx, cat in enumerate(CODED_CATEGORIES):
        # A code with several ids (apparel.shoes has 12): the first id carries most traffic.
        split = _zipf_weights(len(cat.category_ids), 1.5)
        for cid, share in zip(cat.category_ids, split / split.sum(), strict=True):
            cats.category_id.append(cid)
            cats.code.append(code_idx)
            weight.append(cat.weight * share)
            cats.median_price.append(cat.median_price)
            cats.real_brands.append(cat.brands)
    n_coded = len(weight)
    for uncoded in UNCODED_CATEGORIES:
        cats.category_id.append(uncoded.category_id)
        cats.code.append(-1)
        weight.append(uncoded.weight)
        cats.median_price.append(uncoded.median_price)
        cats.real_brands.append(uncoded.brands)
    n_invented = max(0, params.n_category_ids - len(weight))
    taken = set(cats.category_id)
    while len(cats.category_id) < params.n_category_ids:
        # Most real ids sit in 2053013552e9..2053013567e9; newer ones at 2.06e18..2.17e18.
        if rng.random() < 0.8:
            cid = 2053013552000000000 + int(rng.integers(0, 15_000_000_000))
        else:
            cid = int(rng.integers(2055000000000000000, 2175000000000000000))
        if cid not in taken:
            taken.add(cid)
            cats.category_id.append(cid)
    min_real = min(c.weight for c in UNCODED_CATEGORIES)
    weight += (min_real * _zipf_weights(n_invented, 0.7)).tolist()
    cats.code += [-1] * n_invented
    cats.median_price += np.exp(rng.normal(np.log(60.0), 0.9, n_invented)).tolist()
    cats.real_brands += [()] * n_invented
    share = np.asarray(weight)
    coded = np.arange(len(share)) < n_coded
    # Rows with an empty category_code make ~32% of the files.
    share[coded] *= (1 - params.uncoded_row_share) / share[coded].sum()
    share[~coded] *= params.uncoded_row_share / share[~coded].sum()
    cats.weight = share
    return cats


@dataclass
class _Brands:
    names: list[str]
    index: dict[str, int]
    invented: np.ndarray  # indices of invented names
    invented_pop: np.ndarray  # how often an invented brand joins a category (Zipf)
    price_factor: np.ndarray  # per brand


def _brands(
    rng: np.random.Generator, cats: _Categories, n_products: int, params: ModelParams
) -> _Brands:
    real = list(dict.fromkeys(b for pool in cats.real_brands for b in pool))
    n_brands = int(
        np.clip(n_products * params.n_brands_per_product, params.min_brands, params.max_brands)
    )
    names = real + _brand_names(rng, max(0, n_brands - len(real)), set(real))
    invented = np.arange(len(real), len(names))
    invented_pop = _zipf_weights(len(invented), 0.9)
    # Brands have a price level (apple is dear); it is what makes the price tail heavy.
    factor = np.exp(rng.normal(0, params.brand_price_sigma, len(names)))
    index = {b: i for i, b in enumerate(names)}
    for name, premium in PREMIUM_BRANDS.items():
        if name in index:
            factor[index[name]] = premium
    return _Brands(names, index, invented, invented_pop / invented_pop.sum(), factor)


@dataclass
class _Products:
    product_id: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    popularity: np.ndarray  # global row share
    cents: np.ndarray


def _products(
    rng: np.random.Generator,
    cats: _Categories,
    brands: _Brands,
    n_products: int,
    params: ModelParams,
) -> _Products:
    """Products per category (one numpy batch per category, never per product)."""
    weight = cats.weight
    n_cat = len(weight)
    # More popular categories have more products.
    n_per_cat = np.maximum(2, np.floor(weight**0.6 / (weight**0.6).sum() * n_products)).astype(int)
    n_per_cat = np.minimum(n_per_cat, 90_000)
    # product_id = block * 100000 + local; smartphones get block 10 like the real 1003461.
    blocks = np.r_[10, rng.permutation(np.arange(11, 1000))][:n_cat]
    ids, cat_of, brand_of, pop, cents = [], [], [], [], []
    for c in range(n_cat):
        n_c = int(n_per_cat[c])
        # Brand pool: the real brands of the category first, then invented ones.
        real = [brands.index[b] for b in cats.real_brands[c]]
        pool_size = max(len(real), int(np.ceil(n_c**0.62)))
        extra = rng.choice(brands.invented, size=pool_size - len(real), p=brands.invented_pop)
        pool = np.array(list(dict.fromkeys(real + extra.tolist())), dtype=np.int32)
        pool_w = _zipf_weights(len(pool), 1.1)
        position = rng.choice(len(pool), size=n_c, p=pool_w / pool_w.sum())
        product_brand = pool[position]
        no_brand = params.no_brand_coded if cats.code[c] >= 0 else params.no_brand_uncoded
        product_brand[rng.random(n_c) < no_brand] = -1
        # Sparse local ids inside the category's block, e.g. 1003461, 1004237 in block 10.
        start = int(rng.integers(0, 2000))
        span = min(100_000 - start, max(8 * n_c, n_c + 10))
        ids.append(blocks[c] * 100_000 + start + rng.choice(span, size=n_c, replace=False))
        cat_of.append(np.full(n_c, c, dtype=np.int32))
        brand_of.append(product_brand)
        spread = _split_lognormal(rng, n_c, params.price_sigma_low, params.price_sigma_high)
        level = np.where(product_brand >= 0, brands.price_factor[product_brand], NO_BRAND_FACTOR)
        price = cats.median_price[c] * params.price_scale * level * spread
        # Heavy-tailed (power law) popularity inside the category; leading brands and the cheaper
        # models of a category (the mass market) are viewed more.
        rank_pop = ((np.arange(n_c) + params.product_zipf_offset) ** -params.product_zipf)[
            rng.permutation(n_c)
        ]
        brand_pop = pool_w[position] ** params.brand_popularity
        pop.append(rank_pop * brand_pop * spread**-params.price_popularity)
        price = np.clip(price, params.min_price, params.max_price)
        cents.append(np.rint(price * 100).astype(np.int64))
    category = np.concatenate(cat_of)
    popularity = np.concatenate(pop)
    # Share inside the category -> global share = category weight x share in category.
    cat_total = np.bincount(category, weights=popularity, minlength=n_cat)
    popularity = weight[category] * popularity / cat_total[category]
    return _Products(
        product_id=np.concatenate(ids).astype(np.int64),
        category=category,
        brand=np.concatenate(brand_of).astype(np.int32),
        popularity=popularity,
        cents=np.concatenate(cents),
    )


def build_catalog(seed: int, n_products: int, params: ModelParams) -> Catalog:
    rng = rng_for(seed, "catalog")
    cats = _categories(rng, params)
    brands = _brands(rng, cats, n_products, params)
    made = _products(rng, cats, brands, n_products, params)
    n_cat = len(cats.weight)

    order = np.lexsort((made.brand, made.category))
    product_id, product_cat, product_brand = (
        made.product_id[order],
        made.category[order],
        made.brand[order],
    )
    popularity, base_cents = made.popularity[order], made.cents[order]
    n = len(product_id)
    assert len(np.unique(product_id)) == n, "product ids must be unique"

    new_group = np.r_[
        True, (product_cat[1:] != product_cat[:-1]) | (product_brand[1:] != product_brand[:-1])
    ]
    product_group = (np.cumsum(new_group) - 1).astype(np.int32)
    group_weight = np.bincount(product_group, weights=popularity)
    group_cat = product_cat[new_group]

    drift = np.where(
        rng.random(n) < params.drifting_price_share, rng.normal(0, params.drift_sigma, n), 0.0
    )

    # Quirk: a few (rather popular) products show another brand / no category_code on some rows.
    n_odd = max(12, int(round(n * params.inconsistent_product_share)))
    p_odd = np.sqrt(popularity)
    odd = rng.choice(n, size=min(n_odd, n), replace=False, p=p_odd / p_odd.sum())
    inconsistent = np.zeros(n, dtype=bool)
    inconsistent[odd] = True
    code_of_product = np.asarray(cats.code, dtype=np.int16)[product_cat]
    alt_brand = product_brand.copy()
    alt_code = code_of_product.copy()
    blank_code = rng.random(len(odd)) < 0.4
    blank_code &= code_of_product[odd] >= 0
    alt_code[odd[blank_code]] = -1
    brand_odd = odd[~blank_code]
    other = rng.choice(brands.invented[:200], size=len(brand_odd)).astype(np.int32)
    alt_brand[brand_odd] = np.where(product_brand[brand_odd] >= 0, -1, other)
    swap = rng.random(len(brand_odd)) < 0.5
    alt_brand[brand_odd[swap]] = other[swap]

    codes = [c.code for c in CODED_CATEGORIES]
    conversion = [
        next(f for prefix, f in CONVERSION if codes[k].startswith(prefix))
        if k >= 0
        else UNCODED_CONVERSION
        for k in cats.code
    ]
    return Catalog(
        category_id=np.asarray(cats.category_id, dtype=np.int64),
        category_code_idx=np.asarray(cats.code, dtype=np.int16),
        category_weight=cats.weight,
        category_conversion=np.asarray(conversion),
        codes=codes,
        brands=brands.names,
        product_id=product_id,
        product_cat=product_cat,
        product_brand=product_brand,
        product_group=product_group,
        base_cents=base_cents,
        weekly_drift=drift,
        alt_brand=alt_brand,
        alt_code_idx=alt_code,
        inconsistent=inconsistent,
        category_urn=build_urn(np.zeros(n_cat, dtype=np.int64), cats.weight, slots_per_item=64),
        product_urn=build_urn(
            np.concatenate([np.zeros(n), 1 + product_cat, 1 + n_cat + product_group]),
            np.tile(popularity, 3),
            items=np.tile(np.arange(n, dtype=np.int32), 3),
        ),
        group_in_category=build_urn(group_cat, group_weight),
    )
