// Sentinel presence board. Plain JavaScript, no dependencies.
//
// Data: the realtime relay's WebSocket (README "Realtime"): subscribe to each channel the principal may
// read, take the channel's backfill as the current state, apply live events, and after a reconnect
// subscribe with `since` (the last event id seen per channel) so the relay replays what was missed.
// The figures are shown as live only while connected and every channel is in sync; otherwise the page
// says so and greys them. REST (same origin) provides what the channels do not: who is present by name,
// and, for principals without the `lockup` channel, the building status and Lockup holder.
"use strict";

(function () {
  const KEY_STORAGE = "sentinel.board.displayKey";
  const ACTIVITY_ITEMS = 12;
  const DW_ROLES = ["duty_watch", "executive", "admin", "developer"];
  const $ = (id) => document.getElementById(id);

  const state = {
    config: null,
    auth: null, // { kind: "key", key } | { kind: "user", role, name }
    channels: [],
    ws: null,
    attempt: 0,
    reconnectTimer: null,
    heartbeatTimer: null,
    lastHeard: 0,
    everOpened: false,
    synced: new Set(),
    lastIds: {},
    live: false,
    lastLiveAt: null,
    stopped: false,
    // what the board shows
    presence: null,
    people: new Map(), // memberId -> { name, rank, division }
    peopleLoaded: false,
    peopleBuffer: null, // check-ins received while a people snapshot is loading
    visitors: new Map(),
    activity: [],
    dds: undefined,
    lockup: { holder: undefined, buildingStatus: undefined },
    alerts: new Map(),
    lockupPoll: null,
  };

  // ------------------------------------------------------------------ helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function time(iso) {
    const d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function person(rank, name) {
    return [rank, name].filter(Boolean).join(" ");
  }

  function holderName(h) {
    if (!h) return null;
    if (h.name) return person(h.rank, h.name);
    return person(h.rank, [h.firstName, h.lastName].filter(Boolean).join(" "));
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ accept: "application/json" }, opts.headers);
    if (state.auth && state.auth.kind === "key") opts.headers["x-api-key"] = state.auth.key;
    if (opts.json !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const response = await fetch(path, opts);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (response.status === 401 && state.auth && path !== "/api/auth/login") {
      signedOut(state.auth.kind === "key" ? "The display key was refused (revoked or expired)." : "Your session has ended. Sign in again.");
    }
    return { status: response.status, ok: response.ok, body };
  }

  // ------------------------------------------------------------------ connection state

  function setConnection(kind, text) {
    document.body.dataset.connection = kind;
    $("connection").textContent = text;
  }

  function setLive(live) {
    state.live = live;
    document.body.dataset.live = live ? "true" : "false";
    if (live) {
      state.lastLiveAt = new Date();
      $("stale-banner").hidden = true;
      setConnection("live", "Live");
    } else if (state.auth) {
      const since = state.lastLiveAt ? "Figures are from " + state.lastLiveAt.toLocaleTimeString() + " and may be out of date." : "Waiting for the first figures.";
      $("stale-text").textContent = "Reconnecting to the live feed… " + since;
      $("stale-banner").hidden = !state.lastLiveAt;
    }
    renderUpdated();
  }

  function renderUpdated() {
    $("updated").textContent = state.live ? "Live" : state.lastLiveAt ? "Last live " + state.lastLiveAt.toLocaleTimeString() : "Not yet updated";
  }

  function markSynced(channel) {
    if (!state.channels.includes(channel)) return;
    state.synced.add(channel);
    if (!state.live && state.ws && state.ws.readyState === WebSocket.OPEN && state.channels.every((c) => state.synced.has(c)) && state.peopleLoaded) {
      setLive(true);
    }
  }

  function relayUrl() {
    const configured = (state.config && state.config.relayUrl) || "/ws";
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url;
    if (configured.startsWith("ws://") || configured.startsWith("wss://")) url = configured;
    else if (configured.startsWith(":")) url = scheme + "//" + location.hostname + configured;
    else url = scheme + "//" + location.host + configured;
    if (state.auth.kind === "key") url += (url.includes("?") ? "&" : "?") + "apiKey=" + encodeURIComponent(state.auth.key);
    return url;
  }

  function connect() {
    if (state.stopped) return;
    clearTimeout(state.reconnectTimer);
    state.synced = new Set();
    state.everOpened = false;
    setLive(false);
    setConnection(state.lastLiveAt ? "reconnecting" : "connecting", state.lastLiveAt ? "Reconnecting…" : "Connecting…");
    let ws;
    try {
      ws = new WebSocket(relayUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      state.everOpened = true;
      state.attempt = 0;
      state.lastHeard = Date.now();
      document.body.dataset.resumed = "";
      for (const channel of state.channels) subscribe(channel);
      document.body.dataset.channels = state.channels.join(" ");
      startHeartbeat();
      if (!state.peopleLoaded || !state.lastIds.checkins) loadPeople();
    };
    ws.onmessage = (message) => {
      if (state.ws !== ws) return;
      state.lastHeard = Date.now();
      let frame;
      try { frame = JSON.parse(message.data); } catch (_) { return; }
      onFrame(frame);
      render();
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      stopHeartbeat();
      setLive(false);
      if (state.stopped) return;
      setConnection("reconnecting", "Reconnecting…");
      $("stale-banner").hidden = false;
      if (!state.everOpened) verifyCredentials();
      scheduleReconnect();
    };
  }

  // Spec backoff: 1 s doubling to 30 s, ±20 % jitter.
  function scheduleReconnect() {
    if (state.stopped) return;
    const base = Math.min(30000, 1000 * Math.pow(2, state.attempt));
    state.attempt += 1;
    const delay = base * (0.8 + Math.random() * 0.4);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
  }

  function subscribe(channel) {
    const message = { type: "subscribe", channel };
    if (state.lastIds[channel]) message.since = state.lastIds[channel];
    send(message);
  }

  // The relay pings at the protocol level; a client-side ping also detects a dead path.
  function startHeartbeat() {
    stopHeartbeat();
    state.heartbeatTimer = setInterval(() => {
      if (!state.ws) return;
      if (Date.now() - state.lastHeard > 45000) {
        state.ws.close();
        return;
      }
      send({ type: "ping" });
    }, 20000);
  }

  function stopHeartbeat() {
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = null;
  }

  async function verifyCredentials() {
    if (!state.auth) return;
    try {
      await api(state.auth.kind === "key" ? "/api/checkins/presence" : "/api/auth/session");
    } catch (_) {
      // the API is unreachable too; keep retrying the relay
    }
  }

  // ------------------------------------------------------------------ frames

  function onFrame(frame) {
    if (frame.type === "recovered") {
      // Which channels resumed from `since` on the latest connection (a hook for tests and support).
      const resumed = new Set((document.body.dataset.resumed || "").split(" ").filter(Boolean));
      resumed.add(frame.channel + (frame.complete ? "" : ":incomplete"));
      document.body.dataset.resumed = [...resumed].join(" ");
      if (frame.complete) {
        markSynced(frame.channel);
      } else {
        // History was trimmed: start the channel over from its backfill.
        delete state.lastIds[frame.channel];
        send({ type: "unsubscribe", channel: frame.channel });
        send({ type: "subscribe", channel: frame.channel });
        if (frame.channel === "checkins") loadPeople();
      }
      return;
    }
    if (frame.type !== "event") return;
    if (frame.channel && frame.id) state.lastIds[frame.channel] = frame.id;
    const data = frame.data || {};
    switch (frame.event) {
      case "presence:update":
        state.presence = data;
        markSynced("presence");
        checkPeopleCount();
        break;
      case "activity:backfill":
        state.activity = (data.items || []).slice(0, ACTIVITY_ITEMS);
        markSynced("checkins");
        break;
      case "checkin:new":
        applyCheckin(data);
        state.activity.unshift({ type: "checkin", name: data.memberName, rank: data.rank, division: data.division, direction: data.direction, timestamp: data.timestamp });
        state.activity = state.activity.slice(0, ACTIVITY_ITEMS);
        if (!state.channels.includes("lockup")) refreshLockupSoon();
        break;
      case "visitors:backfill":
        state.visitors = new Map((data.visitors || []).map((v) => [v.id, v]));
        markSynced("visitors");
        break;
      case "visitor:signin":
        state.visitors.set(data.id, data);
        state.activity.unshift({ type: "visitor", name: data.name, organization: data.organization, direction: "in", timestamp: data.checkInTime });
        state.activity = state.activity.slice(0, ACTIVITY_ITEMS);
        break;
      case "visitor:signout":
        state.visitors.delete(data.id);
        state.activity.unshift({ type: "visitor", name: data.name, direction: "out", timestamp: data.checkOutTime });
        state.activity = state.activity.slice(0, ACTIVITY_ITEMS);
        break;
      case "alerts:backfill":
        state.alerts = new Map((data.alerts || []).map((a) => [a.id, a]));
        markSynced("alerts");
        break;
      case "alert:new":
        state.alerts.set(data.id, data);
        break;
      case "alert:acknowledged":
        state.alerts.delete(data.id);
        break;
      case "dds:current":
        state.dds = data.assignment ? { name: data.assignment.member && data.assignment.member.name, rank: data.assignment.member && data.assignment.member.rank, status: data.assignment.status } : null;
        markSynced("dds");
        if (!state.channels.includes("lockup")) refreshLockup();
        break;
      case "dds:update":
        state.dds = data.assignment ? { name: data.assignment.memberName, rank: data.assignment.rank, status: data.assignment.status } : null;
        // The DDS receives the Lockup responsibility with the duty.
        if (!state.channels.includes("lockup")) refreshLockupSoon();
        break;
      case "lockup:current":
        state.lockup = { holder: data.holder || null, buildingStatus: data.buildingStatus || state.lockup.buildingStatus };
        markSynced("lockup");
        break;
      case "lockup:transferred":
        state.lockup.holder = { name: data.toMemberName };
        break;
      case "lockup:status":
        state.lockup = { holder: data.currentHolder || null, buildingStatus: data.buildingStatus };
        break;
      case "server:shutdown":
        setLive(false);
        setConnection("reconnecting", "Reconnecting…");
        break;
      case "session:expired":
        signedOut(state.auth && state.auth.kind === "key" ? "The display key was revoked." : "Your session has ended. Sign in again.");
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ who is present (REST + check-ins)

  function applyCheckin(c) {
    if (!state.peopleLoaded && state.peopleBuffer) {
      state.peopleBuffer.push(c);
      return;
    }
    if (c.direction === "in") state.people.set(c.memberId, { name: c.memberName, rank: c.rank, division: c.division });
    else state.people.delete(c.memberId);
  }

  async function loadPeople() {
    if (state.peopleBuffer) return; // already loading
    state.peopleBuffer = [];
    state.peopleLoaded = false;
    try {
      const response = await api("/api/checkins/presence/people");
      if (!response.ok) throw new Error("status " + response.status);
      const people = new Map();
      for (const p of response.body.people || []) {
        if (p.type === "member") people.set(p.id, { name: p.name, rank: p.rank, division: p.division || "Unknown" });
      }
      state.people = people;
      const buffered = state.peopleBuffer;
      state.peopleBuffer = null;
      state.peopleLoaded = true;
      for (const c of buffered) applyCheckin(c);
      if (state.channels.every((c) => state.synced.has(c)) && state.ws && state.ws.readyState === WebSocket.OPEN && !state.live) setLive(true);
      render();
    } catch (_) {
      state.peopleBuffer = null;
      setTimeout(() => { if (!state.peopleLoaded) loadPeople(); }, 3000);
    }
  }

  let peopleCheck = null;
  function checkPeopleCount() {
    // A change the check-in feed does not describe (a member deactivated, a daily reset) shows as a
    // count that disagrees with the names; refetch them.
    if (!state.peopleLoaded || !state.presence) return;
    if (state.people.size === state.presence.totalPresent) return;
    clearTimeout(peopleCheck);
    peopleCheck = setTimeout(() => {
      if (state.presence && state.people.size !== state.presence.totalPresent) loadPeople();
    }, 2000);
  }

  // ------------------------------------------------------------------ building status and Lockup (REST)

  let lockupSoon = null;
  function refreshLockupSoon() {
    clearTimeout(lockupSoon);
    lockupSoon = setTimeout(refreshLockup, 1500);
  }

  async function refreshLockup() {
    if (!state.auth || state.channels.includes("lockup")) return;
    try {
      const response = await api("/api/lockup/status");
      if (response.ok && response.body) {
        state.lockup = { holder: response.body.currentHolder || null, buildingStatus: response.body.buildingStatus };
        render();
      }
    } catch (_) {
      // shown as before; the next poll retries
    }
  }

  // ------------------------------------------------------------------ alerts (DW+)

  async function acknowledge(id, button, row) {
    button.disabled = true;
    const response = await api("/api/security-alerts/" + encodeURIComponent(id) + "/acknowledge", { method: "POST", json: {} }).catch(() => null);
    if (response && response.ok) {
      state.alerts.delete(id);
      render();
      return;
    }
    button.disabled = false;
    let error = row.querySelector(".ack-error");
    if (!error) {
      error = el("div", "ack-error");
      row.appendChild(error);
    }
    error.textContent = (response && response.body && response.body.message) || "Could not acknowledge (network error)";
  }

  // ------------------------------------------------------------------ rendering

  function render() {
    const p = state.presence;
    $("present-total").textContent = p ? p.totalPresent : "–";
    $("present-of").textContent = p ? "of " + p.totalMembers + " members" : "";
    $("visitors-total").textContent = state.synced.has("visitors") || state.visitors.size ? state.visitors.size : p && p.visitorsPresent !== undefined ? p.visitorsPresent : "–";

    const status = state.lockup.buildingStatus;
    const statusEl = $("building-status");
    statusEl.textContent = status ? status.replace("_", " ") : "–";
    statusEl.dataset.status = status || "";
    $("dds-name").textContent = state.dds === undefined ? "–" : state.dds ? person(state.dds.rank, state.dds.name) + (state.dds.status === "pending" ? " (pending)" : "") : "Not assigned";
    $("lockup-holder").textContent = state.lockup.holder === undefined ? "–" : holderName(state.lockup.holder) || "Nobody";

    renderDivisions();
    renderVisitors();
    renderActivity();
    renderAlerts();
  }

  function renderDivisions() {
    const container = $("divisions");
    container.replaceChildren();
    const p = state.presence;
    if (!p) return;
    const names = new Map();
    for (const member of state.people.values()) {
      const key = member.division || "Unknown";
      if (!names.has(key)) names.set(key, []);
      names.get(key).push(member);
    }
    const divisions = (p.byDivision || []).map((d) => ({ name: d.divisionName, present: d.present, total: d.total }));
    for (const key of names.keys()) {
      if (!divisions.some((d) => d.name === key)) divisions.push({ name: key, present: names.get(key).length, total: null });
    }
    for (const d of divisions) {
      const card = el("article", "division");
      card.dataset.division = d.name;
      const head = el("header");
      head.appendChild(el("span", "name", d.name));
      const count = el("span", "count", d.present);
      if (d.total !== null) count.appendChild(el("small", null, " / " + d.total));
      head.appendChild(count);
      card.appendChild(head);
      const list = el("ul");
      for (const m of (names.get(d.name) || []).sort((a, b) => a.name.localeCompare(b.name))) list.appendChild(el("li", null, person(m.rank, m.name)));
      card.appendChild(list);
      container.appendChild(card);
    }
  }

  function renderVisitors() {
    const list = $("visitors-list");
    list.replaceChildren();
    const visitors = [...state.visitors.values()].sort((a, b) => String(b.checkInTime).localeCompare(String(a.checkInTime)));
    $("visitors-empty").hidden = visitors.length > 0;
    for (const v of visitors) {
      const li = el("li");
      li.appendChild(el("span", "when", time(v.checkInTime)));
      li.appendChild(el("span", "who", v.name));
      const detail = [v.organization && v.organization !== "N/A" ? v.organization : null, v.hostName ? "host " + v.hostName : null].filter(Boolean).join(" · ");
      if (detail) li.appendChild(el("span", "detail", detail));
      list.appendChild(li);
    }
  }

  function renderActivity() {
    const list = $("activity-list");
    list.replaceChildren();
    for (const item of state.activity) {
      const li = el("li");
      li.dataset.type = item.type;
      li.appendChild(el("span", "when", time(item.timestamp)));
      li.appendChild(el("span", "dir " + (item.direction === "in" ? "in" : "out"), item.direction === "in" ? "IN" : "OUT"));
      li.appendChild(el("span", "who", item.type === "visitor" ? item.name : person(item.rank, item.name)));
      const detail = item.type === "visitor" ? ["Visitor", item.organization && item.organization !== "N/A" ? item.organization : null].filter(Boolean).join(" · ") : item.division;
      if (detail) li.appendChild(el("span", "detail", detail));
      list.appendChild(li);
    }
  }

  function renderAlerts() {
    const panel = $("alerts-panel");
    panel.hidden = !state.channels.includes("alerts");
    if (panel.hidden) return;
    const list = $("alerts-list");
    list.replaceChildren();
    const alerts = [...state.alerts.values()].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
    $("alerts-empty").hidden = alerts.length > 0;
    $("alerts-count").textContent = alerts.length ? "(" + alerts.length + ")" : "";
    for (const a of alerts) {
      const li = el("li");
      li.dataset.alertId = a.id;
      li.appendChild(el("span", "severity " + a.severity, a.severity));
      li.appendChild(el("span", "when", time(a.createdAt)));
      li.appendChild(el("span", "message", a.message));
      const button = el("button", "ack", "Acknowledge");
      button.type = "button";
      button.addEventListener("click", () => acknowledge(a.id, button, li));
      li.appendChild(button);
      list.appendChild(li);
    }
  }

  // ------------------------------------------------------------------ sign-in and start

  function showSignin(message) {
    $("board").hidden = true;
    $("foot").hidden = true;
    $("stale-banner").hidden = true;
    $("signin").hidden = false;
    $("signin-error").hidden = !message;
    $("signin-error").textContent = message || "";
    setConnection("signed-out", "Signed out");
  }

  function signedOut(message) {
    stop();
    if (state.auth && state.auth.kind === "key") localStorage.removeItem(KEY_STORAGE);
    state.auth = null;
    showSignin(message);
  }

  function stop() {
    state.stopped = true;
    clearTimeout(state.reconnectTimer);
    clearInterval(state.lockupPoll);
    stopHeartbeat();
    if (state.ws) {
      const ws = state.ws;
      state.ws = null;
      ws.close();
    }
  }

  function resetData() {
    Object.assign(state, {
      synced: new Set(), lastIds: {}, live: false, lastLiveAt: null, attempt: 0, presence: null, people: new Map(), peopleLoaded: false,
      peopleBuffer: null, visitors: new Map(), activity: [], dds: undefined, lockup: { holder: undefined, buildingStatus: undefined }, alerts: new Map(),
    });
  }

  function channelsFor(auth) {
    const base = ["presence", "checkins", "visitors", "dds"];
    if (auth.kind === "user" && DW_ROLES.includes(auth.role)) return base.concat(["alerts", "lockup"]);
    return base; // display keys (and quartermasters) never subscribe to alerts or lockup
  }

  function begin(auth) {
    resetData();
    state.auth = auth;
    state.stopped = false;
    state.channels = channelsFor(auth);
    $("signin").hidden = true;
    $("board").hidden = false;
    $("foot").hidden = false;
    $("who").textContent = auth.kind === "key" ? "Display screen" : "Signed in as " + auth.name + " (" + auth.role.replace("_", " ") + ")";
    render();
    connect();
    if (!state.channels.includes("lockup")) {
      refreshLockup();
      state.lockupPoll = setInterval(() => { if (state.live) refreshLockup(); }, 60000);
    }
  }

  async function startWithKey(key) {
    state.auth = { kind: "key", key };
    const check = await api("/api/checkins/presence").catch(() => null);
    if (!check) {
      state.auth = null;
      showSignin("Sentinel cannot be reached. Reload to try again.");
      return;
    }
    if (!check.ok) {
      if (state.auth) signedOut(check.status === 403 ? "This key cannot open the board (a display key is needed)." : "The display key was refused.");
      return;
    }
    localStorage.setItem(KEY_STORAGE, key);
    begin({ kind: "key", key });
  }

  async function startWithSession() {
    const session = await api("/api/auth/session").catch(() => null);
    if (session && session.ok && session.body && session.body.user) {
      const user = session.body.user;
      begin({ kind: "user", role: user.role || "quartermaster", name: user.displayName || user.email });
      return true;
    }
    return false;
  }

  async function main() {
    setInterval(() => { $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }); }, 1000);
    $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await api("/api/auth/login", { method: "POST", json: { email: $("login-email").value, password: $("login-password").value } }).catch(() => null);
      $("login-password").value = "";
      if (response && response.ok) {
        if (!(await startWithSession())) showSignin("Signed in, but the session could not be read.");
      } else {
        showSignin((response && response.body && response.body.message) || "Sign-in failed.");
      }
    });
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      $("key-input").value = "";
      startWithKey(key);
    });
    $("signout").addEventListener("click", async () => {
      const auth = state.auth;
      stop();
      if (auth && auth.kind === "user") await api("/api/auth/logout", { method: "POST", json: {} }).catch(() => null);
      localStorage.removeItem(KEY_STORAGE);
      state.auth = null;
      showSignin(null);
    });

    try {
      const config = await fetch("/board/config.json", { credentials: "same-origin" });
      state.config = await config.json();
    } catch (_) {
      state.config = { relayUrl: "/ws" };
    }

    // A display screen opens /board#key=sk_…: the key is kept on this device and removed from the address bar.
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    const fromFragment = fragment.get("key");
    if (fromFragment) {
      history.replaceState(null, "", location.pathname + location.search);
      await startWithKey(fromFragment.trim());
      return;
    }
    const stored = localStorage.getItem(KEY_STORAGE);
    if (stored) {
      await startWithKey(stored);
      return;
    }
    if (!(await startWithSession())) showSignin(null);
  }

  main();
})();
