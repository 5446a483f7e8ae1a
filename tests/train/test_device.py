"""The device of a run: its form checked with the settings, its presence before a run writes anything."""

from __future__ import annotations

import pytest
import torch

from autopeft.errors import UserError
from autopeft.train.device import check_device, check_device_available


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_known_forms(device):
    assert check_device(device) == device


@pytest.mark.parametrize("device", ["", "tpu", "gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "mps:1", None, 0])
def test_other_values_name_the_field_and_the_forms(device):
    with pytest.raises(UserError) as err:
        check_device(device, field="device")
    assert err.value.field == "device" and err.value.value == device and "cuda:N" in err.value.fix


def test_cpu_is_always_available():
    assert check_device_available("cpu") == "cpu"


def test_cuda_needs_a_visible_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="no CUDA device is visible") as err:
        check_device_available("cuda:0")
    assert "`device=cpu`" in err.value.fix


def test_a_gpu_index_must_be_one_of_the_visible_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device_available("cuda") == "cuda" and check_device_available("cuda:0") == "cuda:0"
    with pytest.raises(UserError, match="names GPU 1, but 1 CUDA device") as err:
        check_device_available("cuda:1")
    assert err.value.fix == "use cuda:0"


def test_mps_needs_apples_backend(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError, match="MPS"):
        check_device_available("mps")
