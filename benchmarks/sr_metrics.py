"""Super-resolution quality metrics and degradations for the model table (benchmarks/model_table.py).

Conventions (the usual ones of SR papers, so the numbers read like theirs):
- PSNR and SSIM on the luma channel Y of ITU-R BT.601 (16-235 range, not rounded), 8-bit peak 255,
  after cropping `border` pixels (the scale) from every edge.
- SSIM as Wang et al. 2004: Gaussian window σ = 1.5 truncated at 3.5σ (11 taps), K1 = 0.01,
  K2 = 0.03, population (not sample) statistics, averaged over the positions where the window fits.
  That is what scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)` computes.
- Low-resolution inputs are Pillow bicubic downscales (antialiased, like MATLAB's imresize).
"""

from __future__ import annotations

import io
import math

import numpy as np
import numpy.typing as npt
from PIL import Image

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def luma(rgb: U8) -> F64:
    """BT.601 Y (16-235) of an H×W×3 uint8 image, as float64."""
    x = rgb.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def _shave(y: F64, border: int) -> F64:
    return y[border:-border, border:-border] if border > 0 else y


def _check_pair(result: U8, truth: U8) -> None:
    if result.shape != truth.shape or result.ndim != 3 or result.shape[2] != 3:
        raise ValueError(f"compare two H×W×3 images of one size, got {result.shape} and {truth.shape}")


def psnr_y(result: U8, truth: U8, border: int = 0) -> float:
    """PSNR (dB) of `result` against `truth` on Y; inf for identical images."""
    _check_pair(result, truth)
    diff = _shave(luma(result), border) - _shave(luma(truth), border)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def detail_ratio(result: U8, truth: U8, border: int = 0) -> float:
    """Mean |Laplacian| of `result`'s Y over that of `truth`: below 1 the output is smoother than the
    original (blur), near 1 it has as much fine detail (real or invented: GAN models add texture that
    PSNR punishes). Not a quality score; it explains PSNR."""
    _check_pair(result, truth)

    def activity(y: F64) -> float:
        lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
        return float(np.abs(lap).mean())

    reference = activity(_shave(luma(truth), border))
    return activity(_shave(luma(result), border)) / reference if reference > 0 else math.nan


def gaussian_window() -> F64:
    """The normalised 1-D Gaussian SSIM window (11 taps for σ = 1.5)."""
    x = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    w: F64 = np.exp(-(x * x) / (2 * SSIM_SIGMA**2))
    return w / float(w.sum())


def _filter_valid(plane: F64, window: F64) -> F64:
    """Separable correlation with `window` over the positions where it fits ("valid")."""
    taps = len(window)
    rows = np.lib.stride_tricks.sliding_window_view(plane, taps, axis=0) @ window
    return np.lib.stride_tricks.sliding_window_view(rows, taps, axis=1) @ window


def ssim_y(result: U8, truth: U8, border: int = 0) -> float:
    """Mean SSIM of `result` against `truth` on Y (see the module docstring)."""
    _check_pair(result, truth)
    x = _shave(luma(result), border)
    y = _shave(luma(truth), border)
    if min(x.shape) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"images of {x.shape} px are too small for an 11-tap SSIM window")
    w = gaussian_window()
    mx, my = _filter_valid(x, w), _filter_valid(y, w)
    vx = _filter_valid(x * x, w) - mx * mx
    vy = _filter_valid(y * y, w) - my * my
    cov = _filter_valid(x * y, w) - mx * my
    ssim_map = ((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(ssim_map.mean())


def bicubic_resize(rgb: U8, height: int, width: int) -> U8:
    """Pillow bicubic resize (antialiased when shrinking) of an H×W×3 uint8 image."""
    image = Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8).copy()


def downscale(rgb: U8, scale: int) -> U8:
    """The low-resolution input for a ×`scale` model: bicubic ÷scale (sides must divide)."""
    height, width = rgb.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"{width}×{height} px does not divide by {scale}")
    return bicubic_resize(rgb, height // scale, width // scale)


def jpeg(rgb: U8, quality: int) -> U8:
    """`rgb` after a JPEG round trip at `quality` (Pillow's defaults: 4:2:0 chroma, baseline)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


# ------------------------------------------------------------------------ perceptual (weight-free)
#
# PSNR and SSIM reward the mean of the plausible reconstructions, which is smooth; GAN-trained models
# invent texture and lose on both although people often prefer them (the perception–distortion
# trade-off, Blau & Michaeli 2018). Two measures without learned weights read the other axis:
# - GMSD (Xue et al. 2014, "Gradient Magnitude Similarity Deviation"), full reference: the standard
#   deviation of the per-pixel similarity of gradient magnitudes. Lower is better, 0 = identical. It
#   tracks human opinion scores (LIVE, TID2008, CSIQ) far better than PSNR and close to the learned
#   measures, and punishes blur (edges lose gradient) as much as misplaced texture.
# - Sharpness (no reference): the variance of the Laplacian of Y, and naturalness: the shape α of a
#   generalised Gaussian fitted to the MSCN coefficients (the first BRISQUE / NIQE feature: the MSCN
#   coefficients of undistorted photos are close to Gaussian, α ≈ 2; blur, ringing, flat fills and
#   noise move α away from it, in either direction). Both are reported against the original's own
#   value, because drawings and photos differ: ratio (sharpness) and |Δα| (naturalness gap).

GMSD_C = 170.0
"""GMSD's stability constant for 8-bit images (the authors' T = 170)."""

_PREWITT = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0


def _correlate_valid(plane: F64, kernel: F64) -> F64:
    windows = np.lib.stride_tricks.sliding_window_view(plane, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _gradient_magnitude(y: F64) -> F64:
    gx = _correlate_valid(y, _PREWITT)
    gy = _correlate_valid(y, _PREWITT.T)
    return np.sqrt(gx * gx + gy * gy)


def _half(y: F64) -> F64:
    """GMSD's pre-step: 2×2 mean, then every second pixel (the reference code's average + 2↓)."""
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    y = y[:h, :w]
    return (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2]) / 4.0


def gms_map(result: U8, truth: U8, border: int = 0) -> F64:
    """Gradient magnitude similarity per pixel (1 = same gradient), on Y, at half resolution, over
    the positions where the 3×3 Prewitt kernel fits (no padding, so no made-up edges at the border)."""
    _check_pair(result, truth)
    x = _half(_shave(luma(result), border))
    y = _half(_shave(luma(truth), border))
    if min(x.shape) < 3:
        raise ValueError(f"images of {result.shape[:2]} px are too small for GMSD")
    mx, my = _gradient_magnitude(x), _gradient_magnitude(y)
    return (2 * mx * my + GMSD_C) / (mx * mx + my * my + GMSD_C)


def gmsd_y(result: U8, truth: U8, border: int = 0) -> float:
    """GMSD of `result` against `truth` (lower is better; 0 for identical images)."""
    return float(np.std(gms_map(result, truth, border)))


def _laplacian(y: F64) -> F64:
    return 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]


def sharpness_y(rgb: U8, border: int = 0) -> float:
    """No-reference sharpness: the variance of the 4-neighbour Laplacian of Y (higher = more fine
    contrast, whether real detail, invented texture or noise)."""
    return float(np.var(_laplacian(_shave(luma(rgb), border))))


def sharpness_ratio(result: U8, truth: U8, border: int = 0) -> float:
    """`sharpness_y` of `result` over that of `truth`: < 1 softer than the original, > 1 busier."""
    _check_pair(result, truth)
    reference = sharpness_y(truth, border)
    return sharpness_y(result, border) / reference if reference > 0 else math.nan


MSCN_SIGMA = 7.0 / 6.0
"""The Gaussian of BRISQUE / NIQE's local mean and deviation."""


def mscn(y: F64) -> F64:
    """Mean-subtracted contrast-normalised coefficients (Mittal et al.) of a luma plane, over the
    positions where the 7-tap Gaussian window fits; C = 1 for 0-255 values."""
    x = np.arange(-3, 4, dtype=np.float64)
    w: F64 = np.exp(-(x * x) / (2 * MSCN_SIGMA**2))
    w /= w.sum()
    mu = _filter_valid(y, w)
    var = np.maximum(_filter_valid(y * y, w) - mu * mu, 0.0)
    return (y[3:-3, 3:-3] - mu) / (np.sqrt(var) + 1.0)


_ALPHAS = np.arange(0.2, 10.0, 0.001)


def _ggd_ratio(alpha: F64) -> F64:
    from scipy.special import gammaln

    return np.exp(gammaln(1 / alpha) + gammaln(3 / alpha) - 2 * gammaln(2 / alpha))


_RATIOS = _ggd_ratio(_ALPHAS)


def ggd_shape(values: F64) -> float:
    """Shape α of the zero-mean generalised Gaussian with the moment ratio E[x²]/E[|x|]² of `values`
    (moment matching, as BRISQUE fits it): 2 = Gaussian, 1 = Laplacian, lower = peakier."""
    mean_abs = float(np.mean(np.abs(values)))
    if mean_abs < 1e-6:  # a flat plane: no contrast to describe
        return math.nan
    rho = float(np.mean(values * values)) / mean_abs**2
    return round(float(_ALPHAS[int(np.argmin(np.abs(_RATIOS - rho)))]), 3)


def naturalness_y(rgb: U8, border: int = 0) -> float:
    """No-reference naturalness statistic: the GGD shape α of the MSCN coefficients of Y."""
    return ggd_shape(mscn(_shave(luma(rgb), border)))


def naturalness_gap(result: U8, truth: U8, border: int = 0) -> float:
    """|α(result) − α(truth)|: how far the output's MSCN statistics are from the original's (0 =
    the same shape; blur, ringing and noise all move α)."""
    _check_pair(result, truth)
    return abs(naturalness_y(result, border) - naturalness_y(truth, border))
