"""Fixtures shared across test folders: tiny random models, the packaged tokenizer, the real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from autopeft.tasks import Split, TaskData, TaskSpec

REPO = Path(__file__).resolve().parents[1]
#: Real GLUE/SuperGLUE data: $AUTOPEFT_DATA, else ../shared/data beside the checkout.
DATA_DIR = Path(os.environ.get("AUTOPEFT_DATA", REPO.parent / "shared" / "data")).resolve()

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "glue" / "SST-2" / "train.tsv").is_file(), f"real data not found in {DATA_DIR}"
    return DATA_DIR


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from autopeft.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("minilm"))


def tiny_config(arch: str = "bert", layers: int = 3, hidden: int = 32):
    """A tiny transformers config with the packaged tokenizer's vocabulary."""
    from transformers import BertConfig, RobertaConfig

    common = dict(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=2 * hidden,
        max_position_embeddings=130,
        pad_token_id=0,
        # BERT's default (0.02) makes a random model's first-token output nearly constant across inputs,
        # so nothing could be learned from it; a wider initialisation keeps the toy task learnable.
        initializer_range=0.3,
    )
    if arch == "bert":
        return BertConfig(**common)
    if arch == "roberta":
        return RobertaConfig(**common, type_vocab_size=2)
    raise ValueError(arch)


@pytest.fixture(scope="session", params=["bert", "roberta"])
def tiny_base(request, tokenizer):
    """A tiny random backbone (BERT or RoBERTa), 3 layers, hidden 32."""
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    return BaseModel.from_config(tiny_config(request.param), tokenizer, name=f"tiny-{request.param}")


@pytest.fixture(scope="session")
def tiny_bert(tokenizer):
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    return BaseModel.from_config(tiny_config("bert"), tokenizer, name="tiny-bert")


def tiny_search_budget():
    """A trial budget small enough for searches of the tiny models (seconds each)."""
    from autopeft.train.budget import Budget

    return Budget(train_examples=120, val_examples=40, epochs=1, max_length=16, batch_size=16, learning_rate=1e-2)


def toy_search_settings(toy_csv: Path, **kw):
    """Settings of a random search of the toy CSV with a tiny model (given to the search as ``base``);
    ``kw`` overrides any field."""
    from autopeft.study.settings import SearchSettings

    defaults = dict(
        model="tiny",
        task=str(toy_csv),
        text_columns=("sentence",),
        label_column="label",
        optimizer="random",
        trials=4,
        seed=0,
        budget=tiny_search_budget(),
    )
    return SearchSettings(**{**defaults, **kw})


def toy_task(n: int = 240, seed: int = 0) -> TaskData:
    """A learnable sentiment toy: the label is whether 'good' or 'bad' appears."""
    rng = np.random.default_rng(seed)
    filler = ["the", "movie", "was", "quite", "a", "plot", "actor", "scene", "really", "film"]
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(0, 2))
        words = [*rng.choice(filler, size=6), "good" if y else "bad"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    spec = TaskSpec(
        name="toy",
        text_columns=("sentence",),
        label_column="label",
        kind="classification",
        labels=("0", "1"),
        metrics=("accuracy", "f1"),
        main_metric="accuracy",
    )
    split = Split(text_a=tuple(texts), text_b=None, labels=np.array(labels, dtype=np.int64))
    return TaskData(spec=spec, train=split, dev=None)


@pytest.fixture
def toy() -> TaskData:
    return toy_task()


@pytest.fixture
def make_toy():
    """``make_toy(n)``: the toy task with ``n`` examples."""
    return toy_task


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> Path:
    """A tiny random BERT saved like a real checkpoint (config, weights, tokenizer), for ``--model DIR``."""
    from transformers import BertModel

    path = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    BertModel(tiny_config("bert")).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def toy_csv(tmp_path_factory) -> Path:
    """The toy task as a local CSV file (columns: sentence, label)."""
    import csv

    task = toy_task(300)
    path = tmp_path_factory.mktemp("toy") / "toy.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sentence", "label"])
        for text, label in zip(task.train.text_a, task.train.labels, strict=True):
            w.writerow([text, int(label)])
    return path


@pytest.fixture
def toy_search_args(tiny_model_dir, toy_csv):
    """``toy_search_args(out, *extra)``: CLI arguments of a search of the toy CSV with the tiny model."""

    def make(out: Path, *extra: str) -> list[str]:
        return [
            "search", "--model", str(tiny_model_dir), "--task", str(toy_csv), "--text-columns", "sentence",
            "--label-column", "label", "--out", str(out), "--val-examples", "40", "--max-length", "16", *extra,
        ]  # fmt: skip

    return make


@pytest.fixture(scope="session")
def cb_search(tmp_path_factory, tiny_model_dir, data_dir) -> Path:
    """A finished 4-trial random search of the tiny BERT on superglue/cb."""
    from autopeft.cli import main

    out = tmp_path_factory.mktemp("cb-search") / "search"
    args = [
        "search", "--model", str(tiny_model_dir), "--task", "superglue/cb", "--data-dir", str(data_dir),
        "--out", str(out), "--optimizer", "random", "--trials", "4", "--train-examples", "24",
        "--val-examples", "24", "--max-length", "16", "--batch-size", "8", "--threads", "1",
    ]  # fmt: skip
    assert main(args) == 0
    return out


def save_tiny_model(folder: Path, model_type: str, tokenizer, *, lm: bool = False, layers: int = 2) -> Path:
    """A tiny random model of ``model_type`` (:func:`tiny_family_config`, seeded) saved in ``folder`` like a
    checkpoint, with ``tokenizer``: with its sequence-classification head, or as a language model (``lm``:
    ``AutoModelForCausalLM``, or ``AutoModelForSeq2SeqLM`` for an encoder-decoder)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

    config = tiny_family_config(model_type, layers=layers)
    if not lm:
        model_class = AutoModelForSequenceClassification
    else:
        model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    torch.manual_seed(0)
    model_class.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_family_config(model_type: str, layers: int = 2, hidden: int = 32):
    """A tiny random ``transformers`` config of ``model_type`` with the packaged tokenizer's vocabulary:
    ``layers`` layers in each stack (encoder and decoder for T5/BART), hidden size ``hidden``, 4 heads
    (2 key-value heads for decoders that group them)."""
    from transformers import AutoConfig

    ffn, heads = 2 * hidden, 4
    encoder = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn)
    decoder = dict(encoder, num_key_value_heads=2, head_dim=hidden // heads)
    kwargs = {
        "bert": encoder,
        "roberta": encoder,
        "xlm-roberta": encoder,
        "camembert": encoder,
        "roberta-prelayernorm": encoder,
        "electra": dict(encoder, embedding_size=hidden),
        "distilbert": dict(dim=hidden, n_layers=layers, n_heads=heads, hidden_dim=ffn),
        "t5": dict(d_model=hidden, num_layers=layers, num_decoder_layers=layers, num_heads=heads, d_kv=8, d_ff=ffn),
        "bart": dict(
            d_model=hidden,
            encoder_layers=layers,
            decoder_layers=layers,
            encoder_attention_heads=heads,
            decoder_attention_heads=heads,
            encoder_ffn_dim=ffn,
            decoder_ffn_dim=ffn,
        ),
        "gpt2": dict(n_embd=hidden, n_layer=layers, n_head=heads, bos_token_id=101, eos_token_id=102),
        "gpt_bigcode": dict(
            n_embd=hidden, n_layer=layers, n_head=heads, n_inner=ffn, bos_token_id=101, eos_token_id=102
        ),
        "ctrl": dict(n_embd=hidden, n_layer=layers, n_head=heads, dff=ffn),
        "opt": dict(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            ffn_dim=ffn,
            word_embed_proj_dim=hidden,
            bos_token_id=101,
            eos_token_id=102,
        ),
        "gpt_neox": dict(encoder, bos_token_id=101, eos_token_id=102),
        "modernbert": dict(
            encoder,
            local_attention=4,  # its second layer attends within 2 tokens of each token: shorter than the texts
            bos_token_id=101,
            eos_token_id=102,
            cls_token_id=101,
            sep_token_id=102,
        ),
        "roc_bert": dict(encoder, pronunciation_embed_dim=hidden, shape_embed_dim=hidden, shape_vocab_size=100),
        "esmc": dict(encoder, num_key_value_heads=heads),  # ESM C has no grouped key-value heads
        # a wider initialisation, as tiny_config's: with 0.02 the pooled token's activations are nearly
        # constant across inputs, and a small adapter's ReLUs can all be off there (no gradient)
        "gte": dict(encoder, initializer_range=0.3),
        "phi3": dict(decoder, initializer_range=0.3),
        "gemma3_text": dict(decoder, sliding_window=3),  # its sliding layers see fewer tokens than the texts have
    }
    for name in ("ernie", "xlm-roberta-xl", "data2vec-text", "esm", "biogpt", "nomic_bert", "jina_embeddings_v3"):
        kwargs[name] = encoder  # no grouped key-value heads
    kwargs["mt5"] = kwargs["umt5"] = kwargs["t5"]
    kwargs["mbart"] = kwargs["plbart"] = kwargs["bart"]
    options = kwargs.get(model_type, decoder)
    extra = {"decoder_start_token_id": 0} if model_type in ("t5", "mt5", "umt5") else {}
    return AutoConfig.for_model(
        model_type, vocab_size=30522, pad_token_id=0, max_position_embeddings=130, **options, **extra
    )
