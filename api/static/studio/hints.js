/* Modelling hints in the spirit of bpmnlint, computed in the page from the diagram being edited and listed
   with the engine's report (as "hint"): they point at likely mistakes the engine accepts — a step nobody can
   reach or leave, an unnamed task, a gateway whose paths have no condition and no default. The engine's own
   checks stay the authority; a hint never blocks a deployment. */
'use strict';

const StudioHints = (() => {
  const is = (bo, type) => bo && typeof bo.$instanceOf === 'function' && bo.$instanceOf(type);

  /** Hints for the diagram open in ``modeler`` (file ``file``): [{severity: 'hint', message, file, element_id}]. */
  function collect(modeler, file) {
    const hints = [];
    const add = (bo, message) => hints.push({severity: 'hint', message, file, element_id: bo.id});
    for (const element of modeler.get('elementRegistry').getAll()) {
      const bo = element.businessObject;
      if (element.type === 'label' || !is(bo, 'bpmn:FlowNode')) continue;
      const incoming = (bo.incoming || []).length;
      const outgoing = (bo.outgoing || []).length;
      const eventSubProcess = is(bo, 'bpmn:SubProcess') && bo.triggeredByEvent;
      // an end event nobody reaches is harmless (SpiffWorkflow wants one in a sub-process left by a timer)
      if (!incoming && !eventSubProcess && !is(bo, 'bpmn:StartEvent') && !is(bo, 'bpmn:BoundaryEvent')
          && !is(bo, 'bpmn:EndEvent')) {
        add(bo, 'no path leads here: the step can never be reached');
      }
      // a step may be left only through an interrupting event on its border (e.g. an expiry timer)
      const leftByBorder = (element.attachers || []).some((a) => a.businessObject.cancelActivity !== false
        && (a.businessObject.outgoing || []).length);
      if (!outgoing && !eventSubProcess && !leftByBorder && !is(bo, 'bpmn:EndEvent')) {
        add(bo, 'no path leaves here: the case would stop without reaching an end event');
      }
      if (is(bo, 'bpmn:Task') && !(bo.name || '').trim()) add(bo, 'the task has no name: people see it in their inbox');
      if (is(bo, 'bpmn:ExclusiveGateway') && outgoing > 1) {
        const open = bo.outgoing.filter((f) => !f.conditionExpression && f !== bo.default);
        if (open.length) add(bo, `${open.length} outgoing path(s) without a condition and not the default`);
      }
    }
    return hints;
  }

  return {collect};
})();
