"""Double JPEG compression from the histograms of the luma DCT coefficients.

A JPEG stores each 8x8 block's DCT coefficients divided by a step and rounded. Decode the
file, take the DCT again on the same grid, divide by the file's steps: the values are
(nearly) integers, and their histogram for one frequency is smooth, roughly Laplacian,
after one compression. If the file was JPEG-compressed before with other steps, the
coefficients were rounded twice and the histogram shows periodic gaps or peaks (Lukáš and
Fridrich 2003; Popescu and Farid 2004).

We compare the observed histograms with predictions made from the same image's
coefficients on a grid shifted by 4 pixels, which carries no trace of the JPEG grid
(Fridrich's calibration): one compression with the file's steps, or an earlier compression
with steps ``q1`` and then the file's. Only the fine structure counts (each bin against its
neighbours), so a calibration that is a little too wide or narrow does not look like a
trace. Two scores, each the gain of the earlier-steps model over the one-compression model
per histogram bin: the *free* score lets each frequency pick its earlier step (strong for
an earlier save with coarser steps, which leaves empty bins); the *table* score takes the
earlier steps from one IJG table with clearly finer steps (the weaker trace of a finer
earlier save, tested only on images large enough to show it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from leakshield.forensics._analyzers._jpeg_tables import ijg_table

__all__ = ["DoubleCompression", "examine_luma"]

# Low AC frequencies (row, column): they have the widest histograms, hence the most bins.
FREQUENCIES = ((0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (3, 0))
MAX_BLOCKS = 20_000  # a fixed sample keeps time and the score's scale the same at any size
MIN_BLOCKS = 500
MAX_BIN = 40
MIN_TOP = 4  # the histogram must reach +-4 steps: 4 bins besides the peak
MIN_OUTSIDE = 200
FINE = 4  # calibration histogram bins per DCT unit
# Noise between the two compressions, in DCT units: pixel rounding (0.29) plus the
# YCbCr-RGB round trip.
NOISE = 0.45
# Calibrated on 744 single saves (skimage samples, generated textures and graphics, and
# 1.8-4 MP mosaics of them; qualities 50-98; 4:2:0, 4:4:4, 4:2:2 and progressive): the free
# score stayed at or below 0.51 and the table score at or below 0.23. Photos saved twice
# with a coarser earlier save scored 3.7 and more; with a finer one (90 or 85, then 70) the
# table score was 0.47 to 4.6 on images of 4,000 blocks or more, and too faint to tell
# below that, hence MIN_TABLE_BLOCKS.
FREE_THRESHOLD = 1.5  # earlier steps coarser than now: gaps, the clearest trace
TABLE_THRESHOLD = 0.4  # earlier steps finer than now: gentle peaks, matched to an IJG table
MIN_TABLE_BLOCKS = 4_000


@dataclass(frozen=True)
class DoubleCompression:
    """The scores and what they suggest about the earlier compression."""

    blocks: int
    frequencies: int
    free_score: float  # best earlier steps chosen per frequency
    table_score: float  # earlier steps from one IJG table, finer than now
    # The IJG qualities (lowest, highest) that best explain the earlier steps: several
    # qualities share the same low-frequency steps.
    earlier_quality: tuple[int, int] | None
    earlier_steps: tuple[tuple[int, int, int], ...]  # (row, column, step): best free choice
    detected: bool
    clear: bool  # detected by the free score: periodic gaps, not gentle peaks


_D = np.sqrt(2 / 8) * np.cos((2 * np.arange(8)[None, :] + 1) * np.arange(8)[:, None] * np.pi / 16)
_D[0] /= np.sqrt(2)
_DCT = _D[:4].astype(np.float32)  # orthonormal 8-point DCT rows: JPEG's FDCT scaling


def examine_luma(luma: NDArray[np.uint8], table: tuple[int, ...]) -> DoubleCompression | None:
    """Score ``luma`` (the Y plane as stored) for a second compression with ``table``
    (the file's luma steps, natural order); None if the image has too little texture."""
    aligned, shifted = _coefficients(luma, 0), _coefficients(luma, 4)
    if len(aligned) < MIN_BLOCKS or len(shifted) < MIN_BLOCKS:
        return None
    steps = np.asarray(table).reshape(8, 8)
    fits = []
    for row, col in FREQUENCIES:
        fit = _Frequency(
            (row, col), aligned[:, row, col], shifted[:, row, col], int(steps[row, col])
        )
        if fit.usable:
            fits.append(fit)
    if len(fits) < 3:
        return None
    bins = sum(f.bins for f in fits)
    free_best = [f.best_free() for f in fits]
    free_gain = sum(max(0.0, gain) for _, gain in free_best)
    free_score = free_gain / bins
    clear = free_score >= FREE_THRESHOLD
    table_score, earlier = _table_score(fits, len(aligned))
    detected = clear or table_score >= TABLE_THRESHOLD
    if clear:
        earlier = _best_table(fits, free_gain)
    elif not detected:
        earlier = None
    return DoubleCompression(
        blocks=len(aligned),
        frequencies=len(fits),
        free_score=round(free_score, 3),
        table_score=round(table_score, 3),
        earlier_quality=earlier,
        earlier_steps=tuple((*f.position, q1) for f, (q1, _) in zip(fits, free_best, strict=True)),
        detected=detected,
        clear=clear,
    )


def _coefficients(luma: NDArray[np.uint8], offset: int) -> NDArray[np.float32]:
    plane = luma[offset:, offset:]
    rows, cols = plane.shape[0] // 8, plane.shape[1] // 8
    grid = plane[: rows * 8, : cols * 8].reshape(rows, 8, cols, 8)
    chosen = np.arange(rows * cols)
    if len(chosen) > 2 * MAX_BLOCKS:
        # Only a sample is used: draw it before touching pixels (12 MP is 187,500 blocks).
        draw = np.random.default_rng(0).choice(len(chosen), 2 * MAX_BLOCKS, replace=False)
        chosen = np.sort(draw)
    blocks = grid[chosen // cols, :, chosen % cols, :]
    # A block touching 0 or 255 was clipped when decoded: its coefficients are not the
    # stored ones plus rounding noise.
    keep = (blocks.min(axis=(1, 2)) > 0) & (blocks.max(axis=(1, 2)) < 255)
    blocks = blocks[keep]
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[np.linspace(0, len(blocks) - 1, MAX_BLOCKS).astype(np.int64)]
    # Repeated identical blocks (text, icons, flat areas in screenshots and graphics) put
    # spikes in the histograms that no compression made: count each distinct block once.
    flat = np.ascontiguousarray(blocks).reshape(len(blocks), 64).view(np.dtype((np.void, 64)))
    blocks = blocks[np.sort(np.unique(flat.ravel(), return_index=True)[1])]
    centred = blocks.astype(np.float32) - 128.0
    return np.asarray(_DCT @ centred @ _DCT.T, dtype=np.float32)


def _normal_cdf(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """Standard normal CDF via Abramowitz and Stegun 7.1.26 (error < 2e-7): no SciPy."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.sign(x) * erf))


def _second_difference(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return values[1:-1] - 0.5 * (values[:-2] + values[2:])


class _Frequency:
    """One frequency: the observed histogram and the models to compare it with."""

    def __init__(
        self,
        position: tuple[int, int],
        aligned: NDArray[np.float32],
        shifted: NDArray[np.float32],
        step: int,
    ):
        self.position = position
        self.step = max(step, 1)
        observed = np.rint(aligned / self.step).astype(np.int64)
        self.top = int(min(MAX_BIN, np.percentile(np.abs(observed), 99.5)))
        span = self.top + 1
        counts = np.bincount(np.clip(observed, -span, span) + span, minlength=2 * span + 1)
        self.counts = counts[1:-1].astype(np.float64)  # the two overflow bins dropped
        # Too few bins, or too few values outside the peak, and noise decides the score.
        outside = self.counts.sum() - self.counts[self.top - 1 : self.top + 2].sum()
        self.usable = self.top >= MIN_TOP and outside >= MIN_OUTSIDE
        if not self.usable:
            return
        self.total = float(self.counts.sum())
        reach = (self.top + 1) * self.step + 120
        fine = np.floor(shifted * FINE).astype(np.int64)
        fine = np.clip(fine, -reach * FINE, reach * FINE - 1) + reach * FINE
        histogram = np.bincount(fine, minlength=2 * reach * FINE).astype(np.float64)
        # Smoothing removes the calibration's own sampling noise, not its shape.
        self.fine = cv2.GaussianBlur(
            histogram.reshape(1, -1), (0, 0), sigmaX=0.7 * FINE, borderType=cv2.BORDER_CONSTANT
        ).ravel()
        self.centres = (np.arange(2 * reach * FINE) - reach * FINE + 0.5) / FINE
        self.edges = (np.arange(-self.top, self.top + 2) - 0.5) * self.step
        self.inner = np.abs(np.arange(-self.top + 1, self.top)) >= 2  # skip the peak at 0
        self.bins = int(self.inner.sum())
        self.observed = _second_difference(np.log(self.counts + 1))
        single = self._single()
        self.variance = self._variance(self.counts) + 0.5 * self._variance(single)
        self.single_misfit = self._misfit(single)
        self._gains: dict[int, float] = {}

    def _variance(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        inverse = 1.0 / (counts + 1.0)
        return np.asarray(inverse[1:-1] + 0.25 * (inverse[:-2] + inverse[2:]))

    def _misfit(self, predicted: NDArray[np.float64]) -> float:
        residual = self.observed - _second_difference(np.log(predicted + 1))
        return float((residual**2 / self.variance)[self.inner].sum())

    def _scaled(self, histogram: NDArray[np.float64]) -> NDArray[np.float64]:
        return histogram * (self.total / max(float(histogram.sum()), 1.0))

    def _single(self) -> NDArray[np.float64]:
        bins = np.rint(self.centres / self.step).astype(np.int64)
        inside = np.abs(bins) <= self.top
        weights = self.fine[inside]
        histogram = np.bincount(bins[inside] + self.top, weights, 2 * self.top + 1)
        return self._scaled(histogram.astype(np.float64))

    def gain(self, earlier: int) -> float:
        """How much better a compression with step ``earlier`` before this one explains the
        histogram than this compression alone (chi-square units; > 0 is better)."""
        if earlier == self.step:
            return 0.0
        if earlier not in self._gains:
            levels = np.rint(self.centres / earlier).astype(np.int64)
            reach = int((self.top + 1) * self.step / earlier) + 2
            inside = np.abs(levels) <= reach
            first = np.bincount(levels[inside] + reach, self.fine[inside], 2 * reach + 1)
            predicted = self._scaled(self._requantized(first.astype(np.float64), reach, earlier))
            self._gains[earlier] = self.single_misfit - self._misfit(predicted)
        return self._gains[earlier]

    def _requantized(
        self, first: NDArray[np.float64], reach: int, earlier: int
    ) -> NDArray[np.float64]:
        """The histogram after values ``k * earlier`` (weights ``first``) are rounded to this
        file's step, with noise between the saves: a value near a bin edge spills into the
        neighbouring bin (NOISE is well under half a step, so no further)."""
        values = np.arange(-reach, reach + 1) * float(earlier)
        home = np.rint(values / self.step)
        above = first * (1.0 - _normal_cdf(((home + 0.5) * self.step - values) / NOISE))
        below = first * (1.0 - _normal_cdf((values - (home - 0.5) * self.step) / NOISE))
        size = 2 * self.top + 1
        predicted = np.zeros(size)
        for shift, weights in ((0, first - above - below), (1, above), (-1, below)):
            index = home.astype(np.int64) + shift + self.top
            inside = (index >= 0) & (index < size)
            predicted += np.bincount(index[inside], weights[inside], size)
        return predicted

    def best_free(self) -> tuple[int, float]:
        """The earlier step that explains the histogram best, and its gain."""
        # An earlier step that leaves fewer than ~3 levels in range predicts no structure.
        limit = min(60, max(2, self.top * self.step // 3))
        candidates = [q for q in range(1, limit + 1) if q != self.step]
        gains = {q: self.gain(q) for q in candidates}
        best = max(gains, key=lambda q: gains[q])
        return best, gains[best]


def _table_score(fits: list[_Frequency], blocks: int) -> tuple[float, tuple[int, int] | None]:
    """The best gain per bin of an earlier IJG table with clearly finer steps, and the
    range of qualities that give it (their steps agree at these frequencies)."""
    if blocks < MIN_TABLE_BLOCKS:
        return 0.0, None
    scores = {}
    for quality in range(20, 101):
        # A step that divides the current one leaves no trace, and one close to it is not
        # "clearly different": both would only let noise be fitted.
        used = [(f, _ijg_step(quality, f)) for f in fits]
        used = [(f, q) for f, q in used if f.step % q and q <= 0.8 * f.step]
        if len(used) >= 3:
            scores[quality] = sum(f.gain(q) for f, q in used) / sum(f.bins for f, _ in used)
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return 0.0, None
    # Which quality: the one explaining all frequencies best, not only those it scored on.
    total = {q: sum(f.gain(_ijg_step(q, f)) for f in fits) for q in scores}
    most = max(total.values())
    return best, _span([q for q, gain in total.items() if gain == most])


def _best_table(fits: list[_Frequency], free_gain: float) -> tuple[int, int] | None:
    """The IJG qualities whose steps explain the earlier compression nearly as well as the
    best steps chosen freely per frequency; None if no IJG table does."""
    gains = {q: sum(f.gain(_ijg_step(q, f)) for f in fits) for q in range(1, 101)}
    best = max(gains.values())
    if not best >= 0.8 * free_gain > 0:
        return None
    return _span([q for q, gain in gains.items() if gain == best])


def _ijg_step(quality: int, fit: _Frequency) -> int:
    row, col = fit.position
    return int(ijg_table(quality)[row * 8 + col])


def _span(qualities: list[int]) -> tuple[int, int]:
    return min(qualities), max(qualities)
