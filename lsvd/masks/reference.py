"""Plain reference of the official SelfSVD mask generation (spec/selfsvd-official.md, section 2.2).

Written from the specification the way the official ``data_process/script_mask_generate.py`` does
it -- numpy / OpenCV dark-channel prior at full resolution for both frames, PyTorch bilinear
``align_corners=True`` downscale, the PWC wrapper's ``get_backwarp`` warp, ``cv2.GaussianBlur``
and a per-block ``skimage.metrics.structural_similarity`` double loop -- with no Numba and no
shortcut. ``lsvd.masks`` is tested against it (``tests/masks/test_kernels.py``) and timed against
it (``benchmarks/perf/masks.py``); it ships with the package so that both work from an installed
wheel. Slow by design: not for production use.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity


def min_filter(src: np.ndarray, r: int = 7) -> np.ndarray:
    """Dark channel: erosion with a (2r+1)^2 square of ones (``cv2.erode`` defaults)."""
    return cv2.erode(src, np.ones((2 * r + 1, 2 * r + 1)))


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with ``cv2.boxFilter`` of size ``r`` (a box size, not a radius)."""
    m_i = cv2.boxFilter(guide, -1, (r, r))
    m_p = cv2.boxFilter(src, -1, (r, r))
    m_ip = cv2.boxFilter(guide * src, -1, (r, r))
    cov_ip = m_ip - m_i * m_p
    m_ii = cv2.boxFilter(guide * guide, -1, (r, r))
    var_i = m_ii - m_i * m_i
    a = cov_ip / (var_i + eps)
    b = m_p - a * m_i
    m_a = cv2.boxFilter(a, -1, (r, r))
    m_b = cv2.boxFilter(b, -1, (r, r))
    return m_a * guide + m_b


def airlight(refined: np.ndarray, m: np.ndarray, bins: int = 2000) -> tuple[float, float, int]:
    """The histogram rule: (A, left edge of the chosen bin, its index)."""
    counts, edges = np.histogram(refined, bins)
    d = np.cumsum(counts) / float(refined.size)
    for lmax in range(bins - 1, 0, -1):  # noqa: B007 - lmax is used after the loop, as in the official code
        if d[lmax] <= 0.999:
            break
    a = np.mean(m, 2)[refined >= edges[lmax]].max()
    return float(a), float(edges[lmax]), lmax


def defog(m: np.ndarray, r: int, eps: float, w: float, max_v1: float, bins: int = 2000) -> tuple[np.ndarray, float]:
    """Veil ``min(w * V', max_v1)`` and airlight ``A`` of RGB float64 ``m`` in [0, 1]."""
    v1 = np.min(m, 2)
    dark = min_filter(v1, 7)
    v1 = guided_filter(v1, dark, r, eps)
    a, _, _ = airlight(v1, m, bins)
    v1 = np.minimum(v1 * w, max_v1)
    return v1, a


def dehaze(m: np.ndarray, r: int = 81, eps: float = 0.001, w: float = 0.95, max_v1: float = 0.80) -> np.ndarray:
    """Official ``deHaze`` (no gamma): float64 (H, W, 3) in [0, 1] -> float64 (H, W, 3) in [0, 1]."""
    y = np.zeros(m.shape)
    mask_img, a = defog(m, r, eps, w, max_v1)
    for k in range(3):
        y[:, :, k] = (m[:, :, k] - mask_img) / (1 - mask_img / a)
    return np.clip(y, 0, 1)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) -> float32 (1, 3, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().unsqueeze(0)


def quarter(x: torch.Tensor) -> torch.Tensor:
    """Official downscale: bilinear, scale 0.25, ``align_corners=True``."""
    return F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=True)


def get_backwarp(source: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The PWC wrapper's warp (spec 3.3): ``(warped * valid, valid)`` for a flow on the target grid."""
    _, _, h, w = flow.shape
    hor = torch.linspace(-1.0 + (1.0 / w), 1.0 - (1.0 / w), w).view(1, 1, 1, -1).expand(-1, -1, h, -1)
    ver = torch.linspace(-1.0 + (1.0 / h), 1.0 - (1.0 / h), h).view(1, 1, -1, 1).expand(-1, -1, -1, w)
    grid = torch.cat([hor, ver], 1)
    flow = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    inp = torch.cat([source, source.new_ones([source.shape[0], 1, source.shape[2], source.shape[3]])], 1)
    out = F.grid_sample(inp, (grid + flow).permute(0, 2, 3, 1), mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    mask = out[:, -1:]
    mask[mask > 0.999] = 1.0
    mask[mask < 1.0] = 0.0
    return out[:, :-1] * mask, mask


def prepare(rgb_u8: np.ndarray) -> torch.Tensor:
    """Steps 1-3: /255, dehaze, to tensor, quarter -> float32 (1, 3, h, w)."""
    return quarter(to_tensor(dehaze(rgb_u8 / 255.0)))


def block_ssim_loop(gray_x: np.ndarray, gray_y: np.ndarray, block: int = 8) -> np.ndarray:
    """SSIM of each ``block`` x ``block`` tile, one ``structural_similarity`` call per tile."""
    h, w = gray_x.shape
    out = np.zeros((h // block, w // block))
    for i, y in enumerate(range(0, h - block + 1, block)):
        for j, x in enumerate(range(0, w - block + 1, block)):
            out[i, j] = structural_similarity(gray_x[y:y + block, x:x + block], gray_y[y:y + block, x:x + block],
                                              data_range=1)
    return out


def compare(ref_q: torch.Tensor, frame_q: torch.Tensor, flow: np.ndarray | None,
            warp: Callable = get_backwarp, threshold: float = 0.92) -> tuple[np.ndarray, np.ndarray]:
    """Steps 4-7 on prepared tensors; ``flow`` (2, h, w) on the frame grid, None = zero flow."""
    _, _, h, w = frame_q.shape
    flow_t = torch.zeros(1, 2, h, w) if flow is None else torch.from_numpy(np.asarray(flow, np.float32))[None]
    warped, valid = warp(ref_q, flow_t)
    warped = warped.clamp(0, 1)
    frame = frame_q.clamp(0, 1) * valid
    gx = warped.mean(dim=1)[0].numpy()
    gy = frame.mean(dim=1)[0].numpy()
    gx = cv2.GaussianBlur(gx, (27, 27), 27)
    gy = cv2.GaussianBlur(gy, (27, 27), 27)
    ssim = block_ssim_loop(gx, gy)
    mask = np.zeros((h, w), np.uint8)
    for i in range(ssim.shape[0]):
        for j in range(ssim.shape[1]):
            if ssim[i, j] < threshold:
                mask[i * 8:(i + 1) * 8, j * 8:(j + 1) * 8] = 1
    return mask, ssim


def mask_for_pair(ref_u8: np.ndarray, frame_u8: np.ndarray, flow: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The official per-frame ``align``: both frames dehazed at full resolution, then steps 3-7."""
    return compare(prepare(ref_u8), prepare(frame_u8), flow)
