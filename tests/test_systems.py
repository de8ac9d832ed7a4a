"""Issue #16, sections 3 and 4: a page per system (machine fingerprint) that every setup label links to, and energy
figures (average power, J/img, kWh to train) from the NVML telemetry of tests/data/nightly/, equal to hand computation.

One real build of the fixture site (valid/, site/, nightly/ and a results folder with one run on a third, identical
A100 machine), shared by the module.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml
from conftest import build_site

from generator.energy import CPU_RUN, NO_POWER, run_power
from generator.formats import MISSING
from generator.results import load_results
from generator.systems import Systems, fingerprint
from runners.schema import read_result

DATA = Path(__file__).parent / "data"
NIGHTLY = DATA / "nightly"
SOURCES = [DATA / "valid", DATA / "site", NIGHTLY]
LABEL = re.compile(r"\b\d+x (NVIDIA|CPU: )")  # how every setup label and hardware cell starts
TWIN = "20261124T021730Z-resnet50-v1.5-throughput-pytorch-amp-fp16-74d96bd8"  # a second run of one setup, on dgx-a100-3


def nightly_runs(host: str, mode: str, precision: str, devices: int) -> list:
    """The fixture's results of one setup, read back from their files."""
    found = [read_result(p) for p in sorted(NIGHTLY.rglob("*.yaml"))]
    return [
        r
        for r in found
        if r.environment.host.hostname == host
        and r.run.mode.value == mode
        and r.run.precision == precision
        and r.environment.launch.world_size == devices
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fixture site, plus the 8x A100 400 W amp-fp16 throughput setup run a second time on an identical machine."""
    tmp = tmp_path_factory.mktemp("systems")
    (original,) = NIGHTLY.rglob("*-throughput-pytorch-amp-fp16-74d96bd7.yaml")
    data = yaml.safe_load(original.read_text(encoding="utf-8"))
    data["run"]["id"] = TWIN
    data["run"]["started_utc"] = "2026-11-24T02:17:30Z"
    data["run"]["repeat"].update(index=1, count=2)
    data["environment"]["host"]["hostname"] = "dgx-a100-3"
    data["environment"]["packages"]["cudnn"] = "91900"  # as torch.backends.cudnn.version() gave it on an H100
    for gpu in data["environment"]["accelerators"]["devices"]:
        gpu["uuid"] = gpu["uuid"].replace("dgx-a100-1", "dgx-a100-3")
    extra = tmp / "results"
    extra.mkdir()
    (extra / f"{TWIN}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return build_site([*SOURCES, extra], tmp)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rows(html: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", html, re.S)


def cells(row: str) -> list[str]:
    return [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h", start + 1)
    return html[start:end]


def first_number(cell: str) -> float:
    return float(re.match(r"[0-9.]+", cell).group())


# --- systems ------------------------------------------------------------------


def test_a_fingerprint_changes_with_every_fact_of_the_machine():
    base = read_result(next(NIGHTLY.rglob("*convergence-pytorch-tf32*.yaml")))

    def changed(edit) -> object:
        data = base.model_dump(mode="json")
        edit(data["environment"])
        return fingerprint(type(base).model_validate(data))

    edits = [
        lambda e: e["host"].update(hostname="dgx-a100-9"),
        lambda e: e["host"].update(cpu_model="Intel Xeon Platinum 8480+"),
        lambda e: e["host"].update(logical_cores=128),
        lambda e: e["host"].update(ram_gib=1007.5),
        lambda e: e["host"].update(kernel="6.8.0"),
        lambda e: e.update(python_version="3.12.1"),
        lambda e: e["packages"].update(cudnn="9.3.0"),
        lambda e: e["accelerators"]["devices"][3].update(driver_version="560.35.03"),
        lambda e: e["accelerators"]["devices"][0].update(cuda_version="12.6"),
        lambda e: e["accelerators"]["devices"][5].update(power_limit_w=300.0),
        lambda e: e["accelerators"]["devices"].pop(),
    ]
    prints = [changed(edit) for edit in edits]
    assert len({fingerprint(base), *prints}) == len(edits) + 1


def test_one_system_page_per_fingerprint(site):
    runs = load_results([*SOURCES, site.parent / "results"]).results
    systems = Systems(runs).systems
    assert len(systems) == len({fingerprint(r.result) for r in runs}) >= 8
    index = (site / "systems" / "index.html").read_text(encoding="utf-8")
    for system in systems:
        assert (site / "systems" / f"{system.slug}.html").is_file()
        assert f'href="{system.slug}.html"' in index


def _system_page(site: Path, host: str, count: int) -> str:
    (path,) = (site / "systems").glob(f"{host}-{count}x-*.html")
    return path.read_text(encoding="utf-8")


def _linked_results(site: Path, page: str) -> list:
    return [read_result(site / "systems" / href) for href in re.findall(r'href="(\.\./data/results/[^"]+\.yaml)"', page)]


def test_two_machines_with_the_same_gpu_keep_their_own_facts_and_runs(site):
    for host, watts in (("dgx-a100-1", "400 W"), ("dgx-a100-2", "250 W")):
        page = _system_page(site, host, 8)
        assert "NVIDIA A100-SXM4-80GB" in page and f"<td>{watts} per GPU</td>" in page
        linked = _linked_results(site, page)
        assert linked and {r.environment.host.hostname for r in linked} == {host}
        assert {d.power_limit_w for r in linked for d in r.environment.accelerators.devices} == {float(watts[:3])}
        assert "<td>9.1.0</td>" in page and "<td>2.21.5</td>" in page  # cuDNN and NCCL from environment.packages


def test_cudnn_recorded_as_torch_reports_it_reads_as_a_version(site):
    page = _system_page(site, "dgx-a100-3", 8)
    assert "<tr><th>cuDNN</th><td>9.19.0</td></tr>" in page and "cudnn 9.19.0" in page and "91900" not in page


def test_a_cpu_system_shows_its_cpu_facts(site):
    (path,) = (site / "systems").glob("ci-box-*.html")
    page = text(path.read_text(encoding="utf-8"))
    run = read_result(DATA / "valid" / "convergence.yaml")
    host = run.environment.host
    assert "Accelerators none: the runs computed on the CPU" in page
    assert f"CPU {host.cpu_model}, {host.logical_cores} logical cores" in page
    assert f"OS {host.os}, kernel {host.kernel}" in page and f"Python {run.environment.python_version}" in page
    assert "Driver" not in page and "Power limit" not in page


class _Labels(HTMLParser):
    """Every text that starts a setup label, with the href of the link it sits in (None outside a link)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str | None] = []
        self.found: list[tuple[str, str | None]] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        if tag in ("script", "style", "title", "nav", "label"):  # nav and tab labels name groups, not one setup's runs
            self.skip += 1

    def handle_endtag(self, tag):
        if tag == "a" and self.links:
            self.links.pop()
        if tag in ("script", "style", "title", "nav", "label"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and LABEL.search(data):
            self.found.append((data.strip(), self.links[-1] if self.links else None))


@pytest.mark.parametrize(
    "name",
    ["index.html", "performance.html", "models/resnet50-v1.5.html", "models/digits-resnet10t.html", "leaderboard.html"]
    + [f"rankings/{r}.html" for r in ("time-to-quality", "inference", "valid-flops", "devices")],
)
def test_every_setup_label_links_to_an_existing_system_page(site, name):
    parser = _Labels()
    parser.feed((site / name).read_text(encoding="utf-8"))
    assert parser.found, name
    for label, href in parser.found:
        assert href and "/systems/" in urljoin(f"/{name}", href), (name, label)
        target = site / urljoin(f"/{name}", href).lstrip("/")
        assert target.is_file(), (name, label, href)


def test_every_history_page_links_its_configuration_and_each_run_to_their_system_pages(ranked_site):
    site, _ = ranked_site
    pages = [p for p in sorted((site / "history").glob("*.html")) if p.name != "index.html"]
    assert pages
    for path in pages:
        html = path.read_text(encoding="utf-8")
        (meta,) = re.findall(r'<p class="benchsite-meta">Benchmark (.*?)</p>', html, re.S)
        run_rows = re.findall(r'<tr id="[^"]+">(.*?)</tr>', html, re.S)  # one run each (buckets have no id)
        assert LABEL.search(text(meta)) and run_rows, path.name
        for part in [meta, *run_rows]:
            hrefs = re.findall(r'<a href="([^"]+)" class="benchsite-system"', part)
            assert len(hrefs) == 1 and (path.parent / hrefs[0]).resolve().is_file(), (path.name, part)


def test_a_setup_run_on_two_identical_machines_links_the_latest_and_lists_both(site):
    table = section((site / "performance.html").read_text(encoding="utf-8"), "training-throughput")
    (row,) = [r for r in rows(table) if "21640" in r]  # the throughput of both runs of the setup
    hrefs = re.findall(r'href="systems/([^"]+)\.html"', row)
    assert hrefs[0].startswith("dgx-a100-3-8x-")  # the latest run's system first
    assert {h.split("-8x-")[0] for h in hrefs[1:]} == {"dgx-a100-3", "dgx-a100-1"}
    assert "on 2 systems" in text(row)


# --- energy ---------------------------------------------------------------------------


def _power(result) -> float:
    """By hand: the sum of the run's GPUs' mean board power over the whole run."""
    return sum(g.power_mean_w for g in result.telemetry.gpus)


def _window_joules(power, samples_per_s: float) -> float:
    """By hand: joules per sample of one timed window, its board power (the sum over its GPUs) over its samples per second."""
    return power.power_w / samples_per_s


def test_energy_on_the_model_page_equals_hand_computation(site):
    html = (site / "models" / "resnet50-v1.5.html").read_text(encoding="utf-8")
    energy = section(html, "energy")
    runs = nightly_runs("dgx-a100-1", "convergence", "amp-fp16", 8)
    assert len(runs) == 3
    power = [_power(r) for r in runs]  # 8 x 371 W - (0 + 1 + ... + 7) W = 2940 W
    # per image: the power of the timed window (1.25x the run's mean here: 3675 W), not of the whole run
    joules = [_window_joules(r.training.throughput.power, r.training.throughput.samples_per_s) for r in runs]
    assert runs[0].training.throughput.power.power_w == 3675.0 and runs[0].training.throughput.power.gpus == 8
    kwh = [p * r.training.time_to_target.time_to_target_s / 3.6e6 for p, r in zip(power, runs, strict=True)]
    assert power[0] == 2940.0
    (row,) = [cells(r) for r in rows(energy) if "400 W limit" in r and "amp-fp16" in r and "convergence" in r and "8x" in r]
    assert first_number(row[2]) == round(sum(power) / 3, 1) and "(n=3)" in row[2]
    assert first_number(row[3]) == round(sum(joules) / 3, 3)
    assert first_number(row[4]) == round(sum(kwh) / 3, 2) == 18.46
    assert "GPU board power from NVML, not the whole system" in text(energy)
    assert "MLPerf Power measures at the wall" in text(energy)


def test_inference_energy_per_batch_size_equals_hand_computation(site):
    html = (site / "models" / "resnet50-v1.5.html").read_text(encoding="utf-8")
    (run,) = nightly_runs("dgx-a100-1", "inference", "amp-fp16", 1)
    for point in run.inference.results:  # each batch size's own timed window: 0.7x the run's mean at 1 up to 1.3x at 256
        mean_ms = f"{point.latency_ms.mean:.3f}".rstrip("0").rstrip(".")
        (row,) = [c for r in rows(html) if len(c := cells(r)) > 8 and c[0] == str(point.batch_size) and c[3] == mean_ms]
        assert first_number(row[8]) == round(_window_joules(point.power, point.samples_per_s), 3)
    ranking = (site / "rankings" / "inference.html").read_text(encoding="utf-8")
    point = next(p for p in run.inference.results if p.batch_size == 1)
    (row,) = [cells(r) for r in rows(ranking) if "400 W limit" in r and "amp-fp16" in r]
    assert point.power.power_w == 287.0 * 0.7  # 200.9 W
    assert first_number(row[6]) == round(_window_joules(point.power, point.samples_per_s), 3) == round(200.9 / 412.0, 3) == 0.488


def test_energy_columns_in_rankings_and_leaderboard_equal_hand_computation(site):
    training = (site / "rankings" / "time-to-quality.html").read_text(encoding="utf-8")
    runs = nightly_runs("dgx-h100-1", "convergence", "amp-fp16", 8)
    kwh = [_power(r) * r.training.time_to_target.time_to_target_s / 3.6e6 for r in runs]
    (row,) = [cells(r) for r in rows(training) if "H100" in r and "8x" in r]
    assert first_number(row[6]) == round(sum(kwh) / len(kwh), 2) and f"(n={len(kwh)})" in row[6]
    board = (site / "leaderboard.html").read_text(encoding="utf-8")
    (run,) = nightly_runs("dgx-a100-2", "inference", "amp-fp16", 1)
    point = next(p for p in run.inference.results if p.batch_size == 1)
    (row,) = [cells(r) for r in rows(board) if "250 W limit" in r]
    assert first_number(row[8]) == round(_window_joules(point.power, point.samples_per_s), 3)


def test_cpu_rows_and_gpus_without_power_show_a_dash_with_the_reason(site):
    model = (site / "models" / "digits-resnet10t.html").read_text(encoding="utf-8")
    energy = [cells(r) for r in rows(section(model, "energy")) if "CPU: " in r]
    assert energy and all(c[2] == c[3] == c[4] == f"{MISSING} {CPU_RUN}" for c in energy)
    board = (site / "leaderboard.html").read_text(encoding="utf-8")
    cpu = [cells(r) for r in rows(board) if "CPU: " in r]
    assert cpu and all(c[8] == f"{MISSING} {CPU_RUN}" for c in cpu)
    (run,) = nightly_runs("dgx-h100-1", "inference", "tf32", 1)
    assert run_power(run) == (None, NO_POWER)
    resnet = (site / "models" / "resnet50-v1.5.html").read_text(encoding="utf-8")
    h100_tf32 = resnet[resnet.index("H100 80GB HBM3 (driver 550.90.07, 700 W limit), pytorch, tf32") :]
    assert f"{MISSING} {NO_POWER}" in text(h100_tf32[: h100_tf32.index("</table>")])


def test_power_of_a_run_that_recorded_fewer_gpus_than_it_used_is_not_shown():
    (run,) = nightly_runs("dgx-a100-1", "throughput", "amp-fp16", 8)
    partial = run.model_copy(update={"telemetry": run.telemetry.model_copy(update={"gpus": run.telemetry.gpus[:4]})})
    assert run_power(run) == (2940.0, "")
    assert run_power(partial) == (None, "NVML power recorded for 4 GPU(s), the run used 8")
