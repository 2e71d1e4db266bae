"""Shared fixtures."""
import pytest


@pytest.fixture
def one_torch_thread():
    """Small tensors: one intra-op thread is faster, and two stall badly on a loaded 2-core CI machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
