#!/usr/bin/env python3
"""Writes the benchmark's Namespace and 30 KB Deployment reviews next to the 3.5 KB pod review.

The pod review (bodies/pod-create-training.json) is the one of ../shared/perf/. The Deployment
is what a large training/inference Deployment looks like to the webhook: 6 containers with env,
ports, probes, resources and mounts, 12 volumes, managedFields; the label engine reads only
metadata and the pod template's labels/annotations, so its cost should not follow the size.
Run from anywhere; rewrites bench/bodies/namespace-create.json and deployment-create-30k.json.
"""
import json
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bodies")
pod = json.load(open(os.path.join(here, "pod-create-training.json")))
user = pod["request"]["userInfo"]


def review(uid, kind, resource, name, namespace, obj):
    request = {
        "uid": uid,
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": name,
        "operation": "CREATE",
        "userInfo": user,
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-create"},
    }
    if namespace:
        request["namespace"] = namespace
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def write(name, body):
    with open(os.path.join(here, name), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    print(name, os.path.getsize(os.path.join(here, name)), "bytes")


namespace = {
    "kind": "Namespace",
    "apiVersion": "v1",
    "metadata": {
        "name": "team-vision",
        "creationTimestamp": None,
        "labels": {"kubernetes.io/metadata.name": "team-vision", "team": "vision"},
        "managedFields": [{
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
            "time": "2026-11-26T05:02:31Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}},
        }],
    },
    "spec": {},
    "status": {"phase": "Active"},
}
write("namespace-create.json",
      review("3a1c7e52-5d1b-4c59-9a47-0a5c1f6b2e01", {"group": "", "version": "v1", "kind": "Namespace"},
             {"group": "", "version": "v1", "resource": "namespaces"}, "team-vision", "", namespace))


def container(i):
    return {
        "name": f"worker-{i}",
        "image": f"registry.example.com/ml/trainer-{i}:2.4.1-cuda12.1",
        "command": ["python", "-m", "trainer.main"],
        "args": [f"--shard={i}", "--epochs=90", "--batch-size=256", "--data=/data/imagenet"],
        "ports": [{"name": f"metrics-{i}", "containerPort": 9000 + i, "protocol": "TCP"},
                  {"name": f"nccl-{i}", "containerPort": 29500 + i, "protocol": "TCP"}],
        "env": [{"name": f"TRAINER_SETTING_{k}", "value": f"value-{i}-{k}-" + "x" * 24} for k in range(42)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
           {"name": "S3_KEY", "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "access-key"}}}],
        "resources": {"limits": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"},
                      "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"}},
        "volumeMounts": [{"name": f"vol-{v}", "mountPath": f"/mnt/vol-{v}"} for v in range(4)],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 9000 + i, "scheme": "HTTP"},
                          "initialDelaySeconds": 30, "periodSeconds": 10, "timeoutSeconds": 1,
                          "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9000 + i, "scheme": "HTTP"},
                           "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


deployment = {
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {
        "name": "imagenet-trainer",
        "namespace": "training",
        "creationTimestamp": None,
        "labels": {"app": "imagenet-trainer", "team": "vision"},
        "annotations": {"deployment.kubernetes.io/revision": "1"},
        "managedFields": [{
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1",
            "time": "2026-11-26T05:02:36Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                f'k:{{"name":"worker-{i}"}}': {".": {}, "f:image": {}, "f:env": {}, "f:name": {}} for i in range(6)}}}}},
        }],
    },
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "imagenet-trainer"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "imagenet-trainer"}},
            "spec": {
                "containers": [container(i) for i in range(6)],
                "volumes": [{"name": f"vol-{v}", "persistentVolumeClaim": {"claimName": f"dataset-{v}"}} for v in range(8)]
                + [{"name": f"cfg-{v}", "configMap": {"name": f"trainer-config-{v}", "defaultMode": 420}} for v in range(4)],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "serviceAccountName": "trainer",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    },
    "status": {},
}
write("deployment-create-30k.json",
      review("9b2f4d17-8e3a-4b6c-a1d5-7c0e2f9a4b63", {"group": "apps", "version": "v1", "kind": "Deployment"},
             {"group": "apps", "version": "v1", "resource": "deployments"}, "imagenet-trainer", "training", deployment))
