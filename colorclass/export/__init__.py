"""Export: a trained run as a self-contained file for other runtimes (``onnx_export``: an ONNX
network plus the bins and decoding settings it needs, run by ``inference.onnx_engine``)."""
