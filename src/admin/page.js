// @ts-check
// The live streams page's script, run by the browser as written (page-html.ts inlines it, allowed by its hash).
// It polls the admin API every 2 s and builds the DOM with textContent and attributes, never parsing data as HTML
// (stream names come from the platform, errors from destinations). The JSDoc types are for tsc (allowJs).
;(() => {
  /** The API's answers as this page reads them (routes.ts); typedefs in here stay out of the project's global types.
   * @typedef {{ eventId: string, timestamp: number, url: string }} Thumb
   * @typedef {{ problem: string, since: number, thumbnail: Thumb | null }} Problem
   * @typedef {{ state: string, problems: Problem[] }} Health
   * @typedef {{
   *   streamId: string, accountId?: string, streamName?: string, status: string, liveSince?: number,
   *   endedAt?: number, endedBy?: string, lastHeardAt?: number, feeds: number, latestThumbnail: Thumb | null,
   *   health?: Health | null, updatedAt: number
   * }} Stream
   * @typedef {{ destination: string, state: string, attempts: number, nextAt?: number, lastError?: string }} Delivery
   * @typedef {{
   *   id: string, type: string, event: string, streamId?: string, receivedAt: number, deliveries: Delivery[]
   * }} RecentEvent
   * @typedef {{
   *   spool: { pendingDeliveries: number, oldestPendingAgeMs: number, deadLetters: number },
   *   destinations: Array<{ destination: string, circuit: string }>
   * }} Status
   */
  const POLL_MS = 2000
  // A request the gateway never answers (stalled, a dead connection) would hold the poll forever.
  const API_TIMEOUT_MS = 10000
  const HIDDEN_POLL_MS = 15000
  const ENDED_SHOWN = 12
  // Only the page's own ids: never null.
  const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))

  /**
   * Builds an element. Data only ever becomes text nodes or attribute values: never HTML.
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {Record<string, unknown> | null} [props]
   * @param {...(Node | string | false | null | undefined)} children
   * @returns {HTMLElementTagNameMap[K]}
   */
  function h(tag, props, ...children) {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue
      if (key === 'class') node.className = /** @type {string} */ (value)
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), /** @type {EventListener} */ (value))
      else node.setAttribute(key, value === true ? '' : String(value))
    }
    for (const child of children) if (child !== undefined && child !== null && child !== false) node.append(child)
    return node
  }

  /**
   * Keeps parent's children in the order of items, reusing each item's node by key (so images do not reload and
   * buttons are not replaced under the pointer on every poll).
   * @template T
   * @template {{ node: Element }} E
   * @param {HTMLElement} parent
   * @param {Map<string, E>} cache
   * @param {T[]} items
   * @param {(item: T) => string} keyOf
   * @param {(item: T) => E} build
   * @param {(entry: E, item: T) => void} fill
   */
  function sync(parent, cache, items, keyOf, build, fill) {
    const seen = new Set()
    items.forEach((item, index) => {
      const key = keyOf(item)
      seen.add(key)
      let entry = cache.get(key)
      if (!entry) cache.set(key, (entry = build(item)))
      fill(entry, item)
      if (parent.children[index] !== entry.node) parent.insertBefore(entry.node, parent.children[index] || null)
    })
    for (const [key, entry] of cache)
      if (!seen.has(key)) {
        entry.node.remove()
        cache.delete(key)
      }
  }

  /** A time as short as is clear: the time today, the day this year, the year otherwise. */
  function clock(/** @type {number} */ ms) {
    const date = new Date(ms)
    const now = new Date()
    if (date.toDateString() === now.toDateString())
      return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    const day = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
    if (date.getFullYear() !== now.getFullYear()) Object.assign(day, { year: 'numeric' })
    return date.toLocaleString([], /** @type {Intl.DateTimeFormatOptions} */ (day))
  }
  function span(/** @type {number} */ ms) {
    const s = Math.max(0, Math.round(ms / 1000))
    if (s < 60) return s + ' s'
    const m = Math.floor(s / 60)
    if (m < 60) return m + ' min'
    const hours = Math.floor(m / 60)
    if (hours < 24) return hours + ' h ' + (m % 60) + ' min'
    return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h'
  }
  const ago = (/** @type {number} */ ms) => (Date.now() - ms < 5000 ? 'just now' : span(Date.now() - ms) + ' ago')
  function setTime(/** @type {HTMLTimeElement} */ node, /** @type {number} */ ms, /** @type {string} */ text) {
    node.dateTime = new Date(ms).toISOString()
    node.title = new Date(ms).toLocaleString()
    node.textContent = text
  }
  const plural = (/** @type {number} */ n, /** @type {string} */ one, /** @type {string} */ many) =>
    n + ' ' + (n === 1 ? one : many)

  let flashTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined)
  /** @param {string} text @param {boolean} [bad] */ function flash(text, bad) {
    const node = byId('flash')
    node.textContent = text
    node.className = bad ? 'bad' : ''
    node.hidden = false
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => {
      node.hidden = true
    }, 5000)
  }

  /**
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<any>} JSON the caller knows
   */
  async function api(path, init) {
    const signal = AbortSignal.timeout(API_TIMEOUT_MS)
    const late = (/** @type {unknown} */ error) => {
      if (signal.aborted) throw new Error('no answer in ' + API_TIMEOUT_MS / 1000 + ' s')
      throw error
    }
    const options = Object.assign({ credentials: 'same-origin', cache: 'no-store', signal }, init)
    const response = await fetch(path, options).catch(late)
    if (response.status === 401) {
      location.reload() // signed out or token changed: the server shows the login form
      throw new Error('signed out')
    }
    const body = await response.json().catch((error) => (signal.aborted ? late(error) : {}))
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
  function setThumb(/** @type {ReturnType<typeof frame>} */ f, /** @type {Thumb | null} */ thumb) {
    const want = thumb
      ? thumb.url + (thumb.url.includes('?') ? '&' : '?') + 'v=' + encodeURIComponent(thumb.eventId)
      : ''
    if (f.want === want) return
    f.want = want
    if (!thumb) {
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
    next.onerror = () => {
      if (f.want === want) f.want = ''
    } // try again on the next poll
    next.src = want
  }

  // The picture's health, as a badge and (for an open problem) the thumbnail that shows it.
  const HEALTH_WORDS = /** @type {Record<string, string>} */ ({
    ok: 'Picture OK',
    black: 'Black picture',
    frozen: 'Frozen picture',
    quiet: 'No thumbnails',
    unknown: 'Picture not checked',
  })
  function buildHealth() {
    const f = frame()
    f.node.classList.add('small')
    const caption = h('span', { class: 'caption' })
    return { badge: h('span', { class: 'health' }), f, caption, node: h('div', { class: 'problem' }, f.node, caption) }
  }
  /** The problem's picture is in the card only while a problem shows one (a card otherwise has one image). */
  function showProblem(/** @type {ReturnType<typeof buildHealth>} */ r, /** @type {Element} */ host, shown = false) {
    if (!shown) r.node.remove()
    else if (r.node.parentElement !== host) host.append(r.node)
  }
  function fillHealth(
    /** @type {ReturnType<typeof buildHealth>} */ r,
    /** @type {Element} */ host,
    /** @type {Stream} */ s,
  ) {
    const health = s.health
    r.badge.hidden = !health
    const problem = health && (health.problems.find((p) => p.problem === health.state) || health.problems[0])
    showProblem(r, host, Boolean(problem?.thumbnail))
    if (!health) return
    r.badge.className = 'health ' + health.state
    r.badge.dataset.state = health.state
    r.badge.textContent =
      (HEALTH_WORDS[health.state] || health.state) + (problem ? ' for ' + span(Date.now() - problem.since) : '')
    if (!problem?.thumbnail) return setThumb(r.f, null)
    r.caption.textContent =
      (HEALTH_WORDS[problem.problem] || problem.problem) + ' at ' + clock(problem.thumbnail.timestamp)
    r.f.img.alt = r.caption.textContent
    setThumb(r.f, problem.thumbnail)
  }

  /** Forgets a stream hookcast still shows (a test, a stale one), once the operator confirms. */
  async function forget(
    /** @type {string} */ streamId,
    /** @type {string} */ name,
    /** @type {HTMLButtonElement} */ b,
  ) {
    if (!confirm('Forget ' + name + '? Its record and thumbnails are removed; a later hook of it starts afresh.'))
      return
    b.disabled = true
    try {
      await api('/api/streams/' + encodeURIComponent(streamId), { method: 'DELETE' })
      flash(name + ' forgotten')
    } catch (error) {
      flash('Forget failed: ' + /** @type {Error} */ (error).message, true)
      b.disabled = false
    }
    void poll()
  }
  function forgetButton(/** @type {Stream} */ s) {
    const button = h('button', { class: 'small forget', type: 'button' }, 'Forget')
    button.addEventListener('click', () => forget(s.streamId, s.streamName || s.streamId, button))
    return button
  }

  // Live grid
  const tiles = /** @type {Map<string, ReturnType<typeof buildTile>>} */ (new Map())
  function buildTile(/** @type {Stream} */ s) {
    const f = frame()
    const refs = {
      f,
      badge: h('span', { class: 'badge' }),
      age: h('span', { class: 'age' }),
      name: h('h3', { class: 'name' }),
      account: h('p', { class: 'account' }),
      since: h('time'),
      sinceFor: h('span'),
      feeds: h('p', { class: 'feeds' }),
      health: buildHealth(),
    }
    f.node.append(refs.badge, refs.age)
    const node = h(
      'article',
      { class: 'tile', 'data-stream-id': s.streamId },
      f.node,
      h(
        'div',
        { class: 'meta' },
        refs.name,
        refs.account,
        h('p', { class: 'since' }, 'Live since ', refs.since, refs.sinceFor),
        refs.feeds,
        h('p', { class: 'row' }, refs.health.badge, forgetButton(s)),
      ),
    )
    return { node, refs, meta: /** @type {Element} */ (node.lastElementChild) }
  }
  function fillTile(/** @type {ReturnType<typeof buildTile>} */ entry, /** @type {Stream} */ s) {
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
    r.feeds.textContent = ending
      ? 'No active feed: waiting for it to come back'
      : plural(s.feeds, 'active feed', 'active feeds')
    r.age.hidden = !s.latestThumbnail
    if (s.latestThumbnail) r.age.textContent = ago(s.latestThumbnail.timestamp)
    r.f.img.alt = 'Latest thumbnail of ' + (s.streamName || s.streamId)
    setThumb(r.f, s.latestThumbnail)
    fillHealth(r.health, entry.meta, s)
  }

  // Recently ended
  const endedItems = /** @type {Map<string, ReturnType<typeof buildEnded>>} */ (new Map())
  function buildEnded(/** @type {Stream} */ s) {
    const f = frame()
    const wait = /** @type {HTMLElement} */ (f.node.querySelector('.wait'))
    wait.textContent = 'no thumbnail'
    const refs = {
      f,
      name: h('strong'),
      account: h('span', { class: 'muted' }),
      label: h('span', { class: 'label' }),
      when: h('time'),
      lasted: h('span'),
      // On a line of its own that never wraps: it changes at every poll, and a card a line taller would move the
      // cards below it (and their Forget buttons) under the pointer.
      ago: h('span', { class: 'ago' }),
    }
    const node = h(
      'li',
      { 'data-stream-id': s.streamId },
      f.node,
      h(
        'div',
        { class: 'what' },
        refs.name,
        ' ',
        refs.account,
        h('p', null, refs.label, refs.when, refs.lasted, refs.ago),
      ),
      forgetButton(s),
    )
    return { node, refs }
  }
  /** When an ended stream was last seen: its end; for a stream that only sent thumbnails, the last of them. */
  function fillEnded(/** @type {ReturnType<typeof buildEnded>} */ entry, /** @type {Stream} */ s) {
    const r = entry.refs
    r.name.textContent = s.streamName || s.streamId
    r.account.textContent = s.accountId || ''
    const thumbnailsOnly = !s.liveSince && !s.endedAt && s.latestThumbnail
    const at = s.endedAt || (thumbnailsOnly && s.latestThumbnail ? s.latestThumbnail.timestamp : s.updatedAt)
    r.label.textContent = s.endedAt ? 'Ended ' : thumbnailsOnly ? 'Thumbnails only, last at ' : 'Last heard '
    setTime(r.when, at, clock(at))
    r.ago.textContent = ago(at)
    const lasted = s.endedAt && s.liveSince ? ', live for ' + span(s.endedAt - s.liveSince) : ''
    const silent = s.endedBy === 'silence' && s.lastHeardAt ? ', no hooks since ' + clock(s.lastHeardAt) : ''
    r.lasted.textContent = lasted + silent
    r.f.img.alt = 'Last thumbnail of ' + (s.streamName || s.streamId)
    setThumb(r.f, s.latestThumbnail)
  }

  function renderStreams(/** @type {Stream[]} */ streams) {
    const live = streams.filter((s) => s.status !== 'ended')
    const ended = streams
      .filter((s) => s.status === 'ended')
      .sort((a, b) => (b.endedAt || b.updatedAt) - (a.endedAt || a.updatedAt))
      .slice(0, ENDED_SHOWN)
    sync(byId('live-grid'), tiles, live, (s) => s.streamId, buildTile, fillTile)
    sync(byId('ended-list'), endedItems, ended, (s) => s.streamId, buildEnded, fillEnded)
    byId('live-count').textContent = String(live.length)
    byId('live-empty').hidden = live.length > 0
    byId('ended-empty').hidden = ended.length > 0
  }

  // Recent events: a row is rebuilt only when its deliveries change.
  const rows = /** @type {Map<string, { node: HTMLTableRowElement, sig: string }>} */ (new Map())
  let onlyProblems = false
  const problem = (/** @type {Delivery} */ d) => d.state === 'dead' || d.state === 'retrying'
  function deliveryItem(/** @type {RecentEvent} */ event, /** @type {Delivery} */ d) {
    const attempts = plural(d.attempts, 'attempt', 'attempts')
    let detail = ''
    if (d.state === 'retrying')
      detail = attempts + (d.nextAt ? ', next at ' + clock(d.nextAt) : '') + (d.lastError ? ': ' + d.lastError : '')
    else if (d.state === 'dead') detail = 'after ' + attempts + (d.lastError ? ': ' + d.lastError : '')
    else if (d.state === 'delivered' && d.attempts > 1) detail = 'after ' + attempts
    const button =
      d.state === 'dead' &&
      h(
        'button',
        {
          class: 'small replay',
          type: 'button',
          onclick: (/** @type {MouseEvent} */ e) =>
            replay(
              { eventId: event.id, destination: d.destination },
              /** @type {HTMLButtonElement} */ (e.currentTarget),
            ),
        },
        'Replay',
      )
    return h(
      'li',
      { class: 'delivery', 'data-destination': d.destination, 'data-state': d.state },
      h('span', { class: 'dest' }, d.destination),
      h('span', { class: 'chip ' + d.state }, d.state),
      button,
      detail && h('span', { class: 'detail' }, detail),
    )
  }
  function fillRow(/** @type {{ node: HTMLTableRowElement, sig: string }} */ entry, /** @type {RecentEvent} */ e) {
    const sig = JSON.stringify(e.deliveries)
    if (entry.sig === sig) return
    entry.sig = sig
    const when = h('time')
    setTime(when, e.receivedAt, clock(e.receivedAt))
    entry.node.replaceChildren(
      h('td', { class: 'when' }, when),
      h('td', { class: 'event' }, h('span', { class: 'type' }, e.type), e.event !== e.type && ' ' + e.event),
      h('td', { class: 'stream' }, e.streamId || '-'),
      h(
        'td',
        { class: 'deliveries-cell' },
        e.deliveries.length > 0
          ? h('ul', { class: 'deliveries' }, ...e.deliveries.map((d) => deliveryItem(e, d)))
          : h('span', { class: 'muted' }, 'no route'),
      ),
    )
  }
  let lastEvents = /** @type {RecentEvent[]} */ ([])
  function renderEvents(/** @type {RecentEvent[]} */ events) {
    lastEvents = events
    const shown = onlyProblems ? events.filter((e) => e.deliveries.some(problem)) : events
    sync(
      byId('events-body'),
      rows,
      shown,
      (e) => e.id,
      (e) => ({ node: h('tr', { 'data-event-id': e.id }), sig: '' }),
      fillRow,
    )
    byId('events-table').hidden = shown.length === 0
    byId('events-empty').hidden = shown.length > 0
    byId('events-empty').textContent = onlyProblems
      ? 'No delivery is retrying or dead.'
      : 'No event since the gateway started.'
  }

  function renderStatus(/** @type {Status} */ status) {
    const spool = status.spool
    const items = []
    const pending = h('li', null, plural(spool.pendingDeliveries, 'delivery', 'deliveries') + ' pending')
    if (spool.oldestPendingAgeMs > 60000) {
      pending.className = 'warn'
      pending.append(', oldest ' + span(spool.oldestPendingAgeMs))
    }
    items.push(pending)
    items.push(
      h(
        'li',
        { class: spool.deadLetters > 0 ? 'bad' : '', id: 'dead-count' },
        plural(spool.deadLetters, 'dead letter', 'dead letters'),
      ),
    )
    items.push(...destinationItems(status.destinations))
    items.push(h('li', { id: 'updated' }, 'Updated ' + clock(Date.now())))
    byId('status').replaceChildren(...items)
    const all = /** @type {HTMLButtonElement} */ (byId('replay-all'))
    all.disabled = spool.deadLetters === 0 || all.dataset.busy === '1'
    all.textContent =
      spool.deadLetters > 0 ? 'Replay all dead letters (' + spool.deadLetters + ')' : 'Replay all dead letters'
  }

  /** The destinations in an operator's words: all delivering, or which are paused after failures. */
  function destinationItems(/** @type {Status['destinations']} */ destinations) {
    const names = (/** @type {string} */ circuit) =>
      destinations.filter((d) => d.circuit === circuit).map((d) => d.destination)
    const paused = names('open')
    const trying = names('half-open')
    if (destinations.length === 0) return [h('li', null, 'No destination configured')]
    if (paused.length === 0 && trying.length === 0) {
      const n = destinations.length
      return [h('li', null, n === 1 ? 'The destination is delivering' : 'All ' + n + ' destinations delivering')]
    }
    return [
      paused.length > 0 && h('li', { class: 'bad' }, 'Paused after failures in a row: ' + paused.join(', ')),
      trying.length > 0 && h('li', { class: 'warn' }, 'Trying again after failures: ' + trying.join(', ')),
    ].filter((item) => item !== false)
  }

  async function replay(
    /** @type {{ eventId: string, destination: string } | { all: true }} */ filter,
    /** @type {HTMLButtonElement} */ button,
  ) {
    button.disabled = true
    button.dataset.busy = '1'
    try {
      const result = /** @type {{ replayed: number }} */ (
        await api('/api/dead-letters/replay', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(filter),
        })
      )
      flash(
        result.replayed === 0
          ? 'Nothing to replay'
          : plural(result.replayed, 'dead letter', 'dead letters') + ' replayed',
      )
    } catch (error) {
      flash('Replay failed: ' + /** @type {Error} */ (error).message, true)
      button.disabled = false
    } finally {
      delete button.dataset.busy
    }
    void poll()
  }

  // Polling: one request set at a time; a poll asked for during another runs right after it.
  let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined)
  let running = false
  let again = false
  /** @returns {Promise<void>} */ async function poll() {
    if (running) {
      again = true
      return
    }
    running = true
    clearTimeout(timer)
    try {
      const [streams, events, status] = /** @type {[{ streams: Stream[] }, { events: RecentEvent[] }, Status]} */ (
        await Promise.all([api('/api/streams'), api('/api/events?limit=100'), api('/api/status')])
      )
      renderStreams(streams.streams)
      renderEvents(events.events)
      renderStatus(status)
      byId('offline').hidden = true
    } catch (error) {
      byId('offline').hidden = false
      byId('offline').textContent = 'Cannot reach the gateway (' + /** @type {Error} */ (error).message + '); retrying.'
    } finally {
      running = false
    }
    if (again) {
      again = false
      return poll()
    }
    timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS)
  }

  byId('replay-all').addEventListener('click', (e) =>
    replay({ all: true }, /** @type {HTMLButtonElement} */ (e.currentTarget)),
  )
  byId('only-problems').addEventListener('change', (e) => {
    onlyProblems = /** @type {HTMLInputElement} */ (e.currentTarget).checked
    renderEvents(lastEvents)
  })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void poll()
  })
  void poll()
})()
