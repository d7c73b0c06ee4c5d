"""Which images a step trains on (train/batches.py) and the learning rate (train/schedule.py)."""
import math

import pytest

from mrcnn_edge.train.batches import StepBatches
from mrcnn_edge.train.schedule import WARMUP_START, lr_factor


def _steps(num_images, *, batch, accumulate, world, start=0, stop=6, seed=0):
    """step -> the sorted indices of its global batch, over every process."""
    per_step: dict[int, list] = {}
    for rank in range(world):
        keys = list(StepBatches(num_images, batch=batch, accumulate=accumulate, rank=rank, world=world, seed=seed,
                                start=start, stop=stop))
        for n, micro in enumerate(keys):
            per_step.setdefault(start + n // accumulate, []).extend(micro)
    return {s: sorted(v) for s, v in per_step.items()}


def _micro_batches(num_images, *, batch, accumulate, world, stop=6):
    """step -> its micro-batches in shard order (process r's micro-batch a is shard r * accumulate + a)."""
    out: dict[int, list] = {}
    for rank in range(world):
        keys = list(StepBatches(num_images, batch=batch, accumulate=accumulate, rank=rank, world=world, seed=0,
                                start=0, stop=stop))
        for n, micro in enumerate(keys):
            out.setdefault(n // accumulate, []).append(micro)
    return out


def test_two_processes_see_what_one_process_accumulates():
    """DDP's equivalence rests on this: each micro-batch of two processes holds the very (seed, image) keys of one
    accumulated micro-batch of one process (the losses are means per micro-batch, so the grouping counts too)."""
    two_processes = _micro_batches(10, batch=2, accumulate=1, world=2)
    one_accumulating = _micro_batches(10, batch=2, accumulate=2, world=1)
    assert two_processes == one_accumulating
    assert len(two_processes[0]) == 2 and len(two_processes[0][0]) == 2


def test_an_epoch_deals_every_image_once_and_reshuffles():
    steps = _steps(8, batch=2, accumulate=1, world=2, stop=4)  # 8 images, global batch 4: two steps an epoch
    first = [i for s in (0, 1) for _, i in steps[s]]
    second = [i for s in (2, 3) for _, i in steps[s]]
    assert sorted(first) == sorted(second) == list(range(8))
    assert first != second  # another order in epoch 1
    seeds = {seed for s in steps for seed, _ in steps[s]}
    assert len(seeds) == 16  # each (epoch, image) its own augmentation


def test_a_resumed_run_starts_at_its_place_in_the_epoch():
    whole = _steps(10, batch=2, accumulate=1, world=1, stop=9)
    resumed = _steps(10, batch=2, accumulate=1, world=1, start=4, stop=9)
    assert resumed == {s: whole[s] for s in range(4, 9)}


def test_fewer_images_than_a_batch_still_train():
    steps = _steps(3, batch=4, accumulate=1, world=1, stop=2)
    assert all(len(v) == 4 for v in steps.values())


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_warmup_then_decay(schedule):
    n, warmup = 900, 100
    factors = [lr_factor(it, n, warmup, schedule) for it in range(n)]
    assert factors[0] == pytest.approx(WARMUP_START)
    assert factors[warmup] == pytest.approx(1.0 if schedule == "step" else 0.5 * (1 + math.cos(math.pi * warmup / n)))
    assert all(b >= a for a, b in zip(factors[:warmup], factors[1:warmup]))  # rises through the warm-up
    if schedule == "step":  # detectron2's 1x: x0.1 at 2/3 and 8/9 of the run
        assert factors[599] == 1.0 and factors[600] == pytest.approx(0.1) and factors[800] == pytest.approx(0.01)
    else:
        assert factors[-1] < 1e-4
