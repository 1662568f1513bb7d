/* Migration: the dry run of every open case of a version (POST …/versions/{v}/migrate, dry_run) lists which
   cases can move and what changes for them, and which cannot and why; the chosen cases are then moved one by
   one (POST /api/cases/{id}/migrate), each result listed. */
'use strict';

(async () => {
  const {api, el} = Studio;
  const root = document.getElementById('migrate');
  const {key, version} = Studio.section(root);
  await Studio.user();
  const $ = (id) => document.getElementById(id);
  const process = await api('GET', Studio.base(key));
  const targets = process.versions.filter((v) => v.version !== version).reverse();
  $('target').append(...targets.map((v) => el('option', {value: v.version, selected: v.latest},
    `v${v.version}${v.latest ? ' (latest)' : ''}`)));
  if (!targets.length) $('dry-run').disabled = true;

  const names = (tasks) => (tasks || []).map((t) => t.name || t.element_id).join(', ') || 'none';

  function explain(c) {
    if (!c.can_migrate) {
      return el('div', {class: 'blocked'}, el('strong', {class: 'status bad'}, 'Cannot move: '),
        el('ul', {}, c.reasons.map((r) => el('li', {}, r))));
    }
    const details = [['Waiting at now', names(c.ready_tasks_before)], ['Waiting at after the move', names(c.ready_tasks_after)]];
    if ((c.affected_ready_tasks || []).length) {
      details.push(['Open tasks that change', c.affected_ready_tasks.map((t) => (t.changes.length ? `${t.name || t.element_id} (${t.changes.join(', ')})`
        : t.name || t.element_id)).join('; ')]);
    }
    if ((c.timers_restarted || []).length) details.push(['Timers that restart', c.timers_restarted.join(', ')]);
    return el('div', {}, el('strong', {class: 'status ok'}, 'Can move.'),
      el('ul', {}, details.map(([k, v]) => el('li', {}, `${k}: ${v}`))));
  }

  $('dry-run-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const to = Number($('target').value);
    const report = await api('POST', `${Studio.base(key)}/versions/${version}/migrate`, {to_version: to, dry_run: true});
    Studio.status($('dry-run-summary'), `Dry run to v${report.to_version}: ${report.total} open case(s), `
      + `${report.can_migrate} can move, ${report.blocked} cannot. Nothing was changed.`);
    const body = $('dry-run-table').querySelector('tbody');
    body.replaceChildren(...report.cases.map((c) => {
      const id = `move-${c.case_id}`;
      return el('tr', {dataset: {caseId: c.case_id}},
        el('td', {}, el('input', {type: 'checkbox', id, checked: c.can_migrate, disabled: !c.can_migrate,
          dataset: {caseId: c.case_id}}), el('label', {for: id, class: 'sr-only'}, `Move ${c.business_key || c.case_id}`)),
        el('td', {}, el('a', {href: `/cases/${encodeURIComponent(c.case_id)}`}, c.business_key || c.case_id),
          c.organisation_id ? el('div', {class: 'muted'}, c.organisation_id) : null),
        el('td', {}, explain(c)));
    }));
    $('migrate-form').hidden = !report.total;
    $('migrate-form').dataset.to = String(report.to_version);
  });

  $('migrate-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const to = Number($('migrate-form').dataset.to);
    const chosen = [...document.querySelectorAll('#dry-run-table input[type=checkbox]:checked')].map((c) => c.dataset.caseId);
    const list = $('migration-list');
    list.replaceChildren();
    $('migration-result').hidden = false;
    if (!chosen.length) {
      list.append(el('li', {}, 'No case chosen.'));
      return;
    }
    for (const caseId of chosen) {
      const link = el('a', {href: `/cases/${encodeURIComponent(caseId)}`}, caseId);
      try {
        const r = await api('POST', `/api/cases/${encodeURIComponent(caseId)}/migrate`, {to_version: to});
        link.textContent = r.business_key || caseId;
        list.append(el('li', {class: 'added', dataset: {caseId, result: 'migrated'}}, link,
          ` moved from v${r.from_version} to v${r.to_version}; now waiting at ${names(r.ready_tasks_after)}.`));
      } catch (e) {
        if (!(e instanceof Accredit.ApiError)) throw e;
        list.append(el('li', {class: 'removed', dataset: {caseId, result: 'failed'}}, link, ` not moved: ${e.message}`));
      }
    }
    $('migrate-form').hidden = true;
    Studio.status($('dry-run-summary'), `Migration finished: see the result below. Run a new dry run to check again.`);
  });
  root.dataset.ready = 'true';
})();
