from __future__ import annotations

import pandas as pd
import pytest

from syn2real.curves import CurveTableError, example_path, make_example, read_curves

GOOD = "n,error,setting\n1000,0.5,a\n2000,0.45,a\n4000,0.42,a\n8000,0.41,a\n"


def _write(tmp_path, text, name="c.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_plain_schema_reads_groups(tmp_path):
    cs = read_curves(_write(tmp_path, GOOD))
    assert cs.schema == "plain" and cs.groups == ["setting"]
    assert list(cs.data["n"]) == [1000, 2000, 4000, 8000]
    assert cs.data["err"].iloc[0] == 0.5


@pytest.mark.parametrize("text, where", [
    ("", "empty"),
    ("n,error\n", "no rows"),
    ("n,eror\n1,0.5\n", "missing column 'error' (did you mean 'eror'?)"),
    ("size,error\n1,0.5\n", "missing column 'n'"),
    ("n,error\n1000,0.5\n2000,abc\n4000,0.3\n", "row 3, column 'error': 'abc' is not a number"),
    ("n,error\n1000,0.5\n2000,nan\n4000,0.3\n", "row 3, column 'error': 'nan' is not a finite"),
    ("n,error\n1000,0.5\n2000,inf\n4000,0.3\n", "row 3, column 'error': 'inf' is not a finite"),
    ("n,error\n1000,0.5\n2000,1.5\n4000,0.3\n", "row 3, column 'error': error 1.5 is outside"),
    ("n,error\n-5,0.5\n2000,0.4\n4000,0.3\n", "row 2, column 'n'"),
    ("n,error\n1000,0.5\n2000,0.4\n", "2 distinct size(s)"),
    ("n,error\n1000,0.4\n2000,0.4\n4000,0.4\n", "same error 0.4 at every size"),
    ("n;error\n1000;0.5\n2000;0.4\n4000;0.3\n", "pass --sep ';'"),
])
def test_bad_tables_give_one_clear_line(tmp_path, text, where):
    with pytest.raises(CurveTableError) as exc:
        read_curves(_write(tmp_path, text))
    msg = str(exc.value)
    assert where in msg
    assert str(tmp_path) in msg and "Fix:" in msg and "\n" not in msg


def test_wrong_encoding_names_row(tmp_path):
    text = "n,error,setting\n" + "".join(f"{n},{e},caf\u00e9\n" for n, e in
                                         ((1000, 0.5), (2000, 0.4), (4000, 0.3)))
    p = _write(tmp_path, text, encoding="latin-1")
    with pytest.raises(CurveTableError, match=r"row 2: cannot decode .* --encoding latin-1"):
        read_curves(p)
    cs = read_curves(p, encoding="latin-1")
    assert len(cs.data) == 3 and cs.data["setting"].iloc[0] == "caf\u00e9"


def test_loss_metric_allows_values_above_one(tmp_path):
    p = _write(tmp_path, "n,loss\n1000,2.5\n2000,2.1\n4000,1.9\n")
    with pytest.raises(CurveTableError, match="--metric loss"):
        read_curves(p)
    assert read_curves(p, metric="loss").data["err"].max() == 2.5


def test_duplicates_are_averaged_with_weights_and_a_note(tmp_path):
    p = _write(tmp_path, "n,error\n1000,0.5\n1000,0.6\n2000,0.4\n4000,0.3\n")
    cs = read_curves(p)
    row = cs.data[cs.data["n"] == 1000].iloc[0]
    assert row["err"] == pytest.approx(0.55) and row["weight"] == 2
    assert any("averaged" in n for n in cs.notes)


def test_cg_transfer_selects_last_or_best_and_sets_aside_baselines(tmp_path):
    rows = ["n_eval,value,pretrain.data,pscale,ptask,fdata,fratio,ftask,model,nparam,pdata"]
    for n in (0, 1000, 2000, 4000):
        for ev, v in ((1, 0.30), (2, 0.40), (3, 0.35)):
            rows.append(f"{ev},{v + n / 1e5},{n},64k,mulclass,imagenet,1,sinclass,r50,23.9,bop")
    p = _write(tmp_path, "\n".join(rows) + "\n")
    last = read_curves(p)
    assert last.schema == "cg-transfer"
    assert last.data.sort_values("n")["err"].iloc[0] == pytest.approx(1 - 0.36)
    assert last.data["s"].iloc[0] == pytest.approx(12811.67)
    best = read_curves(p, select="best")
    assert best.data.sort_values("n")["err"].iloc[0] == pytest.approx(1 - 0.41)
    assert len(last.baseline) == 1 and any("baseline" in n for n in last.notes)


def test_where_filters(tmp_path):
    text = GOOD + "".join(f"{n},{e},b\n" for n, e in ((1000, 0.6), (2000, 0.5), (4000, 0.45)))
    cs = read_curves(_write(tmp_path, text), where=["setting=b"])
    assert set(cs.data["setting"]) == {"b"}
    with pytest.raises(CurveTableError, match="bad filter"):
        read_curves(_write(tmp_path, text), where=["nope=1"])


def test_shipped_example_is_the_generator_output():
    shipped = pd.read_csv(example_path())
    pd.testing.assert_frame_equal(shipped, make_example(), check_dtype=False)
