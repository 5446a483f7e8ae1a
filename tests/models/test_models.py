"""Resolving --model: the packaged alias, local directories, hub names (offline here: logic only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopeft.errors import UserError
from autopeft.models import BaseModel, load_model_config, resolve_model


def test_minilm_alias_points_into_the_installed_package():
    path = Path(resolve_model("minilm"))
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    config = load_model_config("minilm")
    assert (config.num_hidden_layers, config.hidden_size, config.model_type) == (6, 384, "bert")


def test_local_directory(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    base = BaseModel.load(str(tiny_model_dir))
    assert base.config.num_hidden_layers == 3 and base.tokenizer.pad_token_id == 0
    # the family's own sequence-classification model, frozen: each trial trains its modules and a fresh head
    assert type(base.backbone).__name__ == "BertForSequenceClassification"
    assert not any(p.requires_grad for p in base.backbone.parameters())


def test_directory_without_config(tmp_path):
    with pytest.raises(UserError, match=r"config\.json") as err:
        resolve_model(str(tmp_path))
    assert err.value.field == "model"


@pytest.mark.parametrize("name", ["", "  ", "./missing", "/no/such/dir", "a/b/c"])
def test_bad_names(name):
    with pytest.raises(UserError) as err:
        resolve_model(name)
    assert err.value.field == "model"


def test_hub_names_go_to_transformers(monkeypatch):
    """A hub name is handed to transformers unchanged; its failure (no internet here) is a clear error."""
    import transformers

    assert resolve_model("bert-base-uncased") == "bert-base-uncased"
    assert resolve_model("FacebookAI/roberta-base") == "FacebookAI/roberta-base"
    seen = []

    def fake_from_pretrained(name, *args, **kwargs):
        seen.append(name)
        if name == "org/known":
            return transformers.BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=2)
        raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files of {name}.")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake_from_pretrained)
    assert load_model_config("org/known").num_hidden_layers == 2
    with pytest.raises(UserError, match="cannot load its config") as err:
        load_model_config("org/unknown")
    assert err.value.field == "model" and err.value.value == "org/unknown"
    assert seen == ["org/known", "org/unknown"]


def _copy(src: Path, dst: Path, names: tuple[str, ...]) -> Path:
    dst.mkdir()
    for name in names:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_a_directory_without_a_tokenizer_or_weights_is_refused_before_loading(tmp_path, tiny_model_dir):
    from autopeft.models import check_model

    assert check_model(str(tiny_model_dir)) == str(tiny_model_dir)
    bare = _copy(tiny_model_dir, tmp_path / "bare", ("config.json", "model.safetensors"))
    with pytest.raises(UserError, match="no tokenizer files") as err:
        load_model_config(str(bare))
    assert err.value.field == "model" and "save_pretrained" in err.value.fix
    assert load_model_config(str(bare), complete=False).num_hidden_layers == 3  # the config alone reads
    no_weights = _copy(
        tiny_model_dir, tmp_path / "no-weights", ("config.json", "tokenizer.json", "tokenizer_config.json")
    )
    with pytest.raises(UserError, match="no weights"):
        load_model_config(str(no_weights))


def test_a_tokenizer_that_fails_to_load_is_a_user_error(tmp_path, tiny_model_dir):
    broken = _copy(tiny_model_dir, tmp_path / "broken", ("config.json", "model.safetensors"))
    (broken / "tokenizer.json").write_text("{not json")
    with pytest.raises(UserError, match="has no tokenizer that loads") as err:
        BaseModel.load(str(broken))
    assert err.value.field == "model"


def test_a_tokenizer_without_a_pad_token_pads_with_its_end_token(tokenizer):
    """As decoder users do (GPT-2, Llama ship no pad token): the model learns the pad id, which its head
    uses to find the last real token."""
    import copy

    from tests.conftest import tiny_family_config

    from autopeft.models import BaseModel

    no_pad = copy.deepcopy(tokenizer)
    no_pad.pad_token = None
    base = BaseModel.from_config(tiny_family_config("llama"), no_pad)
    assert base.tokenizer.pad_token is not None and no_pad.pad_token is None  # a copy was changed
    assert base.config.pad_token_id == base.tokenizer.pad_token_id
    assert "token_type_ids" not in base.tokenizer("a b")  # Llama takes none


def test_an_encoder_decoder_needs_a_tokenizer_that_ends_examples_with_eos(tokenizer):
    import copy

    from tests.conftest import tiny_family_config

    from autopeft.models import BaseModel

    no_end = copy.deepcopy(tokenizer)
    no_end._tokenizer.post_processor = None  # no [CLS] ... [SEP] around the text
    with pytest.raises(UserError, match="EOS") as err:
        BaseModel.from_config(tiny_family_config("t5"), no_end)
    assert err.value.field == "model"
    base = BaseModel.from_config(tiny_family_config("t5"), tokenizer)
    assert base.config.eos_token_id == tokenizer.sep_token_id  # the token BERT's tokenizer ends with
