"""Pod-template hashes name ReplicaSets: stable for a template, different for another."""

from __future__ import annotations

import re

from rollouts.canary.hashing import pod_template_hash, steps_hash

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "demo:v1"}]}}


def test_same_template_same_hash_whatever_the_key_order() -> None:
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert pod_template_hash(TEMPLATE) == pod_template_hash(reordered)


def test_another_image_another_hash() -> None:
    other = {**TEMPLATE, "spec": {"containers": [{"name": "web", "image": "demo:v2"}]}}
    assert pod_template_hash(TEMPLATE) != pod_template_hash(other)


def test_the_hash_label_itself_does_not_change_the_hash() -> None:
    labelled = {**TEMPLATE, "metadata": {"labels": {
        "app": "web", "rollouts-pod-template-hash": "abc"}}}
    assert pod_template_hash(labelled) == pod_template_hash(TEMPLATE)


def test_hash_is_a_safe_label_value() -> None:
    value = pod_template_hash(TEMPLATE)
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{10}", value)


def test_steps_hash_changes_with_the_steps() -> None:
    assert steps_hash([{"setWeight": 10}]) != steps_hash([{"setWeight": 20}])
    assert steps_hash([{"setWeight": 10}]) == steps_hash([{"setWeight": 10}])


def test_a_template_copied_back_from_a_replica_set_keeps_its_hash() -> None:
    """What the API server fills into a ReplicaSet's pod template does not count."""
    original = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
        "name": "web", "image": "demo:v1", "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                           "periodSeconds": 1}}]}}
    defaulted = {"metadata": {"labels": {"app": "web", "rollouts-pod-template-hash": "x"}},
                 "spec": {"containers": [{
                     "name": "web", "image": "demo:v1",
                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080,
                                                    "scheme": "HTTP"},
                                        "periodSeconds": 1, "timeoutSeconds": 1,
                                        "successThreshold": 1, "failureThreshold": 3},
                     "imagePullPolicy": "IfNotPresent",
                     "terminationMessagePath": "/dev/termination-log",
                     "terminationMessagePolicy": "File", "resources": {}}],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                     "securityContext": {}}}
    assert pod_template_hash(defaulted) == pod_template_hash(original)
