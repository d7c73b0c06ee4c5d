"""Which images each optimizer step trains on, for every process and micro-batch, from (seed, epoch) alone.

A step's global batch is `processes x accumulate` micro-batches. Micro-batch a of process r deals its images as
PyTorch's DistributedSampler does for replica r * accumulate + a of processes * accumulate: so two processes
with one micro-batch each see exactly the images one process sees in two accumulated micro-batches, and DDP's
averaged gradient is the accumulated one. Every item carries its augmentation seed (seed, epoch, image), so
where it is loaded never changes it, and a resumed run starts at its step's place in its epoch.
"""
from __future__ import annotations

import math

from torch.utils.data import DistributedSampler, Sampler


def item_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed from the run's seed and the given counters (epoch and image, or step and shard)."""
    value = seed
    for p in parts:
        value = (value * 1_000_003 + p) % (2**63 - 1)
    return value


class StepBatches(Sampler):
    """Yields, for each step from `start` to `stop`, `accumulate` micro-batches of `batch` keys (seed, index)."""

    def __init__(self, num_images: int, *, batch: int, accumulate: int, rank: int, world: int, seed: int,
                 start: int, stop: int):
        replicas = world * accumulate
        self.shards = [DistributedSampler(range(num_images), num_replicas=replicas, rank=rank * accumulate + a,
                                          shuffle=True, seed=seed) for a in range(accumulate)]
        self.batch, self.seed, self.start, self.stop = batch, seed, start, stop
        self.steps_per_epoch = math.ceil(len(self.shards[0]) / batch)

    def __len__(self) -> int:
        return (self.stop - self.start) * len(self.shards)

    def __iter__(self):
        epoch, dealt = None, []
        for step in range(self.start, self.stop):
            if step // self.steps_per_epoch != epoch:
                epoch = step // self.steps_per_epoch
                dealt = []
                for shard in self.shards:
                    shard.set_epoch(epoch)
                    dealt.append(list(shard))
            first = (step % self.steps_per_epoch) * self.batch
            for indices in dealt:
                # the epoch's last micro-batch wraps to its start: every micro-batch has `batch` images
                chosen = [indices[(first + i) % len(indices)] for i in range(self.batch)]
                yield [(item_seed(self.seed, epoch, i), i) for i in chosen]
