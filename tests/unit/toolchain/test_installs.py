"""Install detection over synthetic file listings: markers, artefacts, outputs, scale."""

from __future__ import annotations

import random
import time

from veriscan.toolchain.installs import FileRow, Install, find_installs

A1111 = ["webui.py", "launch.py", "webui-user.bat", "modules/sd_models.py", "modules/shared.py"]
FORGE = [*A1111, "modules_forge/forge_version.py", "modules_forge/main_entry.py"]
SDNEXT = ["webui.py", "launch.py", "installer.py", "modules/sd_models.py", "javascript/sdnext.css"]
COMFY = ["main.py", "nodes.py", "execution.py", "comfy/model_management.py", "custom_nodes/x.py"]
FOOOCUS = ["entry_with_update.py", "fooocus_version.py", "launch.py", "webui.py", "modules/a.py"]
KOHYA = ["kohya_gui.py", "sd-scripts/train_network.py", "kohya_gui/lora_gui.py", "gui.sh"]
INVOKE = ["invokeai.yaml", "databases/invokeai.db", "models/sd-1/main/x.safetensors"]


def rows(root: str, rels: list[str], mtime: float = 1_700_000_000.0) -> list[FileRow]:
    prefix = f"{root}/" if root else ""
    return [FileRow(prefix + r, 10, mtime, _mime(r), None) for r in rels]


def _mime(rel: str) -> str | None:
    return "image/png" if rel.endswith(".png") else None


def image(locator: str, mtime: float | None) -> FileRow:
    return FileRow(locator, 100, mtime, "image/png", "0" * 64)


def by_app(found: list[Install]) -> dict[str, Install]:
    return {i.app: i for i in found}


def test_plain_a1111_with_artefacts() -> None:
    root = "Users/bob/stable-diffusion-webui"
    extra = [
        "config.json",
        "ui-config.json",
        "styles.csv",
        "params.txt",
        "models/Stable-diffusion/v1-5.safetensors",
        "models/Lora/x.pt",
        "models/Lora/readme.txt",
        "extensions/foo/models/inner.ckpt",
        "log/log.csv",
    ]
    (inst,) = find_installs(rows(root, A1111 + extra))
    assert inst.app == "automatic1111"
    assert inst.root == root
    assert f"{root}/webui.py" in inst.markers
    assert f"{root}/modules/sd_models.py" in inst.markers
    assert f"{root}/launch.py" in inst.markers
    assert f"{root}/config.json" in inst.configs
    assert f"{root}/webui-user.bat" in inst.configs
    assert f"{root}/params.txt" in inst.configs
    assert inst.styles == [f"{root}/styles.csv"]
    assert inst.models == [
        f"{root}/models/Lora/x.pt",
        f"{root}/models/Stable-diffusion/v1-5.safetensors",
    ]
    assert inst.logs == [f"{root}/log/log.csv"]


def test_forge_a1111_sdnext_are_distinguished() -> None:
    data = rows("a/webui", A1111) + rows("b/forge", FORGE) + rows("c/automatic", SDNEXT)
    found = by_app(find_installs(data))
    assert set(found) == {"automatic1111", "forge", "sdnext"}
    assert found["automatic1111"].root == "a/webui"
    assert found["forge"].root == "b/forge"
    assert "b/forge/modules_forge" in found["forge"].markers
    assert found["sdnext"].root == "c/automatic"


def test_sdnext_by_installer_alone() -> None:
    (inst,) = find_installs(rows("sdnext", ["webui.py", "installer.py", "modules/shared.py"]))
    assert inst.app == "sdnext"


def test_stray_single_marker_is_not_an_install() -> None:
    data = rows("Downloads", ["webui.py", "main.py", "kohya_gui.py", "invokeai.yaml"])
    data += rows("projects/x", ["modules/sd_models.py"])  # right file, wrong place
    data += rows("src/y", ["nodes.py", "comfy/readme.md"])  # no main.py beside them
    data += rows("src/z", ["entry_with_update.py", "models/a.safetensors"])
    assert find_installs(data) == []


def test_portable_comfyui_two_levels_deep() -> None:
    root = "D/Apps/ComfyUI_windows_portable/ComfyUI"
    extra = [
        "extra_model_paths.yaml",
        "user/default/comfy.settings.json",
        "user/default/workflows/nude.json",
        "workflows/other.json",
        "comfyui.log",
        "models/checkpoints/sdxl.safetensors",
        "models/loras/a.safetensors",
        "models/checkpoints/put_checkpoints_here",
        "output/ComfyUI_00001_.png",
        "output/ComfyUI_00002_.png",
    ]
    data = rows(root, COMFY + extra)
    data += rows("D/Apps/ComfyUI_windows_portable", ["python_embeded/python.exe", "run.bat"])
    (inst,) = find_installs(data)
    assert inst.app == "comfyui"
    assert inst.root == root
    assert f"{root}/comfy" in inst.markers and f"{root}/custom_nodes" in inst.markers
    assert inst.configs == [
        f"{root}/extra_model_paths.yaml",
        f"{root}/user/default/comfy.settings.json",
    ]
    assert inst.workflows == [
        f"{root}/user/default/workflows/nude.json",
        f"{root}/workflows/other.json",
    ]
    assert inst.logs == [f"{root}/comfyui.log"]
    assert len(inst.models) == 2
    assert [(o.folder, o.images) for o in inst.outputs] == [(f"{root}/output", 2)]


def test_outputs_grouped_per_folder_with_mtime_range() -> None:
    root = "home/u/stable-diffusion-webui"
    data = rows(root, A1111)
    data += [
        image(f"{root}/outputs/txt2img-images/2024-01-01/00001.png", 300.0),
        image(f"{root}/outputs/txt2img-images/2024-01-01/00000.png", 100.0),
        image(f"{root}/outputs/txt2img-images/2024-01-01/00002.png", None),
        image(f"{root}/outputs/img2img-images/2024-01-02/00000.png", 500.0),
        image(f"{root}/outputs/no-mtime/a.png", None),
        image(f"{root}/html/logo.png", 1.0),  # UI asset, not an output
        image("home/u/Pictures/outputs/a.png", 1.0),  # outside any install
    ]
    data.append(
        FileRow(f"{root}/outputs/txt2img-images/2024-01-01/00000.txt", 1, 1.0, "text/plain", None)
    )
    random.Random(3).shuffle(data)
    (inst,) = find_installs(data)
    got = {o.folder: o for o in inst.outputs}
    assert set(got) == {
        f"{root}/outputs/txt2img-images/2024-01-01",
        f"{root}/outputs/img2img-images/2024-01-02",
        f"{root}/outputs/no-mtime",
    }
    day1 = got[f"{root}/outputs/txt2img-images/2024-01-01"]
    assert (day1.images, day1.first, day1.last) == (3, 100.0, 300.0)
    assert (got[f"{root}/outputs/no-mtime"].first, got[f"{root}/outputs/no-mtime"].last) == (
        None,
        None,
    )
    js = inst.to_json()
    assert js["images"] == 5
    out = next(o for o in js["outputs"] if o["folder"].endswith("2024-01-01"))
    assert out["first_iso"] == "1970-01-01T00:01:40+00:00"
    assert out["last_iso"] == "1970-01-01T00:05:00+00:00"


def test_two_installs_on_one_device_and_nesting() -> None:
    a1111 = "C/sd/stable-diffusion-webui"
    comfy = f"{a1111}/extensions/sd-webui-comfyui/ComfyUI"
    data = rows(a1111, A1111) + rows(comfy, [*COMFY, "models/checkpoints/c.safetensors"])
    data += rows(a1111, ["models/Stable-diffusion/a.safetensors"])
    found = by_app(find_installs(data))
    assert set(found) == {"automatic1111", "comfyui"}
    assert found["comfyui"].root == comfy
    # each model file belongs to the innermost install only
    assert found["automatic1111"].models == [f"{a1111}/models/Stable-diffusion/a.safetensors"]
    assert found["comfyui"].models == [f"{comfy}/models/checkpoints/c.safetensors"]


def test_inside_zip_archive() -> None:
    data = rows("backup/comfy.zip!/ComfyUI", [*COMFY, "output/a.png"])
    data += rows("stuff.zip!", [*FOOOCUS, "outputs/2024-05-01/x.png"])
    found = by_app(find_installs(data))
    assert found["comfyui"].root == "backup/comfy.zip!/ComfyUI"
    assert found["comfyui"].outputs[0].folder == "backup/comfy.zip!/ComfyUI/output"
    fooocus = found["fooocus"]
    assert fooocus.root == "stuff.zip"  # the archive itself holds the install
    assert "stuff.zip!/entry_with_update.py" in fooocus.markers
    assert fooocus.outputs[0].folder == "stuff.zip!/outputs/2024-05-01"
    assert "automatic1111" not in found  # Fooocus also ships webui.py and modules/


def test_fooocus_invokeai_kohya() -> None:
    data = rows("Fooocus", [*FOOOCUS, "config.txt", "outputs/2024-01-01/a.png"])
    data += rows("invokeai", [*INVOKE, "outputs/images/a.png", "invokeai.log"])
    data += rows(
        "venv/Lib/site-packages/invokeai", ["app/api_app.py", "version/invokeai_version.py"]
    )
    data += rows("kohya_ss", [*KOHYA, "logs/run1/events.out", "config.toml"])
    data += rows("old_kohya", ["kohya_gui.py", "train_network.py"])
    found = find_installs(data)
    apps = sorted((i.app, i.root) for i in found)
    assert apps == [
        ("fooocus", "Fooocus"),
        ("invokeai", "invokeai"),
        ("invokeai", "venv/Lib/site-packages/invokeai"),
        ("kohya_ss", "kohya_ss"),
        ("kohya_ss", "old_kohya"),
    ]
    inv = next(i for i in found if i.root == "invokeai")
    assert inv.configs == ["invokeai/invokeai.yaml"]
    assert inv.models == ["invokeai/models/sd-1/main/x.safetensors"]
    assert inv.outputs[0].images == 1
    kohya = next(i for i in found if i.root == "kohya_ss")
    assert kohya.logs == ["kohya_ss/logs/run1/events.out"]
    assert kohya.configs == ["kohya_ss/config.toml"]


def test_install_at_evidence_root() -> None:
    (inst,) = find_installs(rows("", [*COMFY, "output/a.png"]))
    assert inst.root == ""
    assert inst.outputs[0].folder == "output"


def test_to_json_round_trips_to_plain_types() -> None:
    (inst,) = find_installs(rows("x", FORGE))
    js = inst.to_json()
    assert js["app"] == "forge" and js["root"] == "x"
    assert isinstance(js["markers"], list) and js["outputs"] == []


def test_200k_rows_is_linear() -> None:
    data: list[FileRow] = []
    for d in range(2000):
        folder = f"disk/users/u{d % 50}/docs/d{d}"
        data += [FileRow(f"{folder}/f{i}.json", 1, float(i), None, None) for i in range(50)]
        data += [image(f"{folder}/output/p{i}.png", float(i)) for i in range(50)]
    data += rows("disk/ComfyUI", COMFY)
    data += [image(f"disk/ComfyUI/output/day{i % 100}/p{i}.png", float(i)) for i in range(10_000)]
    random.Random(0).shuffle(data)
    assert len(data) >= 200_000
    start = time.monotonic()
    (inst,) = find_installs(iter(data))
    assert time.monotonic() - start < 10
    assert len(inst.outputs) == 100 and sum(o.images for o in inst.outputs) == 10_000


def test_only_possible_artefacts_are_kept_during_the_pass() -> None:
    from veriscan.toolchain.installs import _may_be_artefact

    assert not _may_be_artefact("Documents/notes", "shopping.txt")
    assert not _may_be_artefact("Pictures", "holiday.json")
    assert _may_be_artefact("sd/webui", "params.txt")
    assert _may_be_artefact("ComfyUI/user/default/workflows", "harbour.json")
    assert _may_be_artefact("webui/log", "log.csv")
    assert _may_be_artefact("webui/models/Lora", "style.safetensors")
    assert not _may_be_artefact("Downloads", "style.safetensors")
