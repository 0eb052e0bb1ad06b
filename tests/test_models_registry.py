"""models.build's option checking and the `python -m models summary` command."""

from __future__ import annotations

import pytest

import models
from models.__main__ import main


def test_available_lists_every_backbone():
    assert models.available() == ["inception_resnet_v1", "mobilefacenet", "resface20", "resface36"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            {"name": "resnet50"},
            "unknown model 'resnet50'; valid: inception_resnet_v1, mobilefacenet, resface20, resface36",
        ),
        ({"bn_mode": "frozen"}, "unknown bn_mode 'frozen'; valid: switch, always_train, none"),
        ({"image_size": (96, 112)}, r"image_size must be one of 112x96, 112x112, got \(96, 112\)"),
        ({"image_size": "112by96"}, "is not of the form HxW"),
        ({"width": 0}, "width must be > 0"),
        ({"embedding_size": 0}, "embedding_size must be a positive integer"),
        ({"embedding_size": 2.5}, "embedding_size must be a positive integer"),
        ({"dropout_keep": 0.0}, r"dropout_keep must be in \(0, 1\]"),
        ({"dropout_keep": 1.2}, r"dropout_keep must be in \(0, 1\]"),
        ({"depth": 50}, "unknown option.*depth.*valid extra options: bn_decay, bn_epsilon"),
    ],
)
def test_bad_options_raise_a_clear_error(kwargs, message):
    kwargs = {"name": "resface20", **kwargs}
    with pytest.raises(ValueError, match=message):
        models.build(kwargs.pop("name"), **kwargs)


def test_extra_bn_options_reach_every_bn_layer():
    model = models.build("mobilefacenet", image_size="112x112", width=0.125, bn_decay=0.9, bn_epsilon=1e-5)
    bn_layers = [layer for layer in model.layers if isinstance(layer, models.FlagBatchNormalization)]
    assert bn_layers and all(bn.momentum == 0.9 and bn.epsilon == 1e-5 for bn in bn_layers)
    assert model.input_shape == (None, 112, 112, 3)


def test_parse_image_size():
    assert models.parse_image_size("112x96") == (112, 96)
    assert models.parse_image_size("112X112") == (112, 112)
    with pytest.raises(ValueError, match="'112' is not of the form HxW"):
        models.parse_image_size("112")


def test_summary_prints_the_papers_figures_for_resface20(capsys):
    assert main(["summary", "resface20", "--image-size", "112x96"]) == 0
    out = capsys.readouterr().out
    assert "parameters: 22.7 M (22,686,208;" in out
    assert "multiply-adds per image: 1.75 G (1,749,737,472)" in out


def test_summary_per_layer_rows_add_up(capsys):
    main(["summary", "mobilefacenet", "--image-size", "112x112", "--width", "0.25", "--per-layer"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[1:] if line.split()[1] in ("Conv2D", "DepthwiseConv2D", "Dense")]
    total_macs = int(lines[-1].split("(")[1].rstrip(")").replace(",", ""))
    assert rows and sum(int(r[3].replace(",", "")) for r in rows) == total_macs


def test_summary_rejects_a_bad_image_size(capsys):
    assert main(["summary", "resface20", "--image-size", "100x100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m models: error: ") and len(err.splitlines()) == 1
    assert "100x100" in err and "112x96, 112x112" in err
