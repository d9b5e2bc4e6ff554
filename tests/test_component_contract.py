"""The component contract (the design document's "Component contract", in the steering
repository's shared/DESIGN.md), checked over every component module.

- Every field of every `...Args` / `...Spec` class (and the small value types callers build:
  ClientSource, OidcIdentity, AuthorizedNetwork, EksViewer, EksDeployer, RbacSubject) has a
  docstring that states its default ("Default ...") or says it is required and why
  ("Required: ..."); a number also states its unit ("in days", "in GiB", ...) or what kind
  of number it is (a port, an ASN, a version, a fraction).
- Components live in a cloud's package; helpers that are not components sit in
  `_`-prefixed modules.
- Type tokens are `platform:<area>:<Name>`, the area being the cloud package.
"""

import ast
import re
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parent.parent / "components"
VALUE_TYPES = {"ClientSource", "OidcIdentity", "AuthorizedNetwork", "EksViewer", "EksDeployer", "RbacSubject"}
AREAS = {"aws", "gcp", "cloudflare", "multicloud", "kubernetes"}


def _modules() -> list[Path]:
    return sorted(p for p in COMPONENTS.rglob("*.py") if p.name != "__init__.py")


def _documented_fields() -> list[tuple[str, bool, bool, str | None]]:
    """(module:Class.field, has default, is a number, docstring)."""
    fields = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.ClassDef) and (node.name.endswith(("Args", "Spec")) or node.name in VALUE_TYPES)
            ):
                continue
            for index, statement in enumerate(node.body):
                if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
                    continue
                following = node.body[index + 1] if index + 1 < len(node.body) else None
                doc = (
                    following.value.value
                    if isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                    else None
                )
                where = f"{path.relative_to(COMPONENTS)}:{node.name}.{statement.target.id}"
                numeric = isinstance(statement.annotation, ast.Name) and statement.annotation.id in ("int", "float")
                fields.append((where, statement.value is not None, numeric, doc))
    return fields


FIELDS = _documented_fields()


def test_the_contract_covers_every_component_package():
    packages = {path.relative_to(COMPONENTS).parts[0] for path in _modules()}
    assert packages == AREAS
    assert len(FIELDS) > 150


UNIT = re.compile(
    r"\bin (days|seconds|GiB|MiB|GB|nodes|pods|Jobs|GPUs|images|versions|origins|probes|requests|characters)\b"
    r"|^Days\b|\bfraction\b|\bASN\b|\bport\b|\bmajor version\b|\bmajor\b"
)


@pytest.mark.parametrize(("where", "has_default", "numeric", "doc"), FIELDS, ids=[f[0] for f in FIELDS])
def test_every_args_field_documents_its_default_or_why_it_is_required(where, has_default, numeric, doc):
    assert doc, f"{where}: no docstring"
    if has_default:
        assert re.search(r"\bDefault\b", doc), f"{where}: has a default but its docstring does not state it"
    else:
        assert doc.startswith("Required:") and len(doc) > len("Required: ") + 10, (
            f"{where}: required, but its docstring does not say so and what it is"
        )
    if numeric:
        assert UNIT.search(doc), f"{where}: a number whose docstring gives no unit"


def test_components_sit_in_their_clouds_package_with_matching_type_tokens():
    for path in _modules():
        source = path.read_text()
        area = path.relative_to(COMPONENTS).parts[0]
        for token in re.findall(r'super\(\).__init__\(\s*"([^"]+)"', source):
            assert re.fullmatch(rf"platform:{area}:[A-Z][A-Za-z0-9]+", token), f"{path}: type token {token}"
        if path.name.startswith("_"):
            assert "pulumi.ComponentResource)" not in source, f"{path}: a helper module holds a component"
