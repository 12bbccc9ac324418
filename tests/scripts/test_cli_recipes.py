"""The recipe and measurement commands (import_checkpoint, reproduce, recipe_card, head_zoo,
benchmark, protocol_rules, browse_dataset) take Hydra key=value arguments: from a real shell
(--help, "Did you mean", a refusal without traceback) and called with a list (bad options
refused with the key to give)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import REPO
from helpers.tiny_models import load_script, save_tiny_checkpoint

from posekit.cli import command, task_overrides


def run_script(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def test_help_lists_the_command_s_options(tmp_path):
    done = run_script("benchmark", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = (REPO / "scripts" / "benchmark.py").read_text().split('"""')[1].strip()
    assert done.stdout.startswith(doc.splitlines()[0])  # the script's docstring, then its options
    assert "conf/benchmark.yaml" in done.stdout
    # its own options as written, comments included, with the scale node's keys
    options = (REPO / "conf" / "benchmark.yaml").read_text()
    assert options in done.stdout
    for option in ("groups:", "overhead_steps:", "mmpose_python:", "scale:", "  people:",
                   "  mmpose_max:"):
        assert f"\n{option}" in done.stdout, option


def test_a_misspelt_option_gets_the_key_it_meant(tmp_path):
    done = run_script("recipe_card", "experiment=hrnet_heatmap_coco", "strictt=true", cwd=tmp_path)
    assert done.returncode == 1
    assert "Did you mean strict=true?" in done.stderr


def test_a_refusal_is_its_message_without_traceback(tmp_path):
    done = run_script("reproduce", f"checkpoint={tmp_path / 'any.pth'}", cwd=tmp_path)
    assert done.returncode == 1
    assert "reproduce: give experiment=<name>" in done.stderr
    assert "Traceback" not in done.stderr


def test_task_overrides_leave_out_the_command_s_options_and_their_sub_keys():
    passed_on = command("benchmark")(lambda cfg: task_overrides(exclude=("scale", "seconds")))
    given = ["scale.people=[5,6]", "seconds=1", "data.input_size=[48,64]", "model=heatmap",
             "+trainer.max_time=null"]
    assert passed_on(given) == ["data.input_size=[48,64]", "model=heatmap",
                                "+trainer.max_time=null"]


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("import_checkpoint", ["checkpoint=a.pth", "out=b.ckpt"], "give experiment=<name>"),
        ("import_checkpoint", ["experiment=hrnet_heatmap_coco", "out=b.ckpt"],
         r"give checkpoint=\.\.\. \(--help lists the options\)"),
        ("head_zoo", ["families=[simcc,nope]"], r"unknown families \['nope'\]; the zoo"),
        ("benchmark", ["groups=[data,speed]"], r"unknown groups \['speed'\]; choose from"),
        ("benchmark", ["overhead_steps=[100,20]"], "overhead_steps needs two increasing counts"),
    ],
)
def test_bad_options_are_refused_naming_the_key(script, argv, message):
    with pytest.raises(SystemExit, match=f"^{script}: .*{message}"):
        load_script(script).main(argv)


def test_protocol_rules_reads_a_run_folder_and_refuses_what_is_not_simcc(tmp_path):
    main = load_script("protocol_rules").main
    with pytest.raises(SystemExit, match="checkpoint or run folder not found"):
        main([f"ckpt_path={tmp_path / 'nowhere'}"])
    heatmap = save_tiny_checkpoint(tmp_path / "heatmap.ckpt", "heatmap")
    best = tmp_path / "run" / "checkpoints" / "best_epoch001.ckpt"
    best.parent.mkdir(parents=True)
    shutil.copy(heatmap, best)
    with pytest.raises(SystemExit, match=rf"{best} decodes with MSRAHeatmapCodec: .* SimCC"):
        main([f"ckpt_path={tmp_path / 'run'}"])
