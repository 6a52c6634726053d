"""quantize: colour bins (k-means, Hue-Chroma GMM and grid, Lab ab grid) and target encoding.

Pipeline: photos -> **quantize (fit bins) -> encode targets** -> network -> loss -> decode -> ...

    bins = quantize.fit_bins(quantize.make_bins("kmeans", k=24), pixels_u8)   # (N, 3) uint8
    bins.save("bins.npz")       # colorclass.binning.fit_bins_from_folder does folder -> file
    bins = quantize.load_bins("bins.npz")
    labels = bins.encoder().hard(rgb_u8)                    # (B, H, W) int64
    weights = quantize.rebalance_weights(bins.prior, lam=0.5)
"""
from quantize.bins import FAMILIES, Bins, BinsFileError, load_bins
from quantize.encoder import Encoder
from quantize.fit import fit_bins, format_summary, make_bins
from quantize.grid import ABGridBins, zhang313_centers
from quantize.huechroma import GMMBins, HueChromaGridBins
from quantize.kmeans import KMeansBins
from quantize.prior import bin_counts, compute_prior, prior_from_counts, rebalance_weights

__all__ = [
    "Bins", "BinsFileError", "Encoder", "FAMILIES", "KMeansBins", "GMMBins", "HueChromaGridBins", "ABGridBins",
    "load_bins", "zhang313_centers", "bin_counts", "compute_prior", "prior_from_counts", "rebalance_weights",
    "fit_bins", "format_summary", "make_bins",
]
