/* "/audit": find a case to audit (the cases the reader may see); links by role. */
'use strict';

(() => {
  const {api, me, el, utc} = Accredit;
  const SYSTEM = ['auditor', 'admin'];
  const STEPS = ['quality_manager', 'auditor', 'coordinator'];
  const state = {seq: 0};

  async function start() {
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    document.getElementById('link-system').hidden = !SYSTEM.some((r) => user.roles.includes(r));
    document.getElementById('link-steps').hidden = !STEPS.some((r) => user.roles.includes(r));
    const q = document.getElementById('q');
    q.value = new URLSearchParams(location.search).get('q') || '';
    let timer = null;
    q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 250); });
    document.getElementById('case-search').addEventListener('submit', (e) => { e.preventDefault(); load(); });
    await load();
  }

  async function load() {
    const seq = ++state.seq;
    const q = document.getElementById('q').value.trim();
    history.replaceState(null, '', q ? `/audit?${new URLSearchParams({q})}` : '/audit');
    const result = await api('GET', `/api/cases?${new URLSearchParams({...(q ? {q} : {}), per_page: 50})}`);
    if (seq !== state.seq) return;
    document.querySelector('#case-list tbody').replaceChildren(...result.items.map((c) => el('tr', {dataset: {caseId: c.id}},
      el('td', {}, el('a', {href: `/audit/cases/${encodeURIComponent(c.id)}`}, c.business_key || c.id)),
      el('td', {}, `${c.process_key}${c.definition_version ? ` v${c.definition_version}` : ''}`),
      el('td', {}, c.organisation_id || ''),
      el('td', {}, c.status),
      el('td', {class: 'nowrap'}, utc(c.created_at)))));
    document.getElementById('cases-count').textContent =
      `${result.total} case${result.total === 1 ? '' : 's'}${q ? ' match' : ''}${result.total > 50 ? ' (the 50 newest shown)' : ''}.`;
  }

  start();
})();
