"""The Python API: a search from keywords, its result as records and a DataFrame, load and resume."""

from __future__ import annotations

import pytest

import autopeft
from autopeft.errors import UserError

TOY = dict(
    text_columns="sentence",
    label_column="label",
    optimizer="random",
    train_examples=120,
    val_examples=40,
    max_length=16,
    learning_rate=1e-2,
)


def test_search_returns_its_front_and_records(tmp_path, toy_csv, tiny_bert):
    result = autopeft.search("tiny", str(toy_csv), trials=3, out=tmp_path / "s", quiet=True, base=tiny_bert, **TOY)
    assert len(result) == 3 and result.finished
    assert result.settings.budget.train_examples == 120 and result.settings.text_columns == ("sentence",)
    complete = [t for t in result.trials if t.ok]
    assert result.front.trials and set(result.front.numbers) <= {t.number for t in complete}
    best = result.best()
    assert best is not None and best.score == max(t.score for t in complete)
    cheapest = min(t.params_pct for t in complete)
    under = result.best(max_params_pct=cheapest)
    assert under is not None and under.params_pct == cheapest
    assert result.best(max_params_pct=cheapest / 2) is None
    assert result.hypervolume is not None and result.hypervolume > 0

    frame = result.to_dataframe()
    assert list(frame.index) == [0, 1, 2]
    assert frame.loc[best.number, "score"] == best.score
    assert frame["pareto"].sum() == len(result.front)
    first = result.trials[0]
    assert frame.loc[0, "config_layers"] == [i for i, on in enumerate(first.config["layers"]) if on]


def test_load_reads_the_same_search_back_and_resume_extends_it(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    ran = autopeft.search("tiny", str(toy_csv), trials=2, out=out, quiet=True, base=tiny_bert, **TOY)
    loaded = autopeft.load(out)
    assert [t.to_dict() for t in loaded.trials] == [t.to_dict() for t in ran.trials]
    assert loaded.settings == ran.settings and loaded.hypervolume == pytest.approx(ran.hypervolume)
    extended = autopeft.resume(out, trials=3, quiet=True, base=tiny_bert)
    assert [t.number for t in extended.trials] == [0, 1, 2]
    assert [t.to_dict() for t in extended.trials[:2]] == [t.to_dict() for t in ran.trials]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"trails": 3}, "trails"),
        ({"budget": autopeft.Budget(), "epochs": 2}, "budget"),
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_keywords_name_the_field(tmp_path, options, field):
    with pytest.raises(UserError) as err:
        autopeft.search("minilm", "glue/sst2", out=tmp_path / "s", quiet=True, **options)
    assert field in err.value.field
    assert not (tmp_path / "s").exists()


def test_an_empty_out_is_refused_not_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as err:
        autopeft.search("minilm", "glue/sst2", out="", quiet=True)
    assert err.value.field == "out" and err.value.value == ""
    assert list(tmp_path.iterdir()) == []
