/**
 * The operator pages: the login form and the live streams page (issue 7). Self-contained HTML: inline style and
 * script, no build step, nothing from a CDN. The streams page only reads the admin API, polling it every 2 s.
 *
 * Everything shown comes from the platform (stream names) or from destinations (error messages), so the script
 * builds the DOM with textContent and never parses data as HTML. A Content-Security-Policy allows only this
 * exact script and style (by hash) and same-origin requests, as a second line of defence.
 * @module
 */
import { createHash } from 'node:crypto'

const STYLE = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --fg: #1b1f24; --muted: #5f6b7a; --card: #fff; --line: #dfe3e8; --accent: #4f46e5;
  --ok: #1a7f37; --ok-bg: #dcf5e3; --warn: #8a5a00; --warn-bg: #fff0c2; --bad: #c4242f; --bad-bg: #ffe5e3;
  --idle: #57606a; --idle-bg: #e8ecf0; --live: #d92d20; --shade: #dde1e6;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1115; --fg: #e6edf3; --muted: #8d99a6; --card: #171b21; --line: #2b323b; --accent: #8b85ff;
    --ok: #4ac26b; --ok-bg: #12301b; --warn: #e3b341; --warn-bg: #3a2c0a; --bad: #ff8078; --bad-bg: #42171a;
    --idle: #a4afba; --idle-bg: #272d35; --live: #f0473a; --shade: #22282f;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; background: var(--bg); color: var(--fg); }
button { font: inherit; cursor: pointer; border-radius: 8px; border: 1px solid var(--line); background: var(--card); color: var(--fg); padding: 6px 12px; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.small { padding: 1px 8px; font-size: 13px; }
.muted { color: var(--muted); }
.top { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 10px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 17px; margin: 0; }
.brand span { color: var(--muted); font-weight: 400; }
.status { display: flex; flex-wrap: wrap; gap: 6px; flex: 1; margin: 0; padding: 0; list-style: none; font-size: 13px; }
.status li { padding: 2px 10px; border-radius: 999px; background: var(--idle-bg); color: var(--idle); }
.status li.bad { background: var(--bad-bg); color: var(--bad); }
.status li.warn { background: var(--warn-bg); color: var(--warn); }
.top form { margin: 0; }
main { max-width: 1280px; margin: 0 auto; padding: 12px 20px 48px; }
section { margin-top: 20px; }
h2 { font-size: 18px; margin: 0 0 12px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
h2 .count { font-size: 13px; font-weight: 600; padding: 0 8px; border-radius: 999px; background: var(--idle-bg); color: var(--idle); }
.empty { color: var(--muted); padding: 18px; border: 1px dashed var(--line); border-radius: 12px; text-align: center; margin: 0; }
#flash { position: fixed; right: 16px; bottom: 16px; z-index: 3; margin: 0; padding: 10px 14px; border-radius: 10px; background: var(--fg); color: var(--bg); box-shadow: 0 4px 16px #0004; }
#flash.bad { background: var(--bad); color: #fff; }

.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 16px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 12px; overflow: hidden; }
.frame { position: relative; aspect-ratio: 16 / 9; background: var(--shade); }
.frame img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; opacity: 0; }
.frame.loaded img { opacity: 1; }
.frame .wait { position: absolute; inset: 0; display: grid; place-items: center; color: var(--muted); font-size: 13px; }
.frame.loaded .wait { display: none; }
.badge { position: absolute; left: 8px; top: 8px; padding: 1px 8px; border-radius: 6px; font-size: 12px; font-weight: 700; letter-spacing: .04em; background: var(--live); color: #fff; }
.badge.reconnecting { background: var(--warn-bg); color: var(--warn); }
.age { position: absolute; right: 8px; bottom: 8px; padding: 1px 7px; border-radius: 6px; font-size: 12px; background: #000a; color: #fff; }
.meta { padding: 10px 12px 12px; }
.name { margin: 0; font-size: 16px; overflow-wrap: anywhere; }
.meta p { margin: 2px 0 0; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }

.ended { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 10px; }
.ended li { display: flex; gap: 12px; align-items: center; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 8px; }
.ended .frame { flex: none; width: 96px; border-radius: 6px; overflow: hidden; }
.ended .frame .wait { font-size: 11px; }
.ended strong { overflow-wrap: anywhere; }
.ended p { margin: 0; font-size: 13px; color: var(--muted); }

.events-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: 8px 16px; margin-bottom: 12px; }
.events-head h2 { margin: 0; }
.events-head label { font-size: 14px; display: flex; gap: 6px; align-items: center; }
.tools { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.table { background: var(--card); border: 1px solid var(--line); border-radius: 12px; overflow: hidden; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 8px 12px; border-top: 1px solid var(--line); }
th { border-top: 0; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); background: var(--bg); }
td.when { white-space: nowrap; color: var(--muted); }
td.stream { overflow-wrap: anywhere; }
.type { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; padding: 0 5px; border-radius: 4px; background: var(--idle-bg); }
.deliveries { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.delivery { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; }
.dest { font-weight: 600; }
.chip { font-size: 12px; font-weight: 600; padding: 0 8px; border-radius: 999px; background: var(--idle-bg); color: var(--idle); }
.chip.delivered { background: var(--ok-bg); color: var(--ok); }
.chip.retrying { background: var(--warn-bg); color: var(--warn); }
.chip.dead { background: var(--bad-bg); color: var(--bad); }
.detail { flex-basis: 100%; font-size: 12.5px; color: var(--muted); overflow-wrap: anywhere; }
.delivery[data-state="dead"] .detail { color: var(--bad); }

/* Phone: one column; the header is not sticky (it would eat the screen); each event is a small card. */
@media (max-width: 640px) {
  .top { position: static; padding: 10px 12px; }
  .top form { margin-left: auto; }
  .status { order: 3; flex-basis: 100%; }
  main { padding: 8px 12px 40px; }
  .grid, .ended { grid-template-columns: 1fr; }
  thead { display: none; }
  table, tbody, tr, td { display: block; }
  tr { border-top: 1px solid var(--line); padding: 8px 12px; }
  tbody tr:first-child { border-top: 0; }
  td { border: 0; padding: 0; }
  td.when, td.event { display: inline; margin-right: 8px; }
  td.stream { color: var(--muted); font-size: 13px; }
  td.deliveries-cell { margin-top: 4px; }
}
`

const SCRIPT = String.raw`
(() => {
  'use strict'
  const POLL_MS = 2000
  const HIDDEN_POLL_MS = 15000
  const ENDED_SHOWN = 12
  const byId = (id) => document.getElementById(id)

  // Builds an element. Data only ever becomes text nodes or attribute values: never HTML.
  function h(tag, props, ...children) {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue
      if (key === 'class') node.className = value
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
      else node.setAttribute(key, value === true ? '' : String(value))
    }
    for (const child of children) if (child !== undefined && child !== null && child !== false) node.append(child)
    return node
  }

  // Keeps parent's children in the order of items, reusing each item's node by key (so images do not reload and
  // buttons are not replaced under the pointer on every poll).
  function sync(parent, cache, items, keyOf, build, fill) {
    const seen = new Set()
    items.forEach((item, index) => {
      const key = keyOf(item)
      seen.add(key)
      let entry = cache.get(key)
      if (!entry) cache.set(key, entry = build(item))
      fill(entry, item)
      if (parent.children[index] !== entry.node) parent.insertBefore(entry.node, parent.children[index] || null)
    })
    for (const [key, entry] of cache) if (!seen.has(key)) { entry.node.remove(); cache.delete(key) }
  }

  function clock(ms) {
    const date = new Date(ms)
    const today = date.toDateString() === new Date().toDateString()
    return today ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
      : date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
  }
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000))
    if (s < 60) return s + ' s'
    const m = Math.floor(s / 60)
    if (m < 60) return m + ' min'
    const hours = Math.floor(m / 60)
    if (hours < 24) return hours + ' h ' + (m % 60) + ' min'
    return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h'
  }
  const ago = (ms) => Date.now() - ms < 5000 ? 'just now' : span(Date.now() - ms) + ' ago'
  function setTime(node, ms, text) {
    node.dateTime = new Date(ms).toISOString()
    node.title = new Date(ms).toLocaleString()
    node.textContent = text
  }
  const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many)

  let flashTimer = 0
  function flash(text, bad) {
    const node = byId('flash')
    node.textContent = text
    node.className = bad ? 'bad' : ''
    node.hidden = false
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => { node.hidden = true }, 5000)
  }

  async function api(path, init) {
    const response = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, init))
    if (response.status === 401) {
      location.reload() // signed out or token changed: the server shows the login form
      throw new Error('signed out')
    }
    const body = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(body.message || 'HTTP ' + response.status)
    return body
  }

  // Thumbnails: a stream's image changes when its latest thumbnail's event id does. The new image is loaded
  // off-screen first, so a tile never blinks empty.
  function frame() {
    const img = h('img', { alt: '' })
    const node = h('div', { class: 'frame' }, img, h('span', { class: 'wait' }, 'waiting for a thumbnail'))
    return { node, img, want: '' }
  }
  function setThumb(f, thumb) {
    const want = thumb ? thumb.url + '?v=' + encodeURIComponent(thumb.eventId) : ''
    if (f.want === want) return
    f.want = want
    if (!want) {
      f.node.classList.remove('loaded')
      f.img.removeAttribute('src')
      delete f.img.dataset.eventId
      return
    }
    const next = new Image()
    next.onload = () => {
      if (f.want !== want) return
      f.img.src = want
      f.img.dataset.eventId = thumb.eventId
      f.node.classList.add('loaded')
    }
    next.onerror = () => { if (f.want === want) f.want = '' } // try again on the next poll
    next.src = want
  }

  // Live grid
  const tiles = new Map()
  function buildTile(s) {
    const f = frame()
    const refs = {
      f, badge: h('span', { class: 'badge' }), age: h('span', { class: 'age' }),
      name: h('h3', { class: 'name' }), account: h('p', { class: 'account' }),
      since: h('time'), sinceFor: h('span'), feeds: h('p', { class: 'feeds' }),
    }
    f.node.append(refs.badge, refs.age)
    const node = h('article', { class: 'tile', 'data-stream-id': s.streamId }, f.node,
      h('div', { class: 'meta' }, refs.name, refs.account, h('p', { class: 'since' }, 'Live since ', refs.since, refs.sinceFor), refs.feeds))
    return { node, refs }
  }
  function fillTile(entry, s) {
    const r = entry.refs
    const ending = s.status === 'ending'
    entry.node.dataset.status = s.status
    r.badge.textContent = ending ? 'RECONNECTING' : 'LIVE'
    r.badge.className = ending ? 'badge reconnecting' : 'badge'
    r.name.textContent = s.streamName || s.streamId
    r.name.title = s.streamId
    r.account.textContent = s.accountId ? 'Account ' + s.accountId : s.streamId
    if (s.liveSince) {
      setTime(r.since, s.liveSince, clock(s.liveSince))
      r.sinceFor.textContent = ' (' + span(Date.now() - s.liveSince) + ')'
    } else {
      r.since.textContent = 'unknown'
    }
    r.feeds.textContent = ending ? 'No active feed: waiting for it to come back' : plural(s.feeds, 'active feed', 'active feeds')
    r.age.hidden = !s.latestThumbnail
    if (s.latestThumbnail) r.age.textContent = ago(s.latestThumbnail.timestamp)
    r.f.img.alt = 'Latest thumbnail of ' + (s.streamName || s.streamId)
    setThumb(r.f, s.latestThumbnail)
  }

  // Recently ended
  const endedItems = new Map()
  function buildEnded(s) {
    const f = frame()
    f.node.querySelector('.wait').textContent = 'no thumbnail'
    const refs = { f, name: h('strong'), account: h('span', { class: 'muted' }), when: h('time'), lasted: h('span') }
    const node = h('li', { 'data-stream-id': s.streamId }, f.node,
      h('div', null, refs.name, ' ', refs.account, h('p', null, 'Ended ', refs.when, refs.lasted)))
    return { node, refs }
  }
  function fillEnded(entry, s) {
    const r = entry.refs
    r.name.textContent = s.streamName || s.streamId
    r.account.textContent = s.accountId || ''
    if (s.endedAt) setTime(r.when, s.endedAt, clock(s.endedAt) + ' (' + ago(s.endedAt) + ')')
    r.lasted.textContent = s.endedAt && s.liveSince ? ', live for ' + span(s.endedAt - s.liveSince) : ''
    r.f.img.alt = 'Last thumbnail of ' + (s.streamName || s.streamId)
    setThumb(r.f, s.latestThumbnail)
  }

  function renderStreams(streams) {
    const live = streams.filter((s) => s.status !== 'ended')
    const ended = streams.filter((s) => s.status === 'ended')
      .sort((a, b) => (b.endedAt || b.updatedAt) - (a.endedAt || a.updatedAt)).slice(0, ENDED_SHOWN)
    sync(byId('live-grid'), tiles, live, (s) => s.streamId, buildTile, fillTile)
    sync(byId('ended-list'), endedItems, ended, (s) => s.streamId, buildEnded, fillEnded)
    byId('live-count').textContent = String(live.length)
    byId('live-empty').hidden = live.length > 0
    byId('ended-empty').hidden = ended.length > 0
  }

  // Recent events: a row is rebuilt only when its deliveries change.
  const rows = new Map()
  let onlyProblems = false
  const problem = (d) => d.state === 'dead' || d.state === 'retrying'
  function deliveryItem(event, d) {
    const attempts = plural(d.attempts, 'attempt', 'attempts')
    let detail = ''
    if (d.state === 'retrying') detail = attempts + (d.nextAt ? ', next at ' + clock(d.nextAt) : '') + (d.lastError ? ': ' + d.lastError : '')
    else if (d.state === 'dead') detail = 'after ' + attempts + (d.lastError ? ': ' + d.lastError : '')
    else if (d.state === 'delivered' && d.attempts > 1) detail = 'after ' + attempts
    const button = d.state === 'dead' && h('button', {
      class: 'small replay', type: 'button',
      onclick: (e) => replay({ eventId: event.id, destination: d.destination }, e.currentTarget),
    }, 'Replay')
    return h('li', { class: 'delivery', 'data-destination': d.destination, 'data-state': d.state },
      h('span', { class: 'dest' }, d.destination), h('span', { class: 'chip ' + d.state }, d.state), button,
      detail && h('span', { class: 'detail' }, detail))
  }
  function fillRow(entry, e) {
    const sig = JSON.stringify(e.deliveries)
    if (entry.sig === sig) return
    entry.sig = sig
    const when = h('time')
    setTime(when, e.receivedAt, clock(e.receivedAt))
    entry.node.replaceChildren(
      h('td', { class: 'when' }, when),
      h('td', { class: 'event' }, h('span', { class: 'type' }, e.type), e.event !== e.type && ' ' + e.event),
      h('td', { class: 'stream' }, e.streamId || '-'),
      h('td', { class: 'deliveries-cell' }, e.deliveries.length > 0
        ? h('ul', { class: 'deliveries' }, ...e.deliveries.map((d) => deliveryItem(e, d)))
        : h('span', { class: 'muted' }, 'no route')))
  }
  let lastEvents = []
  function renderEvents(events) {
    lastEvents = events
    const shown = onlyProblems ? events.filter((e) => e.deliveries.some(problem)) : events
    sync(byId('events-body'), rows, shown, (e) => e.id, (e) => ({ node: h('tr', { 'data-event-id': e.id }), sig: '' }), fillRow)
    byId('events-table').hidden = shown.length === 0
    byId('events-empty').hidden = shown.length > 0
    byId('events-empty').textContent = onlyProblems ? 'No delivery is retrying or dead.' : 'No event since the gateway started.'
  }

  function renderStatus(status) {
    const spool = status.spool
    const items = []
    const pending = h('li', null, plural(spool.pendingDeliveries, 'delivery', 'deliveries') + ' pending')
    if (spool.oldestPendingAgeMs > 60000) {
      pending.className = 'warn'
      pending.append(', oldest ' + span(spool.oldestPendingAgeMs))
    }
    items.push(pending)
    items.push(h('li', { class: spool.deadLetters > 0 ? 'bad' : '', id: 'dead-count' }, plural(spool.deadLetters, 'dead letter', 'dead letters')))
    const open = status.destinations.filter((d) => d.circuit !== 'closed')
    items.push(open.length > 0
      ? h('li', { class: 'bad' }, 'Circuit ' + open.map((d) => d.destination + ' ' + d.circuit).join(', '))
      : h('li', null, plural(status.destinations.length, 'destination', 'destinations') + ', circuits closed'))
    items.push(h('li', { id: 'updated' }, 'Updated ' + clock(Date.now())))
    byId('status').replaceChildren(...items)
    const all = byId('replay-all')
    all.disabled = spool.deadLetters === 0 || all.dataset.busy === '1'
    all.textContent = spool.deadLetters > 0 ? 'Replay all dead letters (' + spool.deadLetters + ')' : 'Replay all dead letters'
  }

  async function replay(filter, button) {
    button.disabled = true
    button.dataset.busy = '1'
    try {
      const result = await api('/api/dead-letters/replay', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(filter),
      })
      flash(result.replayed === 0 ? 'Nothing to replay' : plural(result.replayed, 'dead letter', 'dead letters') + ' replayed')
    } catch (error) {
      flash('Replay failed: ' + error.message, true)
      button.disabled = false
    } finally {
      delete button.dataset.busy
    }
    void poll()
  }

  // Polling: one request set at a time; a poll asked for during another runs right after it.
  let timer = 0
  let running = false
  let again = false
  async function poll() {
    if (running) { again = true; return }
    running = true
    clearTimeout(timer)
    try {
      const [streams, events, status] = await Promise.all([api('/api/streams'), api('/api/events?limit=100'), api('/api/status')])
      renderStreams(streams.streams)
      renderEvents(events.events)
      renderStatus(status)
      byId('offline').hidden = true
    } catch (error) {
      byId('offline').hidden = false
      byId('offline').textContent = 'Cannot reach the gateway (' + error.message + '); retrying.'
    } finally {
      running = false
    }
    if (again) { again = false; return poll() }
    timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS)
  }

  byId('replay-all').addEventListener('click', (e) => replay({ all: true }, e.currentTarget))
  byId('only-problems').addEventListener('change', (e) => { onlyProblems = e.currentTarget.checked; renderEvents(lastEvents) })
  document.addEventListener('visibilitychange', () => { if (!document.hidden) void poll() })
  void poll()
})()
`

const LOGIN_STYLE = String.raw`
:root { color-scheme: light dark; --bg: #f4f5f7; --fg: #1b1f24; --muted: #5f6b7a; --card: #fff; --line: #dfe3e8; --accent: #4f46e5; --bad: #c4242f; }
@media (prefers-color-scheme: dark) { :root { --bg: #0e1115; --fg: #e6edf3; --muted: #8d99a6; --card: #171b21; --line: #2b323b; --accent: #8b85ff; --bad: #ff8078; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 16px; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
form { width: min(360px, 100%); background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 24px; display: grid; gap: 14px; }
h1 { margin: 0; font-size: 20px; }
p { margin: 0; color: var(--muted); font-size: 14px; }
label { display: grid; gap: 6px; font-weight: 600; font-size: 14px; }
input { font: inherit; padding: 9px 10px; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); color: var(--fg); }
button { font: inherit; padding: 9px; border-radius: 8px; border: 0; background: var(--accent); color: #fff; cursor: pointer; }
.error { color: var(--bad); font-weight: 600; }
`

// A red "live" dot, inline so the browser does not ask for /favicon.ico.
const ICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#d92d20"/></svg>')}`

/** The value of a CSP source allowing exactly this inline script or style. */
const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

function policy(style: string, script?: string): string {
  return [
    "default-src 'none'", "img-src 'self' data:", "connect-src 'self'", "form-action 'self'", "base-uri 'none'",
    `style-src ${hashOf(style)}`, ...(script ? [`script-src ${hashOf(script)}`] : []),
  ].join('; ')
}

/**
 * The policies again, as the header the routes send: there it can also forbid framing (`frame-ancestors` is
 * ignored in a meta tag). The meta tag stays for a page saved to disk.
 */
export const PAGE_CSP = {
  login: `${policy(LOGIN_STYLE)}; frame-ancestors 'none'`,
  streams: `${policy(STYLE, SCRIPT)}; frame-ancestors 'none'`,
}

function head(title: string, style: string, script?: string): string {
  const csp = policy(style, script)
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="${ICON}">
<title>${title}</title><style>${style}</style></head>`
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const LOGIN_HEAD = head('hookcast: sign in', LOGIN_STYLE)

export function loginPage(error?: string): string {
  return `${LOGIN_HEAD}<body>
<form method="post" action="/login">
<h1>hookcast</h1>
<p>Live streams and deliveries. Sign in with the admin token (<code>admin.token</code> in the config).</p>
<label>Admin token <input name="token" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
</form></body></html>`
}

// The same for every request (all data comes from the API), so built once.
const STREAMS_PAGE = `${head('hookcast: live streams', STYLE, SCRIPT)}<body>
<header class="top">
<h1 class="brand">hookcast <span>live streams</span></h1>
<ul class="status" id="status" aria-live="polite"><li>Loading...</li></ul>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>
<main>
<p class="empty" id="offline" role="alert" hidden></p>
<noscript><p class="empty">This page needs JavaScript to load the streams.</p></noscript>
<section id="live" aria-labelledby="live-title">
<h2 id="live-title">Live now <span class="count" id="live-count">0</span></h2>
<div class="grid" id="live-grid"></div>
<p class="empty" id="live-empty">No stream is live right now.</p>
</section>
<section id="ended" aria-labelledby="ended-title">
<h2 id="ended-title">Recently ended</h2>
<ul class="ended" id="ended-list"></ul>
<p class="empty" id="ended-empty">No stream has ended yet.</p>
</section>
<section id="events" aria-labelledby="events-title">
<div class="events-head"><h2 id="events-title">Recent events</h2>
<div class="tools"><label><input type="checkbox" id="only-problems"> Only problems</label>
<button type="button" class="primary" id="replay-all" disabled>Replay all dead letters</button></div></div>
<div class="table" id="events-table" hidden><table>
<thead><tr><th>Received</th><th>Event</th><th>Stream</th><th>Destinations</th></tr></thead>
<tbody id="events-body"></tbody></table></div>
<p class="empty" id="events-empty">No event since the gateway started.</p>
</section>
</main>
<p id="flash" role="status" hidden></p>
<script>${SCRIPT}</script>
</body></html>`

export function streamsPage(): string {
  return STREAMS_PAGE
}
