/* /admin: users (create, roles, organisation, deactivate/reactivate), organisations, each user's API tokens.
   Every action is one call to /api/admin; the server checks the admin role and records the change. */
'use strict';

(() => {
  const {api, ApiError, me, notice, utc, el} = Accredit;
  const ROLES = ['applicant', 'coordinator', 'inspector', 'committee', 'quality_manager', 'auditor', 'admin'];
  const state = {users: [], orgs: [], selected: null, me: null};
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  function roleBoxes(container, prefix) {
    for (const role of ROLES) {
      const id = `${prefix}-role-${role}`;
      container.append(el('label', {for: id}, el('input', {type: 'checkbox', id, value: role}), role.replace('_', ' ')));
    }
  }
  const checkedRoles = (container) => [...container.querySelectorAll('input:checked')].map((i) => i.value);

  function fillOrgSelects() {
    for (const select of document.querySelectorAll('select.org-select')) {
      const keep = select.value;
      select.replaceChildren(el('option', {value: ''}, '(none)'),
        ...state.orgs.map((o) => el('option', {value: o.id}, `${o.name} (${o.id})`)));
      select.value = keep;
    }
  }

  function say(message) { notice(message); }

  /** Show a 422/404/409 problem next to a form (field errors listed). */
  function formError(box, e) {
    if (!(e instanceof ApiError)) throw e;
    const errors = (e.problem.errors || []).map((x) => `${x.field.replace('/', '')}: ${x.message}`);
    box.replaceChildren(el('p', {}, e.message), ...(errors.length ? [el('ul', {}, errors.map((t) => el('li', {}, t)))] : []));
    box.hidden = false;
  }

  async function loadOrgs() {
    state.orgs = await api('GET', '/api/admin/organisations');
    $('org-list').tBodies[0].replaceChildren(...state.orgs.map((o) => el('tr', {}, el('td', {}, o.id), el('td', {}, o.name))));
    fillOrgSelects();
  }

  async function loadUsers() {
    const active = $('f-active').value;
    state.users = await api('GET', `/api/admin/users${active ? `?active=${active}` : ''}`);
    $('user-list').tBodies[0].replaceChildren(...state.users.map(userRow));
  }

  function userRow(u) {
    const self = state.me && u.username === state.me.username;
    return el('tr', {dataset: {username: u.username}},
      el('td', {}, u.username), el('td', {}, u.display_name), el('td', {}, u.roles.join(', ')),
      el('td', {}, u.organisation_id || '—'),
      el('td', {}, el('span', {class: `state ${u.active ? 'active' : 'inactive'}`}, u.active ? 'Active' : 'Deactivated')),
      el('td', {class: 'row-actions'},
        el('button', {type: 'button', class: 'small', 'aria-label': `Manage ${u.username}`,
          onclick: () => select(u.username)}, 'Manage'),
        self ? null : el('button', {type: 'button', class: 'small', 'aria-label': `${u.active ? 'Deactivate' : 'Reactivate'} ${u.username}`,
          onclick: () => setActive(u.username, !u.active)}, u.active ? 'Deactivate' : 'Reactivate')));
  }

  async function setActive(username, active) {
    await api('PATCH', `/api/admin/users/${enc(username)}`, {active});
    say(active ? `${username} can sign in again.` : `${username} is deactivated: sign-in refused, sessions ended and API tokens revoked.`);
    await loadUsers();
    if (state.selected === username) await select(username);
  }

  async function select(username) {
    const u = await api('GET', `/api/admin/users/${enc(username)}`);
    state.selected = username;
    $('detail-title').textContent = `User ${u.username}${u.active ? '' : ' (deactivated)'}`;
    $('e-name').value = u.display_name || '';
    $('e-email').value = u.email || '';
    $('e-org').value = u.organisation_id || '';
    for (const box of $('e-roles').querySelectorAll('input')) box.checked = u.roles.includes(box.value);
    const toggle = $('toggle-active');
    toggle.hidden = state.me && u.username === state.me.username;
    toggle.textContent = u.active ? 'Deactivate' : 'Reactivate';
    toggle.onclick = () => setActive(u.username, !u.active);
    $('user-detail').hidden = false;
    await loadTokens(username);
    $('detail-title').scrollIntoView({block: 'start'});
  }

  async function loadTokens(username) {
    const tokens = await api('GET', `/api/admin/users/${enc(username)}/tokens`);
    $('token-list').tBodies[0].replaceChildren(...tokens.map((t) => el('tr', {},
      el('td', {}, t.name), el('td', {}, t.status), el('td', {class: 'nowrap'}, utc(t.created_at)),
      el('td', {class: 'nowrap'}, utc(t.expires_at)), el('td', {class: 'nowrap'}, utc(t.last_used_at) || '—'),
      el('td', {}, t.status === 'active' ? el('button', {type: 'button', class: 'small', 'aria-label': `Revoke token ${t.name}`,
        onclick: async () => {
          await api('DELETE', `/api/admin/users/${enc(username)}/tokens/${t.id}`);
          say(`Token "${t.name}" of ${username} revoked.`);
          await loadTokens(username);
        }}, 'Revoke') : ''))));
    $('token-list').hidden = tokens.length === 0;
    $('tokens-empty').hidden = tokens.length !== 0;
  }

  $('edit-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = state.selected;
    const body = {display_name: $('e-name').value.trim() || username, email: $('e-email').value.trim() || null,
      organisation_id: $('e-org').value || null, roles: checkedRoles($('e-roles'))};
    await api('PATCH', `/api/admin/users/${enc(username)}`, body);
    say(`${username} saved.`);
    await loadUsers();
    await select(username);
  });
  $('close-detail').addEventListener('click', () => { $('user-detail').hidden = true; state.selected = null; });

  $('new-user').addEventListener('submit', async (event) => {
    event.preventDefault();
    const box = $('new-user-errors');
    box.hidden = true;
    const body = {username: $('n-username').value.trim(), password: $('n-password').value,
      roles: checkedRoles($('n-roles')), organisation_id: $('n-org').value || null};
    if ($('n-name').value.trim()) body.display_name = $('n-name').value.trim();
    if ($('n-email').value.trim()) body.email = $('n-email').value.trim();
    try {
      await api('POST', '/api/admin/users', body);
    } catch (e) { return formError(box, e); }
    event.target.reset();
    say(`User ${body.username} created.`);
    await loadUsers();
  });

  $('new-org').addEventListener('submit', async (event) => {
    event.preventDefault();
    const box = $('new-org-errors');
    box.hidden = true;
    try {
      await api('POST', '/api/admin/organisations', {id: $('o-id').value.trim(), name: $('o-name').value.trim()});
    } catch (e) { return formError(box, e); }
    say(`Organisation ${$('o-id').value.trim()} created.`);
    event.target.reset();
    await loadOrgs();
  });

  $('f-active').addEventListener('change', loadUsers);

  async function start() {
    notice();
    state.me = await me();
    if (!state.me) return location.assign(Accredit.signInUrl());
    if (!state.me.roles.includes('admin')) { $('not-admin').hidden = false; return; }
    roleBoxes($('n-roles'), 'n');
    roleBoxes($('e-roles'), 'e');
    $('admin').hidden = false;
    await loadOrgs();
    await loadUsers();
  }

  start();
})();
