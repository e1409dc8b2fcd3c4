"""The Helm chart, rendered by the real Helm engine (helm-python-sdk bundles Helm's library) and
validated against the Kubernetes schemas (kubernetes-validate, strict, offline).

Two profiles: the default values (one node, SQLite) and values-scale.yaml (several API pods on
MongoDB, Redis and a Chroma server). What is checked is what an operator relies on.
"""

from __future__ import annotations

import re
import tomllib

import kubernetes_validate
import pytest
from helm_python import chart as helm
from helm_python.errors import HelmRenderError, HelmValuesError

from tests.deploy.support import (
    CHART,
    REFLEX_NAMES,
    RELEASE,
    REQUIRED_SECRETS,
    ROOT,
    SCALE_SECRETS,
    SCALE_VALUES,
    SETTINGS_NAMES,
    default_values,
    deployments,
    of_kind,
    one,
    render,
    render_text,
    scale_values,
    settings_from_env,
)

# The chart's kubeVersion floor and the newest schemas kubernetes-validate bundles.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
PROFILES = {"default": default_values, "scale": scale_values}
CREDENTIALS = ("JWT_SECRET", "ENCRYPTION_KEY", "MONGODB_URI", "REDIS_URL", "REFLEX_REDIS_URL",
               "ADMIN_EMAIL", "ADMIN_PASSWORD", "SMTP_USER", "SMTP_PASSWORD", "METRICS_TOKEN")


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def test_chart_metadata_is_loaded_by_helm():
    chart = helm.Chart.load(CHART)
    assert chart.name == "gatehouse"
    assert chart.metadata["kubeVersion"].startswith(">=1.25")


# -- rendering and schema validation ---------------------------------------------------------------

@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(profile, kube_version):
    docs = render(PROFILES[profile]())
    assert len(docs) >= 7
    for doc in docs:
        # Strict: unknown fields are errors; a kind without a bundled schema raises too.
        kubernetes_validate.validate(doc, kube_version, strict=True)


def test_the_schema_validation_rejects_broken_manifests():
    api = deployments(render(default_values()))["api"]
    containers(api)[0]["readinessprobe"] = {"httpGet": {"path": "/health/ready", "port": "http"}}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(api, KUBE_VERSIONS[-1], strict=True)
    del containers(api)[0]["readinessprobe"]
    api["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBE_VERSIONS[-1], strict=True)


SAME_NODE = [{"labelSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE},
                                 "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In",
                                                       "values": ["api", "console"]}]},
              "topologyKey": "kubernetes.io/hostname"}]


def test_the_default_values_are_one_node_on_sqlite():
    docs = render(default_values())
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Deployment", "NetworkPolicy", "PersistentVolumeClaim",
                     "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Service", "Service", "Service"]
    config = one(docs, "ConfigMap")["data"]
    assert config["DB_PROVIDER"] == "sqlite"
    api = deployments(docs)["api"]
    assert api["spec"]["replicas"] == 1
    # SQLite's WAL works between processes of one host only: one ReadWriteOnce volume ...
    data = one(docs, "PersistentVolumeClaim", component=None, name=f"{RELEASE}-gatehouse-data")
    assert data["spec"]["accessModes"] == ["ReadWriteOnce"]
    # ... and the API and console pods scheduled on the node of each other.
    for deployment in deployments(docs).values():
        assert pod_spec(deployment)["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] \
            == SAME_NODE
        claim = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "data")
        assert claim["persistentVolumeClaim"]["claimName"] == data["metadata"]["name"]


def test_the_default_values_run_their_own_chroma_server_for_both_pods():
    """Embedded Chroma files must never be opened by two processes, and the API and the console are two."""
    docs = render(default_values())
    chroma = deployments(docs, ("chroma",))["chroma"]
    service = one(docs, "Service", "chroma")
    port = service["spec"]["ports"][0]["port"]
    config = one(docs, "ConfigMap")["data"]
    assert config["VECTOR_PROVIDER"] == "chroma-server"
    assert config["CHROMA_URL"] == f"http://{service['metadata']['name']}:{port}"
    assert chroma["spec"]["replicas"] == 1 and chroma["spec"]["strategy"] == {"type": "Recreate"}
    [container] = containers(chroma)
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v2/heartbeat"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]  # the image's persist_path
    assert pod_spec(chroma)["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # The same version as the chromadb client the gateway pins.
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert container["image"] == "chromadb/chroma:" + next(p.split("==")[1] for p in pins if p.startswith("chromadb=="))
    # Reachable from the API and console pods only.
    policy = one(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= chroma["spec"]["template"]["metadata"][
        "labels"].items()
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["podSelector"] == SAME_NODE[0]["labelSelector"]


def test_embedded_vectors_are_refused_when_two_pods_would_open_them():
    with pytest.raises(HelmRenderError, match="embedded Chroma files must never be opened by two processes"):
        render(default_values(config={"VECTOR_PROVIDER": "embedded"}))
    # One pod alone (no console) may keep them embedded.
    docs = render(default_values(config={"VECTOR_PROVIDER": "embedded"}, console={"enabled": False},
                                 chroma={"enabled": False}))
    assert sorted(deployments(docs, ("api", "console", "chroma"))) == ["api"]
    assert one(docs, "ConfigMap")["data"]["CHROMA_URL"] == ""


@pytest.mark.parametrize("db", ["sqlite", "mongodb"])
def test_several_pods_need_the_shared_volume(db):
    values = default_values(persistence={"enabled": False}, config={"DB_PROVIDER": db},
                            secrets={"MONGODB_URI": SCALE_SECRETS["MONGODB_URI"]})
    with pytest.raises(HelmRenderError, match="each would have a DATA_DIR of its own"):
        render(values)


def test_console_and_api_are_separate_deployments_with_their_own_services():
    docs = render(default_values())
    by_component = deployments(docs)
    assert sorted(by_component) == ["api", "console"]
    assert containers(by_component["api"])[0]["command"][:4] == ["python", "-m", "gateway_app", "serve-api"]
    assert "gateway_app serve " in containers(by_component["console"])[0]["command"][-1]
    for component, deployment in by_component.items():
        service = one(docs, "Service", component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        other = by_component["console" if component == "api" else "api"]
        assert not service["spec"]["selector"].items() <= other["spec"]["template"]["metadata"]["labels"].items()


# -- SQLite refuses to be spread over nodes ------------------------------------------------------

@pytest.mark.parametrize("override", [
    {"api": {"replicas": 2}},
    {"api": {"autoscaling": {"enabled": True}}},
    {"console": {"replicas": 2}, "secrets": {"REFLEX_REDIS_URL": "redis://r:6379/1"}},
], ids=["api-replicas", "api-autoscaling", "console-replicas"])
def test_sqlite_with_several_pods_fails_to_render_unless_single_node(override):
    with pytest.raises(HelmRenderError, match=r"DB_PROVIDER=sqlite with .*singleNode: true") as failure:
        render(default_values(singleNode=False, **override))
    assert "SQLite files cannot be shared by pods on several nodes" in str(failure.value)
    # An operator who keeps every pod on one node may run several.
    docs = render(default_values(singleNode=True, **override))
    for deployment in deployments(docs).values():
        assert pod_spec(deployment)["affinity"]["podAffinity"]


def test_sqlite_refuses_a_read_write_many_volume():
    with pytest.raises(HelmRenderError, match="ReadWriteMany with DB_PROVIDER=sqlite: use ReadWriteOnce"):
        render(default_values(persistence={"accessMode": "ReadWriteMany"}))


# -- the scale profile -----------------------------------------------------------------------------

def test_the_scale_profile_file_asks_for_several_api_pods_on_shared_services():
    values = helm.values_from_yaml(SCALE_VALUES.read_text())
    assert values["singleNode"] is False
    assert values["api"]["replicas"] >= 2
    assert values["api"]["autoscaling"]["enabled"] is True
    assert values["config"]["DB_PROVIDER"] == "mongodb"


def test_the_scale_profile_runs_the_api_behind_an_hpa_and_a_pdb():
    docs = render(scale_values())
    api = deployments(docs)["api"]
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    console_labels = deployments(docs)["console"]["spec"]["template"]["metadata"]["labels"]

    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": api["metadata"]["name"]}
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # The HPA owns the replica count: a Deployment that sets one would be reset by every upgrade.
    assert "replicas" not in api["spec"]
    # Utilisation is relative to the request: without one the HPA cannot scale.
    assert containers(api)[0]["resources"]["requests"]["cpu"]

    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert not selector.items() <= console_labels.items()

    # Spread over nodes, not pinned to one.
    assert "affinity" not in pod_spec(api)
    spread = {c["topologyKey"] for c in pod_spec(api)["topologySpreadConstraints"]}
    assert spread == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


def test_the_scale_profile_shares_mongodb_redis_and_a_chroma_server():
    docs = render(scale_values())
    config = one(docs, "ConfigMap")["data"]
    assert config["DB_PROVIDER"] == "mongodb"
    assert config["CACHE_PROVIDER"] == "redis"
    assert config["VECTOR_PROVIDER"] == "chroma-server"
    assert config["CHROMA_URL"].startswith("http://")
    secret = one(docs, "Secret")["stringData"]
    assert secret["MONGODB_URI"] == SCALE_SECRETS["MONGODB_URI"]
    assert secret["REDIS_URL"] == SCALE_SECRETS["REDIS_URL"]
    # DATA_DIR keeps uploaded files every API pod reads: one volume shared between nodes.
    assert one(docs, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    # Both Deployments read the same ConfigMap and Secret.
    sources = {tuple(sorted(str(s) for s in containers(d)[0]["envFrom"])) for d in deployments(docs).values()}
    assert len(sources) == 1


@pytest.mark.parametrize(("override", "reason"), [
    ({"secrets": {"MONGODB_URI": ""}}, "secrets.MONGODB_URI is required with DB_PROVIDER=mongodb"),
    ({"secrets": {"REDIS_URL": ""}}, "secrets.REDIS_URL is required with config.CACHE_PROVIDER=redis"),
    ({"config": {"CACHE_PROVIDER": "memory"}}, "API pods need config.CACHE_PROVIDER=redis"),
    ({"config": {"VECTOR_PROVIDER": "embedded"}}, "embedded Chroma files must never be opened by two processes"),
    ({"config": {"CHROMA_URL": ""}}, "config.CHROMA_URL is required"),
    ({"config": {"CHROMA_URL": "chroma:8000"}}, "an http(s):// URL"),
    ({"persistence": {"accessMode": "ReadWriteOnce"}}, "use ReadWriteMany"),
    ({"persistence": {"enabled": False}}, "each would have a DATA_DIR of its own"),
    ({"console": {"replicas": 2}}, "needs secrets.REFLEX_REDIS_URL"),
    ({"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}}, "minReplicas=5 is above maxReplicas=3"),
], ids=["mongodb-uri", "redis-url", "cache", "vectors", "chroma-url", "chroma-scheme", "volume", "no-volume",
        "console-state", "hpa-bounds"])
def test_several_api_pods_fail_to_render_without_their_shared_services(override, reason):
    with pytest.raises(HelmRenderError) as failure:
        render(scale_values(**override))
    assert reason in str(failure.value)


# -- probes, shutdown, secrets, security --------------------------------------------------------------

@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_probes_use_the_health_endpoints(profile):
    for deployment in deployments(render(PROFILES[profile]())).values():
        [container] = containers(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert "http" in ports
        # The server listens on the port the probes reach.
        command = " ".join(container["command"])
        assert re.search(rf"--port[ ]+{ports['http']}\b", command), command


@pytest.mark.parametrize("grace", [20, "45", 7.5, 0, 600])
def test_termination_grace_period_outlasts_shutdown_grace_seconds(grace):
    docs = render(default_values(config={"SHUTDOWN_GRACE_SECONDS": grace}))
    assert float(one(docs, "ConfigMap")["data"]["SHUTDOWN_GRACE_SECONDS"]) == float(grace)
    for deployment in deployments(docs).values():
        [container] = containers(deployment)
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        # The kubelet's clock starts before preStop: the pause, then the drain, then flushing.
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > float(grace) + int(pre_stop[1])


@pytest.mark.parametrize("grace", ["soon", "-1", 601])
def test_an_unusable_shutdown_grace_fails_to_render(grace):
    with pytest.raises(HelmRenderError, match="config.SHUTDOWN_GRACE_SECONDS"):
        render(default_values(config={"SHUTDOWN_GRACE_SECONDS": grace}))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_an_existing_secret_replaces_the_charts_secret(profile):
    values = PROFILES[profile]()
    values["secrets"] = {"existingSecret": "gatehouse-prod"}  # nothing else: the Secret holds the keys
    docs = render(values)
    assert of_kind(docs, "Secret") == []
    for deployment in deployments(docs).values():
        [container] = containers(deployment)
        secret_refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        assert secret_refs == ["gatehouse-prod"]


@pytest.mark.parametrize(("secrets", "reason"), [
    ({}, "secrets.JWT_SECRET is required"),
    ({"JWT_SECRET": "short", "ENCRYPTION_KEY": REQUIRED_SECRETS["ENCRYPTION_KEY"]}, "32+ random characters"),
    ({"JWT_SECRET": REQUIRED_SECRETS["JWT_SECRET"]}, "secrets.ENCRYPTION_KEY is required"),
])
def test_the_charts_secret_needs_the_keys_the_gateway_refuses_to_default(secrets, reason):
    with pytest.raises(HelmRenderError, match=re.escape(reason)):
        render({"secrets": secrets})


def test_the_dockerfile_user_is_the_pods_user():
    user = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    assert user == ["10001:10001"]
    pod = pod_spec(deployments(render(default_values()))["api"])["securityContext"]
    assert f"{pod['runAsUser']}:{pod['runAsGroup']}" == user[0]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_pods_run_as_non_root_without_capabilities(profile):
    for component, deployment in deployments(render(PROFILES[profile]())).items():
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        [container] = containers(deployment)
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context.get("privileged")
        assert "add" not in context["capabilities"]
        # /tmp is an emptyDir with a bound; the API's root filesystem is read-only (the console
        # rebuilds its frontend under /app when Reflex starts, so its root stays writable).
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert tmp["emptyDir"]["sizeLimit"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert context["readOnlyRootFilesystem"] is (component == "api")
        assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_secrets_are_never_rendered_into_the_configmap(profile):
    values = PROFILES[profile](secrets={"ADMIN_EMAIL": "ops@example.com", "ADMIN_PASSWORD": "admin-pass-9876",
                                        "SMTP_PASSWORD": "smtp-pass-5432", "METRICS_TOKEN": "scrape-token-2468"})
    files = render_text(values)
    docs = render(values)
    config = one(docs, "ConfigMap")["data"]
    assert not set(config) & set(CREDENTIALS)
    secret = one(docs, "Secret")["stringData"]
    assert {"JWT_SECRET", "ENCRYPTION_KEY", "ADMIN_PASSWORD", "SMTP_PASSWORD", "METRICS_TOKEN"} <= set(secret)
    # No secret value appears in any other manifest (ConfigMap, Deployments, annotations).
    for path, text in files.items():
        if path.endswith("/secret.yaml"):
            continue
        for name, value in secret.items():
            assert value not in text, f"{name} rendered into {path}"


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_credential_put_under_config_fails_to_render(name):
    with pytest.raises(HelmRenderError, match=rf"config.{name}: a credential, never put in the ConfigMap"):
        render(default_values(config={name: "s3cret"}))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_rendered_environment_is_the_gateways_settings(profile):
    docs = render(PROFILES[profile](secrets={"REFLEX_REDIS_URL": "redis://r:6379/1"}))
    config = one(docs, "ConfigMap")["data"]
    secret = one(docs, "Secret")["stringData"]
    # Every name is one the gateway reads (a typo such as REDIS_URI would be ignored silently).
    assert set(config) <= SETTINGS_NAMES, set(config) - SETTINGS_NAMES
    assert set(secret) <= SETTINGS_NAMES | REFLEX_NAMES, set(secret) - SETTINGS_NAMES - REFLEX_NAMES
    # And the gateway accepts the whole environment, production rules included.
    settings = settings_from_env({**config, **secret})
    assert settings.env == "production"
    assert settings.db_provider == config["DB_PROVIDER"]
    assert settings.shutdown_grace_seconds == float(config["SHUTDOWN_GRACE_SECONDS"])


# -- helm lint and the values schema ---------------------------------------------------------------

@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_helm_lint_passes(profile):
    report = helm.lint(CHART, PROFILES[profile](), strict=True, kube_version=f"v{KUBE_VERSIONS[0]}")
    assert report["errors"] == []
    # Severity 1 is informational (Chart.yaml has no icon); 2 is a warning, 3 an error.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_helm_lint_and_render_refuse_values_outside_the_schema():
    report = helm.lint(CHART, default_values(api={"replicas": "two"}))
    assert report["errors"]
    with pytest.raises(HelmValuesError, match="/api/replicas"):
        render(default_values(api={"replicas": "two"}))
    with pytest.raises(HelmValuesError, match="DB_PROVIDER"):
        render(default_values(config={"DB_PROVIDER": "postgres"}))
    with pytest.raises(HelmValuesError, match="replica"):  # a typo of a key is not silently ignored
        render(default_values(api={"replica": 3}))
