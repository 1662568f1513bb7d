/* "/audit/cases/<id>": one case for an auditor (read-only for anyone else who may see it): verification,
   signatures, exports and the filterable history. */
'use strict';

(() => {
  const {api, ApiError, me, el, utc, meta} = Accredit;
  const caseId = document.getElementById('audit-case').dataset.caseId;
  const enc = encodeURIComponent(caseId);

  async function start() {
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    const timeline = AuditConsole.timeline(`/api/audit/cases/${enc}/timeline`, showCase);
    let broken = null;
    const verification = AuditConsole.verification(`/api/audit/cases/${enc}/verify`, (r) => {
      broken = r.ok ? null : r.first_broken.seq;
      timeline.mark(broken);
      const show = document.getElementById('show-broken');
      if (show) show.addEventListener('click', async () => { await timeline.reveal(broken); timeline.mark(broken); });
    });
    try {
      await timeline.load();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      document.getElementById('case-title').textContent = 'Case not available';
      Accredit.showError(e.message);
      return;
    }
    exports();
    await Promise.all([verification.run(), signatures()]);
    timeline.mark(broken);
  }

  function showCase(result) {
    const c = result.case;
    document.getElementById('case-title').textContent = `Audit of ${c.business_key}`;
    document.title = `Audit of ${c.business_key} · accredit`;
    meta(document.getElementById('case-meta'), [
      ['Process', `${c.process_name || c.process_key} v${c.definition_version}`],
      ['Organisation', c.organisation_id], ['Status', c.status], ['Outcome', c.outcome],
      ['Started', utc(c.created_at)], ['Events', String(result.chain_length)]]);
  }

  function exports() {
    const base = `/api/cases/${enc}`;
    document.getElementById('export-csv').href = `${base}/history/export?format=csv`;
    document.getElementById('export-json').href = `${base}/history/export?format=json`;
    document.getElementById('export-pdf').href = `${base}/record.pdf`;
  }

  async function signatures() {
    const list = await api('GET', `/api/cases/${enc}/signatures`);
    document.querySelector('#signatures tbody').replaceChildren(...list.map((s) => el('tr', {dataset: {seq: s.seq}},
      el('td', {}, el('strong', {}, s.meaning)),
      el('td', {}, `${s.printed_name} (${s.username})`),
      el('td', {}, s.role || ''),
      el('td', {}, s.element_name || s.element_id),
      el('td', {class: 'nowrap'}, utc(s.signed_at, true)),
      el('td', {class: s.binding_ok ? 'binding ok' : 'binding broken'},
        s.binding_ok ? '✓ matches the signed data' : '✗ the signed data changed'),
      el('td', {}, `#${s.seq}`))));
    document.getElementById('signatures').hidden = list.length === 0;
    document.getElementById('signatures-empty').hidden = list.length > 0;
  }

  start();
})();
