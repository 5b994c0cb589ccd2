"""Model references in generation metadata resolve to model files by hash first, name second."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from veriscan.toolchain.linking import Link, ModelFile, ModelIndex, hash_key, name_key

HELLO = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
"""Civitai's published example: SHA-256 of "hello world", shown there as AutoV2 B94D27B993."""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model(
    digest: str, kind: str = "checkpoint", names: tuple[str, ...] = (), **hashes: str
) -> ModelFile:
    return ModelFile(digest, kind, {"sha256": digest, **hashes}, names)


def params(**fields: Any) -> list[dict[str, Any]]:
    return [{"generator": "a1111", "source": "png:parameters", **fields}]


def test_civitai_vector_links_by_autov2() -> None:
    assert hashlib.sha256(b"hello world").hexdigest() == HELLO
    index = ModelIndex([model(HELLO, names=("helloMix", "helloMix.safetensors"))])
    links = index.link(
        params(model="otherName", model_hash="B94D27B993", model_hash_scheme="autov2")
    )
    assert links == [Link(HELLO, "checkpoint", "hash", "AutoV2 B94D27B993 (Model hash)")]


def test_autov1_and_full_sha256() -> None:
    a, b = sha("a"), sha("b")
    index = ModelIndex([model(a, autov1="abcdef01"), model(b)])
    links = index.link(params(model_hash="ABCDEF01", model_hash_scheme="autov1"))
    assert [(x.model_sha256, x.via) for x in links] == [(a, "AutoV1 ABCDEF01 (Model hash)")]
    full = index.link(params(model_hash=b.upper(), model_hash_scheme="sha256"))
    assert [(x.model_sha256, x.strength) for x in full] == [(b, "hash")]
    assert full[0].via.startswith("SHA-256 ")


def test_lora_hash_matches_addnet12_and_full_addnet() -> None:
    lora_sha, addnet = sha("lora"), sha("tensors")
    index = ModelIndex([model(lora_sha, "lora", ("x",), addnet=addnet, addnet12=addnet[:12])])
    short = index.link(params(loras=[{"name": "brush", "weight": 0.8, "hash": addnet[:12]}]))
    assert short == [Link(lora_sha, "lora", "hash", f"AddNet {addnet[:12]} (Lora hashes: brush)")]
    full = index.link(params(extra={"Hashes": {"lora:brush": addnet.upper()}}))
    assert [(x.role, x.strength, x.via.split()[0]) for x in full] == [("lora", "hash", "AutoV3")]


def test_lycoris_file_links_as_lora() -> None:
    lyco = sha("lyco")
    index = ModelIndex([model(lyco, "lycoris-loha", ("softLight",))])
    links = index.link(params(loras=[{"name": "softlight", "weight": 1.0, "hash": None}]))
    assert links == [Link(lyco, "lora", "name", "file name softlight")]


def test_blake3_with_prefix() -> None:
    m, b3 = sha("m"), sha("pretend-blake3")
    index = ModelIndex([model(m, blake3=b3)])
    links = index.link(params(model="Juggernaut", model_hash=b3, model_hash_scheme="blake3"))
    assert [(x.model_sha256, x.strength) for x in links] == [(m, "hash")]
    prefixed = index.link(params(loras=[{"name": "n", "hash": f"blake3:{b3.upper()}"}]))
    assert [(x.role, x.strength, x.via.split()[0]) for x in prefixed] == [
        ("lora", "hash", "BLAKE3")
    ]


def test_sha256_prefix_needs_eight_digits() -> None:
    m = sha("prefix")
    index = ModelIndex([model(m)])
    assert [x.via for x in index.link(params(model_hash=m[:12]))] == [
        f"SHA-256 prefix {m[:12]} (Model hash)"
    ]
    assert index.link(params(model_hash=m[:7])) == []
    assert index.link(params(model_hash="zz" + m[:10])) == []


def test_scheme_tried_first_but_others_still_match() -> None:
    a, b = sha("one"), sha("two")
    collide = a[:10]
    index = ModelIndex([model(a), model(b, autov1=collide)])
    assert [
        x.model_sha256 for x in index.link(params(model_hash=collide, model_hash_scheme="autov2"))
    ] == [a]
    assert [
        x.model_sha256 for x in index.link(params(model_hash=collide, model_hash_scheme="autov1"))
    ] == [b]
    assert {x.model_sha256 for x in index.link(params(model_hash=collide))} == {a, b}
    index_b = ModelIndex([model(b, autov1=collide)])
    wrong_scheme = index_b.link(params(model_hash=collide, model_hash_scheme="autov2"))
    assert [(x.model_sha256, x.via.split()[0]) for x in wrong_scheme] == [(b, "AutoV1")]


@pytest.mark.parametrize(
    "written",
    [
        "v1-5-pruned [6ce0161689]",
        "v1-5-pruned.safetensors [6ce0161689]",
        "models/Stable-diffusion/V1-5-PRUNED.ckpt",
        "C:\\sd\\models\\v1-5-pruned.safetensors",
        "v1-5-pruned.pt",
    ],
)
def test_names_without_folders_extensions_or_title_hash(written: str) -> None:
    m = sha("v15")
    index = ModelIndex([model(m, names=("v1-5-pruned.safetensors", "v1-5-pruned"))])
    assert index.link(params(model=written)) == [
        Link(m, "checkpoint", "name", f"file name {written}")
    ]


def test_title_hash_is_used_as_a_hash() -> None:
    m = sha("titled")
    index = ModelIndex([model(m, names=("renamed",))])
    title = f"whatever [{m[:10]}]"
    assert index.link(params(model=title)) == [
        Link(m, "checkpoint", "hash", f"AutoV2 {m[:10]} (title {title})")
    ]


def test_training_output_name() -> None:
    m = sha("trained")
    index = ModelIndex([model(m, "lora", ("lora_0042", "lora_0042.safetensors", "harbourStyle"))])
    links = index.link(params(loras=[{"name": "HarbourStyle", "weight": 0.5, "hash": None}]))
    assert links == [Link(m, "lora", "name", "file name HarbourStyle")]


def test_name_kind_mismatch_is_skipped() -> None:
    ckpt, unet, unknown = sha("ckpt"), sha("unet"), sha("unknown")
    index = ModelIndex(
        [
            model(ckpt, "checkpoint", ("dreamy",)),
            model(unet, "transformer", ("dreamy",)),
            model(unknown, "unknown", ("dreamy",)),
        ]
    )
    lora_links = index.link(params(loras=[{"name": "dreamy", "hash": None}]))
    assert [(x.model_sha256, x.role) for x in lora_links] == [(unknown, "lora")]
    ckpt_links = index.link(params(model="dreamy"))
    assert {x.model_sha256 for x in ckpt_links} == {ckpt, unet, unknown}


def test_hash_beats_name() -> None:
    right, decoy = sha("right"), sha("decoy")
    index = ModelIndex([model(right, names=("renamed",)), model(decoy, names=("dreamy",))])
    links = index.link(params(model="dreamy", model_hash=right[:10]))
    assert [(x.model_sha256, x.strength) for x in links] == [(right, "hash")]
    assert index.link(params(model="dreamy", model_hash="0000000000")) == [
        Link(decoy, "checkpoint", "name", "file name dreamy")
    ]


def test_duplicate_references_keep_strongest_link() -> None:
    m = sha("dup")
    index = ModelIndex([model(m, names=("dup",))])
    links = index.link(
        [
            {"model": "dup"},
            {"model": "dup", "model_hash": m[:10]},
            {"extra": {"graph_models": ["dup.safetensors"], "Hashes": {"model": m}}},
        ]
    )
    assert len(links) == 1
    assert links[0].strength == "hash"
    assert links[0].via in {f"AutoV2 {m[:10]} (Model hash)", f"SHA-256 {m} (Hashes: model)"}


def test_ambiguity_links_all() -> None:
    a, b = sha("amb-a"), sha("amb-b")
    index = ModelIndex([model(a, names=("same",)), model(b, names=("same.ckpt",))])
    assert {x.model_sha256 for x in index.link(params(model="same"))} == {a, b}
    shared = "deadbeef"
    a2, b2 = shared + a[8:], shared + b[8:]
    collide = ModelIndex([model(a2), model(b2)])
    links = collide.link(params(model_hash=shared.upper()))
    assert [(x.model_sha256, x.strength) for x in links] == sorted([(a2, "hash"), (b2, "hash")])


def test_embeddings_vae_controlnet_and_graph_roles() -> None:
    emb, vae, cn, lo, b3 = sha("emb"), sha("vae"), sha("cn"), sha("graph-lora"), sha("emb-b3")
    index = ModelIndex(
        [
            model(emb, "embedding", ("easynegative",), autov2=emb[:10], blake3=b3),
            model(vae, "vae", ("vae-ft-mse-840000",)),
            model(cn, "controlnet", ("control_v11p_sd15_canny",)),
            model(lo, "lora", ("graphLora",)),
        ]
    )
    links = index.link(
        params(
            embeddings=["EasyNegative", "unlisted"],
            vae="vae-ft-mse-840000.safetensors",
            controlnets=["control_v11p_sd15_canny [d14c016b]"],
            extra={"TI hashes": {"EasyNegative": emb[:10]}, "graph_models": ["loras/graphLora.pt"]},
        )
    )
    assert [(x.role, x.model_sha256, x.strength) for x in links] == [
        ("controlnet", cn, "name"),
        ("embedding", emb, "hash"),
        ("lora", lo, "name"),
        ("vae", vae, "name"),
    ]
    assert links[1].via == f"AutoV2 {emb[:10]} (TI hashes: EasyNegative)"


GARBAGE: list[Any] = [
    [],
    None,
    "parameters",
    b"bytes",
    42,
    [None, 1, "x", [], {}],
    [{"model": 5, "model_hash": 7, "model_hash_scheme": 3}],
    [{"model": None, "model_hash": None, "vae": ["x"], "controlnets": "canny"}],
    [{"loras": "brush", "embeddings": {"a": 1}, "extra": "nope"}],
    [{"loras": [None, 3, {"name": 5, "hash": 9}, {"name": None, "hash": None}]}],
    [{"embeddings": [None, 3, ""], "extra": {"TI hashes": ["x"], "Hashes": "x"}}],
    [{"extra": {"TI hashes": {3: 4, "n": None}, "Hashes": {1: 2, "lora:": "ab", "x": None}}}],
    [{"extra": {"graph_models": [None, 3, {}, ""], "VAE hash": 12}}],
    [{"model": "", "model_hash": "", "model_hash_scheme": "blake3"}],
    [{"model": " [", "model_hash": "blake3:", "loras": [{"name": "/", "hash": "0x"}]}],
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_never_raises(garbage: Any) -> None:
    index = ModelIndex([model(sha("g"), names=("x",)), model(sha("h"), "weird", ("x",))])
    assert all(isinstance(x, Link) for x in index.link(garbage))
    assert ModelIndex([]).link(garbage) == []


def test_order_is_deterministic() -> None:
    files = [model(sha(str(i)), "lora" if i % 2 else "checkpoint", ("shared",)) for i in range(8)]
    refs = params(model="shared", loras=[{"name": "shared", "hash": None}])
    first = ModelIndex(files).link(refs)
    assert first == ModelIndex(reversed(files)).link(refs)
    assert first == sorted(first, key=lambda x: (x.role, x.model_sha256, x.strength, x.via))
    assert len(first) == 8


def test_normalisers() -> None:
    assert name_key("dir/Sub\\Model.SafeTensors [abcdef12]") == "model"
    assert name_key(3) is None and name_key("  ") is None
    assert hash_key("0xABCDEF0123") == "abcdef0123"
    assert hash_key("blake3:ABCDEF0123") == "abcdef0123"
    assert hash_key("abc") is None and hash_key(None) is None and hash_key("not-a-hash!") is None
