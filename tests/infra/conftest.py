"""One synthesis of the whole app per test session, with cdk-nag's AWS Solutions pack.

Synth is offline (no Docker, credentials or lookups). The dependencies layer is a stand-in
folder: these tests check the template, not the wheels `make layers` downloads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk loads jsii: the Node.js 20 end-of-life banner is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Aspects
from aws_cdk.assertions import Annotations, Template
from cdk_nag import AwsSolutionsChecks

from infra.app import build
from infra.stack import FrolicStack

STAGE = "test"
#: The session's stack connects a CRM, so cdk-nag and cfn-lint see the events-out path.
CRM_ENDPOINT = "https://crm.example.com/frolic"


@dataclass(frozen=True)
class Synth:
    stack: FrolicStack
    template: Template
    annotations: Annotations
    template_path: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.to_json()["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}


@pytest.fixture(scope="session")
def deps_layer_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deps-layer")
    (folder / "python").mkdir()
    (folder / "python" / "README").write_text("stand-in for build/layers/deps in tests\n")
    return folder


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, deps_layer_stand_in: Path) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context={"stage": STAGE, "crmEndpoint": CRM_ENDPOINT})
    stack = build(app, deps_layer_dir=deps_layer_stand_in)
    Aspects.of(app).add(AwsSolutionsChecks())
    template = Template.from_stack(stack)
    template_path = outdir / "template-under-test.json"
    template_path.write_text(json.dumps(template.to_json(), indent=1))
    return Synth(
        stack=stack,
        template=template,
        annotations=Annotations.from_stack(stack),
        template_path=template_path,
    )
