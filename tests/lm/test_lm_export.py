"""``autopeft export`` of a causal-LM search: the LoRA of a tiny Llama written as a PEFT adapter of a
causal LM, as a merged model and in autopeft's format; all three give the same logits."""

from __future__ import annotations

import json

import pytest
import torch
from tests.conftest import tiny_family_config

from autopeft.cli import main
from autopeft.space import SPACES

TEXTS = ["1+2=3", "4+1=5", "0+0=0"]


def test_a_causal_lm_export_loads_with_peft_transformers_and_autopeft(tmp_path, tokenizer, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from autopeft.build import load_saved
    from autopeft.models import BaseModel

    model_dir = tmp_path / "llama"
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(tiny_family_config("llama")).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    task = tmp_path / "sums.jsonl"
    task.write_text("".join(json.dumps({"prompt": f"{a}+{b}=", "completion": str(a + b)}) + "\n"
                            for a in range(6) for b in range(5)))  # fmt: skip
    monkeypatch.setitem(SPACES, "only", ("lora",))
    search = tmp_path / "search"
    args = [
        "search", "--model", str(model_dir), "--task", str(task), "--task-kind", "causal_lm", "--out", str(search),
        "--space", "only", "--optimizer", "random", "--trials", "1", "--train-examples", "20", "--val-examples",
        "10", "--max-length", "16", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    outs = {}
    for fmt, extra in (("peft", []), ("merged", ["--merge"]), ("native", [])):
        outs[fmt] = tmp_path / fmt
        flag = "native" if fmt == "native" else "peft"
        assert main(["export", str(search), "--pick", "0", "--format", flag, *extra, "--out", str(outs[fmt])]) == 0
        manifest = json.loads((outs[fmt] / "autopeft-export.json").read_text())
        assert manifest["metric"] == "loss" and manifest["num_labels"] is None
        assert manifest["retrained_score"] == pytest.approx(manifest["searched_score"], abs=1e-9)
    aligned = AutoTokenizer.from_pretrained(outs["peft"])
    batch = aligned(TEXTS, padding=True, return_tensors="pt")

    def logits(model):
        with torch.no_grad():
            return model.eval()(**batch).logits

    base = AutoModelForCausalLM.from_pretrained(model_dir, pad_token_id=aligned.pad_token_id)
    peft_logits = logits(PeftModel.from_pretrained(base, outs["peft"]))
    merged_logits = logits(AutoModelForCausalLM.from_pretrained(outs["merged"]))
    own = BaseModel.load(str(model_dir), lm=True)
    loaded = load_saved(own.backbone, outs["native"])
    try:
        native_logits = logits(loaded.model)
    finally:
        loaded.release()
    torch.testing.assert_close(peft_logits, native_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(merged_logits, native_logits, rtol=1e-4, atol=1e-5)
