"""What differs between two versions of a process, element by element (SpiffWorkflow's ``SpecDiff`` over the
process and its called and embedded sub-processes), and how an element is described to a quality manager."""
from __future__ import annotations

from SpiffWorkflow.bpmn.util.diff import SpecDiff

from engine.definitions.specs import element
from engine.storage.models import ProcessDefinition
from .services import Engine

_SKIP_ATTRIBUTES = {"inputs", "outputs"}  # flows: reported separately as 'flows'


def diff_specs(engine: Engine, a: ProcessDefinition, b: ProcessDefinition) -> list[dict]:
    """Per process (the top one, then every sub-process of either version): elements added, removed, changed."""
    (spec_a, subs_a), (spec_b, subs_b) = engine.specs.of(a), engine.specs.of(b)
    pairs = [(a.key, spec_a, spec_b)] + [(n, subs_a.get(n), subs_b.get(n)) for n in sorted(set(subs_a) | set(subs_b))]
    return [spec_diff(engine.serializer.registry, name, old, new) for name, old, new in pairs]


def element_changes(engine: Engine, source: ProcessDefinition, target: ProcessDefinition) -> dict:
    """Elements added, removed and changed between two versions, over the process and its sub-processes."""
    out = {"added": [], "removed": [], "changed": []}
    for p in diff_specs(engine, source, target):
        for kind in out:
            out[kind] += [{**e, "process": p["process"]} for e in p[kind]]
    return out


def spec_diff(registry, name, old, new) -> dict:
    if old is None or new is None:
        present = old or new
        elements = [element(t) for t in present.task_specs.values() if visible(t)]
        return {"process": name, "status": "added" if old is None else "removed",
                "added": elements if old is None else [], "removed": elements if new is None else [],
                "changed": []}
    sd = SpecDiff(registry, old, new)
    changed = []
    for ts, attrs in sd.changed.items():
        if not visible(ts):
            continue
        aligned = sd.alignment.get(ts) or ts
        changed.append({**element(aligned), **({"was": ts.bpmn_id} if aligned.bpmn_id != ts.bpmn_id else {}),
                        "changes": _changes(attrs)})
    return {"process": name, "status": "changed" if (sd.added or sd.removed or changed) else "unchanged",
            "added": [element(t) for t in sd.added if visible(t)],
            "removed": [element(t) for t in sd.removed if visible(t)],
            "changed": sorted(changed, key=lambda e: e["element_id"])}


def visible(spec) -> bool:
    """Is this a BPMN element (not one of the engine's internal specs: Start, End, joins)?"""
    return getattr(spec, "bpmn_id", None) is not None


def label(spec) -> str:
    return f"'{spec.bpmn_name}' ({spec.bpmn_id})" if spec.bpmn_name else f"'{spec.bpmn_id}'"




def _changes(attrs) -> list[str]:
    out = sorted(a for a in attrs if a not in _SKIP_ATTRIBUTES)
    if set(attrs) & _SKIP_ATTRIBUTES:
        out.append("flows")
    return out
