"""SelfSVD block masks ("refmask"): dark-channel dehazing, 1/4-res alignment and blockwise SSIM.

The numeric core lives in :mod:`lsvd.masks.core` (the per-pair pipeline and :class:`MaskParams`)
and :mod:`lsvd.masks.kernels` (the Numba kernels it runs on). A mask is 1 on the 8x8 blocks
(1/4 resolution) where the dehazed, aligned and blurred reference frame and the current frame are
structurally dissimilar (SSIM < 0.92), 0 elsewhere; see the official specification, section 2.
Nothing heavy is imported here.
"""
