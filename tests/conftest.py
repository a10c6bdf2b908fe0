import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

DEFAULT_MNIST_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist10k"


def pytest_addoption(parser):
    parser.addoption(
        "--mnist-dir",
        default=os.environ.get("SKLEARN_MAE_MNIST_DIR", str(DEFAULT_MNIST_DIR)),
        help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        "(default: $SKLEARN_MAE_MNIST_DIR or ../shared/data/mnist10k)",
    )


@pytest.fixture(scope="session")
def mnist_dir(request) -> Path:
    path = Path(request.config.getoption("--mnist-dir"))
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(
            f"MNIST IDX files not found in {path}; pass --mnist-dir PATH or set "
            "SKLEARN_MAE_MNIST_DIR to a folder holding t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz"
        )
    return path
