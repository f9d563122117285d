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
  ObjectStore, KEDA ScaledObject); a kind with no schema is an error, not a
  warning;
* the NATS values against schemas/nats-helm-values.yaml;
* what Markaz requires of its workloads, which no schema says: non-root,
  read-only, no capabilities, seccomp RuntimeDefault, requests and limits,
  probes, a PodDisruptionBudget and one autoscaler per Deployment, a
  NetworkPolicy of its own for every pod, a ScheduledBackup and a WAL
  archive in an ObjectStore for every Cluster, references that resolve, KEDA
  triggers that name the consumers Markaz creates (`<consumer>--<producer>`
  on `MARKAZ_<PRODUCER>`), and object storage for every pod that serves the
  resources service.
"""

import argparse
import pathlib
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
}
# The NATS chart's client Service; its namespace is the overlay's.
NATS_STREAM_PREFIX = "MARKAZ_"
# Secrets the operator creates besides each Cluster's `-login`
# (docs/operations.md, "Kubernetes"): never in an overlay.
OPERATOR_SECRETS = {"markaz-resources-s3", "markaz-page-tokens", "markaz-db-backup-s3"}
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
            if "grpc" not in container.get("readinessProbe", {}):
                errors.append(f"{where}: the readiness probe is not gRPC health")
    return errors


def served(container):
    """The services `markaz serve --services X` runs, from the arguments."""
    args = container.get("args", [])
    if args[:1] != ["serve"] or "--services" not in args:
        return set()
    i = args.index("--services")
    names = set(args[i + 1].split(",")) if i + 1 < len(args) else set()
    return {"resources"} if "all" in names else names


def given_env(container, config_maps):
    """The variables a container gets set to something: its env, and the
    keys of the ConfigMaps it takes whole."""
    names = {e["name"] for e in container.get("env", [])
             if e.get("value") or e.get("valueFrom")}
    for source in container.get("envFrom", []):
        data = config_maps.get(source.get("configMapRef", {}).get("name"), {})
        names |= {k for k, v in data.items() if v}
    return names


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
            if "resources" in served(container):
                missing = [n for n in OBJECT_STORAGE_ENV
                           if n not in given_env(container, config_maps)]
                if missing:
                    errors.append(f"{name_of(r)}: serves resources without object storage "
                                  f"({', '.join(missing)}; components/object-storage)")
        account = spec.get("serviceAccountName")
        if account and ("ServiceAccount", account) not in names:
            errors.append(f"{name_of(r)}: ServiceAccount {account} is not in the overlay")

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
