"""The device a trial trains on: its form checked where settings are made, its presence where a run starts.

The two checks are apart because settings outlive the machine they were made on: ``autopeft show`` reads a
search's ``search.json`` (``device=cuda``) on a laptop without a GPU, and must not fail for it.
"""

from __future__ import annotations

import re

from autopeft.errors import UserError

#: The forms a device takes: ``cpu``, ``mps``, ``cuda`` or ``cuda:N`` (the GPU of index N).
_FORM = re.compile(r"(?P<kind>cpu|mps|cuda)(?::(?P<index>\d+))?")
_FORMS_FIX = "use cpu, cuda, cuda:N (N the index of a visible GPU) or mps"


def check_device(device: object, field: str = "device") -> str:
    """``device`` if it has one of the known forms.

    Raises:
        UserError: another value (``tpu``, ``gpu``, ``cpu:0``, ``cuda:x``, ...), naming ``field``.
    """
    match = _FORM.fullmatch(device) if isinstance(device, str) else None
    if match is None or (match["index"] is not None and match["kind"] != "cuda"):
        raise UserError(field, device, "is not a device", _FORMS_FIX)
    return device


def check_device_available(device: object, field: str = "device") -> str:
    """``device`` if it has a known form and this machine has it (checked before a run writes anything).

    Raises:
        UserError: an unknown form; ``cuda`` when no CUDA device is visible, or ``cuda:N`` past the last
            one; ``mps`` without Apple's MPS backend.
    """
    import torch

    check_device(device, field)
    assert isinstance(device, str)
    kind, _, index = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = " (this torch is built without CUDA)" if torch.version.cuda is None else ""
            raise UserError(
                field,
                device,
                f"no CUDA device is visible{why}",
                "use `device=cpu`, or run where a GPU is visible (see nvidia-smi and CUDA_VISIBLE_DEVICES)",
            )
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise UserError(
                field,
                device,
                f"names GPU {index}, but {count} CUDA device(s) are visible",
                f"use cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}",
            )
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise UserError(field, device, "no Apple MPS device is available", "use `device=cpu`")
    return device
