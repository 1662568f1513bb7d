/* Process studio: what every studio page shares — the signed-in quality manager, the version's files, and the
   links between the pages. Everything is read from and written to the REST API (docs/api-guide.md). */
'use strict';

const Studio = (() => {
  const {api, el} = Accredit;

  /** The signed-in user, or a redirect to sign in. A user who is not a quality manager sees the pages read-only:
      the API refuses what they may not do and the page shows its answer. */
  async function user() {
    const me = await Accredit.me();
    if (!me) {
      location.assign(Accredit.signInUrl());
      return new Promise(() => {});
    }
    return me;
  }

  const enc = encodeURIComponent;
  const base = (key) => `/api/process-definitions/${enc(key)}`;

  /** A version's metadata and every file's text: {detail, files: {name: text}}. */
  async function loadVersion(key, version) {
    const detail = await api('GET', `${base(key)}/versions/${version}`);
    const files = {};
    await Promise.all(detail.files.map(async (f) => {
      const response = await fetch(`${base(key)}/versions/${version}/files/${enc(f.name)}`,
        {credentials: 'same-origin'});
      if (!response.ok) throw new Accredit.ApiError(response.status, {detail: `could not read ${f.name}`});
      files[f.name] = await response.text();
    }));
    return {detail, files};
  }

  /** The BPMN file of a bundle that defines process ``key`` (the diagram to open first). */
  function mainBpmn(files, key) {
    const names = Object.keys(files).filter((n) => n.endsWith('.bpmn')).sort();
    const defines = new RegExp(`<(?:\\w+:)?process\\b[^>]*\\bid="${key.replace(/[^\w-]/g, '')}"`);
    return names.find((n) => defines.test(files[n])) || names[0];
  }

  const links = {
    list: () => '/studio',
    editor: (key, v) => `/studio/${enc(key)}/versions/${v}`,
    diff: (key, from, to) => `/studio/${enc(key)}/diff?from=${from}&to=${to}`,
    migrate: (key, v) => `/studio/${enc(key)}/versions/${v}/migrate`,
  };

  /** A short "kind" for a file name: bpmn, dmn, form or ui schema. */
  function kind(name) {
    if (name.endsWith('.bpmn')) return 'bpmn';
    if (name.endsWith('.dmn')) return 'dmn';
    return name.endsWith('.uischema.json') ? 'ui' : 'form';
  }

  /** A status line under a heading (role=status): what just happened. */
  function status(node, text, tone = '') {
    node.textContent = text;
    node.className = `status ${tone}`.trim();
    node.hidden = !text;
  }

  function section(root) {
    const data = root.dataset;
    return {key: data.key, version: data.version ? Number(data.version) : null};
  }

  return {user, loadVersion, mainBpmn, links, kind, status, section, base, api, el};
})();
