"""The first GPU run in one command: install offline, run the gpu tests, the nightly-gpu suite and a bare reference.

From the repository root on the GPU machine (no network; needs .gpu-wheels/ from benchmarks/gpu_wheels.sh):

    bash benchmarks/gpu_check.sh                  # 400 s on one H100 (every step: ~15 min, --budget-s 900)
    bash benchmarks/gpu_check.sh --device cpu     # the same steps on the CPU: one tiny model, tiny windows

Steps, most important first; a step that would start after --budget-s is skipped and the report says so:
  1. facts: Python, torch, CUDA, cuDNN, driver and GPU name, printed in the first seconds;
  2. install: pydantic, PyYAML and pytest from the carried wheels (pip --no-index; into the interpreter,
     else a --target folder, else the wheels unzipped), then benchsite itself (pip -e, else PYTHONPATH);
  3. `benchsite run --suite nightly-gpu --framework pytorch --synthetic --mode throughput --mode inference
     --window-scale F` for ResNet-50 (tf32, amp-fp16), then the bare reference (benchmarks/gpu_check_reference.py)
     with the same model, batch, precision and memory format;
  4. the gpu-marked tests (tests/test_gpu.py);
  5. ResNet-50 in amp-bf16, a second benchsite/reference round for the ratios' spread, every other PyTorch
     benchmark, then `benchsite validate` of every file written.
Leaves in --out (default $OUT, else ./gpu-out), rewritten after every step so a killed run still returns them:
  report.txt (what ran, the figures, the benchsite/reference ratios), figures.json (the same, machine-readable),
  junit.xml (the gpu tests), results.tar.gz (results/YYYY/MM/DD/*.yaml to extract into results/, and logs/).
Exit status 0 when every test passed, every run succeeded and every file validated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
DRY_RUN_SUITE = REPO / "benchmarks" / "gpu_check_dry_run.yaml"
REFERENCE = REPO / "benchmarks" / "gpu_check_reference.py"
CARRIED = ("pydantic", "pyyaml", "pytest", "pytest-timeout")
NEEDED_IMPORTS = ("pydantic", "yaml", "pytest")
SITE_STACK = ("mkdocs", "material", "mike", "altair", "vl_convert", "ruptures")  # never needed to run and validate
TRAINING_GOAL, LATENCY_GOAL = 0.95, 0.03

FACTS = """
import json, os, platform, sys
facts = {"python": platform.python_version(), "cpus": os.cpu_count()}
try:
    import torch
    facts.update(torch=torch.__version__, cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
    facts["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if torch.cuda.is_available():
        facts["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        facts["capability"] = "%d.%d" % torch.cuda.get_device_capability(0)
except ImportError as exc:
    facts["torch"] = "not importable: %s" % exc
try:
    import pynvml
    pynvml.nvmlInit()
    facts["driver"] = pynvml.nvmlSystemGetDriverVersion()
except Exception as exc:
    facts["driver"] = "NVML unavailable: %s" % exc
for name in ("timm", "torchvision", "numpy", "yaml", "pydantic", "pytest"):
    try:
        facts[name] = __import__(name).__version__
    except Exception:
        facts[name] = None
print(json.dumps(facts))
"""

# What the check runs (the CLI's run and validate, the launcher, the schema) must not need the site's stack.
IMPORT_CHECK = """
import json, sys
import generator.ops.cli, generator.results, runners.launch, runners.schema, runners.suites
generator.ops.cli.build_parser()
print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""

PYTORCH_BENCHMARKS = """
import json, sys
from runners.suites import load_suite
print(json.dumps([[b.name, len(b.precisions)] for b in load_suite(sys.argv[1]).benchmarks if "pytorch" in b.implementations]))
"""


class CheckError(Exception):
    """A step that cannot go on; its message goes into the report."""


@dataclass
class Step:
    name: str
    status: str = "skipped"  # ok, failed, skipped
    seconds: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class Plan:
    device: str
    suite: str
    ratio_benchmark: str
    ratio_precision: str
    extra_precisions: tuple[str, ...]
    window_scale: float
    other_window_scale: float
    per_run_timeout_s: float
    budget_s: float
    ratio_rounds: int
    run_estimate_s: float  # a step starts only when its runs x this fit in the budget left


GPU_PLAN = Plan("cuda", "nightly-gpu", "resnet50-v1.5", "amp-fp16", ("amp-bf16",), 0.1, 0.05, 100, 400, 2, 15)
# The dry run skips amp-bf16 (a GPU matter) but does a second round, so --precision and the rounds are exercised.
CPU_PLAN = Plan("cpu", str(DRY_RUN_SUITE), "test-resnet", "fp32", (), 0.5, 0.5, 120, 3600, 2, 0)


@dataclass
class Check:
    """One run of the check: its plan, folders, environment, steps and figures."""

    plan: Plan
    python: str
    out: Path
    work: Path
    wheels: Path
    started: float = field(default_factory=time.monotonic)
    started_utc: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    validate: str = ""

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def remaining_s(self) -> float:
        return self.plan.budget_s - (time.monotonic() - self.started)

    def step(self, name: str, action, *args, needs_s: float = 0.0) -> Any:
        """Run ``action``, record how it went, rewrite the outputs; skip it when the budget cannot cover ``needs_s``."""
        step = Step(name)
        self.steps.append(step)
        if self.remaining_s() < needs_s:
            step.note = f"not started: {self.remaining_s():.0f}s of the {self.plan.budget_s:.0f}s budget left"
            print(f"== {name}: skipped ({step.note})", flush=True)
            write_outputs(self)
            return None
        print(f"== {name}", flush=True)
        clock = time.monotonic()
        value = None
        try:
            value = action(self, *args)
            step.status, step.note = "ok", value if isinstance(value, str) else step.note
        except CheckError as exc:
            step.status, step.note = "failed", str(exc)
            print(f"== {name}: FAILED: {exc}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a bug in one step must not cost the steps after it their report
            step.status, step.note = "failed", f"{type(exc).__name__}: {exc}"
            print(f"== {name}: CRASHED: {step.note}", flush=True)
        step.seconds = time.monotonic() - clock
        write_outputs(self)
        return value


# --- running commands ---------------------------------------------------------------


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_logged(
    check: Check, name: str, cmd: list[str], timeout_s: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``cmd``, echo and log its output; kill its process group after ``timeout_s``. Return (exit code, output)."""
    log = check.logs / f"{len(check.steps):02d}-{name}.log"
    proc = subprocess.Popen(
        cmd,
        cwd=cwd or REPO,
        env={**check.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    killer = threading.Timer(max(timeout_s, 1), _kill_group, (proc,))
    killer.start()
    lines = []
    with log.open("w") as sink:
        sink.write("$ " + " ".join(cmd) + "\n")
        for line in proc.stdout:
            lines.append(line)
            sink.write(line)
            print("   " + line, end="", flush=True)
    code = proc.wait()
    killer.cancel()
    if code == -signal.SIGKILL:
        lines.append(f"killed after {timeout_s:.0f}s\n")
    return code, "".join(lines)


def python_json(check: Check, code: str, *args: str) -> Any:
    """Run ``code`` in the checked interpreter and parse the JSON of its last line."""
    proc = subprocess.run([check.python, "-c", code, *args], env=check.env, capture_output=True, text=True, timeout=120, cwd=REPO)
    if proc.returncode != 0:
        raise CheckError(f"python failed: {' '.join(proc.stderr.strip().splitlines()[-1:])}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def importable(check: Check, modules: tuple[str, ...]) -> bool:
    code = "import " + ", ".join(modules)
    return subprocess.run([check.python, "-c", code], env=check.env, capture_output=True, timeout=120, cwd=REPO).returncode == 0


# --- steps --------------------------------------------------------------------------


def step_facts(check: Check) -> str:
    check.facts = python_json(check, FACTS)
    f = check.facts
    line = (
        f"Python {f['python']}, torch {f.get('torch')} (CUDA {f.get('cuda')}, cuDNN {f.get('cudnn')}), "
        f"driver {f.get('driver')}, GPUs {f.get('gpus', 'none')}, {f.get('cpus')} CPUs"
    )
    print("   " + line, flush=True)
    if check.plan.device == "cuda" and not f.get("cuda_available"):
        raise CheckError("torch sees no CUDA device: " + line)
    return line


def _pip(check: Check, name: str, *args: str) -> bool:
    code, _ = run_logged(check, name, [check.python, "-m", "pip", "--disable-pip-version-check", *args], 300)
    return code == 0


def _unzip_wheels(check: Check, target: Path) -> None:
    """Install by hand: a wheel is a zip of its files; take the one built for this interpreter, or a pure one."""
    tag = "cp{}{}".format(*check.facts["python"].split(".")[:2])
    for wheel in sorted(check.wheels.glob("*.whl")):
        python_tag = wheel.name.split("-")[-3]
        if python_tag == tag or python_tag.startswith("py3"):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)


def step_install(check: Check) -> str:
    repo_path = [str(REPO)]
    check.env["PYTHONPATH"] = os.pathsep.join(repo_path + [p for p in [check.env.get("PYTHONPATH", "")] if p])
    if importable(check, NEEDED_IMPORTS):
        how = "pydantic, PyYAML and pytest already importable: nothing installed"
    else:
        if not any(check.wheels.glob("*.whl")):
            raise CheckError(f"no wheels in {check.wheels}: run `bash benchmarks/gpu_wheels.sh` where there is network")
        links = ["--no-index", "--find-links", str(check.wheels)]
        target = REPO / ".gpu-deps"
        if _pip(check, "pip-install", "install", *links, *CARRIED):
            how = "pip install --no-index --find-links from the carried wheels"
            if _pip(check, "pip-editable", "install", "--no-deps", "--no-build-isolation", "-e", str(REPO)):
                how += "; benchsite installed with pip -e"
            else:
                how += "; pip -e of benchsite failed, PYTHONPATH used"
        else:
            shutil.rmtree(target, ignore_errors=True)
            if _pip(check, "pip-target", "install", *links, "--target", str(target), *CARRIED):
                how = f"pip install --no-index --target {target.name} (the interpreter refused packages); PYTHONPATH"
            else:
                _unzip_wheels(check, target)
                how = f"wheels unzipped into {target.name} (pip failed); PYTHONPATH"
            check.env["PYTHONPATH"] = os.pathsep.join([*repo_path, str(target), *check.env["PYTHONPATH"].split(os.pathsep)[1:]])
            sys.path.insert(0, str(target))  # this driver reads the result files with PyYAML too
        if not importable(check, NEEDED_IMPORTS):
            raise CheckError(f"{how}, but {', '.join(NEEDED_IMPORTS)} still do not import")
    loaded = python_json(check, IMPORT_CHECK, *SITE_STACK)
    if loaded:
        raise CheckError(f"running and validating imported the site stack: {', '.join(loaded)}")
    return how


def step_tests(check: Check) -> str:
    junit = check.out / "junit.xml"
    cmd = [check.python, "-m", "pytest", "tests/test_gpu.py", "-m", "gpu", "-q", "-rA", "-p", "no:cacheprovider", "-o", "timeout=150"]
    cmd.append(f"--junitxml={junit}")
    hide = {"CUDA_VISIBLE_DEVICES": ""} if check.plan.device == "cpu" else {}  # a dry run on a GPU machine stays a CPU run
    code, output = run_logged(check, "gpu-tests", cmd, min(240, max(check.remaining_s(), 60)), env=hide)
    check.tests = junit_outcomes(junit)
    summary = output.strip().splitlines()[-1] if output.strip() else "no output"
    if code not in (0, 5) or (check.plan.device == "cuda" and "skipped" in check.tests.values()):
        raise CheckError(summary)
    return summary


def benchsite_run(check: Check, name: str, results: str, benchmark: str, scale: float, precisions: tuple[str, ...] = ()) -> str:
    """One `benchsite run` of one benchmark's synthetic throughput and inference modes, into work/``results``."""
    plan = check.plan
    timeout = min(plan.per_run_timeout_s, max(check.remaining_s(), 30))
    cmd = [check.python, "-m", "generator.ops.cli", "run", "--suite", plan.suite, "--benchmark", benchmark, "--framework", "pytorch"]
    cmd += ["--synthetic"]  # --framework: EfficientNet also lists a TensorFlow implementation, and that machine has no TensorFlow
    cmd += ["--mode", "throughput", "--mode", "inference", "--device", plan.device, "--window-scale", f"{scale:g}"]
    cmd += [arg for p in precisions for arg in ("--precision", p)]
    cmd += ["--results", results, "--timeout", f"{timeout:.0f}"]
    code, output = run_logged(check, name, cmd, timeout * 6 + 60, cwd=check.work)
    summary = next((line for line in reversed(output.splitlines()) if line.startswith("suite ")), output.strip()[-300:])
    if code != 0:
        raise CheckError(summary)
    return summary


def reference(check: Check, round_: int, results: str) -> str:
    """The bare reference for the runs in work/``results``, and the benchsite/reference ratios of this round."""
    plan = check.plan
    records = [r for r in read_results(check.work / results) if r["run"]["benchmark"] == plan.ratio_benchmark]
    ours = {r["run"]["mode"]: r for r in records if r["run"]["precision"] == plan.ratio_precision and r["run"]["status"] == "success"}
    if set(ours) != {"throughput", "inference"}:
        raise CheckError(f"no successful {plan.ratio_precision} throughput and inference runs of {plan.ratio_benchmark} to compare")
    tp = ours["throughput"]["training"]["throughput"]
    points = ours["inference"]["inference"]["results"]
    sizes = sorted({points[0]["batch_size"], points[-1]["batch_size"]})
    compared = [p for p in points if p["batch_size"] in sizes]
    cmd = [check.python, str(REFERENCE), "--suite", plan.suite, "--benchmark", plan.ratio_benchmark, "--precision", plan.ratio_precision]
    cmd += ["--device", plan.device, "--train-warmup", str(tp["warmup_steps"]), "--train-steps", str(tp["measured_steps"])]
    cmd += ["--batch-sizes", ",".join(map(str, sizes)), "--infer-warmup", str(compared[0]["warmup_iterations"])]
    cmd += ["--iterations", str(max(p["iterations"] for p in compared))]
    code, output = run_logged(check, f"reference-{round_}", cmd, max(check.remaining_s(), 60) + 60)
    if code != 0:
        raise CheckError(f"the reference failed: {output.strip().splitlines()[-1:]}")
    ref = json.loads(output.strip().splitlines()[-1])

    def p50_ratios(reference_p50: str) -> dict[str, float]:
        return {
            f"inference_p50_batch_{p['batch_size']}": p["latency_ms"]["p50"] / ref["inference"][str(p["batch_size"])][reference_p50]
            for p in compared
        }

    ratios = {"training_images_per_s": tp["samples_per_s"] / ref["train"]["images_per_s"], **p50_ratios("p50_ms")}
    check.rounds.append(
        {
            "round": round_,
            "benchsite": {
                "training_images_per_s": tp["samples_per_s"],
                "compute_images_per_s": tp["compute_samples_per_s"],
                **{f"inference_p50_batch_{p['batch_size']}_ms": p["latency_ms"]["p50"] for p in compared},
            },
            "reference": ref,
            "ratios": ratios,
            # the same p50s over the reference's torch.no_grad loop (timm's benchmark.py): not a goal, a diagnosis
            "ratios_vs_no_grad": p50_ratios("p50_ms_no_grad"),
        }
    )
    return ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())


def step_validate(check: Check) -> str:
    folders = sorted(str(p.relative_to(check.work)) for p in check.work.glob("**/results") if p.is_dir())
    if not folders:
        raise CheckError("no results folder to validate")
    code, output = run_logged(check, "validate", [check.python, "-m", "generator.ops.cli", "validate", *folders], 300, cwd=check.work)
    check.validate = output.strip().splitlines()[-1] if output.strip() else ""
    if code != 0:
        raise CheckError(output.strip()[-500:])
    return check.validate


# --- reading what came out ----------------------------------------------------------


def read_results(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    import yaml  # here: the driver itself needs nothing outside the standard library until the install step

    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("**/*.yaml"))]


def junit_outcomes(junit: Path) -> dict[str, str]:
    if not junit.is_file():
        return {}
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        outcomes[case.get("name", "?")] = outcome
    return outcomes


def run_line(result: dict[str, Any]) -> str:
    run = result["run"]
    head = f"  {run['benchmark']:<22} {run['mode']:<10} {run['precision']:<9} {run['status']:<8}"
    if run["status"] != "success":
        return head + " " + (run.get("error") or "").splitlines()[0][:100]
    if run["mode"] == "throughput":
        tp = result["training"]["throughput"]
        text = f" {tp['samples_per_s']:9.1f} img/s (compute {tp['compute_samples_per_s']:.1f}), {tp['measured_steps']} steps"
        if tp.get("power"):
            text += f", {tp['power']['power_w']:.0f} W while timed"
    else:
        points = result["inference"]["results"]
        text = " p50 " + ", ".join(f"b{p['batch_size']} {p['latency_ms']['p50']:.3f} ms" for p in points)
    gpus = result.get("telemetry", {}).get("gpus") or []
    if gpus and gpus[0].get("power_mean_w"):
        g = gpus[0]
        text += f"; {g['power_mean_w']:.0f} W, {g.get('energy_j') or 0:.0f} J, SM {g.get('sm_clock_mean_mhz') or 0:.0f} MHz"
    return head + text


def ratio_summary(check: Check) -> dict[str, dict[str, Any]]:
    """Per ratio: every round's value, the median and min-max, and whether the goal is met."""
    names = sorted({k for r in check.rounds for k in r["ratios"]})
    summary = {}
    for name in names:
        values = [r["ratios"][name] for r in check.rounds if name in r["ratios"]]
        median = statistics.median(values)
        met = median >= TRAINING_GOAL if name.startswith("training") else abs(median - 1) <= LATENCY_GOAL
        goal = f">= {TRAINING_GOAL}" if name.startswith("training") else f"within {LATENCY_GOAL:.0%}"
        summary[name] = {"rounds": values, "median": median, "min": min(values), "max": max(values), "goal": goal, "met": met}
    return summary


def report_text(check: Check) -> str:
    plan = check.plan
    elapsed = time.monotonic() - check.started
    lines = [
        f"benchsite GPU check, started {check.started_utc}, device {plan.device}, {elapsed:.0f}s (budget {plan.budget_s:.0f}s)",
        f"suite {plan.suite}; windows x{plan.window_scale:g} for {plan.ratio_benchmark}, x{plan.other_window_scale:g} for the others",
        "",
        "steps:",
    ]
    lines += [f"  {s.name:<34} {s.status:<8} {s.seconds:6.1f}s  {s.note}" for s in check.steps]
    if check.tests:
        counts = {o: list(check.tests.values()).count(o) for o in ("passed", "failed", "skipped")}
        lines += ["", "gpu tests: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n)]
        lines += [f"  {outcome:<8} {name}" for name, outcome in check.tests.items()]
    for folder in sorted(p for p in check.work.glob("**/results") if p.is_dir()):
        results = read_results(folder)
        ok = sum(r["run"]["status"] == "success" for r in results)
        lines += ["", f"runs in {folder.relative_to(check.work)}: {len(results)} files, {ok} success"]
        lines += [run_line(r) for r in results]
    if check.rounds:
        lines += ["", f"benchsite / bare reference, {plan.ratio_benchmark} {plan.ratio_precision}, same device, same command:"]
        for name, s in ratio_summary(check).items():
            rounds = ", ".join(f"{v:.3f}" for v in s["rounds"])
            lines.append(
                f"  {name:<28} median {s['median']:.3f} (min {s['min']:.3f}, max {s['max']:.3f}; rounds {rounds})  "
                f"goal {s['goal']}: {'met' if s['met'] else 'NOT met'}"
            )
        lines.append("  (inference ratios are benchsite p50 / reference p50: above 1 means benchsite measured slower)")
        for r in check.rounds:
            against = ", ".join(f"{k} {v:.3f}" for k, v in r.get("ratios_vs_no_grad", {}).items())
            lines.append(f"  round {r['round']}, against the reference's torch.no_grad loop instead of inference_mode: {against}")
    if check.validate:
        lines += ["", "validate: " + check.validate]
    return "\n".join(lines) + "\n"


def write_outputs(check: Check) -> None:
    """Rewrite report.txt, figures.json and results.tar.gz (results/ and logs/): at most four files in --out."""
    check.out.mkdir(parents=True, exist_ok=True)
    (check.out / "report.txt").write_text(report_text(check))
    figures = {
        "plan": asdict(check.plan),
        "facts": check.facts,
        "steps": [asdict(s) for s in check.steps],
        "tests": check.tests,
        "rounds": check.rounds,
        "ratios": ratio_summary(check),
        "validate": check.validate,
    }
    (check.out / "figures.json").write_text(json.dumps(figures, indent=2))
    partial = check.out / ".results.tar.gz.partial"
    with tarfile.open(partial, "w:gz") as tar:
        for folder in ("results", "round-2", "logs"):
            if (check.work / folder).exists():
                tar.add(check.work / folder, arcname=folder)
    partial.replace(check.out / "results.tar.gz")


# --- the plan -----------------------------------------------------------------------


def step_plan(check: Check, only: list[str]) -> dict[str, int]:
    """The suite's PyTorch benchmarks (or those in ``only``) and how many precisions each lists."""
    listed = dict(python_json(check, PYTORCH_BENCHMARKS, check.plan.suite))
    unknown = sorted(set(only) - set(listed))
    if unknown:
        raise CheckError(f"not PyTorch benchmarks of {check.plan.suite}: {', '.join(unknown)}")
    return {name: n for name, n in listed.items() if not only or name in only}


def run_check(check: Check, skip_tests: bool, only: list[str]) -> bool:
    """Run the steps, most important first: one ratio round, the tests, the extra precisions, more rounds, the other benchmarks.

    The first round and its reference come before the tests: on a lent GPU the budget may end any step after them.
    """
    plan = check.plan
    for name, action in (("facts", step_facts), ("install", step_install)):
        if check.step(name, action) is None:
            return False
    suite = check.step("plan", step_plan, only) or {}
    ratio = plan.ratio_benchmark

    def suite_step(label: str, results: str, bench: str, scale: float, precisions: tuple[str, ...] = ()) -> None:
        runs = 2 * (len(precisions) or suite[bench])  # throughput and inference per precision
        check.step(label, benchsite_run, label.replace(" ", "-"), results, bench, scale, precisions, needs_s=runs * plan.run_estimate_s)

    def ratio_round(round_: int) -> None:
        results = "results" if round_ == 1 else f"round-{round_}/results"
        suite_step(f"{ratio} round {round_}", results, ratio, plan.window_scale, () if round_ == 1 else (plan.ratio_precision,))
        check.step(f"reference round {round_}", reference, round_, results, needs_s=plan.run_estimate_s)

    rounds = range(1, plan.ratio_rounds + 1) if ratio in suite else range(0)
    for round_ in rounds[:1]:
        ratio_round(round_)
    if not skip_tests:
        check.step("gpu tests", step_tests)
    for precision in plan.extra_precisions if ratio in suite else ():
        suite_step(f"{ratio} {precision}", "results", ratio, plan.window_scale, (precision,))
    for round_ in rounds[1:]:
        ratio_round(round_)
    for bench in [b for b in suite if b != ratio]:
        suite_step(bench, "results", bench, plan.other_window_scale)
    check.step("validate", step_validate)
    return all(s.status == "ok" for s in check.steps) and "failed" not in check.tests.values()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: the dry run (one tiny model, tiny windows)")
    out = Path(os.environ.get("OUT") or "gpu-out")
    parser.add_argument("--out", type=Path, default=out, help="output folder (default: $OUT, else gpu-out)")
    parser.add_argument("--budget-s", type=float, help="start no step after this many seconds (default: 400 on cuda)")
    parser.add_argument("--window-scale", type=float, help="window fraction for the ratio benchmark (default 0.1 on cuda)")
    parser.add_argument("--other-window-scale", type=float, help="window fraction for the other benchmarks (default 0.05 on cuda)")
    parser.add_argument("--ratio-rounds", type=int, help="benchsite/reference rounds (default 2)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the gpu-marked tests")
    parser.add_argument("--benchmark", action="append", default=[], metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--wheels", type=Path, default=REPO / ".gpu-wheels", help="the carried wheels (default: .gpu-wheels)")
    args = parser.parse_args(argv)
    plan = GPU_PLAN if args.device == "cuda" else CPU_PLAN
    overrides = {
        "budget_s": args.budget_s,
        "window_scale": args.window_scale,
        "other_window_scale": args.other_window_scale,
        "ratio_rounds": args.ratio_rounds,
    }
    plan = Plan(**{**asdict(plan), **{k: v for k, v in overrides.items() if v is not None}})
    work = Path(tempfile.mkdtemp(prefix="benchsite-gpu-check-"))
    (work / "logs").mkdir()
    check = Check(plan=plan, python=sys.executable, out=args.out.resolve(), work=work, wheels=args.wheels.resolve())
    ok = run_check(check, args.skip_tests, args.benchmark)
    write_outputs(check)
    print("\n" + report_text(check), flush=True)
    print(f"outputs in {check.out}: {', '.join(sorted(p.name for p in check.out.iterdir() if not p.name.startswith('.')))}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
