"""Periodic-artefact measure: the share of what a method changed that sits at 2- and 4-pixel periods.

``periodic_energy(pred, inp)`` compares a method's output with the smoky input it received
(reference kind ``"input"``). No-reference scores such as BRISQUE and PIQE reward the checkerboards
that x2 pixel-shuffle upsamplers, transposed convolutions and GANs leave (they read the added
high-frequency texture as sharpness), so the benchmark reports this measure next to them: a clean
desmoker changes the frame smoothly (haze is low-frequency) and scores near 0; a checkerboard or
4-pixel grid added to the frame scores near 1. The identity method scores exactly 0.

Pure numpy; RGB ``(H, W, 3)`` inputs, uint8 or float in [0, 1].
"""

from __future__ import annotations

import numpy as np

from benchmarks.metrics.base import METRICS, Metric, as_float255

__all__ = ["PERIOD", "periodic_energy"]

#: Periods (pixels) whose energy is measured: the 4x4 lattice of frequencies holds periods 4 and 2.
PERIOD = 4


def _check(pred: np.ndarray, inp: np.ndarray) -> None:
    for label, x in (("pred", pred), ("inp", inp)):
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != 3:
            found = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"periodic_energy: {label} must be an RGB array (H, W, 3), found {found}")
    if pred.shape != inp.shape:
        raise ValueError(f"periodic_energy: pred and inp must have the same shape, found {pred.shape} and "
                         f"{inp.shape}; pass the output frame and the input frame it was made from")
    if pred.shape[0] < PERIOD or pred.shape[1] < PERIOD:
        raise ValueError(f"periodic_energy: frames must be at least {PERIOD}x{PERIOD}, found {pred.shape[:2]}")


def periodic_energy(pred: np.ndarray, inp: np.ndarray) -> float:
    """Share of the energy of ``pred - inp`` at the 2- and 4-pixel periods (checkerboard / grid share).

    ``d`` = the channel mean of ``pred - inp`` (float64), cropped top-left to ``H4 = H//4*4`` rows and
    ``W4 = W//4*4`` columns; ``P = |fft2(d)|^2`` with ``P[0, 0] = 0`` (a uniform shift is ignored). The
    value is the sum of ``P`` over the frequencies ``(ky, kx)``, ``ky`` in ``{0, H4/4, H4/2, 3H4/4}``,
    ``kx`` in ``{0, W4/4, W4/2, 3W4/4}``, divided by ``P.sum()``: the periods 2 and 4 that pixel-shuffle
    and GAN checkerboards live at.

    Args:
        pred: RGB ``(H, W, 3)``, the method's output frame (``H, W >= 4``), uint8 or float in [0, 1].
        inp: RGB ``(H, W, 3)``, the smoky input frame the method received (same scale rules).

    Returns:
        A share in ``[0, 1]``, lower is better: about 0 for a smooth change (what removing haze
        does), about 1 for a 2- or 4-periodic pattern added to the frame; exactly 0 when ``pred`` equals
        ``inp`` up to a constant (e.g. the identity method).

    Raises:
        ValueError: the arrays are not ``(H, W, 3)``, differ in shape, or are smaller than 4x4.
    """
    _check(pred, inp)
    h4, w4 = pred.shape[0] // PERIOD * PERIOD, pred.shape[1] // PERIOD * PERIOD
    # checks the values too: uint8, or float in [0, 1] (a float frame in 0..255 raises)
    d = (as_float255(pred, "periodic_energy: pred") - as_float255(inp, "periodic_energy: inp")).mean(axis=2)[:h4, :w4]
    if d.min() == d.max():  # nothing but a uniform shift: no energy (and no round-off to divide)
        return 0.0
    power = np.abs(np.fft.fft2(d)) ** 2
    power[0, 0] = 0.0
    total = float(power.sum())
    if total == 0.0:
        return 0.0
    lattice = float(power[:: h4 // PERIOD, :: w4 // PERIOD].sum())
    return min(max(lattice / total, 0.0), 1.0)


@METRICS.register("periodic_energy")
def _periodic_energy() -> Metric:
    return Metric("periodic_energy", periodic_energy, higher_is_better=False, requires_reference="input",
                  value_range=(0.0, 1.0), aggregate="clip_mean",
                  citation="LSVD toolkit: share of |FFT(output - input)|^2 at 2- and 4-pixel periods "
                           "(checkerboards; Odena et al. 2016)")
