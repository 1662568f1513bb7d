/* Validation problems (the engine's own report from POST /api/process-definitions/validate, or the 422 of a
   deployment): listed under the diagram and marked on their elements — a red marker and a numbered badge on the
   canvas. Clicking a problem opens its file and selects its element. */
'use strict';

const StudioProblems = (() => {
  const {el} = Accredit;
  const LABELS = {error: 'Error', warning: 'Warning', hint: 'Modelling hint'};

  class Problems {
    /** list: the <ol> to fill; open(file, elementId): show that file and select the element. */
    constructor(list, summary, open) {
      this.list = list;
      this.summary = summary;
      this.open = open;
      this.items = [];
      this.marked = [];
    }

    /** Show a report ({valid, errors, warnings}) — or clear it with null. */
    show(report) {
      this.items = report ? [
        ...(report.errors || []).map((p) => ({...p, severity: 'error'})),
        ...(report.warnings || []).map((p) => ({...p, severity: p.severity || 'warning'})),
      ] : [];
      this.list.replaceChildren(...this.items.map((p, i) => {
        const where = [p.file, p.element_id && `element ${p.element_id}`, p.line && `line ${p.line}`]
          .filter(Boolean).join(', ');
        const button = el('button', {type: 'button', class: `problem ${p.severity}`, dataset: {index: i,
          element: p.element_id || '', file: p.file || ''}},
        el('span', {class: 'problem-number'}, String(i + 1)), ' ',
        el('strong', {}, LABELS[p.severity] || 'Warning'), ': ', p.message,
        where ? el('span', {class: 'where'}, ` — ${where}`) : null);
        button.addEventListener('click', () => this.open(p.file, p.element_id));
        return el('li', {}, button);
      }));
      const count = (severity) => this.items.filter((p) => p.severity === severity).length;
      const hints = count('hint') ? ` ${count('hint')} modelling hint(s) (they do not block a deployment).` : '';
      if (!report) Studio.status(this.summary, '');
      else if (report.valid && this.items.length === count('hint')) {
        Studio.status(this.summary, `No problems: the bundle is valid.${hints}`, 'ok');
      } else {
        Studio.status(this.summary, `${count('error')} error(s), ${count('warning')} warning(s).${hints}`,
          count('error') ? 'bad' : 'ok');
      }
    }

    /** Mark the problems of ``file`` on the modeler's canvas (after every import of a file). */
    mark(modeler, file) {
      const canvas = modeler.get('canvas');
      const overlays = modeler.get('overlays');
      const registry = modeler.get('elementRegistry');
      for (const id of this.marked) {
        if (!registry.get(id)) continue;
        canvas.removeMarker(id, 'studio-error');
        canvas.removeMarker(id, 'studio-warning');
        canvas.removeMarker(id, 'studio-hint');
      }
      overlays.remove({type: 'studio-problem'});
      this.marked = [];
      this.items.forEach((p, i) => {
        if (!p.element_id || (p.file && p.file !== file) || !registry.get(p.element_id)) return;
        canvas.addMarker(p.element_id, `studio-${p.severity}`);
        this.marked.push(p.element_id);
        overlays.add(p.element_id, 'studio-problem', {position: {top: -12, right: 12},
          html: el('span', {class: `problem-badge ${p.severity}`, title: p.message}, String(i + 1))});
      });
    }
  }

  return {Problems};
})();
