/* "/audit/system": the system history (auditors and administrators) with the same filters as a case. */
'use strict';

(() => {
  const {me, ApiError} = Accredit;

  async function start() {
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    const timeline = AuditConsole.timeline('/api/audit/system/timeline');
    const verification = AuditConsole.verification('/api/audit/system/verify', (r) => {
      const seq = r.ok ? null : r.first_broken.seq;
      timeline.mark(seq);
      const show = document.getElementById('show-broken');
      if (show) show.addEventListener('click', async () => { await timeline.reveal(seq); timeline.mark(seq); });
    });
    try {
      await timeline.load();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 403) throw e;
      document.querySelector('#audit-system').replaceChildren(
        Accredit.el('h1', {}, 'System history'),
        Accredit.el('p', {}, 'The system history is for auditors and administrators.'),
        Accredit.el('p', {}, Accredit.el('a', {href: '/audit'}, 'Back to Audit')));
      return;
    }
    await verification.run();
  }

  start();
})();
