// The playground page: one Slack channel, the app's Home and Messages tabs,
// and modals, drawn from the simulator's event stream (api/events) and acted
// on through its API (api/command, api/click, ...). No framework, no build.
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const state = {
  me: '',
  users: new Map(), // id → {id, name, title}
  channel: {id: 'C0REL', name: 'releases'},
  items: new Map(), // key → item from the stream
  els: new Map(), // key (and key + '#b' for a broadcast copy) → <li>
  stream: null,
  pane: 'channel',
  tab: 'home',
  modal: {key: '', json: ''},
  history: [],
  historyAt: 0,
  dismissed: new Set(), // ephemeral messages the person dismissed
};

// ---- talking to the simulator ----

async function api(path, body) {
  const r = await fetch('api/' + path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({user: state.me, ...body}),
  });
  if (r.status === 204) return null;
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(out.error || r.statusText);
  return out;
}

function showError(err) {
  $('error').textContent = err ? String(err.message || err) : '';
}

function connect() {
  if (state.stream) state.stream.close();
  state.stream = new EventSource('api/events?user=' + encodeURIComponent(state.me));
  state.stream.addEventListener('state', (e) => apply(JSON.parse(e.data)));
  state.stream.onerror = () => setConnected(false);
}

function setConnected(on) {
  if (document.body.dataset.connected === String(on)) return; // a live region: say it once
  document.body.dataset.connected = String(on);
  $('status').textContent = on ? 'releasebot is connected' : 'releasebot is not connected';
}

function apply(st) {
  if (st.reset) {
    state.items.clear();
    for (const e of state.els.values()) e.remove();
    state.els.clear();
  }
  // Whose view the page shows: tests wait on it after switching people.
  if (st.reset) document.body.dataset.as = state.me;
  setConnected(st.connected);
  for (const it of st.items) {
    const isNew = !state.items.has(it.key);
    if (it.deleted) {
      state.items.delete(it.key);
      for (const k of [it.key, it.key + '#b']) {
        state.els.get(k)?.remove();
        state.els.delete(k);
      }
      continue;
    }
    state.items.set(it.key, it);
    if (it.kind !== 'view') {
      draw(it);
      if (isNew && !st.reset) announce(it);
    }
  }
  place();
  drawHome();
  drawModal();
}

function announce(it) {
  const who = nameOf(it.user);
  $('announce').textContent = `${who}: ${it.text || 'new message'}`;
}

// ---- people ----

function nameOf(id) {
  return state.users.get(id)?.name || (id || '').toLowerCase();
}

function initials(id) {
  return nameOf(id).slice(0, 1).toUpperCase() || '?';
}

function colorOf(id) {
  let h = 0;
  for (const c of id || '') h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h} 45% 42%)`;
}

async function loadPeople() {
  const r = await fetch('api/users');
  const dir = await r.json();
  state.users.set(dir.bot.id, dir.bot);
  state.channel = dir.channels[0] || state.channel;
  const who = $('who');
  for (const u of dir.users) {
    state.users.set(u.id, u);
    const o = el('option', '', `${u.name} (${u.title || 'no role'})`);
    o.value = u.id;
    who.append(o);
  }
  const wanted = new URLSearchParams(location.search).get('as');
  state.me = dir.users.some((u) => u.id === wanted) ? wanted : (dir.users[0] || {}).id;
  who.value = state.me;
}

function actAs(id) {
  state.me = id;
  const u = new URL(location.href);
  u.searchParams.set('as', id);
  history.replaceState(null, '', u);
  showError('');
  connect();
  if (state.pane === 'app' && state.tab === 'home') openHome();
}

// ---- mrkdwn ----

const EMOJI = {
  white_check_mark: '✅', x: '❌', large_blue_circle: '🔵', raising_hand: '🙋', double_vertical_bar: '⏸️',
  fast_forward: '⏩', rewind: '⏪', leftwards_arrow_with_hook: '↩️', boom: '💥', octagonal_sign: '🛑',
  arrows_counterclockwise: '🔄', grey_question: '❔', warning: '⚠️', white_circle: '⚪', hourglass: '⌛',
  hourglass_flowing_sand: '⏳', new: '🆕', lock: '🔒', unlock: '🔓', snowflake: '❄️', bell: '🔔',
  alarm_clock: '⏰', stopwatch: '⏱️', inbox_tray: '📥', page_facing_up: '📄', rotating_light: '🚨',
  no_entry: '⛔', no_entry_sign: '🚫', heavy_check_mark: '✔️', tada: '🎉', rocket: '🚀', eyes: '👀',
  information_source: 'ℹ️', calendar: '📅', link: '🔗', busts_in_silhouette: '👥', bust_in_silhouette: '👤',
  point_right: '👉', thumbsup: '👍', '+1': '👍', thinking_face: '🤔', mag: '🔍', key: '🔑', gear: '⚙️',
  construction: '🚧', traffic_light: '🚦', clipboard: '📋', memo: '📝', pushpin: '📌', sparkles: '✨',
};

const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function emojify(s) {
  return s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
}

// mrkdwn renders Slack's mrkdwn as DOM nodes (never as HTML source).
function mrkdwn(src) {
  const frag = document.createDocumentFragment();
  const parts = src.split('```');
  parts.forEach((p, i) => {
    if (i % 2 === 1 && i < parts.length - 1) {
      frag.append(el('pre', '', decode(p.replace(/^\n/, ''))));
    } else {
      frag.append(inline(i % 2 === 1 ? '```' + p : p));
    }
  });
  return frag;
}

function inline(src) {
  const frag = document.createDocumentFragment();
  src.split(/`([^`\n]+)`/).forEach((p, i) => {
    frag.append(i % 2 ? el('code', '', decode(p)) : styled(p));
  });
  return frag;
}

const TOKEN = /<([^<>]+)>|(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<![\w_])_([^_\n]+)_(?![\w_])|(?<![\w~])~([^~\n]+)~(?![\w~])|:([a-z0-9_+-]+):|\n/g;

function styled(s) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of s.matchAll(TOKEN)) {
    frag.append(decode(s.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1] !== undefined) frag.append(control(m[1]));
    else if (m[2] !== undefined) frag.append(wrap('strong', m[2]));
    else if (m[3] !== undefined) frag.append(wrap('em', m[3]));
    else if (m[4] !== undefined) frag.append(wrap('del', m[4]));
    else if (m[5] !== undefined) frag.append(EMOJI[m[5]] ? emoji(m[5]) : m[0]);
    else frag.append(el('br'));
  }
  frag.append(decode(s.slice(last)));
  return frag;
}

function wrap(tag, inner) {
  const e = el(tag);
  e.append(styled(inner));
  return e;
}

function emoji(name) {
  const e = el('span', 'emoji', EMOJI[name]);
  e.title = `:${name}:`;
  return e;
}

// control renders <...>: mentions, channels, groups, dates and links (as text).
function control(inner) {
  const [target, label] = splitOnce(inner, '|');
  if (target.startsWith('@')) return el('span', 'mention', '@' + (label || nameOf(target.slice(1))));
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return el('span', 'mention', '#' + (label || (id === state.channel.id ? state.channel.name : id)));
  }
  if (target.startsWith('!subteam^')) return el('span', 'mention', label ? (label.startsWith('@') ? label : '@' + label) : '@' + target.slice(9));
  if (/^!(here|channel|everyone)$/.test(target)) return el('span', 'mention', '@' + target.slice(1));
  if (target.startsWith('!date^')) {
    const [, ts, fmt] = target.split('^');
    const t = el('time', 'date', slackDate(Number(ts), fmt || '', label || ''));
    if (label) t.title = label;
    return t;
  }
  const link = el('span', 'link', decode(label || target));
  link.title = decode(target);
  return link;
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function slackDate(sec, fmt, fallback) {
  const d = new Date(sec * 1000);
  if (!Number.isFinite(sec) || Number.isNaN(d.getTime())) return fallback;
  const pad = (n) => String(n).padStart(2, '0');
  const day = {month: 'long', day: 'numeric', year: 'numeric'};
  const parts = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date: d.toLocaleDateString(undefined, day),
    date_short: d.toLocaleDateString(undefined, {month: 'short', day: 'numeric', year: 'numeric'}),
    date_long: d.toLocaleDateString(undefined, {weekday: 'long', ...day}),
    time: d.toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'}),
    time_secs: d.toLocaleTimeString(),
    ago: ago(d),
  };
  parts.date_pretty = parts.date;
  parts.date_short_pretty = parts.date_short;
  parts.date_long_pretty = parts.date_long;
  return fmt.replace(/\{(\w+)\}/g, (m, k) => parts[k] ?? m) || fallback;
}

function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (Math.abs(s) < 60) return 'just now';
  const m = Math.round(s / 60);
  if (Math.abs(m) < 60) return m > 0 ? `${m} minutes ago` : `in ${-m} minutes`;
  const h = Math.round(m / 60);
  return h > 0 ? `${h} hours ago` : `in ${-h} hours`;
}

function textObject(t) {
  if (!t) return document.createDocumentFragment();
  if (t.type === 'mrkdwn') return mrkdwn(t.text || '');
  return document.createTextNode(decode(t.emoji === false ? t.text || '' : emojify(t.text || '')));
}

// ---- Block Kit ----

// blocks renders a message's or a view's blocks; where says what a click
// is on: {channel, ts, ephemeral} or {viewId}.
function blocks(list, where, errors) {
  const frag = document.createDocumentFragment();
  for (const b of list || []) {
    const f = block(b, where, errors || {});
    if (f) frag.append(f);
  }
  return frag;
}

function block(b, where, errors) {
  switch (b.type) {
    case 'section': {
      const s = el('div', 'b-section');
      const body = el('div', 'b-text');
      if (b.text) body.append(textObject(b.text));
      if (b.fields) {
        const grid = el('div', 'b-fields');
        for (const f of b.fields) {
          const cell = el('div');
          cell.append(textObject(f));
          grid.append(cell);
        }
        body.append(grid);
      }
      s.append(body);
      if (b.accessory && b.accessory.type === 'button') s.append(button(b.accessory, b.block_id, where));
      return s;
    }
    case 'header':
      return el('h3', 'b-header', emojify(decode(b.text?.text || '')));
    case 'divider':
      return el('hr', 'b-divider');
    case 'context': {
      const c = el('div', 'b-context');
      for (const e of b.elements || []) {
        const s = el('span', e.type === 'image' ? 'b-image' : '');
        s.append(e.type === 'image' ? `[${e.alt_text || 'image'}]` : textObject(e));
        c.append(s);
      }
      return c;
    }
    case 'actions': {
      const a = el('div', 'b-actions');
      for (const e of b.elements || []) {
        if (e.type === 'button') a.append(button(e, b.block_id, where));
      }
      return a;
    }
    case 'input':
      return input(b, errors[b.block_id]);
    case 'image':
      return el('div', 'b-image', `[${b.alt_text || 'image'}]`);
    default:
      return null;
  }
}

function button(e, blockId, where) {
  const b = el('button', 'btn ' + (e.style || ''));
  b.type = 'button';
  b.append(textObject(e.text));
  b.dataset.actionId = e.action_id || '';
  b.dataset.blockId = blockId || '';
  b.addEventListener('click', async () => {
    b.disabled = true;
    showError('');
    try {
      await api('click', {
        channel: where.channel || '', ts: where.ts || '', ephemeral: !!where.ephemeral, view_id: where.viewId || '',
        action_id: e.action_id || '', block_id: blockId || '', value: e.value || '',
      });
    } catch (err) {
      showError(err);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

let inputSeq = 0;

function input(b, error) {
  const wrapEl = el('div', 'b-input');
  const e = b.element || {};
  const id = 'input-' + (++inputSeq);
  const label = el('label', '', decode(b.label?.text || ''));
  label.htmlFor = id;
  wrapEl.append(label);
  let field;
  if (e.type === 'plain_text_input') {
    field = el(e.multiline ? 'textarea' : 'input');
    if (e.max_length) field.maxLength = e.max_length;
    if (e.placeholder) field.placeholder = decode(e.placeholder.text || '');
    if (e.initial_value) field.value = e.initial_value;
  } else if (e.type === 'static_select') {
    field = el('select');
    for (const o of e.options || []) {
      const opt = el('option', '', decode(o.text?.text || ''));
      opt.value = o.value;
      field.append(opt);
    }
  } else {
    wrapEl.append(el('p', 'b-context', `(${e.type} is not shown in the playground)`));
    return wrapEl;
  }
  field.id = id;
  field.required = !b.optional;
  field.dataset.blockId = b.block_id || '';
  field.dataset.actionId = e.action_id || '';
  wrapEl.append(field);
  if (b.hint) wrapEl.append(el('p', 'b-hint', decode(b.hint.text || '')));
  const err = el('p', 'b-error', error || '');
  err.id = id + '-error';
  field.setAttribute('aria-describedby', err.id);
  if (error) field.setAttribute('aria-invalid', 'true');
  wrapEl.append(err);
  return wrapEl;
}

// ---- messages ----

function cmpTS(a, b) {
  const [as, af = ''] = a.split('.');
  const [bs, bf = ''] = b.split('.');
  return Number(as) - Number(bs) || af.localeCompare(bf);
}

function isReply(it) {
  return it.thread_ts && it.thread_ts !== it.ts;
}

const drawn = new WeakMap(); // <li> → JSON of the item it shows

function draw(it) {
  fill(element(it.key, 'msg'), it, false);
  if (isReply(it) && it.reply_broadcast) fill(element(it.key + '#b', 'msg broadcast'), it, true);
}

// element is the <li> of a message: a row (avatar, body), then its thread.
function element(key, cls) {
  let li = state.els.get(key);
  if (!li) {
    li = el('li', cls);
    const row = el('div', 'row');
    row.append(el('div', 'avatar'), el('div', 'body'));
    li.append(row);
    state.els.set(key, li);
  }
  return li;
}

function fill(li, it, broadcastCopy) {
  // An unchanged message keeps its nodes, and the focus in them.
  const json = JSON.stringify(it);
  if (drawn.get(li) === json) return;
  drawn.set(li, json);
  li.dataset.key = it.key;
  li.dataset.ts = it.ts;
  li.dataset.channel = it.channel;
  li.dataset.user = it.user;
  li.dataset.edits = String(it.edits || 0);
  if (it.thread_ts) li.dataset.threadTs = it.thread_ts;
  li.dataset.ephemeral = String(it.kind === 'ephemeral');
  li.classList.toggle('ephemeral', it.kind === 'ephemeral');

  const av = li.querySelector(':scope > .row > .avatar');
  av.textContent = initials(it.user);
  av.style.background = colorOf(it.user);
  av.setAttribute('aria-hidden', 'true');

  const body = li.querySelector(':scope > .row > .body');
  body.replaceChildren();
  const meta = el('div', 'meta');
  meta.append(el('span', 'author', nameOf(it.user)));
  if (it.user === 'U0BOT' || state.users.get(it.user)?.title === 'app') meta.append(el('span', 'badge', 'APP'));
  const t = el('time', 'when', it.posted ? new Date(it.posted).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}) : '');
  if (it.posted) t.dateTime = new Date(it.posted).toISOString();
  meta.append(t);
  if (it.edits) meta.append(el('span', 'edited', '(edited)'));
  body.append(meta);
  if (broadcastCopy) body.append(el('div', 'replied', 'replied to a thread'));
  if (it.kind === 'ephemeral') {
    const only = el('div', 'only-you');
    only.append(el('span', '', '👁 '), 'Only visible to you');
    only.firstChild.setAttribute('aria-hidden', 'true');
    body.append(only);
  }
  const content = el('div', 'content');
  const where = {channel: it.channel, ts: it.ts, ephemeral: it.kind === 'ephemeral'};
  if (it.blocks && it.blocks.length) content.append(blocks(it.blocks, where));
  else content.append(mrkdwn(it.text || ''));
  body.append(content);
  for (const f of it.files || []) {
    const a = el('a', 'file');
    a.href = 'api/files/' + encodeURIComponent(f.id);
    a.download = f.name;
    a.append(el('span', '', '📄 '), `${f.title || f.name} (${f.size} bytes)`);
    a.firstChild.setAttribute('aria-hidden', 'true');
    body.append(a);
  }
  if (it.kind === 'ephemeral') {
    const dismiss = el('button', 'linkish', 'Dismiss');
    dismiss.type = 'button';
    dismiss.addEventListener('click', () => {
      state.dismissed.add(it.key);
      li.remove();
    });
    body.append(dismiss);
  }
}

// place puts every message where it belongs: the channel or the Messages
// tab, top level or in its parent's thread, in timestamp order.
function place() {
  const wanted = new Map(); // container → [li]
  const add = (c, li, ts) => {
    if (!wanted.has(c)) wanted.set(c, []);
    wanted.get(c).push([ts, li]);
  };
  for (const [key, li] of state.els) {
    const it = state.items.get(key.replace(/#b$/, ''));
    if (!it || state.dismissed.has(key)) continue;
    const top = it.channel === state.channel.id ? $('timeline') : it.channel.startsWith('D') ? $('dm') : null;
    if (!top) continue;
    if (key.endsWith('#b')) {
      add(top, li, it.ts);
      continue;
    }
    const parent = isReply(it) && state.els.get(`message:${it.channel}/${it.thread_ts}`);
    if (parent) {
      let thread = parent.querySelector(':scope > .thread');
      if (!thread) {
        thread = el('ol', 'thread');
        thread.dataset.threadTs = it.thread_ts;
        thread.setAttribute('aria-label', 'Thread replies');
        parent.append(thread);
      }
      add(thread, li, it.ts);
    } else {
      add(top, li, it.ts);
    }
  }
  for (const [c, list] of wanted) {
    list.sort((a, b) => cmpTS(a[0], b[0]));
    list.forEach(([, li], i) => {
      if (c.children[i] !== li) c.insertBefore(li, c.children[i] || null);
    });
  }
  for (const c of [$('timeline'), $('dm')]) {
    if (c.lastElementChild && c.dataset.count !== String(c.children.length)) {
      c.dataset.count = String(c.children.length);
      c.lastElementChild.scrollIntoView({block: 'nearest'});
    }
  }
}

// ---- views: App Home and modals ----

function viewsOf(type) {
  return [...state.items.values()].filter((it) => it.kind === 'view' && it.view_type === type);
}

function drawHome() {
  const home = viewsOf('home')[0];
  const box = $('home');
  const json = home ? JSON.stringify(home.view) : '';
  if (box.dataset.json === json) return;
  box.dataset.json = json;
  box.replaceChildren();
  if (!home) {
    box.append(el('p', 'empty', 'releasebot has not published a Home tab for you.'));
    return;
  }
  box.dataset.viewId = home.view.id;
  box.append(blocks(home.view.blocks, {viewId: home.view.id}));
}

function drawModal() {
  const open = viewsOf('modal').filter((v) => v.open).sort((a, b) => a.view.id.localeCompare(b.view.id));
  const top = open[open.length - 1];
  const dlg = $('modal');
  if (!top) {
    state.modal = {key: '', json: ''};
    if (dlg.open) dlg.close();
    return;
  }
  const v = top.view;
  const json = JSON.stringify(v.blocks) + JSON.stringify(top.errors || {});
  if (state.modal.key !== top.key || state.modal.json !== json) {
    const typed = collect();
    $('modal-title').textContent = decode(v.title?.text || '');
    $('modal-body').replaceChildren(blocks(v.blocks, {viewId: v.id}, top.errors));
    if (state.modal.key === top.key) restore(typed);
    $('modal-submit').textContent = decode(v.submit?.text || 'Submit');
    $('modal-submit').hidden = !v.submit;
    $('modal-cancel').textContent = decode(v.close?.text || 'Cancel');
    $('modal-error').textContent = '';
    dlg.dataset.viewId = v.id;
    state.modal = {key: top.key, json};
  }
  if (!dlg.open) {
    dlg.showModal();
    dlg.querySelector('textarea, input, select')?.focus();
  }
}

function collect() {
  const values = {};
  for (const f of $('modal-body').querySelectorAll('[data-action-id]')) {
    if (!('value' in f) || f.tagName === 'BUTTON') continue;
    (values[f.dataset.blockId] ||= {})[f.dataset.actionId] = f.value;
  }
  return values;
}

function restore(values) {
  for (const f of $('modal-body').querySelectorAll('[data-action-id]')) {
    const v = values[f.dataset.blockId]?.[f.dataset.actionId];
    if (v !== undefined && f.tagName !== 'BUTTON') f.value = v;
  }
}

async function submitModal(e) {
  e.preventDefault();
  const form = $('modal-form');
  if (!form.reportValidity()) return;
  const submit = $('modal-submit');
  submit.disabled = true;
  try {
    await api('submit', {view_id: $('modal').dataset.viewId, values: collect()});
  } catch (err) {
    $('modal-error').textContent = err.message;
  } finally {
    submit.disabled = false;
  }
}

async function cancelModal(e) {
  e?.preventDefault();
  const id = $('modal').dataset.viewId;
  $('modal').close();
  try {
    await api('close', {view_id: id});
  } catch (err) {
    showError(err);
  }
}

// ---- panes ----

function show(pane) {
  state.pane = pane;
  $('channel-pane').hidden = pane !== 'channel';
  $('app-pane').hidden = pane !== 'app';
  $('nav-channel').toggleAttribute('aria-current', pane === 'channel');
  $('nav-app').toggleAttribute('aria-current', pane === 'app');
  if (pane === 'app') tab(state.tab);
}

function tab(which) {
  state.tab = which;
  for (const [t, panel] of [['home', 'home'], ['messages', 'dm']]) {
    const on = t === which;
    $('tab-' + t).setAttribute('aria-selected', String(on));
    $('tab-' + t).tabIndex = on ? 0 : -1;
    $(panel).hidden = !on;
  }
  if (which === 'home') openHome();
}

async function openHome() {
  try {
    await api('home', {});
  } catch (err) {
    showError(err);
  }
}

// ---- composer ----

const HINTS = [
  '/release help', '/release list', '/release start payments-api', '/release status payments-api',
  '/release start legacy-batch', '/release retry legacy-batch', '/release start data-pipeline', '/release audit',
];

async function send(e) {
  e.preventDefault();
  const box = $('compose');
  const text = box.value.trim();
  if (!text) return;
  showError('');
  box.disabled = true;
  try {
    if (text.startsWith('/')) {
      const [command, rest] = splitOnce(text, ' ');
      if (command !== '/release') throw new Error(`${command} is not a command here: try /release help`);
      await api('command', {channel: state.channel.id, command, text: rest.trim()});
      state.history.push(text);
      state.historyAt = state.history.length;
    } else {
      await api('message', {channel: state.channel.id, text});
    }
    box.value = '';
  } catch (err) {
    showError(err);
  } finally {
    box.disabled = false;
    box.focus();
  }
}

function recall(e) {
  if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
  const h = state.history;
  if (!h.length) return;
  state.historyAt = Math.max(0, Math.min(h.length, state.historyAt + (e.key === 'ArrowUp' ? -1 : 1)));
  e.target.value = h[state.historyAt] || '';
  e.preventDefault();
}

async function main() {
  for (const h of HINTS) {
    const b = el('button', 'hint', h);
    b.type = 'button';
    b.addEventListener('click', () => {
      $('compose').value = h;
      $('compose').focus();
    });
    $('hints').append(b);
  }
  $('composer').addEventListener('submit', send);
  $('compose').addEventListener('keydown', recall);
  $('who').addEventListener('change', (e) => actAs(e.target.value));
  $('nav-channel').addEventListener('click', () => show('channel'));
  $('nav-app').addEventListener('click', () => show('app'));
  $('tab-home').addEventListener('click', () => tab('home'));
  $('tab-messages').addEventListener('click', () => tab('messages'));
  // Tabs move with the arrow keys, as ARIA's tab pattern has it.
  document.querySelector('[role="tablist"]').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const next = state.tab === 'home' ? 'messages' : 'home';
    tab(next);
    $('tab-' + next).focus();
  });
  $('modal-form').addEventListener('submit', submitModal);
  $('modal-cancel').addEventListener('click', cancelModal);
  $('modal').addEventListener('cancel', cancelModal);
  await loadPeople();
  connect();
}

main().catch(showError);
