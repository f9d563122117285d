#!/usr/bin/env python3
"""Validates the rendered Kubernetes overlays of k8s/ offline, and the NATS
chart's values.

    validate.py --nats-values k8s/nats/values.yaml RENDERED.yaml...

Each RENDERED.yaml is one overlay as `kubectl kustomize` prints it. Checked:

* every built-in resource against Kubernetes' own schemas (the package
  kubernetes-validate, strict: unknown fields are errors) for the oldest and
  the newest Kubernetes release Markaz supports;
* every custom resource against the schema of its kind in schemas/
  (CloudNativePG Cluster and ScheduledBackup, the Barman Cloud plugin's
  ObjectStore, KEDA ScaledObject, Gateway API Gateway and GRPCRoute); a kind
  with no schema is an error, not a warning;
* the NATS values against schemas/nats-helm-values.yaml;
* what Markaz requires of its workloads, which no schema says: non-root,
  read-only, no capabilities, seccomp RuntimeDefault, requests and limits,
  probes, a PodDisruptionBudget and one autoscaler per Deployment, a
  NetworkPolicy of its own for every pod, a ScheduledBackup and a WAL
  archive in an ObjectStore for every Cluster, references that resolve, KEDA
  triggers that name the consumers Markaz creates (`<consumer>--<producer>`
  on `MARKAZ_<PRODUCER>`), and object storage for every pod that serves the
  resources service;
* the staff console (`markaz serve --services console`): HTTP probes on its
  own port, its sign-in settings, its secrets from its own Secret and no
  other, and an upstream that reaches every gRPC service of proto/ — a
  Service whose pods serve them all, or a Gateway whose GRPCRoutes send each
  one, once, to a Service whose pods serve it.
"""

import argparse
import pathlib
import re
import sys

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

# The oldest release the manifests support (gRPC probes are GA since 1.27,
# and the oldest kept by the package) and the newest the package knows.
KUBERNETES_VERSIONS = ["1.29", kv.latest_version()]
SCHEMAS = pathlib.Path(__file__).parent / "schemas"
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.yaml",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "cnpg-scheduledbackup.yaml",
    ("barmancloud.cnpg.io/v1", "ObjectStore"): "barman-objectstore.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.yaml",
    ("gateway.networking.k8s.io/v1", "Gateway"): "gateway-api-gateway.yaml",
    ("gateway.networking.k8s.io/v1", "GRPCRoute"): "gateway-api-grpcroute.yaml",
}
# The NATS chart's client Service; its namespace is the overlay's.
NATS_STREAM_PREFIX = "MARKAZ_"
# Secrets the operator creates besides each Cluster's `-login`
# (docs/operations.md, "Kubernetes"): never in an overlay.
OPERATOR_SECRETS = {"markaz-resources-s3", "markaz-page-tokens", "markaz-db-backup-s3",
                    "markaz-console"}
# The services `markaz serve --services all` runs (crates/markaz/src/services.rs),
# and the staff console, which `all` leaves out.
SERVICES = ["membership", "capacity", "grants", "networking", "resources", "impact"]
CONSOLE = "console"
# The console's own Secret (its CSRF key, its OIDC client secret): the only
# one its pods see, and only they.
CONSOLE_SECRET = "markaz-console"
# Which service serves each gRPC package of proto/markaz (None: every
# process, beside its services). A package missing here fails the check:
# say who serves it.
PROTO = pathlib.Path(__file__).resolve().parents[2] / "proto" / "markaz"
GRPC_PACKAGES = {
    "markaz.membership.v1": "membership",
    "markaz.capacity.v1": "capacity",
    "markaz.grants.v1": "grants",
    "markaz.networking.v1": "networking",
    "markaz.resources.v1": "resources",
    "markaz.impact.v1": "impact",
    "markaz.donors.v1": "impact",
    "markaz.platform.v1": None,
}
# The Barman Cloud plugin of CloudNativePG, which archives WAL and takes the
# base backups.
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
# What a pod serving the resources service must be given: its files go to
# object storage, since a pod's filesystem is read-only and its own
# (components/object-storage).
OBJECT_STORAGE_ENV = [
    "MARKAZ_RESOURCES_S3_BUCKET",
    "MARKAZ_RESOURCES_S3_ACCESS_KEY_ID",
    "MARKAZ_RESOURCES_S3_SECRET_ACCESS_KEY",
]


def schema_registry():
    resources = []
    for path in SCHEMAS.glob("*.yaml"):
        schema = yaml.safe_load(path.read_text())
        resources.append((path.name, referencing.Resource.from_contents(schema)))
    return referencing.Registry().with_resources(resources)


REGISTRY = schema_registry()


def schema_errors(document, schema_file):
    schema = REGISTRY.get_or_retrieve(schema_file).value.contents
    validator = jsonschema.Draft202012Validator(schema, registry=REGISTRY)
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def name_of(resource):
    return f"{resource['kind']}/{resource['metadata']['name']}"


def check_schema(resource):
    key = (resource.get("apiVersion"), resource.get("kind"))
    if key in CUSTOM_KINDS:
        return schema_errors(resource, CUSTOM_KINDS[key])
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kv.validate(resource, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"Kubernetes {e.version}: {path}: {e.message}")
        except kv.SchemaNotFoundError:
            errors.append(f"no schema for {key[0]} {key[1]}: add one to tools/k8s/schemas")
            break
    return errors


def pod_spec(resource):
    if resource["kind"] in ("Deployment", "Job"):
        return resource["spec"]["template"]["spec"]
    return None


def pod_labels(resource):
    return resource["spec"]["template"].get("metadata", {}).get("labels", {})


def selects(selector, labels):
    """Whether a label selector (matchLabels and matchExpressions) picks `labels`."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def check_workload(resource, spec):
    """Non-root, read-only, no capabilities, seccomp, resources, probes."""
    errors = []
    pod_security = spec.get("securityContext", {})
    if spec.get("automountServiceAccountToken") is not False:
        errors.append("mounts a service account token (set automountServiceAccountToken: false)")
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        where = f"container {container['name']}"
        security = container.get("securityContext", {})

        def setting(key):
            return security.get(key, pod_security.get(key))

        if setting("runAsNonRoot") is not True:
            errors.append(f"{where}: runAsNonRoot is not true")
        if security.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation is not false")
        if "ALL" not in (security.get("capabilities") or {}).get("drop", []):
            errors.append(f"{where}: capabilities do not drop ALL")
        if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
            errors.append(f"{where}: seccompProfile is not RuntimeDefault")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for what in ("cpu", "memory"):
                if what not in resources.get(kind, {}):
                    errors.append(f"{where}: no {kind}.{what}")
        if resource["kind"] == "Deployment":
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe not in container:
                    errors.append(f"{where}: no {probe}")
            if console_only(container):
                # The console serves HTTP only: its probes ask its own port.
                ports = {p.get("name") for p in container.get("ports", [])} | {
                    p["containerPort"] for p in container.get("ports", [])}
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    get = container.get(probe, {}).get("httpGet")
                    if probe in container and (not get or get.get("port") not in ports):
                        errors.append(f"{where}: the {probe} is not an HTTP GET on the "
                                      "console's port")
            elif "grpc" not in container.get("readinessProbe", {}):
                errors.append(f"{where}: the readiness probe is not gRPC health")
    return errors


def served(container):
    """What `markaz serve --services X` runs, from the arguments: services,
    and `console` when named."""
    args = container.get("args", [])
    if args[:1] != ["serve"] or "--services" not in args:
        return set()
    i = args.index("--services")
    names = {n.strip() for n in args[i + 1].split(",")} if i + 1 < len(args) else set()
    if "all" in names:
        names = (names - {"all"}) | set(SERVICES)
    return names


def console_only(container):
    """Whether the container runs the staff console and no service: no
    gRPC server, no metrics server; an HTTP server."""
    return served(container) == {CONSOLE}


def grpc_services():
    """Every gRPC service of proto/markaz, by its full name, with the
    package it is in."""
    found = {}
    for path in sorted(PROTO.glob("*/v1/*.proto")):
        text = path.read_text()
        package = re.search(r"^package\s+([\w.]+)\s*;", text, re.M)
        for service in re.findall(r"^service\s+(\w+)", text, re.M):
            found[f"{package.group(1)}.{service}"] = package.group(1)
    return found


def given_env(container, config_maps):
    """The variables a container gets set to something: its env, and the
    keys of the ConfigMaps it takes whole."""
    names = {e["name"] for e in container.get("env", [])
             if e.get("value") or e.get("valueFrom")}
    for source in container.get("envFrom", []):
        data = config_maps.get(source.get("configMapRef", {}).get("name"), {})
        names |= {k for k, v in data.items() if v}
    return names


def env_settings(container, config_maps):
    """What each variable of a container is set to: ("value", text) or
    ("secret", Secret's name), from its ConfigMaps taken whole (in order)
    and then its env, as the kubelet does."""
    settings = {}
    for source in container.get("envFrom", []):
        data = config_maps.get(source.get("configMapRef", {}).get("name"), {})
        settings.update({k: ("value", v) for k, v in data.items()})
    for env in container.get("env", []):
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            settings[env["name"]] = ("secret", ref["name"])
        elif "valueFrom" in env:
            settings[env["name"]] = ("other", None)
        else:
            settings[env["name"]] = ("value", env.get("value", ""))
    return settings


def secrets_of(container):
    return {(e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name")
            for e in container.get("env", [])} - {None}


def check_console(deployment, container, config_maps):
    """The console's settings: what `markaz serve --services console`
    refuses to start without, its secrets from its Secret, its address the
    container's port."""
    errors = []
    where = f"{name_of(deployment)}: container {container['name']}"
    settings = env_settings(container, config_maps)

    def value(name):
        kind, text = settings.get(name, (None, None))
        return text.strip() if kind == "value" and text else ""

    for name in ("MARKAZ_CONSOLE_OIDC_CLIENT_ID", "MARKAZ_CONSOLE_OIDC_REDIRECT_URL"):
        if not value(name):
            errors.append(f"{where}: {name} is not set (the console signs people in with OIDC)")
    if not value("MARKAZ_CONSOLE_OIDC_DISCOVERY_URL") and not (
            value("MARKAZ_CONSOLE_OIDC_AUTHORIZE_URL") and value("MARKAZ_CONSOLE_OIDC_TOKEN_URL")):
        errors.append(f"{where}: neither MARKAZ_CONSOLE_OIDC_DISCOVERY_URL nor both "
                      "MARKAZ_CONSOLE_OIDC_AUTHORIZE_URL and _TOKEN_URL are set")
    redirect = value("MARKAZ_CONSOLE_OIDC_REDIRECT_URL")
    if redirect and not (redirect.startswith("https://") and redirect.endswith("/signin/callback")):
        errors.append(f"{where}: MARKAZ_CONSOLE_OIDC_REDIRECT_URL {redirect} is not "
                      "https://…/signin/callback")
    if value("MARKAZ_CONSOLE_COOKIE_SECURE") in ("false", "0"):
        errors.append(f"{where}: MARKAZ_CONSOLE_COOKIE_SECURE is off (plain-http dev only)")
    # Secrets come from the console's Secret, never from a ConfigMap or a
    # literal; the CSRF key must be one for every replica.
    for name, required in (("MARKAZ_CONSOLE_COOKIE_KEY", True),
                           ("MARKAZ_CONSOLE_OIDC_CLIENT_SECRET", False)):
        kind, source = settings.get(name, (None, None))
        if kind is None and required:
            errors.append(f"{where}: {name} is not set (a random key per pod: "
                          "CSRF tokens fail on another replica and after a restart)")
        elif kind is not None and (kind, source) != ("secret", CONSOLE_SECRET):
            errors.append(f"{where}: {name} does not come from the Secret {CONSOLE_SECRET}")
    if not value("MARKAZ_CONSOLE_TRUSTED_PROXIES"):
        errors.append(f"{where}: MARKAZ_CONSOLE_TRUSTED_PROXIES is not set: behind the "
                      "ingress, every visitor would count as the ingress")
    if console_only(container):
        addr = value("MARKAZ_CONSOLE_ADDR") or "127.0.0.1:8080"
        host, _, port = addr.rpartition(":")
        if host in ("127.0.0.1", "localhost", "[::1]"):
            errors.append(f"{where}: MARKAZ_CONSOLE_ADDR {addr} listens on loopback only")
        if not port.isdigit() or int(port) not in {
                p["containerPort"] for p in container.get("ports", [])}:
            errors.append(f"{where}: MARKAZ_CONSOLE_ADDR {addr} is on no port of the container")
        # Nothing but its own Secret: the console has no database, no files.
        for secret in sorted(secrets_of(container) - {CONSOLE_SECRET}):
            errors.append(f"{where}: the console sees the Secret {secret}")
    return errors


def selected(selector, deployments):
    """The Deployments whose pods a Service's selector picks."""
    return [d for d in deployments
            if selector and all(pod_labels(d).get(k) == v for k, v in selector.items())]


def serves(deployment, package_owner):
    """Whether a Deployment's pods serve a gRPC package whose owner is
    `package_owner` (None: any process running a service)."""
    for container in deployment["spec"]["template"]["spec"].get("containers", []):
        running = served(container) - {CONSOLE}
        if running and (package_owner is None or package_owner in running):
            return True
    return False


def check_upstream(deployment, container, config_maps, by_kind):
    """The console's upstream reaches every gRPC service of proto/: a
    Service of the overlay whose pods serve them all, or a Gateway of the
    overlay (its address `<gateway>-<gatewayClassName>`, GEP-1762) whose
    GRPCRoutes send each service, once, to a Service whose pods serve it."""
    errors = []
    where = f"{name_of(deployment)}: MARKAZ_CONSOLE_UPSTREAM"
    kind, url = env_settings(container, config_maps).get("MARKAZ_CONSOLE_UPSTREAM", (None, None))
    match = re.fullmatch(r"https?://([a-z0-9.-]+):([0-9]+)/?", (url or "").strip())
    if kind != "value" or not match:
        return [f"{where} {url!r} is not http(s)://host:port"]
    host, port = match.group(1).split(".")[0], int(match.group(2))
    deployments = by_kind.get("Deployment", [])
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    gateways = {}
    for g in by_kind.get("Gateway", []):
        gateways[f"{g['metadata']['name']}-{g['spec']['gatewayClassName']}"] = g
    wanted = grpc_services()
    unknown = sorted({p for p in wanted.values()} - set(GRPC_PACKAGES))
    if unknown:
        return [f"tools/k8s/validate.py: say in GRPC_PACKAGES which service serves {', '.join(unknown)}"]

    def reaches(service_name, service_port, package, what):
        service = services.get(service_name)
        if service is None:
            return [f"{what}: Service {service_name} is not in the overlay"]
        if service_port not in {p["port"] for p in service["spec"].get("ports", [])}:
            return [f"{what}: Service {service_name} has no port {service_port}"]
        pods = selected(service["spec"].get("selector"), deployments)
        if not any(serves(d, GRPC_PACKAGES[package]) for d in pods):
            return [f"{what}: the pods of Service {service_name} do not serve {package}"]
        return []

    if host in services:
        for full, package in sorted(wanted.items()):
            errors += reaches(host, port, package, f"{where} {url}, for {full}")
        return errors
    if host not in gateways:
        return [f"{where} {url}: {host} is neither a Service of the overlay nor a Gateway's "
                "<gateway>-<gatewayClassName>"]
    gateway = gateways[host]
    listeners = [l for l in gateway["spec"]["listeners"] if l["port"] == port]
    if not listeners:
        return [f"{where} {url}: {name_of(gateway)} has no listener on port {port}"]
    sections = {l["name"] for l in listeners}
    routes = {full: [] for full in wanted}
    for route in by_kind.get("GRPCRoute", []):
        attached = any(ref["name"] == gateway["metadata"]["name"]
                       and ref.get("sectionName", next(iter(sections))) in sections
                       for ref in route["spec"]["parentRefs"])
        if not attached:
            continue
        for rule in route["spec"]["rules"]:
            for m in rule["matches"]:
                service = m["method"]["service"]
                if "method" in m["method"]:
                    errors.append(f"{name_of(route)}: routes {service}/{m['method']['method']} "
                                  "alone: route the whole service")
                if service not in wanted:
                    errors.append(f"{name_of(route)}: {service} is no gRPC service of proto/")
                    continue
                if m.get("headers"):
                    # A narrower rule (the platform's calls that name their
                    # unit): it must reach pods that serve its package and
                    # the service its x-markaz-service header names.
                    named = [h["value"] for h in m["headers"] if h["name"] == "x-markaz-service"]
                    for backend in rule["backendRefs"]:
                        what = f"{name_of(route)}, for {service} with {m['headers']}"
                        errors += reaches(backend["name"], backend["port"], wanted[service], what)
                        for unit in named:
                            pods = selected(services.get(backend["name"], {}).get("spec", {})
                                            .get("selector"), deployments)
                            if not any(serves(d, unit) for d in pods):
                                errors.append(f"{what}: the pods of {backend['name']} do not run {unit}")
                    continue
                routes[service].append((route, rule))
    for full, package in sorted(wanted.items()):
        found = routes[full]
        if len(found) != 1:
            errors.append(f"{name_of(gateway)}: {full} is routed {len(found)} times "
                          "(one GRPCRoute match each)")
            continue
        route, rule = found[0]
        for backend in rule["backendRefs"]:
            errors += reaches(backend["name"], backend["port"], package,
                              f"{name_of(route)}, for {full}")
    return errors


def check_overlay(resources):
    """What no schema says: every check across the resources of one overlay."""
    errors = []
    by_kind = {}
    for r in resources:
        by_kind.setdefault(r["kind"], []).append(r)
    names = {(r["kind"], r["metadata"]["name"]) for r in resources}
    deployments = by_kind.get("Deployment", [])
    policies = by_kind.get("NetworkPolicy", [])
    clusters = [c["metadata"]["name"] for c in by_kind.get("Cluster", [])]
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind.get("ConfigMap", [])}

    if not any(p["spec"].get("podSelector") == {}
               and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress")
               for p in policies):
        errors.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress)")

    # Pods, by who makes them: Deployments and Jobs, and CloudNativePG for a
    # Cluster (labelled from spec.inheritedMetadata).
    pods = [(name_of(r), pod_labels(r)) for r in resources if pod_spec(r) is not None]
    pods += [(name_of(c), c["spec"].get("inheritedMetadata", {}).get("labels", {}))
             for c in by_kind.get("Cluster", [])]
    for pod, labels in pods:
        own = [p for p in policies
               if p["spec"].get("podSelector") and selects(p["spec"]["podSelector"], labels)]
        if not own:
            errors.append(f"{pod}: its pods have no NetworkPolicy of their own")

    for r in resources:
        spec = pod_spec(r)
        if spec is None:
            continue
        errors += [f"{name_of(r)}: {e}" for e in check_workload(r, spec)]
        for container in spec.get("containers", []):
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref and ("ConfigMap", ref) not in names:
                    errors.append(f"{name_of(r)}: ConfigMap {ref} is not in the overlay")
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef", {}).get("name")
                # Secrets are never in the overlay: CloudNativePG makes
                # `<cluster>-app`, the operator `<cluster>-login` and the
                # OPERATOR_SECRETS.
                if ref and ref not in OPERATOR_SECRETS and not any(
                        ref in (f"{c}-app", f"{c}-login") for c in clusters):
                    errors.append(f"{name_of(r)}: Secret {ref} is no Cluster's -app or -login, "
                                  f"nor one of {sorted(OPERATOR_SECRETS)}")
            if CONSOLE_SECRET in secrets_of(container) and CONSOLE not in served(container):
                errors.append(f"{name_of(r)}: container {container['name']} is no console "
                              f"but sees the Secret {CONSOLE_SECRET}")
            if CONSOLE in served(container) and r["kind"] == "Deployment":
                errors += check_console(r, container, config_maps)
                if console_only(container):
                    errors += check_upstream(r, container, config_maps, by_kind)
            if "resources" in served(container):
                missing = [n for n in OBJECT_STORAGE_ENV
                           if n not in given_env(container, config_maps)]
                if missing:
                    errors.append(f"{name_of(r)}: serves resources without object storage "
                                  f"({', '.join(missing)}; components/object-storage)")
        account = spec.get("serviceAccountName")
        if account and ("ServiceAccount", account) not in names:
            errors.append(f"{name_of(r)}: ServiceAccount {account} is not in the overlay")

    # Every Service picks the pods of a Deployment of the overlay, on ports
    # they have; every GRPCRoute hangs on a Gateway of the overlay.
    for service in by_kind.get("Service", []):
        pods = selected(service["spec"].get("selector"), deployments)
        if not pods:
            errors.append(f"{name_of(service)}: selects the pods of no Deployment of the overlay")
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if pods and not all(any(target in (p.get("name"), p["containerPort"])
                                    for c in d["spec"]["template"]["spec"]["containers"]
                                    for p in c.get("ports", []))
                                for d in pods):
                errors.append(f"{name_of(service)}: port {port['name']} targets {target}, "
                              "which its pods do not have")
    gateway_names = {g["metadata"]["name"]: g for g in by_kind.get("Gateway", [])}
    for route in by_kind.get("GRPCRoute", []):
        for ref in route["spec"]["parentRefs"]:
            gateway = gateway_names.get(ref["name"])
            if gateway is None:
                errors.append(f"{name_of(route)}: Gateway {ref['name']} is not in the overlay")
            elif "sectionName" in ref and ref["sectionName"] not in {
                    l["name"] for l in gateway["spec"]["listeners"]}:
                errors.append(f"{name_of(route)}: {name_of(gateway)} has no listener "
                              f"{ref['sectionName']}")

    # Every PostgreSQL is backed up: its WAL archived to an ObjectStore of
    # the overlay, and a ScheduledBackup of it through the same plugin.
    stores = {o["metadata"]["name"]: o for o in by_kind.get("ObjectStore", [])}
    scheduled = by_kind.get("ScheduledBackup", [])
    for backup in scheduled:
        if backup["spec"]["cluster"]["name"] not in clusters:
            errors.append(f"{name_of(backup)}: backs up {backup['spec']['cluster']['name']}, "
                          "which is no Cluster of the overlay")
        for key in backup["spec"]["pluginConfiguration"]["name"], backup["spec"].get("method"):
            if key not in (BARMAN_PLUGIN, "plugin"):
                errors.append(f"{name_of(backup)}: not a {BARMAN_PLUGIN} backup ({key})")
    for cluster in by_kind.get("Cluster", []):
        name = cluster["metadata"]["name"]
        archivers = [p for p in cluster["spec"].get("plugins", [])
                     if p["name"] == BARMAN_PLUGIN and p.get("isWALArchiver")]
        if len(archivers) != 1:
            errors.append(f"Cluster/{name}: no WAL archive ({BARMAN_PLUGIN}, isWALArchiver)")
        else:
            store = archivers[0].get("parameters", {}).get("barmanObjectName")
            if store not in stores:
                errors.append(f"Cluster/{name}: archives to ObjectStore {store}, "
                              "which is not in the overlay")
            else:
                for credential in stores[store]["spec"]["configuration"].get(
                        "s3Credentials", {}).values():
                    if isinstance(credential, dict) and credential["name"] not in OPERATOR_SECRETS:
                        errors.append(f"ObjectStore/{store}: Secret {credential['name']} is not "
                                      f"one of {sorted(OPERATOR_SECRETS)}")
        if not any(b["spec"]["cluster"]["name"] == name for b in scheduled):
            errors.append(f"Cluster/{name}: no ScheduledBackup")

    for deployment in deployments:
        name, labels = deployment["metadata"]["name"], pod_labels(deployment)
        if not any(selects(p["spec"]["selector"], labels)
                   for p in by_kind.get("PodDisruptionBudget", [])):
            errors.append(f"Deployment/{name}: no PodDisruptionBudget selects its pods")
        scalers = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
                   if h["spec"]["scaleTargetRef"]["name"] == name]
        scalers += [s for s in by_kind.get("ScaledObject", [])
                    if s["spec"]["scaleTargetRef"]["name"] == name]
        if len(scalers) != 1:
            errors.append(f"Deployment/{name}: {len(scalers)} autoscalers (one HPA or ScaledObject)")
    deployment_names = {d["metadata"]["name"]: d for d in deployments}
    for scaler in by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", []):
        target = scaler["spec"]["scaleTargetRef"]["name"]
        if target not in deployment_names:
            errors.append(f"{name_of(scaler)}: scales {target}, which is not in the overlay")
            continue
        if scaler["kind"] != "ScaledObject":
            continue
        consumer = deployment_names[target]["metadata"]["labels"].get("app.kubernetes.io/component")
        for trigger in scaler["spec"]["triggers"]:
            if trigger["type"] != "nats-jetstream":
                continue
            meta = trigger["metadata"]
            durable_consumer, _, producer = meta["consumer"].partition("--")
            if durable_consumer != consumer or not producer:
                errors.append(f"{name_of(scaler)}: consumer {meta['consumer']} is not "
                              f"{consumer}--<producer>")
            if meta["stream"] != NATS_STREAM_PREFIX + producer.upper():
                errors.append(f"{name_of(scaler)}: stream {meta['stream']} is not "
                              f"{NATS_STREAM_PREFIX}{producer.upper()}")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats-values", type=pathlib.Path, required=True)
    parser.add_argument("rendered", nargs="+", type=pathlib.Path)
    args = parser.parse_args()
    failed = False

    def report(where, errors):
        nonlocal failed
        for e in errors:
            print(f"ERROR {where}: {e}")
        failed |= bool(errors)

    report(args.nats_values, schema_errors(yaml.safe_load(args.nats_values.read_text()),
                                           "nats-helm-values.yaml"))
    for path in args.rendered:
        resources = [r for r in yaml.safe_load_all(path.read_text()) if r]
        for resource in resources:
            report(f"{path.stem}: {name_of(resource)}", check_schema(resource))
        report(path.stem, check_overlay(resources))
        kinds = sorted({r["kind"] for r in resources})
        print(f"{path.stem}: {len(resources)} resources ({', '.join(kinds)}) checked "
              f"against Kubernetes {' and '.join(KUBERNETES_VERSIONS)}")
    print(f"{args.nats_values}: checked")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
