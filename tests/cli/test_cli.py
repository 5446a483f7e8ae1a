"""The CLI: subcommands, exit codes, and bad input rejected with a clear message and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autopeft.cli import EXIT_USAGE, main


def _search(out: Path, *extra: str, task: str = "glue/sst2", model: str = "minilm") -> list[str]:
    return ["search", "--model", model, "--task", task, "--out", str(out), "--trials", "1", *extra]


def test_space_prints_the_model_sized_space(capsys):
    assert main(["space", "--model", "minilm"]) == 0
    out = capsys.readouterr().out
    assert "6 layers, hidden size 384" in out and "9 dimensions" in out
    assert "{0, 1, 3, 6, 12, 24, 48, 96, 192, 384}" in out
    assert main(["space", "--model", "minilm", "--space", "extended", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["modules"] == ["serial", "parallel", "prefix", "lora", "ia3"] and len(data["dimensions"]) == 11


def test_space_lora_prints_rank_groups_targets_and_alpha(capsys):
    assert main(["space", "--model", "minilm", "--space", "lora", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [d["name"] for d in data["dimensions"]]
    ranks = [f"rank_{i}" for i in range(6)]  # 6 layers: 6 groups of one
    targets = ["target_query", "target_key", "target_value", "target_attention_output", "target_ffn_up"]
    assert names == [*ranks, *targets, "target_ffn_output", "alpha_scale"]
    assert data["layout"] == "lora" and data["dimensions"][0]["choices"] == [0, 1, 2, 4, 8, 16, 32, 64]
    assert data["valid_configurations"] == (8**6 - 1) * (2**6 - 1) * 4
    assert main(["space", "--model", "minilm", "--space", "lora"]) == 0
    assert "every rank 0, or no target on" in capsys.readouterr().out


def test_space_of_a_local_model_directory(capsys, tiny_model_dir):
    assert main(["space", "--model", str(tiny_model_dir)]) == 0
    assert "3 layers, hidden size 32" in capsys.readouterr().out


def test_space_of_an_encoder_decoder_counts_both_stacks(capsys, tmp_path):
    import json

    from tests.conftest import tiny_family_config

    tiny_family_config("t5", layers=2).save_pretrained(tmp_path)  # the config alone is read
    assert main(["space", "--model", str(tmp_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["num_layers"] == 4 and shown["family"] == "T5" and shown["left_out"] == {}
    assert main(["space", "--model", str(tmp_path)]) == 0
    assert "layer_0..layer_1 are the encoder's layers" in capsys.readouterr().out


def test_space_of_a_model_type_without_a_family_exits_2(capsys, tmp_path):
    from transformers import AlbertConfig

    AlbertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64).save_pretrained(
        tmp_path
    )
    assert main(["space", "--model", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--model='albert'" in err and "llama" in err.split("Fix:")[1]


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--task", "glue/nope"], "--task", "glue/nope"),
        (["--model", "./no/such/model"], "--model", "./no/such/model"),
        (["--batch-size", "0"], "--batch-size", "0"),
        (["--train-examples", "-5"], "--train-examples", "-5"),
        (["--learning-rate", "0"], "--learning-rate", "0"),
        (["--trials", "0"], "--trials", "0"),
        (["--val-examples", "100000"], "--val-examples", "100000"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, data_dir, args, field, value):
    out = tmp_path / "out"
    base = _search(out, "--data-dir", str(data_dir))
    # later flags win in argparse, so the bad value overrides the default
    assert main(base + args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert field in err and value in err and "Fix:" in err, err
    assert not out.exists()


def test_missing_data_files(tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    out = tmp_path / "out"
    assert main(_search(out, "--data-dir", str(empty))) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "SST-2" in err and not out.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        ("sentence,label\na,0\nb,1\n", ["--text-columns", "text", "--label-column", "label"], "text"),
        ("sentence,label\na,0\nb,1\n", ["--text-columns", "sentence", "--label-column", "y"], "y"),
        ("sentence,label\n", ["--text-columns", "sentence", "--label-column", "label"], "empty"),
        (
            "sentence,score\na,x\n",
            ["--text-columns", "sentence", "--label-column", "score", "--task-kind", "regression"],
            "x",
        ),
    ],
    ids=["missing-text-column", "missing-label-column", "empty", "non-numeric-regression-label"],
)
def test_bad_local_files(tmp_path, capsys, content, extra, needle):
    data = _write(tmp_path / "d.csv", content)
    out = tmp_path / "out"
    assert main(_search(out, *extra, task=str(data))) == EXIT_USAGE
    err = capsys.readouterr().err
    assert needle in err, err
    assert not out.exists()


def test_library_errors_name_the_flags_that_set_their_fields(tmp_path, capsys, toy_search_args):
    """The library names fields (``train_examples``); the CLI shows each, in the fix too, as its flag."""
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--train-examples", "290")) == EXIT_USAGE  # 260 left after 40 held out
    err = capsys.readouterr().err
    fix = err.split("Fix:")[1]
    assert err.startswith("autopeft: error: --train-examples=290:") and "--val-examples" in fix, err
    assert "--train-examples" in fix and "_examples" not in err and "`" not in err, err
    data = _write(tmp_path / "r.csv", "sentence,score\na,x\n")
    regression = ["--text-columns", "sentence", "--label-column", "score", "--task-kind", "regression"]
    assert main(_search(out, *regression, task=str(data))) == EXIT_USAGE
    assert "--task-kind classification" in capsys.readouterr().err.split("Fix:")[1]
    assert not out.exists()


def test_unknown_label_in_a_known_task(tmp_path, capsys):
    root = tmp_path / "data" / "glue" / "SST-2"
    root.mkdir(parents=True)
    _write(root / "train.tsv", "sentence\tlabel\ngood\t1\nbad\t7\n")
    _write(root / "dev.tsv", "sentence\tlabel\ngood\t1\n")
    out = tmp_path / "out"
    assert main(_search(out, "--data-dir", str(tmp_path / "data"))) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "7" in err and "label" in err
    assert not out.exists()


def test_resume_and_show_need_a_search_directory(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == EXIT_USAGE
    assert main(["show", str(tmp_path)]) == EXIT_USAGE
    assert "search.json" in capsys.readouterr().err


def test_search_resume_show_end_to_end(tmp_path, capsys, toy_search_args):
    out = tmp_path / "s"
    args = toy_search_args(out, "--optimizer", "tpe", "--trials", "2", "--train-examples", "100")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "majority class" in text
    assert main(["resume", str(out), "--trials", "3"]) == 0
    assert "resuming: 2 of 3" in capsys.readouterr().out
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "3 of 3 trials finished" in shown and "Pareto" in shown and "hypervolume: " in shown


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--reference", "score"], "--reference", "score"),
        (["--reference", "score=high"], "--reference", "score=high"),
        (["--reference", "time=5"], "--reference", "time"),
        (["--objectives", "score,flops"], "--objectives", "score,flops"),
        (["--batch", "0"], "--batch", "0"),
        (["--optimizer", "saas", "--init-trials", "-1"], "--init-trials", "-1"),
    ],
)
def test_bad_search_flags_exit_2_and_write_nothing(tmp_path, capsys, toy_search_args, args, field, value):
    out = tmp_path / "s"
    assert main(toy_search_args(out, *args)) == EXIT_USAGE
    err = capsys.readouterr().err
    assert field in err and value in err and "Fix:" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "other",
    [["--space", "extended"], ["--objectives", "score,params,time", "--optimizer", "gp"]],
    ids=["another-space", "other-objectives"],
)
def test_another_search_under_a_shared_study_name_exits_2(tmp_path, capsys, toy_search_args, other):
    """One study of a shared storage cannot hold two searches: another space, or objectives that the
    recorded reference point and the optimiser cannot serve, is bad input naming the study."""
    shared = ["--storage", f"sqlite:///{tmp_path / 'shared.db'}", "--study-name", "s", "--optimizer", "random"]
    shared += ["--trials", "1", "--train-examples", "40"]
    assert main(toy_search_args(tmp_path / "first", *shared)) == 0
    capsys.readouterr()
    assert main(toy_search_args(tmp_path / "second", *shared, *other)) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("autopeft: error: --study-name='s':") and "--storage" in err.split("Fix:")[1], err


def test_batch_objectives_reference_end_to_end(tmp_path, capsys, toy_search_args):
    out = tmp_path / "s"
    extra = ["--optimizer", "random", "--trials", "3", "--batch", "2", "--train-examples", "100"]
    extra += ["--objectives", "score,params,time", "--reference", "score=0.2"]
    assert main(toy_search_args(out, *extra)) == 0
    text = capsys.readouterr().out
    assert "proposed 2 configuration(s)" in text and "proposed 1 configuration(s)" in text
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "hypervolume: " in shown and "reference: score 0.2, params 10, time " in shown
    assert "proposal time: median" in shown and "(2 proposals by random)" in shown


def test_retrain_transfer_baselines_report_end_to_end(tmp_path, capsys, cb_search, tiny_model_dir, data_dir):
    """The whole reproduction path on a tiny model: pick, retrain, transfer, baselines, report, resume."""
    budget = ["--seeds", "2", "--train-examples", "24", "--epochs", "1", "--max-length", "16", "--threads", "1"]
    retrain = ["retrain", str(cb_search), "--pick", "0", "--out", str(tmp_path / "retrain"), *budget]
    assert main(retrain) == 0
    assert "2 to train" in capsys.readouterr().out
    assert main(retrain) == 0  # resumed: nothing is trained twice
    assert "2 already finished" in capsys.readouterr().out
    transfer = ["transfer", str(cb_search), "--pick", "0", "--tasks", "glue/rte", "--out", str(tmp_path / "transfer")]
    assert main([*transfer, *budget, "--no-save-adapters"]) == 0
    baselines = ["baselines", "--model", str(tiny_model_dir), "--task", "superglue/cb,glue/rte", "--methods", "lora"]
    assert main([*baselines, "--data-dir", str(data_dir), "--out", str(tmp_path / "base"), *budget]) == 0
    capsys.readouterr()
    dirs = [str(tmp_path / d) for d in ("retrain", "transfer", "base")]
    assert main(["report", *dirs, "--out", str(tmp_path / "report")]) == 0
    table = capsys.readouterr().out
    assert "LoRA" in table and "AutoPEFT p0" in table
    assert {p.name for p in (tmp_path / "report").iterdir()} >= {"report.md", "report.json", "report.png"}
    assert list((tmp_path / "retrain" / "adapters").rglob("autopeft.json"))
    assert not (tmp_path / "transfer" / "adapters").exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["transfer", "DIR", "--tasks", ","], "--tasks"),
        (["retrain", "DIR", "--pick", "a"], "--pick"),
        (["retrain", "DIR", "--pick", "99"], "--pick"),
        (["retrain", "DIR", "--budgets", "x"], "--budgets"),
        (["retrain", "DIR", "--seeds", "0"], "--seeds"),
        (["baselines", "--task", "glue/rte", "--methods", "nope"], "--methods"),
        (["baselines", "--task", "glue/rte"], "--out"),
    ],
)
def test_bad_run_flags_exit_2(tmp_path, capsys, cb_search, args, field):
    args = [str(cb_search) if a == "DIR" else a for a in args]
    assert main([*args, "--out", str(tmp_path / "o")] if field != "--out" else args) == EXIT_USAGE
    assert field in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_report_of_folders_without_results_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == EXIT_USAGE
    assert "results.jsonl" in capsys.readouterr().err


def test_baselines_list_measures_each_on_the_model(capsys, tiny_model_dir):
    assert main(["baselines", "--task", "glue/rte", "--list", "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "hidden size 32" in out and "100.000 %" in out and "serial adapter 2 after attention+ffn" in out
    from autopeft.methods import BASELINES

    assert len([line for line in out.splitlines() if " % " in line]) == len(BASELINES)
