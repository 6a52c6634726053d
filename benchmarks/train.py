"""Figure 4 and 9 (training): images/s of one full training step (targets from a uint8 batch,
forward, loss, backward, Adam step) of the default U-Net, achieved GFLOP/s against ``torch.mm``
2048x2048 fp32 measured in the same run, a plain hand-written NCHW U-Net of the same shape as the
baseline, the 313-bin head, and the peak memory of one training epoch on CIFAR-10 horses.

U-Net rows at 32, 64, 96, 128 and 256 px (96 and 128 also run with the 64 px row). Each also times, call
by call with it, the same model as it computed before issue 18 item 3 (``as_before``) and a matmul,
and reports the CPU share other processes took meanwhile (``common.OtherLoad``).
"""
from __future__ import annotations

import shutil
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import PYTHON, SHARED, Figure, OtherLoad, rate, rate_figure, run_child, time_calls, time_interleaved

_RUN_DIR: Path | None = None
RATES: dict[str, float] = {}   # img/s of the train-step figures of this run (used by the loader figure)


class PlainUNet(nn.Module):
    """The default U-Net written out by hand (NCHW, no input checks, no wrapper)."""

    def __init__(self, q: int, w: int = 32) -> None:
        super().__init__()

        def block(ci, co):
            return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1), nn.BatchNorm2d(co), nn.ReLU(inplace=True))
        self.d1, self.d2, self.mid = block(1, w), block(w, 2 * w), block(2 * w, 2 * w)
        self.u1, self.u2 = block(4 * w, w), block(2 * w, w)
        self.final = nn.Conv2d(w + 1, q, 3, padding=1)

    def forward(self, x):
        d1 = F.max_pool2d(self.d1(x), 2)
        d2 = F.max_pool2d(self.d2(d1), 2)
        mid = self.mid(d2)
        u1 = F.interpolate(self.u1(torch.cat([mid, d2], 1)), scale_factor=2.0)
        u2 = F.interpolate(self.u2(torch.cat([u1, d1], 1)), scale_factor=2.0)
        return self.final(torch.cat([u2, x], 1))


def _body_before(self, x):
    """``ClassicCNN.body`` before issue 18 item 3: the 1-channel input skip is concatenated as it
    comes (NCHW), so the concatenation and the final convolution's input become NCHW and are
    copied to channels-last in forward and again in backward (see ``like_layout``)."""
    d1 = self.down1(x)
    d2 = self.down2(d1)
    u1 = self.up1(torch.cat([self.middle(d2), d2], dim=1))
    u2 = self.up2(torch.cat([u1, d1], dim=1))
    skip = x if self.output_stride == 1 else F.avg_pool2d(x, self.output_stride)
    return self.final(torch.cat([u2, skip], dim=1))


def as_before(model: nn.Module) -> nn.Module:
    """``model`` (a U-Net) computing as before issue 18 item 3: the forward above and plain
    ``nn.Upsample`` (whose backward copies the strided gradient slice it gets from the
    concatenation, see ``NearestUp2``). Same weights, outputs and gradients, bit for bit."""
    model.body = types.MethodType(_body_before, model)
    for block in (model.up1, model.up2):
        if isinstance(block[-1], nn.Upsample):
            block[-1] = nn.Upsample(scale_factor=2)
    return model


def conv_flops(model: nn.Module, x: torch.Tensor) -> float:
    """Forward multiply-add FLOPs (2 per MAC) of the convolutions for input ``x``."""
    total = [0.0]

    def hook(m, inp, out):
        total[0] += 2.0 * out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def photos(folder: Path, n: int, size: int) -> torch.Tensor:
    """n photos of ``folder`` as (n, 3, size, size) uint8 (synthetic when the folder is absent)."""
    if folder.is_dir():
        from colorclass.photos import list_images, load_rgb
        imgs = [load_rgb(f) for f in list_images(folder)[:n]]
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)
    else:
        x = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    if x.shape[-1] != size:
        x = F.interpolate(x.float(), size=(size, size), mode="bilinear").round().clamp(0, 255).byte()
    return x.contiguous()


def _bins(family: str):
    """k-means k=24 or the zhang313 grid, fitted (with the prior) on CIFAR horse pixels."""
    import quantize
    from colorclass.photos import sample_pixels
    horse = SHARED / "cifar10" / "train" / "horse"
    px = (sample_pixels(horse, pixels_per_image=100, max_pixels=100_000, seed=0, progress=False)[0]
          if horse.is_dir() else np.random.default_rng(0).integers(0, 256, (50_000, 3), dtype=np.uint8))
    bins = quantize.make_bins("grid", preset="zhang313") if family == "grid" else quantize.make_bins("kmeans", k=24)
    return quantize.fit_bins(bins, px, progress=False)


def step_fn(model, task, batch, channels_last: bool = True):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def step():
        loss, _ = task.training_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def plain_step_fn(model, encoder, batch):
    """Baseline: plain U-Net; targets the straightforward way (float Lab, LUT labels, F.cross_entropy)."""
    from colorclass.color import rgb_to_lab
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rgb = batch["rgb"]

    def step():
        l_input = rgb_to_lab(rgb.float() / 255)[:, :1] / 50 - 1
        loss = F.cross_entropy(model(l_input), encoder.hard(rgb))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def train_figures(quick: bool, only, mm_gflops: float) -> list[Figure]:
    from colorclass.models import build_model
    from colorclass.training.colorization_task import ColorizationTask

    reps, warm = (2, 1) if quick else (8, 2)
    kmeans = _bins("kmeans")
    figures, rates = [], {}
    tiny = SHARED / "tiny-imagenet-val"
    # 96 and 128 px (crop sizes of the built-in models): also run with the 64 px row (the
    # issue's command is `--only train_step_unet64,matmul`); batches of about its 131k pixels
    cases = [("train_step_unet32", SHARED / "cifar10" / "train" / "horse", 32, 100),
             ("train_step_unet64", tiny, 64, 32), ("train_step_unet96", tiny, 96, 16),
             ("train_step_unet128", tiny, 128, 8), ("train_step_unet256", tiny, 256, 4)]
    for name, folder, size, batch_size in cases:
        wanted = only(name) or (size in (96, 128) and only("train_step_unet64"))
        if not (wanted or (name == "train_step_unet32" and (only("train_step_q313")
                                                            or only("train_step_q313_cheap")))):
            continue
        if quick and size == 256:
            batch_size = 2
        batch = {"rgb": photos(folder, batch_size, size)}   # NCHW uint8, as the loader gives it
        task = ColorizationTask(kmeans, loss="ce")
        model = build_model("unet", out_channels=24, width=32, seed=0)
        step = step_fn(model, task, batch)   # the trainer's default: channels-last
        before = as_before(build_model("unet", out_channels=24, width=32, seed=0))
        before_step = step_fn(before, task, batch)
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        with OtherLoad() as load:
            times, before_times, mm_times = time_interleaved([step, before_step, lambda: torch.mm(a, b)], reps, warm)
        mm_here = rate(2 * 2048 ** 3 / 1e9, mm_times)
        base = time_calls(plain_step_fn(PlainUNet(24), kmeans.encoder(), batch), reps, warmup=warm)
        nchw = None if quick else time_calls(step_fn(build_model("unet", out_channels=24, width=32, seed=0),
                                                     task, batch, channels_last=False), reps, warmup=warm)
        flops = 3 * conv_flops(model, torch.zeros(batch_size, 1, size, size))
        fig = rate_figure(name, "img/s", batch_size, times, base, None,
                          "plain hand-written NCHW U-Net, same step")
        achieved = flops / sorted(times)[len(times) // 2] / 1e9
        before_rate = rate(batch_size, before_times)
        before_gflops = flops / batch_size * before_rate[0] / 1e9
        fig.extra = {"gflops": achieved, "fraction_of_matmul": achieved / mm_gflops,
                     "matmul_interleaved": mm_here[0], "fraction_of_matmul_interleaved": achieved / mm_here[0],
                     "before_img_s": before_rate[0], "before_min_max": before_rate[1:],
                     "before_fraction_of_matmul": before_gflops / mm_gflops,
                     "before_fraction_of_matmul_interleaved": before_gflops / mm_here[0],
                     "other_processes_cpu_share": load.share}
        if nchw:
            fig.extra["nchw_img_s"] = batch_size / sorted(nchw)[len(nchw) // 2]
        fig.note = (f"batch {batch_size}x{size}x{size}, 24 k-means bins, ce, channels-last weights "
                    f"(train.channels_last, the default); {achieved:.1f} GFLOP/s = {100 * achieved / mm_gflops:.0f}% "
                    f"of matmul ({100 * achieved / mm_here[0]:.0f}% of the matmul timed between its steps, "
                    f"{mm_here[0]:.0f} GFLOP/s); before issue 18.3 (same run, interleaved): {before_rate[0]:.3g} img/s "
                    f"({before_rate[1]:.3g}-{before_rate[2]:.3g}) = {100 * before_gflops / mm_gflops:.0f}% "
                    f"({100 * before_gflops / mm_here[0]:.0f}%)"
                    + ("" if load.share is None else f"; other processes took {100 * load.share:.0f}% of the cores meanwhile")
                    + (f"; the same model NCHW {fig.extra['nchw_img_s']:.3g} img/s" if nchw else ""))
        rates[name] = RATES[name] = fig.value
        if wanted:
            figures.append(fig)
    if only("train_step_q313") or only("train_step_q313_cheap"):
        batch = {"rgb": photos(SHARED / "cifar10" / "train" / "horse", 100, 32)}
        grid = _bins("grid")
        task = ColorizationTask(grid, loss="kl", rebalance=True, lam=0.5)
        times = time_calls(step_fn(build_model("unet", out_channels=313, width=32, seed=0), task, batch),
                           reps, warmup=warm)
        fig = rate_figure("train_step_q313", "img/s", 100, times, note="zhang313 grid, kl soft targets, "
                          "rebalanced; baseline = the 24-bin step above (goal ratio >= 0.7)")
        fig.baseline, fig.baseline_what = rates["train_step_unet32"], "24-bin U-Net step, same run"
        head1 = build_model("unet", out_channels=313, width=32, seed=0, head_kernel=1)
        t1 = time_calls(step_fn(head1, task, batch), reps, warmup=warm)
        fig.extra = {"head_1x1_img_s": 100 / sorted(t1)[len(t1) // 2]}
        fig.note += f"; with model.head_kernel = 1: {fig.extra['head_1x1_img_s']:.0f} img/s"
        figures.append(fig)
        cheap = build_model("unet", out_channels=313, width=32, seed=0, head_kernel=1, output_stride=2)
        cheap_task = ColorizationTask(grid, loss="kl", rebalance=True, lam=0.5, output_stride=2)
        t2 = time_calls(step_fn(cheap, cheap_task, batch), reps, warmup=warm)
        fig2 = rate_figure("train_step_q313_cheap", "img/s", 100, t2, note="the q313 step with the cheap "
                           "head of the built-in model and the horse configs (model.head_kernel = 1, "
                           "model.output_stride = 2); baseline = the 24-bin step above (goal ratio >= 0.7)")
        fig2.baseline, fig2.baseline_what = rates["train_step_unet32"], "24-bin U-Net step, same run"
        figures.append(fig2)
    return figures


def trained_run(quick: bool) -> tuple[Path, float, float]:
    """A one-epoch CIFAR-10 horse U-Net run (made once per suite): (run dir, seconds, peak RSS MB)."""
    global _RUN_DIR
    out = Path(tempfile.mkdtemp(prefix="colorclass-bench-")) / "run"
    horse = SHARED / "cifar10" / "train" / "horse"
    if not horse.is_dir():
        raise RuntimeError("the epoch figure needs ../shared/data/cifar10")
    cmd = [PYTHON, "-m", "colorclass", "train", "--config", "experiments/cifar10_horse_unet.toml",
           "--epochs", "1", "--out", str(out)]
    if quick:   # 1,000 of the 5,000 horses (copied to a temp folder), 200 validation photos
        subset = out.parent / "horses"
        for name, src, n in (("train", horse, 1000), ("val", SHARED / "cifar10" / "test" / "horse", 200)):
            (subset / name).mkdir(parents=True)
            for f in sorted(src.iterdir())[:n]:
                shutil.copy(f, subset / name / f.name)
        cmd += ["--data", str(subset / "train"), "--val-data", str(subset / "val")]
    seconds, rss, _ = run_child(cmd)
    _RUN_DIR = out
    return out, seconds, rss


def run(quick: bool, only) -> list[Figure]:
    figures = []
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    mm = time_calls(lambda: torch.mm(a, b), 3 if quick else 8)
    mm_fig = rate_figure("matmul", "GFLOP/s", 2 * 2048 ** 3 / 1e9, mm, note="torch.mm 2048x2048 fp32")
    figures.append(mm_fig)
    figures += train_figures(quick, only, mm_fig.value)
    if only("epoch_rss"):
        _, seconds, rss = trained_run(quick)
        figures.append(Figure("epoch_rss", rss, "MB", rss, rss, lower_is_better=True,
                              note=f"peak RSS of `train --config experiments/cifar10_horse_unet.toml --epochs 1` "
                                   f"(whole process, {seconds:.0f} s incl. fitting bins"
                                   f"{'; quick: 1,000 horses' if quick else ''})"))
    return figures
