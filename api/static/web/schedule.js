/* "/schedule": GET /api/schedule filtered by kind and organisation; coordinators start a for-cause audit
   (POST /api/audits/for-cause). */
'use strict';

(() => {
  const {api, ApiError, me, notice, utc, el, carryNotice} = Accredit;
  const KINDS = {surveillance_audit: 'Surveillance audit', annual_report: 'Annual report', renewal: 'Renewal opens',
    expiry: 'Expiry', task_deadline: 'Task deadline', task_reminder: 'Reminder', timer: 'Timer'};

  async function start() {
    notice();
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    document.getElementById('s-kind').addEventListener('change', load);
    document.getElementById('s-org').addEventListener('input', load);
    if (user.roles.includes('coordinator')) {
      const form = document.getElementById('for-cause');
      form.hidden = false;
      form.addEventListener('submit', forCause);
    }
    await load();
  }

  async function load() {
    const q = new URLSearchParams();
    const kind = document.getElementById('s-kind').value;
    const org = document.getElementById('s-org').value.trim();
    if (kind) q.set('kind', kind);
    if (org) q.set('organisation_id', org);
    const rows = await api('GET', `/api/schedule?${q}`);
    const now = Date.now();
    document.querySelector('#schedule-list tbody').replaceChildren(...rows.map((r) => {
      const overdue = new Date(r.due_at).getTime() < now;
      return el('tr', {class: overdue ? 'overdue' : null, dataset: {kind: r.kind}},
        el('td', {class: 'nowrap'}, utc(r.due_at), overdue ? el('span', {class: 'badge overdue'}, 'overdue') : null),
        el('td', {}, KINDS[r.kind] || r.kind),
        el('td', {}, what(r)),
        el('td', {}, el('a', {href: `/cases/${encodeURIComponent(r.case_id)}`}, r.business_key || r.case_id)),
        el('td', {}, r.organisation_id || '—'));
    }));
    document.getElementById('schedule-count').textContent = `${rows.length} date${rows.length === 1 ? '' : 's'}`;
    document.getElementById('schedule-list').hidden = rows.length === 0;
    const empty = document.getElementById('schedule-empty');
    empty.textContent = kind || org
      ? 'No dates match these filters. Choose "All kinds" and clear the organisation to see every date.'
      : 'Nothing is scheduled for the cases you may see. Dates appear here when a case waits for a deadline, '
        + 'an audit, an annual report, a renewal or an expiry.';
    empty.hidden = rows.length > 0;
  }

  // What a timer is about, in words. A link only to a person's task; a timer on a multi-instance step (one task
  // per person, e.g. each inspector's checklist) names the step and the people, and links to the case.
  function what(r) {
    const timer = r.name || r.element_id;
    if (r.task_id && r.task_name) {
      return el('a', {href: `/tasks/${encodeURIComponent(r.task_id)}`}, r.task_name);
    }
    if (!r.activity_name) return timer;
    let who = '';
    if (r.task_count > 1 || r.people.length) {
      const role = r.role ? r.role.replace(/_/g, ' ') : 'task';
      const count = r.task_count > 1 ? `${r.task_count} ${role}s` : role;
      who = ` (${count}${r.people.length ? `: ${r.people.join(', ')}` : ''})`;
    }
    return el('a', {href: `/cases/${encodeURIComponent(r.case_id)}`}, `${timer} — ${r.activity_name}${who}`);
  }

  async function forCause(event) {
    event.preventDefault();
    const error = document.getElementById('fc-error');
    error.hidden = true;
    for (const id of ['fc-org', 'fc-reason']) document.getElementById(id).removeAttribute('aria-invalid');
    const body = {organisation_id: document.getElementById('fc-org').value.trim(),
      reason: document.getElementById('fc-reason').value.trim()};
    if (!body.organisation_id || !body.reason) {
      error.textContent = 'Give the organisation and the reason.';
      error.hidden = false;
      return;
    }
    try {
      const audit = await api('POST', '/api/audits/for-cause', body);
      carryNotice(`For-cause audit started (case ${audit.business_key}).`);
      location.assign(`/cases/${encodeURIComponent(audit.id)}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // in words: the server's sentence (e.g. "Lab B has no accreditation to audit"), the field it names marked
      error.textContent = e.message;
      error.hidden = false;
      const fields = {'/organisation_id': 'fc-org', '/accreditation_case_id': 'fc-org', '/reason': 'fc-reason'};
      for (const x of (e.problem && e.problem.errors) || []) {
        const input = document.getElementById(fields[x.field] || '');
        if (input) input.setAttribute('aria-invalid', 'true');
      }
      document.getElementById('fc-org').setAttribute('aria-describedby', 'fc-error');
    }
  }

  start();
})();
