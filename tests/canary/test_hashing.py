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
