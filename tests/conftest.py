import os

import pytest
import torch

# Tests share 2 cores with each other's subprocesses; one intra-op thread each keeps timings sane.
torch.set_num_threads(int(os.environ.get("MRCNN_EDGE_TEST_THREADS", "2")))


@pytest.fixture(scope="session")
def shipped_checkpoint():
    from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT

    if not os.path.isfile(SHIPPED_CHECKPOINT):
        pytest.fail(f"shipped checkpoint missing: {SHIPPED_CHECKPOINT}")
    return SHIPPED_CHECKPOINT
