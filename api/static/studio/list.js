/* Studio start page: every process with its versions (GET /api/process-definitions) — who deployed each, when,
   the change note, how many cases run on it — with links to open, compare and migrate. */
'use strict';

(async () => {
  const {api, el, links} = Studio;
  const root = document.getElementById('processes');
  const me = await Studio.user();
  const manager = me.roles.includes('quality_manager');
  const processes = await api('GET', '/api/process-definitions');
  root.replaceChildren();
  if (!processes.length) root.append(el('p', {class: 'muted'}, 'No process is deployed yet.'));
  for (const p of processes) {
    const versions = [...p.versions].reverse();
    const head = el('tr', {},
      el('th', {scope: 'col'}, 'Version'), el('th', {scope: 'col'}, 'Deployed'), el('th', {scope: 'col'}, 'By'),
      el('th', {scope: 'col'}, 'Change note'), el('th', {scope: 'col'}, 'Open cases'),
      el('th', {scope: 'col'}, 'All cases'), el('th', {scope: 'col'}, 'Actions'));
    const rows = versions.map((v) => {
      const actions = el('td', {class: 'actions-cell'},
        el('a', {href: links.editor(p.key, v.version), class: 'button',
          'aria-label': `Open ${p.key} version ${v.version}`}, manager ? 'Open' : 'View'));
      if (v.version > 1) {
        actions.append(el('a', {href: links.diff(p.key, v.version - 1, v.version), class: 'button',
          'aria-label': `Compare ${p.key} version ${v.version} with ${v.version - 1}`}, 'Diff'));
      }
      if (manager && !v.latest && v.open_cases > 0) {
        actions.append(el('a', {href: links.migrate(p.key, v.version), class: 'button',
          'aria-label': `Migrate cases of ${p.key} version ${v.version}`}, 'Migrate cases'));
      }
      const cell = (label, attrs, ...content) => el('td', {...attrs, dataset: {label}}, ...content);
      actions.dataset.label = 'Actions';
      return el('tr', {dataset: {version: v.version}},
        cell('Version', {}, `v${v.version}`, v.latest ? el('span', {class: 'badge'}, 'latest') : null),
        cell('Deployed', {}, Accredit.utc(v.deployed_at)), cell('By', {}, v.deployed_by),
        cell('Change note', {class: 'note'}, v.note || ''), cell('Open cases', {class: 'num'}, String(v.open_cases)),
        cell('All cases', {class: 'num'}, String(v.cases)), actions);
    });
    root.append(el('article', {class: 'process card', dataset: {key: p.key}},
      el('h2', {}, p.name || p.key, ' ', el('code', {}, p.key)),
      el('p', {class: 'muted'}, `${p.versions.length} version(s); new cases start on v${p.latest_version}; `
        + `${p.open_cases} open case(s)`),
      el('div', {class: 'table-wrap'}, el('table', {class: 'versions'},
        el('caption', {class: 'sr-only'}, `Versions of ${p.key}`), el('thead', {}, head), el('tbody', {}, rows)))));
  }
})();
