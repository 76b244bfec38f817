"""Deterministic random streams: every stage and chunk gets its own generator derived from the
seed and stable labels, so results do not depend on chunk sizes or on the order of stages."""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, stage: str, *keys: int) -> np.random.Generator:
    # crc32, not hash(): Python's str hash is salted per process.
    return np.random.default_rng([seed, zlib.crc32(stage.encode()), *keys])


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised SplitMix64 finaliser: a fast, well-mixed hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform_u32(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform uint32 draws (the input of the urn samplers)."""
    return rng.integers(0, 0xFFFFFFFF, size=n, dtype=np.uint32, endpoint=True)


def raw_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    """n raw uint64 words: callers slice them into several cheap 16/32-bit uniforms."""
    return rng.bit_generator.random_raw(n)
