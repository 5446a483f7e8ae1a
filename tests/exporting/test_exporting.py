"""``autopeft export``: a picked configuration trained again as its trial was, written as an HF PEFT
adapter that PEFT alone loads, as a merged model that transformers alone loads, or in autopeft's format;
all three give the same logits."""

from __future__ import annotations

import json

import pytest
import torch
from tests.conftest import tiny_family_config

from autopeft.cli import EXIT_USAGE, main
from autopeft.space import SPACES

TEXTS = ["a good film", "the plot was bad", "what a scene", "never again, really"]


@pytest.fixture(scope="module", params=["bert", "llama"])
def model_dir(request, tmp_path_factory, tokenizer):
    from transformers import AutoModelForSequenceClassification

    path = tmp_path_factory.mktemp(f"tiny-{request.param}")
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(tiny_family_config(request.param)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _search(tmp_path, model_dir, toy_csv, modules, monkeypatch):
    """A 2-trial search of a space of ``modules`` alone (every configuration exports to PEFT), or of the
    ``lora`` space when ``modules`` is ``"lora-space"``."""
    space = "lora" if modules == "lora-space" else "only"
    if space == "only":
        monkeypatch.setitem(SPACES, "only", modules)
    out = tmp_path / "search"
    args = [
        "search", "--model", str(model_dir), "--task", str(toy_csv), "--text-columns", "sentence",
        "--label-column", "label", "--out", str(out), "--space", space, "--optimizer", "random",
        "--trials", "2", "--train-examples", "64", "--val-examples", "32", "--max-length", "16", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    return out


def _logits(model, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**batch).logits


@pytest.mark.parametrize("modules", [("lora",), ("ia3",), "lora-space"], ids=["lora", "ia3", "lora-space"])
def test_peft_merged_and_native_exports_load_with_equal_logits(tmp_path, model_dir, toy_csv, modules, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from autopeft.build import load_saved
    from autopeft.models import BaseModel

    search = _search(tmp_path, model_dir, toy_csv, modules, monkeypatch)
    outs = {}
    for fmt, extra in (("peft", []), ("merged", ["--merge"]), ("native", [])):
        outs[fmt] = tmp_path / fmt
        fmt_flag = "native" if fmt == "native" else "peft"
        assert main(["export", str(search), "--pick", "0", "--format", fmt_flag, *extra, "--out", str(outs[fmt])]) == 0
        manifest = json.loads((outs[fmt] / "autopeft-export.json").read_text())
        assert manifest["retrained_score"] == pytest.approx(manifest["searched_score"], abs=1e-9)
    tokenizer = AutoTokenizer.from_pretrained(outs["peft"])
    # PEFT alone, on the base model as a user loads it
    base = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, pad_token_id=tokenizer.pad_token_id
    )
    peft_logits = _logits(PeftModel.from_pretrained(base, outs["peft"]), tokenizer)
    # transformers alone
    merged_logits = _logits(AutoModelForSequenceClassification.from_pretrained(outs["merged"]), tokenizer)
    # autopeft's own format
    own = BaseModel.load(str(model_dir))
    loaded = load_saved(own.backbone, outs["native"])
    try:
        native_logits = _logits(loaded.model, own.tokenizer)
    finally:
        loaded.release()
    torch.testing.assert_close(peft_logits, native_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(merged_logits, native_logits, rtol=1e-4, atol=1e-5)


def test_bad_exports_exit_2_and_write_nothing(tmp_path, tiny_model_dir, toy_csv, monkeypatch, capsys):
    search = _search(tmp_path, tiny_model_dir, toy_csv, ("serial",), monkeypatch)
    out = tmp_path / "out"
    cases = [
        (["--pick", "99"], "--pick"),
        (["--trial", "99"], "--trial"),
        (["--pick", "0", "--format", "onnx"], "--format"),
        (["--pick", "0", "--format", "native", "--merge"], "--merge"),
    ]
    for extra, flag in cases:
        assert main(["export", str(search), *extra, "--out", str(out)]) == EXIT_USAGE
        assert flag in capsys.readouterr().err
        assert not out.exists()
    # a serial adapter has no PEFT format: refused before any training, pointing at the native format
    assert main(["export", str(search), "--pick", "0", "--format", "peft", "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--format" in err and "native" in err.split("Fix:")[1] and not out.exists()
    (out / "old").mkdir(parents=True)  # an output directory that holds something is never written into
    assert main(["export", str(search), "--pick", "0", "--format", "native", "--out", str(out)]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err and list(out.iterdir()) == [out / "old"]


def test_the_python_api_exports_as_the_command_line_does(tmp_path, tiny_model_dir, toy_csv, monkeypatch):
    import autopeft
    from autopeft.errors import UserError

    search = _search(tmp_path, tiny_model_dir, toy_csv, ("serial",), monkeypatch)
    written = autopeft.export(search, tmp_path / "native", pareto=0, format="native", quiet=True)
    manifest = json.loads((written / "autopeft-export.json").read_text())
    assert manifest["format"] == "native" and (written / "modules.safetensors").is_file()
    with pytest.raises(UserError) as err:
        autopeft.export(search, tmp_path / "peft", pareto=0, format="peft")
    assert err.value.field == "format"


def test_per_layer_ranks_export_to_peft_patterns_that_peft_loads(tmp_path, tokenizer):
    # a 12-layer Llama (groups of 2): layers 0-1 and 10-11 get ranks other than the most common one, so the
    # rank_pattern keys of layer 1 must not match layer 11 (and vice versa); PEFT alone loads the adapter
    # with each module's own rank and alpha, and gives the logits autopeft's model gave
    from types import SimpleNamespace

    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from autopeft.build import build_model, trained_state
    from autopeft.exporting import _write_peft
    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig, SearchSpace

    model_dir = tmp_path / "llama12"
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(tiny_family_config("llama", layers=12)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    base = BaseModel.load(str(model_dir))
    space = SearchSpace.for_model_config("lora", base.config)
    group_ranks = [1, 8, 8, 0, 8, 4]
    ranks = [r for r in group_ranks for _ in range(2)]
    options = {"lora": {"ranks": ranks, "targets": ["query", "value", "ffn_up"], "alpha_scale": 0.5}}
    config = PeftConfig(layers=tuple(r > 0 for r in ranks), lora=8, options=options)
    assert space.contains(config)
    built = build_model(base.backbone, config, num_labels=2, seed=0)
    with torch.no_grad():
        for name, p in base.backbone.named_parameters():
            if "autopeft_lora" in name:
                p.normal_(0, 0.2)  # lora_B starts at zero: make every update count
    expected = _logits(built.model, base.tokenizer)
    kept = {"state": trained_state(built), "modules": built.modules, "head_output": built.head_output}
    built.release()
    out = tmp_path / "peft"
    _write_peft(SimpleNamespace(backbone=base.backbone), kept, out, merge=False)
    saved = json.loads((out / "adapter_config.json").read_text())
    assert saved["r"] == 8 and len(saved["rank_pattern"]) == 3 * 4  # layers 0, 1, 10, 11, three targets each
    user_base = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, pad_token_id=base.tokenizer.pad_token_id
    )
    loaded = PeftModel.from_pretrained(user_base, out)
    shapes = {
        n.removeprefix("base_model.model.").split(".lora_A")[0]: p.shape[0]
        for n, p in loaded.named_parameters()
        if ".lora_A." in n
    }
    paths = {"query": "self_attn.q_proj", "value": "self_attn.v_proj", "ffn_up": "mlp.up_proj"}
    assert shapes == {f"model.layers.{i}.{paths[t]}": r for i, r in enumerate(ranks) if r for t in paths}
    torch.testing.assert_close(_logits(loaded, base.tokenizer), expected, rtol=1e-5, atol=1e-5)
