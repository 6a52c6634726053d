"""quantize: colour bins (k-means, Hue-Chroma GMM, Lab ab grid) and target encoding."""
