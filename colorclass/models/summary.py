"""`colorclass summary`: per-layer shapes, parameters, mult-adds, activation and peak memory.

Pipeline position: a planning tool beside the **network** stage - it tells a user, before training,
what a model costs at a given input size and batch on their device.

* :func:`profile_model` runs one forward pass (eval mode, no grad) with hooks on every leaf layer
  and returns a :class:`ModelProfile` (numbers, for tests and programs).
* :func:`measure_step_peak_memory` runs one real training step (forward, cross-entropy,
  backward, Adam step) on a copy of the model and measures peak memory: on CUDA with
  ``torch.cuda.max_memory_allocated``; on CPU by replaying the allocator events recorded by
  ``torch.profiler`` (``profile_memory=True``) on top of the parameter/buffer bytes.
* :func:`summarize` formats both as text.

Multiply-adds (MACs) are counted for convolutions, transposed convolutions, linear layers and the
FCN's bilinear upsamplers; other layers (norms, activations, pooling) count as 0. FLOPs ~ 2 x MACs.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorclass.support import limits
from colorclass.support.errors import ColorclassError


@dataclass
class LayerStats:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    mult_adds: int
    activation_bytes: int


@dataclass
class ModelProfile:
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    param_bytes: int
    layers: list[LayerStats] = field(default_factory=list)

    @property
    def total_mult_adds(self) -> int:
        return sum(layer.mult_adds for layer in self.layers)

    @property
    def activation_bytes(self) -> int:
        return sum(layer.activation_bytes for layer in self.layers)


def layer_mult_adds(module: nn.Module, inputs: tuple, output: Tensor) -> int:
    """Multiply-adds of one call of ``module`` (bias additions not counted)."""
    if hasattr(module, "mult_adds"):
        return int(getattr(module, "mult_adds")(inputs, output))
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return inputs[0].numel() * per_input
    if isinstance(module, nn.modules.conv._ConvNd):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ColorclassError(f"size must be positive; got {size}")
    return int(h), int(w)


def _leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules()
            if name and (not list(m.children()) or hasattr(m, "mult_adds"))]


def profile_model(model: nn.Module, *, size: int | tuple[int, int], batch: int,
                  device: str | torch.device | None = None) -> ModelProfile:
    """One no-grad forward of a ``(batch, C, H, W)`` input (C = the model's ``in_channels``, 1 by
    default) with hooks on every leaf layer."""
    h, w = _size_hw(size)
    c = getattr(model, "in_channels", 1)
    device = next(model.parameters()).device if device is None else torch.device(device)
    layers: list[LayerStats] = []
    seen: set[int] = set()

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output) -> None:
            if not isinstance(output, Tensor):
                return
            params = 0 if id(module) in seen else sum(
                p.numel() for p in module.parameters(recurse=False))
            seen.add(id(module))
            in_place = getattr(module, "inplace", False)
            layers.append(LayerStats(
                name, type(module).__name__, tuple(output.shape), params,
                layer_mult_adds(module, inputs, output),
                0 if in_place else output.numel() * output.element_size()))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in _leaf_modules(model)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(batch, c, h, w, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    params = list(model.parameters())
    return ModelProfile(
        input_shape=(batch, c, h, w), output_shape=tuple(out.shape),
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params), layers=layers)


def _training_step(model: nn.Module, x: Tensor, optimizer: torch.optim.Optimizer) -> None:
    logits = model(x)
    labels = torch.randint(0, logits.shape[1], (logits.shape[0], *logits.shape[2:]),
                           device=x.device)
    F.cross_entropy(logits, labels).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _cpu_peak_from_profiler(model: nn.Module, size: tuple[int, int], batch: int) -> int | None:
    from torch.profiler import ProfilerActivity, profile

    optimizer = torch.optim.Adam(model.parameters())
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        x = torch.rand(batch, getattr(model, "in_channels", 1), *size) * 2 - 1
        _training_step(model, x, optimizer)
        del x
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        return None
    events = sorted((e for e in results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def measure_step_peak_memory(model: nn.Module, *, size: int | tuple[int, int], batch: int,
                             device: str | torch.device = "cpu") -> tuple[int | None, str]:
    """Peak bytes of one training step (forward, CE, backward, Adam) on a copy of ``model``.

    Returns ``(peak_bytes or None, description of the measurement)``. The model itself is not
    modified.
    """
    hw, device = _size_hw(size), torch.device(device)
    work = copy.deepcopy(model).to(device).train()
    tensors = list(work.parameters()) + list(work.buffers())
    static = sum(t.numel() * t.element_size() for t in tensors)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        _training_step(work, torch.rand(batch, getattr(work, "in_channels", 1), *hw, device=device) * 2 - 1,
                       torch.optim.Adam(work.parameters()))
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device),
                "torch.cuda.max_memory_allocated over forward + cross-entropy + backward + "
                "Adam step (includes weights, gradients and optimizer state)")
    peak = _cpu_peak_from_profiler(work, hw, batch)
    if peak is None:
        return None, "not measured: this torch.profiler exposes no allocator events"
    return (static + peak,
            "CPU: parameter/buffer bytes + peak of the allocator events recorded by "
            "torch.profiler(profile_memory=True) over forward + cross-entropy + backward + "
            "Adam step (tensor allocations only; not the process RSS)")


def _human(n: float, unit: str = "") -> str:
    for prefix in ("", "K", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{prefix}{unit}" if prefix == "" else f"{n:.2f}{prefix}{unit}"
        n /= 1000
    return f"{n:.2f}T{unit}"


def _bytes(n: float) -> str:
    for prefix in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {prefix}" if prefix == "B" else f"{n:.2f} {prefix}"
        n /= 1024
    return f"{n:.2f} GiB"


def summarize(model: nn.Module, *, size: int | tuple[int, int], batch: int,
              device: str | torch.device | None = None, measure: bool = True) -> str:
    """Text table: per leaf layer output shape, parameters, mult-adds, activation memory; totals;
    and (``measure=True``) the measured peak memory of one training step."""
    if batch < 1:
        raise ColorclassError(f"batch must be >= 1; got {batch}")
    h, w = _size_hw(size)
    limits.check_at_most("summary: size", max(h, w), limits.MAX_LONG_SIDE, "use a smaller size")
    if h * w * batch > limits.MAX_BATCH_PIXELS:
        raise ColorclassError(f"summary: {h} x {w} x {batch} = {h * w * batch:,} pixels a batch is over the limit "
                              f"of {limits.MAX_BATCH_PIXELS:,}; use a smaller size or batch")
    device = next(model.parameters()).device if device is None else torch.device(device)
    prof = profile_model(model, size=size, batch=batch, device=device)
    name_w = max([len("layer")] + [len(layer.name) for layer in prof.layers])
    kind_w = max([len("type")] + [len(layer.kind) for layer in prof.layers])
    head = (f"{'layer':<{name_w}}  {'type':<{kind_w}}  {'output shape':<22}{'params':>12}"
            f"{'mult-adds':>12}{'activations':>13}")
    lines = [f"model: {getattr(model, 'arch', type(model).__name__)}   input: "
             f"{prof.input_shape}   output: {prof.output_shape}   output_stride: "
             f"{getattr(model, 'output_stride', 1)}   input_multiple: "
             f"{getattr(model, 'input_multiple', 1)}", head, "-" * len(head)]
    for layer in prof.layers:
        lines.append(f"{layer.name:<{name_w}}  {layer.kind:<{kind_w}}  "
                     f"{str(layer.output_shape):<22}{layer.params:>12,}"
                     f"{_human(layer.mult_adds):>12}{_bytes(layer.activation_bytes):>13}")
    macs = prof.total_mult_adds
    lines += ["-" * len(head),
              f"Total parameters: {prof.total_params:,} (trainable {prof.trainable_params:,}; "
              f"{_bytes(prof.param_bytes)})",
              f"Total mult-adds: {macs:,} ({_human(macs)} MACs; FLOPs ~ 2 x MACs = "
              f"{_human(2 * macs)}) for batch {batch}",
              f"Forward activations: {_bytes(prof.activation_bytes)} (sum of layer outputs; "
              f"in-place layers count 0)"]
    if measure:
        peak, how = measure_step_peak_memory(model, size=size, batch=batch, device=device)
        shown = "n/a" if peak is None else f"{_bytes(peak)} ({peak:,} bytes)"
        lines.append(f"Peak memory of one training step: {shown}\n  measured with {how}")
    return "\n".join(lines)
