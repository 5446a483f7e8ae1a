"""Issue 16's LLM workflow end to end: a ``--space lora --search-lr`` search of a causal-LM task file
(a front of validation loss against parameters), then a front member exported as a PEFT adapter that
PEFT alone loads with autopeft's logits: a tiny Llama through the CLI, a tiny T5 through the Python API."""

from __future__ import annotations

import json

import torch
from tests.conftest import save_tiny_model

TEXTS = ["1+2=", "4+1=", "0+0="]
ANSWERS = ["3", "5", "0"]


def _task(path):
    rows = [{"prompt": f"{a}+{b}=", "completion": str(a + b)} for a in range(6) for b in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _front(search):
    pareto = json.loads((search / "pareto.json").read_text())
    names = [(o["name"], o["direction"]) for o in pareto["objectives"]]
    assert names == [("loss", "minimize"), ("params", "minimize")]
    assert pareto["trials"]
    for member in pareto["trials"]:
        assert member["config"]["options"]["lora"]["targets"] and member["config"]["learning_rate"] > 0
    return pareto


def _native_logits(model_dir, native, batch):
    from autopeft.build import load_saved
    from autopeft.models import BaseModel

    loaded = load_saved(BaseModel.load(str(model_dir), lm=True).backbone, native)
    try:
        with torch.no_grad():
            return loaded.model.eval()(**batch).logits
    finally:
        loaded.release()


def test_llama_lora_search_exports_to_peft_with_equal_logits(tmp_path, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from autopeft.cli import main

    model_dir = save_tiny_model(tmp_path / "llama", "llama", tokenizer, lm=True)
    search = tmp_path / "search"
    args = [
        "search", "--model", str(model_dir), "--task", str(_task(tmp_path / "sums.jsonl")), "--task-kind",
        "causal_lm", "--space", "lora", "--search-lr", "--optimizer", "random", "--trials", "3",
        "--train-examples", "20", "--val-examples", "10", "--max-length", "16", "--out", str(search), "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    _front(search)
    for fmt, out in (("peft", tmp_path / "peft"), ("native", tmp_path / "native")):
        assert main(["export", str(search), "--pick", "0", "--format", fmt, "--out", str(out)]) == 0
    aligned = AutoTokenizer.from_pretrained(tmp_path / "peft")
    batch = aligned([t + a for t, a in zip(TEXTS, ANSWERS, strict=True)], padding=True, return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(model_dir, pad_token_id=aligned.pad_token_id)
    with torch.no_grad():
        peft_logits = PeftModel.from_pretrained(base, tmp_path / "peft").eval()(**batch).logits
    torch.testing.assert_close(peft_logits, _native_logits(model_dir, tmp_path / "native", batch), rtol=1e-5, atol=1e-5)


def test_t5_lora_search_and_export_through_the_python_api(tmp_path, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import autopeft

    model_dir = save_tiny_model(tmp_path / "t5", "t5", tokenizer, lm=True)
    search = tmp_path / "search"
    result = autopeft.search(
        model=str(model_dir), task=str(_task(tmp_path / "sums.jsonl")), task_kind="causal_lm", space="lora",
        search_lr=True, optimizer="random", trials=3, train_examples=20, val_examples=10, max_length=16,
        out=search, quiet=True,
    )  # fmt: skip
    assert len(result) == 3
    _front(search)
    autopeft.export(search, tmp_path / "peft", pareto=0, format="peft")
    autopeft.export(search, tmp_path / "native", pareto=0, format="native")
    aligned = AutoTokenizer.from_pretrained(tmp_path / "peft")
    batch = dict(aligned(TEXTS, padding=True, return_tensors="pt"))
    batch["labels"] = aligned(ANSWERS, padding=True, return_tensors="pt")["input_ids"]
    base = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    with torch.no_grad():
        peft_logits = PeftModel.from_pretrained(base, tmp_path / "peft").eval()(**batch).logits
    torch.testing.assert_close(peft_logits, _native_logits(model_dir, tmp_path / "native", batch), rtol=1e-5, atol=1e-5)
