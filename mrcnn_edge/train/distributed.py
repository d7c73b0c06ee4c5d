"""One process, or many under `torchrun`: PyTorch's own DistributedDataParallel over gloo (CPU) or nccl (GPU).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them the run is one process and nothing here starts a
process group, so the same command runs either way.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import UserError

# Rank 0 validates while the other ranks wait in their next all-reduce: gloo's default 30 minutes could run out
# on a large val set on a CPU.
TIMEOUT = datetime.timedelta(hours=3)


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints."""
        return self.rank == 0


def start(device: str | None) -> Processes:
    """This process's place: rank, world size and the device it trains on (under torchrun on GPUs, the
    LOCAL_RANK-th GPU)."""
    cuda = _wants_cuda(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes(0, 1, torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    return Processes(dist.get_rank(), dist.get_world_size(), torch.device(f"cuda:{local}" if cuda else "cpu"))


def _wants_cuda(device: str | None) -> bool:
    if device not in (None, "cpu", "cuda"):
        raise UserError(f"--device {device}: choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, and this PyTorch sees no CUDA device: pass --device cpu, or install a CUDA "
                        "build of torch on a machine with a GPU")
    return device == "cuda" or (device is None and torch.cuda.is_available())


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def mean_over_processes(values: torch.Tensor, processes: Processes) -> torch.Tensor:
    """The mean of a tensor over every process (itself when alone)."""
    if processes.world == 1:
        return values
    values = values.to(processes.device)
    dist.all_reduce(values)
    return values.cpu() / processes.world


def same_everywhere(flag: bool, processes: Processes) -> bool:
    """True when the flag is true in any process: every process then takes the same branch."""
    if processes.world == 1:
        return flag
    t = torch.tensor([float(flag)], device=processes.device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(processes: Processes) -> None:
    if processes.world > 1:
        dist.barrier()
