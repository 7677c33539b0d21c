"""The Dockerfile and the Kubernetes manifests in deploy/, checked without a cluster.

No Docker engine or cluster runs here, so the manifests are validated against
the Kubernetes OpenAPI schemas (``kubernetes-validate``, pinned version) and
both are held to the invariants that tie them to the code: the ConfigMap's TOML
is a valid collector config, each pod's ordinal becomes a shard and together
they cover the config, probes and scrape annotations point at the port the
config listens on, and everything runs as the image's non-root user.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from collector.cli import main
from collector.config import Config, load_config, parse_config
from collector.sharding import resolve_shard, shard_config, units_of

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
#: The Kubernetes version the manifests are validated against (the oldest we support).
K8S_VERSION = "1.31"


def manifests() -> dict[str, dict[str, Any]]:
    """Every resource in deploy/, by kind."""
    docs = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                assert doc["kind"] not in docs, f"two {doc['kind']}s"
                docs[doc["kind"]] = doc
    return docs


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict[str, Any]]:
    return manifests()


@pytest.fixture(scope="module")
def config(k8s: dict[str, dict[str, Any]]) -> Config:
    (name, text), *others = k8s["ConfigMap"]["data"].items()
    assert not others
    return parse_config(text, f"deploy/configmap.yaml:{name}")


def pod(k8s: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return k8s["StatefulSet"]["spec"]["template"]


def container(k8s: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = pod(k8s)["spec"]["containers"]
    return only


def port_of(c: dict[str, Any], port: int | str) -> int:
    """A probe's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    (found,) = [p["containerPort"] for p in c["ports"] if p.get("name") == port]
    return found


def listen_port(config: Config) -> int:
    return int(config.metrics.listen.rpartition(":")[2])


# --------------------------------------------------------------------------- kubernetes


@pytest.mark.parametrize("kind", ["ConfigMap", "Service", "StatefulSet"])
def test_manifests_match_the_kubernetes_schema(kind: str, k8s: dict[str, dict[str, Any]]) -> None:
    try:
        kubernetes_validate.validate(k8s[kind], K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:  # its str() dumps the whole schema
        pytest.fail(f"{kind}: {e.message} at {'.'.join(map(str, e.path))}")


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(files)


def test_the_configmap_is_a_collector_config_read_from_the_mounted_file(
    k8s: dict[str, dict[str, Any]], config: Config
) -> None:
    c = container(k8s)
    (key,) = k8s["ConfigMap"]["data"]
    mounts = {v["name"]: v["mountPath"] for v in c["volumeMounts"]}
    (volume,) = [v for v in pod(k8s)["spec"]["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == k8s["ConfigMap"]["metadata"]["name"]
    args = c["args"]
    assert args[args.index("--config") + 1] == f"{mounts[volume['name']]}/{key}"
    assert config.metrics.enabled
    host = config.metrics.listen.rpartition(":")[0]
    assert host == "0.0.0.0", "probes and Prometheus connect to the pod IP, not loopback"


def test_every_ordinal_is_a_shard_and_together_they_cover_the_config(
    k8s: dict[str, dict[str, Any]], config: Config
) -> None:
    sts = k8s["StatefulSet"]
    replicas = sts["spec"]["replicas"]
    env = {e["name"]: e["value"] for e in container(k8s)["env"]}
    assert env["COLLECTOR_SHARDS"] == str(replicas)
    assert "COLLECTOR_SHARD" not in env, "it would override the ordinal in every pod"
    covered: list[tuple[str, str]] = []
    for ordinal in range(replicas):
        shard = resolve_shard(None, env, f"{sts['metadata']['name']}-{ordinal}")
        assert shard is not None and (shard.index, shard.count) == (ordinal, replicas)
        mine = units_of(shard_config(config, shard))
        assert mine, f"pod {ordinal} would idle: more replicas than (exchange, symbol)s"
        covered += mine
    assert sorted(covered) == sorted(units_of(config))


def test_probes_and_scrape_annotations_use_the_configured_port(
    k8s: dict[str, dict[str, Any]], config: Config
) -> None:
    c = container(k8s)
    port = listen_port(config)
    # Readiness is about the data; liveness only about the process (collector/metrics.py),
    # so a venue outage takes a pod out of rotation without restarting it.
    for probe, path in (("livenessProbe", "/live"), ("readinessProbe", "/health")):
        get = c[probe]["httpGet"]
        assert (get["path"], port_of(c, get["port"])) == (path, port), probe
    notes = pod(k8s)["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert (notes["prometheus.io/port"], notes["prometheus.io/path"]) == (str(port), "/metrics")
    (service_port,) = k8s["Service"]["spec"]["ports"]
    assert port_of(c, service_port["targetPort"]) == port


def test_the_service_is_headless_and_selects_the_statefulset_pods(
    k8s: dict[str, dict[str, Any]],
) -> None:
    service, sts = k8s["Service"], k8s["StatefulSet"]
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    labels = pod(k8s)["metadata"]["labels"]
    for selector in (service["spec"]["selector"], sts["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()


def test_pods_run_as_the_image_user_read_only_with_writable_data(
    k8s: dict[str, dict[str, Any]], config: Config
) -> None:
    spec, c = pod(k8s)["spec"], container(k8s)
    security = spec["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == dockerfile_uid() != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    writable = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
    for path in (config.output.dir, config.capture.dir):
        assert any(Path(path).is_relative_to(m) for m in writable), path
    claims = {t["metadata"]["name"] for t in k8s["StatefulSet"]["spec"]["volumeClaimTemplates"]}
    data = [m for m in c["volumeMounts"] if Path(config.output.dir).is_relative_to(m["mountPath"])]
    assert {m["name"] for m in data} <= claims, "the spool must outlive the pod"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= c["resources"][kind].keys(), kind


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word.upper(), rest.strip()))
    return stages


def final_stage(instruction: str) -> list[str]:
    return [rest for word, rest in dockerfile_stages()[-1] if word == instruction]


def dockerfile_uid() -> int:
    (user,) = final_stage("USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER {user}: use a numeric UID so runAsNonRoot can check it"
    return int(uid)


def test_the_image_is_multi_stage_and_runs_as_a_numeric_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert dockerfile_uid() != 0
    (useradd,) = [r for w, r in stages[-1] if w == "RUN" and "useradd" in r]
    assert f"--uid {dockerfile_uid()}" in useradd
    runs = " ".join(final_stage("RUN"))
    for tool in ("pip install", "apt-get", "gcc", "build-essential"):
        assert tool not in runs, f"{tool} in the runtime stage"
    assert any(rest.startswith("--from=") for rest in final_stage("COPY"))


#: What the build stage needs to compile the native core (setup.py builds it).
NATIVE_BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "collector/native/_core.pyx",
    "collector/native/core.h",
)


def _docker_context_keeps(path: str) -> bool:
    """Does .dockerignore (everything out, then ``!`` entries back in, then
    exclusions) leave ``path`` in the build context?"""
    kept = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        glob = pattern.replace("**/", "*")
        if fnmatch.fnmatch(path, glob) or path.startswith(pattern + "/"):
            kept = negate
    return kept


def test_the_build_stage_compiles_the_native_core_and_stops_without_it() -> None:
    """An image built without setup.py (as before) ran the pure-Python reference path,
    1.4 to 2.4 times the CPU per frame, with one log line to say so."""
    build = dockerfile_stages()[0]
    copied = [rest.split()[:-1] for word, rest in build if word == "COPY"]
    sources = {src.rstrip("/") for sources in copied for src in sources}
    for needed in NATIVE_BUILD_INPUTS:
        assert needed in sources or needed.split("/")[0] in sources, f"{needed} not copied"
        assert _docker_context_keeps(needed), f".dockerignore leaves out {needed}"
    assert not _docker_context_keeps("collector/native/_core.cpython-311-x86_64-linux-gnu.so")
    runs = " ".join(rest for word, rest in build if word == "RUN")
    assert "gcc" in runs and "pip install ." in runs
    assert "native.available()" in runs.split("pip install .", 1)[1]


def test_healthcheck_uses_the_stdlib_and_the_exposed_port() -> None:
    (check,) = final_stage("HEALTHCHECK")
    assert "urllib.request" in check and "/health" in check
    assert "curl" not in check and "wget" not in check
    (exposed,) = final_stage("EXPOSE")
    assert f"127.0.0.1:{exposed}/health" in check
    (cmd,) = final_stage("CMD")
    args = json.loads(cmd)
    assert args[args.index("--metrics-listen") + 1] == f"0.0.0.0:{exposed}"
    (config,) = [a for a in args if a.endswith(".toml")]
    load_config(REPO / config.removeprefix("/app/"))  # shipped by COPY config /app/config


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/health", handler
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_command_exits_0_when_healthy_and_1_on_503_or_no_answer(
    health_server: tuple[str, type[_Health]],
) -> None:
    """Run the HEALTHCHECK's own command line, as Docker would, against a fake /health."""
    (check,) = final_stage("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :])
    assert command[0] == "python"
    url, handler = health_server

    def run(target: str) -> int:
        env = {"COLLECTOR_HEALTH_URL": target, "PATH": ""}
        return subprocess.run(
            [sys.executable, *command[1:]], env=env, capture_output=True
        ).returncode

    assert run(url) == 0
    handler.status = 503
    assert run(url) == 1
    assert run("http://127.0.0.1:9/health") == 1, shlex.join(command)


@pytest.mark.parametrize("bad", ["9464", "0.0.0.0:http", "0.0.0.0:70000", ":9464"])
def test_metrics_listen_flag_refuses_what_is_not_host_port(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The image's CMD relies on it; the good path is run by tests/e2e/test_fleet.py."""
    with pytest.raises(SystemExit) as exited:
        main(["run", "--config", "config/default.toml", "--metrics-listen", bad])
    assert exited.value.code == 2
    assert "use HOST:PORT, e.g. 0.0.0.0:9464" in capsys.readouterr().err
