/* "/cases": the cases the user may see (GET /api/cases, newest first), filtered by status and searched by
   business key (the API's `status` and `q`). The filters are kept in the address, so a filtered list can be
   bookmarked or shared. */
'use strict';

(() => {
  const {api, me, notice, utc, el} = Accredit;
  const PER_PAGE = 50;
  const status = document.getElementById('f-status');
  const search = document.getElementById('f-q');
  const state = {page: 1, seq: 0};

  async function start() {
    notice();
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    const params = new URLSearchParams(location.search);
    status.value = ['running', 'completed'].includes(params.get('status')) ? params.get('status') : '';
    search.value = params.get('q') || '';
    state.page = Math.max(1, parseInt(params.get('page'), 10) || 1);
    let timer = null;
    status.addEventListener('change', () => { state.page = 1; load(); });
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.page = 1; load(); }, 250);
    });
    document.getElementById('case-filters').addEventListener('submit', (e) => {
      e.preventDefault(); clearTimeout(timer); state.page = 1; load();
    });
    document.getElementById('prev-page').addEventListener('click', () => { state.page -= 1; load(); });
    document.getElementById('next-page').addEventListener('click', () => { state.page += 1; load(); });
    await load();
  }

  async function load() {
    const seq = ++state.seq;  // answers to older requests (typing fast) are dropped
    const filters = {};
    if (status.value) filters.status = status.value;
    if (search.value.trim()) filters.q = search.value.trim();
    const shown = new URLSearchParams({...filters, ...(state.page > 1 ? {page: state.page} : {})}).toString();
    history.replaceState(null, '', shown ? `/cases?${shown}` : '/cases');
    const result = await api('GET', `/api/cases?${new URLSearchParams({...filters, page: state.page, per_page: PER_PAGE})}`);
    if (seq !== state.seq) return;
    const rows = result.items.map((c) => el('tr', {dataset: {caseId: c.id, status: c.status}},
      el('td', {}, el('a', {href: `/cases/${encodeURIComponent(c.id)}`}, c.business_key || c.id)),
      el('td', {}, `${c.process_key}${c.definition_version ? ` v${c.definition_version}` : ''}`),
      el('td', {}, c.organisation_id || ''),
      el('td', {}, el('span', {class: `status ${c.status}`}, c.status)),
      el('td', {}, c.outcome || ''),
      el('td', {class: 'nowrap'}, utc(c.created_at)),
      el('td', {class: 'nowrap'}, utc(c.ended_at))));
    document.querySelector('#case-list tbody').replaceChildren(...rows);
    document.getElementById('cases-empty').hidden = rows.length > 0;
    document.getElementById('cases-count').textContent =
      `${result.total} case${result.total === 1 ? '' : 's'}${filters.status || filters.q
        ? (result.total === 1 ? ' matches' : ' match') : ''}, newest first.`;
    const pages = Math.max(1, Math.ceil(result.total / PER_PAGE));
    document.getElementById('page-label').textContent = `Page ${state.page} of ${pages}`;
    document.getElementById('prev-page').disabled = state.page <= 1;
    document.getElementById('next-page').disabled = state.page >= pages;
    document.querySelector('.pager').hidden = pages <= 1;
  }

  start();
})();
