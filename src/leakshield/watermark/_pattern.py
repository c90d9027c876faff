"""The keyed tile: which cells carry the pilot and which carry each coded bit, and their signs.

The mark is one square tile of ``TILE`` x ``TILE`` cells repeated over the whole image. A
quarter of the cells carry a fixed keyed pilot, used to find where the tile starts; the rest
carry the coded payload bits, each bit spread over cells scattered across the tile, each
cell with a keyed sign. Without the key the pilot and the signs are unknown noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from leakshield.watermark._ecc import CODED_BITS
from leakshield.watermark._key import WatermarkKey

__all__ = ["TILE", "Layout", "layout"]

TILE = 32
PILOT_SHARE = 0.25


@dataclass(frozen=True)
class Layout:
    """One key's tile: +-1 chips, the pilot cells, and the coded bit of each data cell."""

    chips: NDArray[np.float32]  # (TILE, TILE) keyed signs
    pilot: NDArray[np.bool_]  # (TILE, TILE) True where the cell is a pilot cell
    bit_of_cell: NDArray[np.int64]  # (TILE, TILE) coded bit index, -1 for pilot cells

    def tile(self, coded: NDArray[np.float32]) -> NDArray[np.float32]:
        """The tile's cell values for a codeword of +-1 values."""
        values = np.where(self.pilot, 1.0, coded[np.maximum(self.bit_of_cell, 0)])
        return (self.chips * values).astype(np.float32)

    def pilot_tile(self) -> NDArray[np.float32]:
        return np.where(self.pilot, self.chips, 0.0).astype(np.float32)

    def soft_bits(self, cells: NDArray[np.float32]) -> NDArray[np.float32]:
        """Each coded bit's evidence: the sum of its cells' values times their chips."""
        data = ~self.pilot
        weighted = (cells * self.chips)[data]
        return np.bincount(self.bit_of_cell[data], weights=weighted, minlength=CODED_BITS).astype(
            np.float32
        )


@lru_cache(maxsize=8)
def layout(key: WatermarkKey) -> Layout:
    rng = key.rng("tile-layout")
    cells = TILE * TILE
    chips = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=cells)
    order = rng.permutation(cells)
    pilots = round(cells * PILOT_SHARE)
    pilot = np.zeros(cells, dtype=bool)
    pilot[order[:pilots]] = True
    bit_of_cell = np.full(cells, -1, dtype=np.int64)
    data_cells = order[pilots:]
    # Every coded bit gets the same number of cells (give or take one), scattered by `order`.
    bit_of_cell[data_cells] = np.arange(len(data_cells)) % CODED_BITS
    shape = (TILE, TILE)
    return Layout(chips.reshape(shape), pilot.reshape(shape), bit_of_cell.reshape(shape))
