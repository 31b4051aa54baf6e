"""Figures (hta.report.figures): every function writes a readable PNG from analysis outputs.

Checks: the file is a PNG of sensible size, money ticks carry the HK$ prefix and thousands
separators, the tornado draws one bar pair per parameter from the base case, and bad inputs
raise HtaError.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hta.analysis import dsa, psa
from hta.analysis.evaluate import FunctionModel, run_psa  # noqa: E402
from hta.errors import HtaError  # noqa: E402
from hta.report import figures as plots  # noqa: E402
from models import hiv_chancellor as hiv  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model():
    return FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate,
                         strategy_labels={"monotherapy": "Zidovudine", "combination": "Zidovudine + lamivudine"})


@pytest.fixture(scope="module")
def psa_result(model):
    return run_psa(model, 500, 1)


def _check_png(path, min_px=300):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.shape[0] >= min_px and img.shape[1] >= min_px
    assert img[..., :3].std() > 0.01  # not a blank canvas


def test_money_formatter_has_prefix_and_separators():
    fmt = plots._money("HK$")
    assert fmt(1234567.0) == "HK$1,234,567"
    assert fmt(-250000.0) == "-HK$250,000"
    assert fmt(0.0) == "HK$0"


def test_tornado_chart(model, tmp_path):
    tor = dsa.tornado(dsa.one_way(model, wtp=8000.0), top=6)
    path = plots.tornado_chart(tor, tmp_path / "sub" / "tornado.png")
    _check_png(path)
    assert not list((tmp_path / "sub").glob("*.tmp.png"))


def test_tornado_chart_bars_start_at_base(model, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    tor = dsa.tornado(dsa.one_way(model, wtp=8000.0), top=4)
    captured = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: captured.setdefault("fig", fig) and path)
    plots.tornado_chart(tor, tmp_path / "t.png")
    ax = captured["fig"].axes[0]
    bars = ax.patches
    assert len(bars) == 2 * len(tor)
    base = tor["base"].iloc[0]
    np.testing.assert_allclose([b.get_x() for b in bars], base)
    lows = sorted(b.get_x() + b.get_width() for b in bars[: len(tor)])
    np.testing.assert_allclose(lows, sorted(tor["at_low"]))
    assert "HK$" in ax.get_xlabel()
    plt.close(captured["fig"])


def test_psa_figures(psa_result, tmp_path):
    c, e = psa_result.costs, psa_result.lys
    k = np.linspace(0, 30000, 31)
    wtps = [("threshold A", 10000.0), ("threshold B", 20000.0)]
    _check_png(plots.ce_plane(c[:, 1] - c[:, 0], e[:, 1] - e[:, 0], tmp_path / "plane.png", wtp=wtps))
    _check_png(plots.ceac_plot(psa.ceac(c, e, k, hiv.STRATEGIES), tmp_path / "ceac.png", wtp=wtps))
    _check_png(plots.ceaf_plot(psa.ceaf(c, e, k, hiv.STRATEGIES), tmp_path / "ceaf.png"))
    _check_png(plots.evpi_plot(psa.evpi_curve(c, e, k), tmp_path / "evpi.png", wtp=10000.0))
    _check_png(plots.convergence_plot(c, tmp_path / "conv.png", names=list(hiv.STRATEGIES)))


def test_sobol_and_two_way(model, tmp_path):
    sob = pd.DataFrame({"factor": ["a", "b"], "S1": [0.6, 0.3], "S1_conf": [0.05, 0.04],
                        "ST": [0.65, 0.35], "ST_conf": [0.03, 0.02]})
    _check_png(plots.sobol_bars(sob, tmp_path / "sobol.png"))
    grid = dsa.two_way(model, "rr", np.linspace(0.3, 0.9, 7), "c_lamivudine", np.linspace(0, 8000, 9), wtp=8000.0)
    _check_png(plots.two_way_heatmap(grid, "rr", "c_lamivudine", tmp_path / "twoway.png"))


def test_survival_and_trace(tmp_path):
    t = np.linspace(0, 10, 121)
    curves = {"PFS": (t, np.exp(-0.3 * t)), "OS": (t, np.exp(-0.1 * t)[None, :])}
    _check_png(plots.survival_plot(curves, tmp_path / "surv.png", km={"OS": (t[::10], np.exp(-0.1 * t[::10]))}))
    pf, os_ = np.exp(-0.3 * t), np.exp(-0.1 * t)
    trace = pd.DataFrame({"PF": pf, "PD": os_ - pf, "dead": 1 - os_}, index=t)
    _check_png(plots.trace_plot(trace, tmp_path / "trace.png"))


def test_bad_inputs(tmp_path):
    with pytest.raises(HtaError, match="tornado"):
        plots.tornado_chart(pd.DataFrame({"x": [1]}), tmp_path / "x.png")
    with pytest.raises(HtaError, match="same length"):
        plots.ce_plane([1, 2], [1], tmp_path / "x.png")
    with pytest.raises(HtaError, match="at least one curve"):
        plots.survival_plot({}, tmp_path / "x.png")
    with pytest.raises(HtaError, match="evpi"):
        plots.evpi_plot(pd.DataFrame({"x": [1]}), tmp_path / "x.png")


def test_trace_plot_one_panel_per_strategy(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    t = np.linspace(0, 5, 61)
    pf = np.exp(-0.5 * t)
    frame = pd.DataFrame({"time_years": t, "A: alive": pf, "A: dead": 1 - pf, "B: alive": pf**2, "B: dead": 1 - pf**2})
    captured = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: captured.setdefault("fig", fig) and path)
    plots.trace_plot(frame, tmp_path / "trace.png")
    axes = captured["fig"].axes
    assert [ax.get_title() for ax in axes] == ["A", "B"]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["alive", "dead"]
    plt.close(captured["fig"])
    assert plots.survival_curves_plot is plots.survival_plot


def test_save_png_is_pixel_identical_to_savefig_tight(model, psa_result, tmp_path, monkeypatch):
    """save_png draws once; every figure is the image savefig(bbox_inches="tight") draws in two
    passes: the same size, dpi and pixels (the PNG bytes may differ: zlib level)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    saved = []

    def both(fig, path):
        out = plots.save_png(fig, path)  # first, on the figure as it was built (never drawn)
        reference = path.with_name(path.stem + "_reference.png")
        fig.savefig(reference, dpi=plots.DPI, bbox_inches="tight")
        saved.append((out, reference))
        return out

    monkeypatch.setattr(plots, "_save", both)
    c, e = psa_result.costs, psa_result.lys
    k = np.linspace(0, 30000, 31)
    wtps = [("threshold A", 10000.0), ("threshold B", 20000.0)]
    plots.tornado_chart(dsa.tornado(dsa.one_way(model, wtp=8000.0), top=6), tmp_path / "tornado.png")
    plots.ce_plane(c[:, 1] - c[:, 0], e[:, 1] - e[:, 0], tmp_path / "plane.png", wtp=wtps)
    plots.ceac_plot(psa.ceac(c, e, k, hiv.STRATEGIES), tmp_path / "ceac.png", wtp=wtps)
    plots.evpi_plot(psa.evpi_curve(c, e, k), tmp_path / "evpi.png", wtp=10000.0)
    plots.convergence_plot(c, tmp_path / "conv.png", names=list(hiv.STRATEGIES))
    grid = dsa.two_way(model, "rr", np.linspace(0.3, 0.9, 7), "c_lamivudine", np.linspace(0, 8000, 9), wtp=8000.0)
    plots.two_way_heatmap(grid, "rr", "c_lamivudine", tmp_path / "twoway.png")
    t = np.linspace(0, 10, 121)
    pf, os_ = np.exp(-0.3 * t), np.exp(-0.1 * t)
    plots.trace_plot(pd.DataFrame({"a: PF": pf, "a: dead": 1 - pf, "b: PF": os_, "b: dead": 1 - os_},
                                  index=t), tmp_path / "trace.png")
    yearly = pd.DataFrame({"calendar_year": [2025, 2026, 2027], "budget_without": [1e6, 1.1e6, 1.2e6],
                           "budget_with": [1.3e6, 1.5e6, 1.6e6], "net_impact": [3e5, 4e5, 4e5]})
    plots.budget_impact_plot(yearly, tmp_path / "bia.png")
    fig, ax = plt.subplots(layout="constrained")  # a layout engine: savefig lays it out itself
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend()
    ax.set_title("constrained")
    both(fig, tmp_path / "constrained.png")
    assert len(saved) == 9
    for out, reference in saved:
        a, b = Image.open(out), Image.open(reference)
        assert (a.size, a.mode, a.info.get("dpi")) == (b.size, b.mode, b.info.get("dpi")), out.name
        assert np.array_equal(np.asarray(a), np.asarray(b)), out.name


def test_dollar_signs_in_labels_are_text_not_maths(tmp_path, monkeypatch):
    # "price (HK$ per patient) (HK$)" has two "$": matplotlib would set the text between them as
    # maths (italics, spaces lost); every figure takes its texts literally, and a parameter label
    # that states its unit is not given the currency again
    import matplotlib.axes
    import matplotlib.text as mtext

    parsed, labels = [], []
    preprocess = mtext.Text._preprocess_math
    monkeypatch.setattr(mtext.Text, "_preprocess_math",
                        lambda self, s: (lambda r: (parsed.append(s) if r[1] else None, r)[1])(preprocess(self, s)))
    set_ylabel = matplotlib.axes.Axes.set_ylabel
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylabel",
                        lambda self, text, *a, **k: (labels.append(text), set_ylabel(self, text, *a, **k))[1])
    curve = pd.DataFrame({"wtp": [0.0, 1e5, 2e5], "partitioned survival": [1e6, 1.5e6, 2e6]})
    plots.threshold_curve_plot(curve, tmp_path / "t.png", "price (HK$ per patient)", wtp=[("1x", 1e5)])
    plots.threshold_curve_plot(curve, tmp_path / "u.png", "price", wtp=[("1x", 1e5)])
    assert labels == ["Threshold price (HK$ per patient)", "Threshold price (HK$)"]
    plots.ce_plane(np.array([1e5, 2e5]), np.array([0.1, 0.2]), tmp_path / "ce.png", title="US$ 1 = HK$ 7.8")
    assert parsed == []
    assert matplotlib.rcParams["text.parse_math"]  # the user's setting is left as it was
