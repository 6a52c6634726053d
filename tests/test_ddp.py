"""DDP on CPU: 2 gloo processes behave like 1 process with the same global batch, agree on
when to stop, and never hang (uneven data, a stop asked on one rank, NaN on one rank)."""
import csv
import json
import os
import socket
import time

import pytest
import torch

from colorclass.engine.checkpoint import load_checkpoint
from colorclass.engine.trainer import NonFiniteLossError, Trainer
from colorclass.training.train_run import engine_config_from
from test_trainer import ToyData, ToyTask, config, toy_model, trainer

TIMEOUT_S = 120  # a hang (ranks disagreeing on the number of steps) fails instead of blocking


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StopAtIteration:
    """Asks the trainer to stop; callbacks run on rank 0 only, the other rank must follow."""

    def __init__(self, iteration):
        self.iteration = iteration

    def on_train_start(self, t): pass
    def on_validation_end(self, t, m): pass
    def on_epoch_end(self, t, m): pass
    def on_train_end(self, t, s): pass

    def on_iteration_end(self, t, logs):
        if t.iteration == self.iteration:
            t.request_stop("test")


def _worker(rank, world, port, out):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo")  # the trainer joins an existing group
    # 1. same global batch as the single-process reference (48 samples, 2 x 4 = 8)
    trainer(out / "ddp", "train.batch_size=4", "train.device=cpu", dropout=0.0).fit()
    # 2. 49 samples: unpadded, rank 0 would run 7 batches of 4 and rank 1 only 6 (a hang);
    #    and a stop requested on rank 0 only
    cfg = config(out / "uneven", "train.batch_size=4", "train.device=cpu")
    uneven = Trainer(toy_model(), ToyTask(), ToyData(49), ToyData(7, seed=1), engine_config_from(cfg), run_dir=out / "uneven",
                     callbacks=[StopAtIteration(9)])
    summary = uneven.fit()
    # 3. NaN on rank 1 only: both ranks stop with the same error
    nan_task = ToyTask(nan_at=3 if rank == 1 else None)
    try:
        trainer(out / "nan", "train.batch_size=4", "train.device=cpu", task=nan_task).fit()
        nan_error = None
    except NonFiniteLossError as e:
        nan_error = str(e)
    result = {"stop_iteration": uneven.iteration, "stopped_by": summary["stopped_by"], "nan_error": nan_error}
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    torch.distributed.barrier()  # no rank tears its sockets down while the other still talks
    torch.distributed.destroy_process_group()


def _run_two_processes(out):
    """Run both ranks to the end. A gloo abort at teardown (a rank's socket reset while the
    other closes, pytorch/pytorch#50701) is tolerated only once both ranks wrote their results,
    i.e. after all the training under test finished; any earlier death fails the test."""
    import torch.multiprocessing as mp

    ctx = mp.start_processes(_worker, args=(2, _free_port(), out), nprocs=2, join=False,
                             start_method="spawn")
    deadline = time.time() + TIMEOUT_S
    try:
        while not ctx.join(timeout=1):
            if time.time() > deadline:
                for p in ctx.processes:
                    p.kill()
                pytest.fail(f"DDP workers still running after {TIMEOUT_S} s: ranks disagree (hang)")
    except mp.ProcessExitedException as e:
        written = all((out / f"rank{r}.json").exists() for r in range(2))
        if not (written and e.signal_name == "SIGABRT"):
            raise


def _train_losses(folder):
    with open(folder / "log.csv", newline="") as f:
        return [float(r["train_loss"]) for r in csv.DictReader(f) if r["train_loss"]]


def test_two_gloo_processes(tmp_path):
    """Tolerance: weights within 1e-5 absolute, per-iteration and validation losses within 1e-5
    relative (gradient averaging only reorders float additions). No dropout here: its masks
    depend on how the batch is split."""
    single = trainer(tmp_path / "single", "train.batch_size=8", "train.device=cpu", dropout=0.0)
    single.fit()
    _run_two_processes(tmp_path)

    ddp_weights, state = load_checkpoint(tmp_path / "ddp" / "checkpoint.safetensors")
    assert state["iteration"] == single.iteration == 18
    for k, v in single.raw_model.state_dict().items():
        assert torch.allclose(v, ddp_weights[k], atol=1e-5), k
    # log.csv holds the global mean loss of every iteration (log_every=1)
    assert _train_losses(tmp_path / "ddp") == pytest.approx(_train_losses(tmp_path / "single"), rel=1e-5)

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["stop_iteration"] for r in ranks] == [9, 9]        # padded to 25 each: 7 batches/epoch
    assert ranks[1]["stopped_by"] == "stopped on another rank"
    _, uneven = load_checkpoint(tmp_path / "uneven" / "checkpoint.safetensors")
    assert (uneven["epoch"], uneven["batch_in_epoch"], uneven["iteration"]) == (1, 2, 9)
    assert ranks[1]["nan_error"] and "nan" in ranks[1]["nan_error"]
    assert ranks[0]["nan_error"] and "another rank" in ranks[0]["nan_error"]
    assert not (tmp_path / "nan" / "checkpoint.safetensors").exists()  # nothing good to keep yet
