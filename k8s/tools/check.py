"""Checks behind k8s/validate. Every failure is printed and makes the exit code 1.

    check.py overlay dev|production RENDERED.yaml [EXTRA.yaml]
        the rendered overlay (and, for production, what make-secrets printed):
        schemas, pod security, probes, references, replicas, disruption budgets,
        NetworkPolicy reachability, and configuration keys against the Rust structs
    check.py monitoring RENDERED.yaml       the rendered k8s/monitoring
    check.py image                          Dockerfile and .dockerignore against the repo, and
                                            the binary's targets against the Deployments
    check.py argocd RENDERED.yaml           the rendered k8s/argocd: what the Applications
                                            point at, their sync policies, their project

Run by k8s/validate inside its tools environment (kubernetes-validate, PyYAML,
dockerfile); the repository root is two levels above this file.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import ed25519  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
# Oldest and newest Kubernetes the manifests are validated against. 1.30 is the first
# with the preStop `sleep` action on by default; 1.37 is the newest kubernetes-validate
# ships schemas for.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
NAMESPACE = "c9pay"
PARTS = ["auth", "users", "credit", "stores", "router"]
SUBGRAPHS = ["auth", "users", "credit", "stores"]
AUTOSCALED = ["router", "credit", "stores"]
ISSUERS = ["router", "auth", "stores", "credit"]  # the parts that sign internal tokens
RUN_AS_USER = 10001  # the Dockerfile's `c9pay` user

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"  FAIL {message}")


def ok(message: str) -> None:
    print(f"  ok   {message}")


def finish() -> None:
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)


def load_objects(*paths: str) -> list[dict]:
    objects = []
    for path in paths:
        with open(path) as stream:
            objects += [document for document in yaml.safe_load_all(stream) if document]
    return objects


def ident(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def labels_match(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); an empty one matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator}")
    return True


# --- schemas -----------------------------------------------------------------------------


def check_schemas(objects: list[dict]) -> None:
    """Strict validation (unknown fields are errors) against every version; a kind without
    a schema is an error too, never a skip."""
    for version in KUBERNETES_VERSIONS:
        bad = 0
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                fail(f"{ident(obj)} is not a valid {obj['apiVersion']} {obj['kind']} for Kubernetes {version}: {path}: {error.message}")
                bad += 1
            except kubernetes_validate.SchemaNotFoundError as error:
                fail(f"{ident(obj)}: {error.message}")
                bad += 1
            except Exception as error:  # an unsupported version, a broken schema: never a pass
                fail(f"{ident(obj)} could not be validated for Kubernetes {version}: {error!r}")
                bad += 1
        if not bad:
            ok(f"{len(objects)} objects valid against the Kubernetes {version} schemas (strict)")


def check_identity(objects: list[dict], namespace: str) -> None:
    counts = Counter((obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) for obj in objects)
    duplicates = [key for key, count in counts.items() if count > 1]
    for kind, _, name in duplicates:
        fail(f"{kind}/{name} is rendered twice")
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    wrong = [ident(obj) for obj in objects
             if obj["kind"] not in cluster_scoped and obj["metadata"].get("namespace") != namespace]
    for name in wrong:
        fail(f"{name} is not in namespace {namespace}")
    if not duplicates and not wrong:
        ok(f"every object is unique and in namespace {namespace}")


# --- workloads -------------------------------------------------------------------------


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]


def check_pod_security(objects: list[dict]) -> None:
    """What the namespace's `restricted` Pod Security profile demands, plus this project's
    own rules: read-only root, resources, probes, pinned images, no API token."""
    for workload in workloads(objects):
        name = ident(workload)
        pod = workload["spec"]["template"]["spec"]
        before = len(failures)
        security = pod.get("securityContext") or {}
        if security.get("runAsNonRoot") is not True:
            fail(f"{name}: pod securityContext.runAsNonRoot is not true")
        if (security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            fail(f"{name}: pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            fail(f"{name}: the pod mounts a service account token it does not need")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            fail(f"{name}: uses a host namespace")
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name} container {container['name']}"
            context = container.get("securityContext") or {}
            if context.get("allowPrivilegeEscalation") is not False:
                fail(f"{where}: allowPrivilegeEscalation is not false")
            if context.get("readOnlyRootFilesystem") is not True:
                fail(f"{where}: readOnlyRootFilesystem is not true")
            if context.get("privileged"):
                fail(f"{where}: is privileged")
            if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
                fail(f"{where}: does not drop ALL capabilities")
            if (context.get("capabilities") or {}).get("add"):
                fail(f"{where}: adds capabilities")
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(kind) or {}):
                        fail(f"{where}: no {kind}.{resource}")
            if container in pod["containers"]:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        fail(f"{where}: no {probe}")
            image = container.get("image", "")
            tag = image.rsplit("/", 1)[-1]
            if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
                fail(f"{where}: image {image!r} is not pinned to a tag or digest")
        if len(failures) == before:
            ok(f"{name}: non-root, seccomp, read-only root, no capabilities, resources, probes, pinned image")


def container_named(pod: dict, name: str) -> dict | None:
    return next((container for container in pod["containers"] if container["name"] == name), None)


def check_parts(objects: list[dict]) -> None:
    """The five c9pay Deployments: one image, `c9pay run <part>`, port 8080, the three
    operational endpoints, graceful drain, spread, and the metrics discovery label."""
    deployments = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Deployment")}
    images = set()
    for part in PARTS:
        deployment = deployments.get(part)
        if deployment is None:
            fail(f"no Deployment/{part}")
            continue
        before = len(failures)
        template = deployment["spec"]["template"]
        pod = template["spec"]
        container = container_named(pod, "c9pay")
        if container is None:
            fail(f"Deployment/{part}: no container named c9pay")
            continue
        images.add(container["image"])
        arguments = container.get("args") or []
        if container.get("command") or arguments[:2] != ["run", part]:
            fail(f"Deployment/{part}: runs {container.get('command')} {arguments}, not the image's `c9pay run {part}`")
        if pod["securityContext"].get("runAsUser") != RUN_AS_USER:
            fail(f"Deployment/{part}: runAsUser is not {RUN_AS_USER}, the image's user")
        ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
        if ports != {"http": 8080}:
            fail(f"Deployment/{part}: ports are {ports}, not http=8080")
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready"), ("startupProbe", "/health")):
            get = (container.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != path or get.get("port") not in ("http", 8080):
                fail(f"Deployment/{part}: {probe} is not GET {path} on port 8080")
        pre_stop = ((container.get("lifecycle") or {}).get("preStop")) or {}
        seconds = (pre_stop.get("sleep") or {}).get("seconds", 0)
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if not 0 < seconds < grace:
            fail(f"Deployment/{part}: preStop sleep {seconds}s is not within the {grace}s grace period")
        spread = {constraint["topologyKey"] for constraint in pod.get("topologySpreadConstraints", [])
                  if labels_match(constraint.get("labelSelector"), template["metadata"]["labels"])}
        if not {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= spread:
            fail(f"Deployment/{part}: not spread over hostnames and zones ({sorted(spread)})")
        annotations = template["metadata"].get("annotations") or {}
        expected = {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}
        if any(annotations.get(key) != value for key, value in expected.items()):
            fail(f"Deployment/{part}: prometheus.io annotations are not {expected}")
        if template["metadata"]["labels"].get("app.kubernetes.io/part-of") != "c9pay":
            fail(f"Deployment/{part}: pods lack app.kubernetes.io/part-of=c9pay (metrics discovery)")
        if (deployment["spec"].get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable") != 0:
            fail(f"Deployment/{part}: a rolling update may take a ready pod away first (maxUnavailable != 0)")
        if len(failures) == before:
            ok(f"Deployment/{part}: `c9pay run {part}`, :8080 /health /ready /metrics, preStop {seconds}s, spread, scraped")
    if len(images) > 1:
        fail(f"the parts run different images: {sorted(images)}")
    elif images:
        ok(f"one image for all parts: {images.pop()}")


def check_services(objects: list[dict]) -> None:
    """Every Service selects pods, and its target port is a port of those pods."""
    templates = [(ident(w), w["spec"]["template"]) for w in workloads(objects)]
    for service in by_kind(objects, "Service"):
        selector = service["spec"].get("selector") or {}
        selected = [(name, template) for name, template in templates
                    if selector and all(template["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        if not selected:
            fail(f"{ident(service)} selects no pods ({selector})")
            continue
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for name, template in selected:
                container_ports = [p for c in template["spec"]["containers"] for p in c.get("ports", [])]
                if not any(target in (p.get("name"), p["containerPort"]) for p in container_ports):
                    fail(f"{ident(service)} port {port['port']} targets {target!r}, which {name} does not expose")
        ok(f"{ident(service)} -> {', '.join(name for name, _ in selected)}")
    if "Service/metrics" in {ident(s) for s in by_kind(objects, "Service")}:
        metrics = next(s for s in by_kind(objects, "Service") if s["metadata"]["name"] == "metrics")
        selected = sorted(w["metadata"]["name"] for w in workloads(objects)
                          if all(w["spec"]["template"]["metadata"]["labels"].get(k) == v
                                 for k, v in metrics["spec"]["selector"].items()))
        if selected != sorted(PARTS):
            fail(f"Service/metrics (Prometheus discovery) selects {selected}, not the five parts")


def check_scaling(objects: list[dict], replicas_min: int, pdbs_expected: bool) -> None:
    deployments = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Deployment")}
    autoscalers = {}
    for hpa in by_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment" or target["name"] not in deployments:
            fail(f"{ident(hpa)} scales {target['kind']}/{target['name']}, which is not rendered")
            continue
        autoscalers[target["name"]] = hpa
        metrics = hpa["spec"].get("metrics") or []
        if not any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu" for m in metrics):
            fail(f"{ident(hpa)} does not scale on CPU")
        pod = deployments[target["name"]]["spec"]["template"]["spec"]
        if not all("cpu" in ((c.get("resources") or {}).get("requests") or {}) for c in pod["containers"]):
            fail(f"{ident(hpa)}: CPU utilisation needs CPU requests on every container")
        if "replicas" in deployments[target["name"]]["spec"]:
            fail(f"Deployment/{target['name']} sets replicas although {ident(hpa)} owns the count")
    if sorted(autoscalers) != sorted(AUTOSCALED):
        fail(f"autoscaled on CPU: {sorted(autoscalers)}, expected {sorted(AUTOSCALED)}")
    for name in PARTS:
        if name not in deployments:
            continue
        if name in autoscalers:
            low, high = autoscalers[name]["spec"].get("minReplicas", 1), autoscalers[name]["spec"]["maxReplicas"]
            if low < replicas_min or high < low:
                fail(f"HorizontalPodAutoscaler/{name}: {low}..{high} replicas, expected at least {replicas_min}")
        else:
            low = deployments[name]["spec"].get("replicas", 1)
            if low < replicas_min:
                fail(f"Deployment/{name}: {low} replicas, expected at least {replicas_min}")
    budgets = by_kind(objects, "PodDisruptionBudget")
    if pdbs_expected:
        for name in PARTS:
            labels = deployments[name]["spec"]["template"]["metadata"]["labels"] if name in deployments else {}
            matching = [b for b in budgets if labels_match(b["spec"]["selector"], labels)]
            if len(matching) != 1 or matching[0]["spec"].get("minAvailable") != 1:
                fail(f"Deployment/{name}: expected exactly one PodDisruptionBudget with minAvailable 1, found {len(matching)}")
    elif budgets:
        fail(f"unexpected PodDisruptionBudgets with single replicas: {[ident(b) for b in budgets]}")
    for budget in budgets:
        if not any(labels_match(budget["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"]) for w in workloads(objects)):
            fail(f"{ident(budget)} selects no pods")
    ok(f"replicas >= {replicas_min}; CPU autoscaling for {', '.join(sorted(autoscalers))}; "
       + ("one PodDisruptionBudget (minAvailable 1) per part" if pdbs_expected else "no PodDisruptionBudgets"))


# --- references ------------------------------------------------------------------------


def references(objects: list[dict]) -> list[tuple[str, str, str | None, str]]:
    """(kind, name, key or None, where) for every ConfigMap/Secret a pod or Ingress uses."""
    found = []
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{ident(workload)} container {container['name']}"
            for variable in container.get("env", []):
                source = variable.get("valueFrom") or {}
                for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if field in source and not source[field].get("optional"):
                        found.append((kind, source[field]["name"], source[field]["key"], f"{where} env {variable['name']}"))
            for source in container.get("envFrom", []):
                for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if field in source:
                        found.append((kind, source[field]["name"], None, f"{where} envFrom"))
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                found.append(("ConfigMap", volume["configMap"]["name"], None, f"{ident(workload)} volume {volume['name']}"))
            if "secret" in volume:
                found.append(("Secret", volume["secret"]["secretName"], None, f"{ident(workload)} volume {volume['name']}"))
    for ingress in by_kind(objects, "Ingress"):
        for tls in ingress["spec"].get("tls", []):
            found.append(("Secret", tls["secretName"], None, f"{ident(ingress)} tls"))
    return found


def data_keys(obj: dict) -> set[str]:
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {}) | set(obj.get("binaryData") or {})


def check_references(objects: list[dict], external: dict[tuple[str, str], set[str] | None]) -> None:
    """Every referenced ConfigMap/Secret key exists among the rendered objects, or is one
    the overlay says is created outside it (`external`: (kind, name) -> keys)."""
    rendered = {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects if obj["kind"] in ("ConfigMap", "Secret")}
    used_external = set()
    for kind, name, key, where in references(objects):
        if (kind, name) in rendered:
            if key is not None and key not in data_keys(rendered[(kind, name)]):
                fail(f"{where}: {kind}/{name} has no key {key!r}")
        elif (kind, name) in external:
            used_external.add((kind, name))
            keys = external[(kind, name)]
            if key is not None and keys is not None and key not in keys:
                fail(f"{where}: external {kind}/{name} is not expected to have key {key!r}")
        else:
            fail(f"{where}: {kind}/{name} is neither rendered nor a declared external object")
    for kind, name in sorted(set(external) - used_external):
        fail(f"declared external {kind}/{name} is used by nothing")
    for ingress in by_kind(objects, "Ingress"):
        services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
        tls_hosts = {host for tls in ingress["spec"].get("tls", []) for host in tls.get("hosts", [])}
        for rule in ingress["spec"].get("rules", []):
            if rule.get("host") not in tls_hosts:
                fail(f"{ident(ingress)}: host {rule.get('host')} has no TLS")
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services.get(backend["name"])
                port_names = {p.get("name") for p in service["spec"]["ports"]} | {p["port"] for p in service["spec"]["ports"]} if service else set()
                if backend["port"].get("name", backend["port"].get("number")) not in port_names:
                    fail(f"{ident(ingress)}: backend {backend['name']}:{backend['port']} is not a Service port")
    ok("every ConfigMap/Secret reference resolves"
       + (f" (external: {', '.join(f'{k}/{n}' for k, n in sorted(external))})" if external else ""))


# --- configuration keys against the Rust structs ----------------------------------------


CONFIG_SOURCES = {
    "auth": ("subgraphs/auth/src/config.rs", "AuthConfig"),
    "users": ("subgraphs/users/src/config.rs", "UsersConfig"),
    "credit": ("subgraphs/credit/src/config.rs", "CreditConfig"),
    "stores": ("subgraphs/stores/src/config.rs", "StoresConfig"),
    "router": ("router/src/config.rs", "RouterConfig"),
}
SHARED_CONFIG_FILES = ["crates/platform/src/database.rs", "crates/platform/src/internal_token.rs", "crates/platform/src/telemetry.rs"]
# Fields the Rust type leaves optional (the router's `access = "open"` takes none of them)
# that the manifests must give all the same: c9pay runs only with `access = "authenticated"`.
REQUIRED_IN_MANIFESTS = {"RouterConfig": ["jwks_url", "internal_signing_key", "subgraph_urls"]}
# Keys the manifests must never set: `access` would turn the router into an
# unauthenticated gateway.
FORBIDDEN_IN_MANIFESTS = {"RouterConfig": ["access"]}


def rust_structs() -> dict[str, dict[str, tuple[str, bool]]]:
    """struct name -> field -> (type, required) for the serde structs of the config files.
    A field is optional when it has a serde default or is an Option."""
    structs: dict[str, dict[str, tuple[str, bool]]] = {}
    files = [path for path, _ in CONFIG_SOURCES.values()] + SHARED_CONFIG_FILES
    for relative in files:
        path = REPOSITORY / relative
        if not path.exists():
            fail(f"{relative} does not exist (not committed yet? if it moved, update CONFIG_SOURCES in k8s/tools/check.py)")
            continue
        source = path.read_text()
        for match in re.finditer(r"((?:#\[[^\n]*\]\s*\n)*)pub struct (\w+) \{\n(.*?)\n\}", source, re.S):
            struct_attributes, name, body = match.groups()
            struct_default = "default" in struct_attributes and "serde(" in struct_attributes
            fields: dict[str, tuple[str, bool]] = {}
            pending_default = False
            for line in body.splitlines():
                line = line.strip()
                if line.startswith("#[serde(") and re.search(r"\bdefault\b", line):
                    pending_default = True
                field = re.match(r"pub (\w+): (.+),$", line)
                if field:
                    field_name, field_type = field.groups()
                    optional = pending_default or struct_default or field_type.startswith("Option<")
                    fields[field_name] = (field_type, not optional)
                    pending_default = False
            for field_name in REQUIRED_IN_MANIFESTS.get(name, []):
                if field_name in fields:
                    fields[field_name] = (fields[field_name][0], True)
            structs[name] = fields
    return structs


def check_configuration(objects: list[dict]) -> None:
    """The environment variables and config files each part is given name real fields of
    its config struct (they refuse unknown keys), and every required field is given."""
    structs = rust_structs()
    config_maps = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "ConfigMap")}
    deployments = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Deployment")}

    def walk(struct: str, path: list[str], where: str) -> tuple[str, ...] | None:
        fields = structs.get(struct)
        if fields is None:
            fail(f"{where}: cannot find struct {struct} in the config sources")
            return None
        head, rest = path[0], path[1:]
        if head not in fields:
            fail(f"{where}: {struct} has no field {head!r} (fields: {', '.join(sorted(fields))})")
            return None
        field_type = fields[head][0].removeprefix("Option<").removesuffix(">")
        if not rest:
            return (head,)
        if re.match(r"(BTreeMap|HashMap)<String,", field_type):
            return (head,) if len(rest) == 1 else None
        nested = re.match(r"(?:\w+::)*(\w+)$", field_type)
        if nested and nested.group(1) in structs:
            deeper = walk(nested.group(1), rest, where)
            return (head,) + deeper if deeper else None
        fail(f"{where}: {head} is a {field_type}, which has no field {rest[0]!r}")
        return None

    def missing_required(struct: str, given: set[tuple[str, ...]], prefix: tuple[str, ...] = ()) -> list[str]:
        absent = []
        for field, (field_type, required) in structs.get(struct, {}).items():
            here = prefix + (field,)
            nested = re.match(r"(?:\w+::)*(\w+)$", field_type)
            present = any(path[: len(here)] == here for path in given)
            if nested and nested.group(1) in structs and present:
                absent += missing_required(nested.group(1), given, here)
            elif required and not present:
                absent.append(".".join(here))
        return absent

    for part, (source, struct) in CONFIG_SOURCES.items():
        deployment = deployments.get(part)
        if deployment is None or struct not in structs:
            if struct not in structs:
                fail(f"cannot find `pub struct {struct}` in {source}")
            continue
        container = container_named(deployment["spec"]["template"]["spec"], "c9pay")
        prefix = f"C9PAY_{part.upper()}__"
        given: set[tuple[str, ...]] = set()
        for variable in container.get("env", []):
            if not variable["name"].startswith(prefix):
                continue
            path = variable["name"][len(prefix):].lower().split("__")
            resolved = walk(struct, path, f"Deployment/{part} env {variable['name']}")
            if resolved:
                given.add(tuple(path))
        arguments = container.get("args") or []
        if "--config" in arguments:
            file = arguments[arguments.index("--config") + 1]
            text = config_file_text(deployment, container, config_maps, file)
            if text is not None:
                try:
                    document = tomllib.loads(text)
                except tomllib.TOMLDecodeError as error:
                    fail(f"Deployment/{part}: {file} is not TOML: {error}")
                    document = {}
                for path in toml_paths(document):
                    if walk(struct, list(path), f"Deployment/{part} {file} key {'.'.join(path)}"):
                        given.add(path)
        for field in FORBIDDEN_IN_MANIFESTS.get(struct, []):
            if any(path[0] == field for path in given):
                fail(f"Deployment/{part}: sets {field}, which c9pay must never set")
        absent = missing_required(struct, given)
        if absent:
            fail(f"Deployment/{part}: required {struct} fields not configured: {', '.join(absent)}")
        else:
            ok(f"Deployment/{part}: {len(given)} configuration keys, all fields of {struct} ({source}), none required missing")


def toml_paths(document: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Key paths of a TOML document; a table is descended into, a value is a leaf."""
    paths = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            deeper = toml_paths(value, prefix + (key,))
            paths += deeper
        else:
            paths.append(prefix + (key,))
    return paths


def config_file_text(deployment: dict, container: dict, config_maps: dict, file: str) -> str | None:
    pod = deployment["spec"]["template"]["spec"]
    for mount in container.get("volumeMounts", []):
        directory = mount["mountPath"].rstrip("/") + "/"
        if file.startswith(directory):
            volume = next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), {})
            config_map = config_maps.get((volume.get("configMap") or {}).get("name"))
            key = file[len(directory):]
            if config_map is None or key not in (config_map.get("data") or {}):
                fail(f"{ident(deployment)}: --config {file} is not a key of a rendered ConfigMap")
                return None
            return config_map["data"][key]
    fail(f"{ident(deployment)}: --config {file} is not on a mounted volume")
    return None


def check_binary_targets() -> None:
    """`c9pay run <part>` must be a target of the binary, and make-secrets parses keygen."""
    main = (REPOSITORY / "crates/c9pay/src/main.rs").read_text()
    enum = re.search(r"enum Target \{(.*?)\}", main, re.S)
    variants = {v.lower() for v in re.findall(r"^\s*(\w+),?\s*$", enum.group(1), re.M)} if enum else set()
    for part in PARTS:
        if part not in variants:
            fail(f"crates/c9pay/src/main.rs: `enum Target` has no {part.capitalize()}, so `c9pay run {part}` cannot start")
    for line in ("signing_key (secret): {}", "public key:           {}"):
        if line not in main:
            fail(f"crates/c9pay/src/main.rs: keygen no longer prints {line!r}, which k8s/make-secrets parses")
    if variants >= set(PARTS):
        ok(f"crates/c9pay/src/main.rs runs every part ({', '.join(PARTS)}) and prints keygen as make-secrets expects")


# --- NetworkPolicy reachability --------------------------------------------------------


class Endpoint:
    def __init__(self, name, namespace=None, labels=None, ports=None, address=None):
        self.name = name
        self.namespace = namespace  # None for an address outside the cluster
        self.labels = labels or {}
        self.ports = ports or {}  # port name -> (number, protocol)
        self.address = address


def namespace_labels(namespace: str) -> dict:
    return {"kubernetes.io/metadata.name": namespace}


def peer_matches(peer: dict, policy_namespace: str, endpoint: Endpoint, namespace_objects: dict) -> bool:
    if "ipBlock" in peer:
        if endpoint.address is None:
            return False  # pod addresses are not modelled; these rules are for outside
        block = peer["ipBlock"]
        address = ipaddress.ip_address(endpoint.address)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", []))
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        labels = namespace_objects.get(endpoint.namespace, namespace_labels(endpoint.namespace))
        if not labels_match(peer["namespaceSelector"], labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return labels_match(peer.get("podSelector"), endpoint.labels)


def port_matches(ports: list[dict] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            named = destination.ports.get(wanted)
            if named and named == (port, protocol):
                return True
            continue
        if wanted <= port <= entry.get("endPort", wanted):
            return True
    return False


def allowed(policies, namespace_objects, source: Endpoint, destination: Endpoint, port: int, protocol: str) -> bool:
    """Kubernetes semantics: a pod selected by no policy of a direction allows everything
    in that direction; otherwise some rule of some selecting policy must allow it. Only
    pods of the policies' namespace are subject to them."""
    def direction(endpoint, kind, rule_key, peer_key, other):
        if endpoint.namespace != NAMESPACE:
            return True
        selecting = [p for p in policies if kind in p["spec"].get("policyTypes", ["Ingress"])
                     and labels_match(p["spec"]["podSelector"], endpoint.labels)]
        if not selecting:
            return True
        for policy in selecting:
            for rule in policy["spec"].get(rule_key) or []:
                peers = rule.get(peer_key)
                if (not peers or any(peer_matches(peer, NAMESPACE, other, namespace_objects) for peer in peers)) \
                        and port_matches(rule.get("ports"), destination, port, protocol):
                    return True
        return False

    return direction(source, "Egress", "egress", "to", destination) and \
        direction(destination, "Ingress", "ingress", "from", source)


def check_network(objects: list[dict], profile: str) -> None:
    policies = by_kind(objects, "NetworkPolicy")
    for policy in policies:
        for rule in (policy["spec"].get("ingress") or []) + (policy["spec"].get("egress") or []):
            for peer in (rule.get("from") or []) + (rule.get("to") or []):
                unknown = set(peer) - {"podSelector", "namespaceSelector", "ipBlock"}
                if unknown:
                    fail(f"{ident(policy)}: peer fields {unknown} are not modelled by this check")
    namespace_objects = {obj["metadata"]["name"]: obj["metadata"].get("labels", {}) | namespace_labels(obj["metadata"]["name"])
                         for obj in by_kind(objects, "Namespace")}
    pods = []
    for workload in workloads(objects):
        template = workload["spec"]["template"]
        ports = {p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
                 for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        pods.append(Endpoint(workload["metadata"]["name"], NAMESPACE, template["metadata"]["labels"], ports))
    by_name = {pod.name: pod for pod in pods}
    outside = [
        Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
        Endpoint("otel-collector", "monitoring", {"app.kubernetes.io/name": "otel-collector"}, {"otlp-http": (4318, "TCP")}),
        Endpoint("fake-otel-collector", "default", {"app.kubernetes.io/name": "otel-collector"}),
        Endpoint("ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        Endpoint("stranger", "default", {"app": "stranger"}),
        # Right label in the wrong namespace, or right namespace with the wrong label:
        # a policy that checks only one of the two lets these in.
        Endpoint("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}),
        Endpoint("fake-prometheus", "default", {"app.kubernetes.io/name": "prometheus"}),
        Endpoint("ingress-neighbour", "ingress-nginx", {"app.kubernetes.io/name": "default-backend"}),
        Endpoint("fake-ingress-controller", "default", {"app.kubernetes.io/name": "ingress-nginx"}),
        Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}),
        Endpoint("internet", address="203.0.113.50"),
    ]
    expected = {("router", part, 8080, "TCP") for part in SUBGRAPHS}
    expected |= {("auth", "users", 8080, "TCP"), ("stores", "credit", 8080, "TCP"), ("stores", "auth", 8080, "TCP")}
    expected |= {("credit", "auth", 8080, "TCP"), ("credit", "users", 8080, "TCP")}
    expected |= {("prometheus", part, 8080, "TCP") for part in PARTS}
    expected |= {(part, "otel-collector", OTLP_PORT, "TCP") for part in PARTS}
    expected |= {("ingress-controller", "router", 8080, "TCP")}
    expected |= {(pod.name, "kube-dns", 53, protocol) for pod in pods for protocol in ("UDP", "TCP")}
    if profile == "dev":
        # Without an Ingress in front, the router takes traffic from anywhere.
        expected |= {(endpoint.name, "router", 8080, "TCP") for endpoint in outside}
        expected |= {(part, "postgres", 5432, "TCP") for part in SUBGRAPHS}
    else:
        database = next((p for p in policies if p["metadata"]["name"] == "database-egress"), None)
        blocks = [peer["ipBlock"]["cidr"] for rule in (database or {"spec": {}})["spec"].get("egress", [])
                  for peer in rule.get("to", []) if "ipBlock" in peer]
        if not blocks:
            fail("NetworkPolicy/database-egress names no ipBlock for the external database")
        else:
            network = ipaddress.ip_network(blocks[0])
            outside.append(Endpoint("database", address=str(next(network.hosts(), network.network_address))))
            expected |= {(part, "database", 5432, "TCP") for part in SUBGRAPHS}
    endpoints = pods + outside
    probes = [(8080, "TCP"), (5432, "TCP"), (53, "UDP"), (53, "TCP"), (443, "TCP"), (9090, "TCP"), (OTLP_PORT, "TCP")]
    allowed_count = denied_count = 0
    before = len(failures)
    for source in endpoints:
        for destination in endpoints:
            if source is destination or (source.namespace != NAMESPACE and destination.namespace != NAMESPACE):
                continue
            if destination.namespace is None and source.namespace is None:
                continue
            for port, protocol in probes:
                want = (source.name, destination.name, port, protocol) in expected
                got = allowed(policies, namespace_objects, source, destination, port, protocol)
                if want and not got:
                    fail(f"network: {source.name} -> {destination.name}:{port}/{protocol} should be allowed but is denied")
                elif got and not want:
                    fail(f"network: {source.name} -> {destination.name}:{port}/{protocol} should be denied but is allowed")
                elif got:
                    allowed_count += 1
                else:
                    denied_count += 1
    missing_parts = [p for p in PARTS if p not in by_name]
    if missing_parts:
        fail(f"network: no pods for {missing_parts}")
    if len(failures) == before:
        ok(f"NetworkPolicy: {allowed_count} connections allowed and {denied_count} denied, all as designed")


# --- traces ----------------------------------------------------------------------------

# The OpenTelemetry Collector of k8s/monitoring/otel-collector.yaml, which every part's
# `telemetry.otlp_endpoint` must name.
OTLP_SERVICE, OTLP_NAMESPACE, OTLP_PORT, OTLP_PATH = "otel-collector", "monitoring", 4318, "/v1/traces"


def env_value(variable: dict, config_maps: dict) -> str | None:
    """An environment variable's value, given inline or from a rendered ConfigMap."""
    if "value" in variable:
        return variable["value"]
    reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
    if reference and reference["name"] in config_maps:
        return config_maps[reference["name"]].get("data", {}).get(reference["key"])
    return None


def check_telemetry(objects: list[dict]) -> None:
    """Every part exports its traces to the collector, with a sampling ratio in 0..1."""
    config_maps = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "ConfigMap")}
    deployments = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Deployment")}
    before = len(failures)
    ratios = set()
    for part in PARTS:
        deployment = deployments.get(part)
        if deployment is None:
            continue
        container = container_named(deployment["spec"]["template"]["spec"], "c9pay") or {}
        variables = {variable["name"]: variable for variable in container.get("env", [])}
        prefix = f"C9PAY_{part.upper()}__TELEMETRY__"
        endpoint = env_value(variables.get(prefix + "OTLP_ENDPOINT", {}), config_maps)
        ratio = env_value(variables.get(prefix + "SAMPLING_RATIO", {}), config_maps)
        if endpoint is None:
            fail(f"Deployment/{part}: no {prefix}OTLP_ENDPOINT (its traces would go nowhere)")
        else:
            url = urlsplit(endpoint)
            host = url.hostname or ""
            if (url.scheme != "http" or url.port != OTLP_PORT or url.path != OTLP_PATH
                    or host.split(".")[:2] != [OTLP_SERVICE, OTLP_NAMESPACE]):
                fail(f"Deployment/{part}: telemetry.otlp_endpoint {endpoint!r} is not the collector "
                     f"(http://{OTLP_SERVICE}.{OTLP_NAMESPACE}:{OTLP_PORT}{OTLP_PATH})")
        try:
            value = float(ratio) if ratio is not None else None
        except ValueError:
            value = None
        if value is None or not 0.0 <= value <= 1.0:
            fail(f"Deployment/{part}: {prefix}SAMPLING_RATIO is {ratio!r}, not a number from 0 to 1")
        else:
            ratios.add(value)
    if len(ratios) > 1:
        fail(f"the parts sample traces at different ratios {sorted(ratios)}: the router's decision is the one that counts")
    if len(failures) == before:
        ok(f"telemetry: every part exports its traces to {OTLP_SERVICE}.{OTLP_NAMESPACE}:{OTLP_PORT}, sampling ratio {sorted(ratios)}")


def check_collector(objects: list[dict]) -> None:
    """The collector the parts name exists: its Service on the OTLP/HTTP port, and a
    traces pipeline that receives OTLP over HTTP on that port."""
    names = {ident(obj): obj for obj in objects}
    service = names.get(f"Service/{OTLP_SERVICE}")
    config = names.get("ConfigMap/otel-collector-config")
    deployment = names.get(f"Deployment/{OTLP_SERVICE}")
    if service is None or not any(port["port"] == OTLP_PORT for port in service["spec"]["ports"]):
        fail(f"monitoring: no Service/{OTLP_SERVICE} on port {OTLP_PORT}")
        return
    if deployment is None or not labels_match({"matchLabels": service["spec"].get("selector") or {"": None}},
                                              deployment["spec"]["template"]["metadata"]["labels"]):
        fail(f"monitoring: Service/{OTLP_SERVICE} selects no Deployment/{OTLP_SERVICE} pods")
        return
    if deployment["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name") != OTLP_SERVICE:
        fail(f"monitoring: the collector's pods are not labelled app.kubernetes.io/name={OTLP_SERVICE} (NetworkPolicy telemetry-egress)")
    collector = yaml.safe_load((config or {}).get("data", {}).get("collector.yaml", "{}")) or {}
    http = (((collector.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).get("http") or {}
    pipeline = ((collector.get("service") or {}).get("pipelines") or {}).get("traces") or {}
    if not str(http.get("endpoint", "")).endswith(f":{OTLP_PORT}"):
        fail(f"monitoring: the collector does not receive OTLP/HTTP on port {OTLP_PORT}: {http}")
    elif "otlp" not in pipeline.get("receivers", []) or not pipeline.get("exporters"):
        fail(f"monitoring: the collector's traces pipeline does not take OTLP and export it: {pipeline}")
    elif any(exporter not in (collector.get("exporters") or {}) for exporter in pipeline["exporters"]):
        fail(f"monitoring: the traces pipeline names an exporter that is not configured: {pipeline['exporters']}")
    else:
        ok(f"monitoring: the OpenTelemetry Collector receives OTLP/HTTP on {OTLP_PORT} and exports to {pipeline['exporters']}")


# --- secrets ---------------------------------------------------------------------------


def secret_value(secret: dict, key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


def check_key_pairs(objects: list[dict]) -> None:
    """The trusted public keys are the public halves of the signing keys, so every
    internal token a part signs is accepted by the parts it calls."""
    secrets = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Secret")}
    trust = next((obj for obj in by_kind(objects, "ConfigMap") if obj["metadata"]["name"].startswith("c9pay-trusted-issuers")), None)
    if trust is None:
        fail("no ConfigMap c9pay-trusted-issuers")
        return
    for issuer in ISSUERS:
        secret = next((s for name, s in secrets.items() if re.fullmatch(f"c9pay-{issuer}(-[a-z0-9]{{10}})?", name)), None)
        if secret is None:
            fail(f"no Secret c9pay-{issuer}")
            continue
        try:
            public = ed25519.public_key_b64(secret_value(secret, "signing-key"))
        except (ValueError, KeyError) as error:
            fail(f"Secret c9pay-{issuer}: signing-key is not a base64 Ed25519 seed ({error})")
            continue
        if trust["data"].get(issuer) != public:
            fail(f"ConfigMap c9pay-trusted-issuers: {issuer} is not the public key of Secret c9pay-{issuer} signing-key")
    ok(f"trusted issuers ({', '.join(ISSUERS)}) are the public keys of the signing keys")


def check_dev_secrets(objects: list[dict]) -> None:
    """The dev credentials are fake on their face and agree with the dev database."""
    secrets = {re.sub(r"-[a-z0-9]{10}$", "", obj["metadata"]["name"]): obj for obj in by_kind(objects, "Secret")}
    postgres = secrets.get("postgres")
    for part in SUBGRAPHS:
        secret = secrets.get(f"c9pay-{part}")
        if secret is None or postgres is None:
            fail(f"dev: Secret c9pay-{part} or postgres missing")
            continue
        url = urlsplit(secret_value(secret, "database-url"))
        if (url.scheme, url.username, url.hostname, url.port, url.path) != ("postgres", part, "postgres", 5432, f"/{part}"):
            fail(f"dev: c9pay-{part} database-url is not postgres://{part}:…@postgres:5432/{part}")
        if url.password != secret_value(postgres, f"{part}-password"):
            fail(f"dev: c9pay-{part} database password differs from postgres {part}-password (init-databases.sh)")
        if not url.password or "dev" not in url.password:
            fail(f"dev: c9pay-{part} password does not say it is a dev password")
    for issuer in ISSUERS:
        secret = secrets.get(f"c9pay-{issuer}")
        phrase = f"c9pay dev overlay {issuer} key: published in git, never use outside a dev cluster"
        if secret and secret_value(secret, "signing-key") != base64.b64encode(hashlib.sha256(phrase.encode()).digest()).decode():
            fail(f"dev: c9pay-{issuer} signing-key is not sha256({phrase!r}); a random-looking key in git could be mistaken for a real one")
    ok("dev secrets are the published fake ones and match the dev database")


# --- commands --------------------------------------------------------------------------


PRODUCTION_EXTERNAL = {
    ("Secret", "c9pay-auth"): {"database-url", "signing-key"},
    ("Secret", "c9pay-users"): {"database-url"},
    ("Secret", "c9pay-credit"): {"database-url", "signing-key"},
    ("Secret", "c9pay-stores"): {"database-url", "signing-key"},
    ("Secret", "c9pay-router"): {"signing-key"},
    ("ConfigMap", "c9pay-trusted-issuers"): set(ISSUERS),
    ("Secret", "c9pay-tls"): None,
}


def overlay(profile: str, rendered: str, extra: str | None) -> None:
    objects = load_objects(rendered)
    print(f"{profile}: {len(objects)} objects ({', '.join(f'{n} {k}' for k, n in sorted(Counter(o['kind'] for o in objects).items()))})")
    check_schemas(objects)
    check_identity(objects, NAMESPACE)
    check_pod_security(objects)
    check_parts(objects)
    check_services(objects)
    check_configuration(objects)
    check_telemetry(objects)
    check_network(objects, profile)
    if profile == "dev":
        check_scaling(objects, replicas_min=1, pdbs_expected=False)
        check_references(objects, external={})
        check_key_pairs(objects)
        check_dev_secrets(objects)
    else:
        check_scaling(objects, replicas_min=2, pdbs_expected=True)
        committed = [ident(obj) for obj in by_kind(objects, "Secret")]
        if committed:
            fail(f"production renders Secrets from git: {committed}")
        check_references(objects, external=PRODUCTION_EXTERNAL)
        if extra:
            made = load_objects(extra)
            print(f"production + make-secrets output: {len(made)} objects")
            check_schemas(made)
            check_identity(made, NAMESPACE)
            provided = {(obj["kind"], obj["metadata"]["name"]): data_keys(obj) for obj in made}
            for (kind, name), keys in PRODUCTION_EXTERNAL.items():
                if name == "c9pay-tls":
                    continue
                if provided.get((kind, name)) != keys:
                    fail(f"make-secrets: {kind}/{name} has keys {sorted(provided.get((kind, name), []))}, expected {sorted(keys)}")
            check_references(objects + made, external={("Secret", "c9pay-tls"): None})
            check_key_pairs(made)


def monitoring(rendered: str) -> None:
    objects = load_objects(rendered)
    print(f"monitoring: {len(objects)} objects")
    check_schemas(objects)
    check_identity(objects, "monitoring")
    names = {ident(obj): obj for obj in objects}
    config = names.get("ConfigMap/prometheus-config")
    if config is None or set(config.get("data", {})) != {"prometheus.yml", "rules.yml"}:
        fail("monitoring: ConfigMap/prometheus-config with prometheus.yml and rules.yml is not rendered")
    else:
        scrape = yaml.safe_load(config["data"]["prometheus.yml"])
        names_looked_up = [name for job in scrape["scrape_configs"] for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        if f"metrics.{NAMESPACE}.svc.cluster.local" not in names_looked_up:
            fail(f"prometheus.yml does not discover metrics.{NAMESPACE}.svc.cluster.local (base/metrics.yaml)")
        else:
            ok("prometheus.yml discovers the pods of Service/metrics")
    check_collector(objects)


# Argo CD: which overlay each Application deploys, and whether it syncs by itself.
ARGOCD_APPLICATIONS = {
    "c9pay-dev": ("k8s/overlays/dev", True),
    "c9pay-production": ("k8s/overlays/production", False),
}


def argocd(rendered: str) -> None:
    """The schemas are checked by check-jsonschema against the Argo CD CRDs (k8s/validate);
    this checks what a schema cannot: that each Application deploys an overlay that
    exists, from a repository and into a destination its project allows, dev with
    automated sync, prune and self-heal, production with none."""
    objects = load_objects(rendered)
    print(f"argocd: {len(objects)} objects ({', '.join(ident(obj) for obj in objects)})")
    for obj in objects:
        if obj["metadata"].get("namespace") != "argocd":
            fail(f"{ident(obj)} is not in namespace argocd, where Argo CD reads Applications")
    projects = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "AppProject")}
    applications = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Application")}
    if set(applications) != set(ARGOCD_APPLICATIONS):
        fail(f"argocd: Applications {sorted(applications)}, expected {sorted(ARGOCD_APPLICATIONS)}")
    repositories = set()
    for name, (path, automated_expected) in ARGOCD_APPLICATIONS.items():
        application = applications.get(name)
        if application is None:
            continue
        spec = application["spec"]
        source, destination = spec.get("source", {}), spec.get("destination", {})
        repositories.add(source.get("repoURL"))
        if source.get("path") != path:
            fail(f"{name}: deploys {source.get('path')!r}, expected {path!r}")
        elif not (REPOSITORY / path / "kustomization.yaml").is_file():
            fail(f"{name}: {path}/kustomization.yaml does not exist")
        else:
            ok(f"{name}: deploys {path} at {source.get('targetRevision')}")
        if source.get("targetRevision") != "main":
            fail(f"{name}: follows {source.get('targetRevision')!r}, expected main (CI publishes images from main)")
        if destination.get("namespace") != NAMESPACE:
            fail(f"{name}: deploys into namespace {destination.get('namespace')!r}, expected {NAMESPACE}")
        project = projects.get(spec.get("project"))
        if project is None:
            fail(f"{name}: its project {spec.get('project')!r} is not rendered")
        else:
            if source.get("repoURL") not in project["spec"].get("sourceRepos", []):
                fail(f"{name}: project {spec['project']} does not allow repository {source.get('repoURL')}")
            allowed_destinations = [(entry.get("name"), entry.get("namespace")) for entry in project["spec"].get("destinations", [])]
            if (destination.get("name"), destination.get("namespace")) not in allowed_destinations:
                fail(f"{name}: project {spec['project']} does not allow destination {destination}")
            else:
                ok(f"{name}: project {spec['project']} allows its repository and destination")
        automated = spec.get("syncPolicy", {}).get("automated")
        if automated_expected:
            if not (automated and automated.get("prune") is True and automated.get("selfHeal") is True):
                fail(f"{name}: expected automated sync with prune and selfHeal, got {automated}")
            else:
                ok(f"{name}: syncs automatically, prunes and self-heals")
        elif automated is not None:
            fail(f"{name}: must sync only when a person asks, but has syncPolicy.automated {automated}")
        else:
            ok(f"{name}: syncs only by hand")
    if len(repositories) != 1:
        fail(f"argocd: the Applications deploy from different repositories: {sorted(map(str, repositories))}")


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for line in (REPOSITORY / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        if re.search(r"[\[\]\\]", pattern):
            fail(f".dockerignore: pattern {line!r} uses syntax this check does not model")
            continue
        expression = ""
        for token in re.split(r"(\*\*/?|\*|\?)", pattern):
            expression += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        patterns.append((negate, re.compile(expression + "(?:/.*)?$")))
    return patterns


def in_build_context(path: str, patterns) -> bool:
    """Docker's rule: the last pattern that matches the path (or a parent of it) decides."""
    included = True
    for negate, pattern in patterns:
        if pattern.match(path):
            included = negate
    return included


def dockerfile() -> None:
    import dockerfile as parser

    print("Dockerfile")
    instructions = parser.parse_file(str(REPOSITORY / "Dockerfile"))
    stages: list[list] = []
    for instruction in instructions:
        if instruction.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    if len(stages) < 2:
        fail("Dockerfile: not a multi-stage build")
        finish()
    builder_image = stages[0][0].value[0]
    workspace = tomllib.loads((REPOSITORY / "Cargo.toml").read_text())
    rust_version = workspace["workspace"]["package"]["rust-version"]
    if not re.fullmatch(rf"rust:{re.escape(rust_version)}(\.\d+)?-\w+", builder_image):
        fail(f"Dockerfile: builder {builder_image} is not rust:{rust_version}-<debian release> (Cargo.toml rust-version)")
    runtime_image = stages[-1][0].value[0]
    builder_release = builder_image.rsplit("-", 1)[-1]
    if builder_release not in runtime_image:
        fail(f"Dockerfile: runtime {runtime_image} is not the builder's Debian release {builder_release} (glibc must match)")
    build = " ".join(" ".join(i.value) for i in stages[0] if i.cmd == "RUN")
    if not re.search(r"cargo build\b[^;&]*--release[^;&]*-p c9pay\b", build) or "--locked" not in build:
        fail("Dockerfile: the builder does not run `cargo build --release --locked -p c9pay`")
    final = stages[-1]
    users = [i.value[0] for i in final if i.cmd == "USER"]
    if not users or users[-1].split(":")[0] != str(RUN_AS_USER):
        fail(f"Dockerfile: the runtime stage does not end as USER {RUN_AS_USER} (the pods' runAsUser)")
    entrypoint = [i for i in final if i.cmd == "ENTRYPOINT"]
    if not entrypoint or entrypoint[-1].value[0] != "/usr/local/bin/c9pay":
        fail("Dockerfile: ENTRYPOINT is not /usr/local/bin/c9pay (the manifests pass only `run <part>`)")
    router_toml = tomllib.loads((REPOSITORY / "k8s/base/router.toml").read_text())
    supergraph = router_toml.get("supergraph_path", "")
    copies = " ".join(" ".join(i.value) for i in final if i.cmd == "COPY")
    if supergraph not in copies:
        fail(f"Dockerfile: the runtime stage does not copy the supergraph to {supergraph} (router.toml)")
    # The build context: everything cargo needs for `-p c9pay`, and the supergraph.
    patterns = dockerignore_patterns()
    members = workspace["workspace"]["members"]
    needed = ["Cargo.toml", "Cargo.lock", "schema/supergraph.graphql"] + [f"{m}/Cargo.toml" for m in members]
    # Every file git tracks in the members (untracked build output and node_modules may
    # rightly be left out).
    tracked = subprocess.run(["git", "-C", str(REPOSITORY), "ls-files", "-z", "--", *members],
                             capture_output=True, text=True, check=True).stdout
    needed += [path for path in tracked.split("\0") if path]
    excluded = [path for path in needed if not in_build_context(path, patterns)]
    absent = [path for path in needed if not (REPOSITORY / path).exists()]
    for path in excluded[:10]:
        fail(f".dockerignore excludes {path}, which the build needs")
    for path in absent:
        fail(f"{path} does not exist, and the image build needs it")
    for unwanted in ["target/release/c9pay", ".git/HEAD", "data/auth.db", "k8s/README.md"]:
        if in_build_context(unwanted, patterns):
            fail(f".dockerignore lets {unwanted} into the build context")
    if not any(f.startswith("Dockerfile") for f in failures):
        ok(f"multi-stage: {builder_image} -> {runtime_image}, USER {RUN_AS_USER}, ENTRYPOINT c9pay, supergraph at {supergraph}")
    if not excluded and not absent:
        ok(f"build context holds the {len(members)} workspace members ({len(needed)} files) and nothing of target/, .git, data/, k8s/")


def main() -> None:
    command, *arguments = sys.argv[1:] or ["help"]
    if command == "overlay" and len(arguments) in (2, 3) and arguments[0] in ("dev", "production"):
        overlay(arguments[0], arguments[1], arguments[2] if len(arguments) == 3 else None)
    elif command == "monitoring" and len(arguments) == 1:
        monitoring(arguments[0])
    elif command == "argocd" and len(arguments) == 1:
        argocd(arguments[0])
    elif command == "image" and not arguments:
        dockerfile()
        check_binary_targets()
    else:
        print(__doc__)
        sys.exit(2)
    finish()


if __name__ == "__main__":
    main()
