/**
 * The system monitor served at `/monitor` (edge/routes/monitor.ts): one
 * static page, its script (`/monitor/monitor.js`, a file of its own so the
 * CSP needs no inline script) and Plotly from `/monitor/plotly.min.js`.
 * The script reads `/ws/system-metrics` on the same host, keeps the last
 * 120 s of every runner's readings and draws CPU %, memory % and, per GPU,
 * load % and memory %; it reconnects with backoff. Test hook:
 * `window.__monitor` (`samples`, `lastSample`, `state`, `runners`, `points(chart)`).
 */

export const MONITOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>System monitor · edgerunner</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f5f6f8; --card: #ffffff; --fg: #1d2330; --muted: #5d6678; --line: #e1e4ea;
    --ok: #1a9b55; --warn: #c98300; --bad: #d23f3f;
    font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #12151b; --card: #1b2029; --fg: #e6e9ef; --muted: #9aa3b5; --line: #2c3340; }
  }
  * { box-sizing: border-box; }
  html, body { margin: 0; background: var(--bg); color: var(--fg); }
  header {
    display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 4px 16px;
    padding: 12px 16px 4px; max-width: 1400px; margin: 0 auto;
  }
  h1 { font-size: 1.25rem; margin: 0; font-weight: 600; }
  .status { margin: 0; font-size: 0.875rem; color: var(--muted); display: flex; align-items: center; gap: 6px; }
  .dot { width: 10px; height: 10px; border-radius: 50%; background: var(--muted); flex: none; }
  .status[data-state="open"] .dot { background: var(--ok); }
  .status[data-state="stale"] .dot, .status[data-state="connecting"] .dot { background: var(--warn); }
  .status[data-state="closed"] .dot, .status[data-state="denied"] .dot { background: var(--bad); }
  main {
    display: grid; gap: 12px; padding: 8px 16px 16px; max-width: 1400px; margin: 0 auto;
    grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr));
  }
  .card {
    background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px 6px; min-width: 0;
  }
  .card[hidden], .note[hidden] { display: none; }
  h2 { font-size: 0.95rem; margin: 0; font-weight: 600; }
  .label { margin: 2px 0 0; font-size: 0.8rem; color: var(--muted); min-height: 1.2em; font-variant-numeric: tabular-nums; }
  .label span { display: inline-block; margin-right: 12px; }
  .chart { width: 100%; height: 240px; }
  .note {
    grid-column: 1 / -1; margin: 0; padding: 10px 12px; border: 1px dashed var(--line); border-radius: 10px;
    color: var(--muted); font-size: 0.875rem;
  }
  @media (min-width: 900px) { .chart { height: 280px; } }
  .key-form { display: flex; gap: 6px; margin-top: 6px; }
  .key-form[hidden] { display: none; }
  .key-form input { flex: 1; min-width: 0; font: inherit; padding: 4px 6px; }
</style>
<script src="/monitor/plotly.min.js" defer></script>
<script src="/monitor/monitor.js" defer></script>
</head>
<body>
<header>
  <h1>System monitor</h1>
  <p class="status" id="status" data-state="connecting" role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span><span id="status-text">connecting…</span>
  </p>
  <form id="key-form" class="key-form" hidden>
    <input id="key" type="password" placeholder="API key" autocomplete="off" aria-label="API key" required>
    <button type="submit">Connect</button>
  </form>
</header>
<main>
  <section class="card" id="card-cpu"><h2>CPU</h2><p class="label" id="label-cpu"></p><div class="chart" id="chart-cpu"></div></section>
  <section class="card" id="card-memory"><h2>Memory</h2><p class="label" id="label-memory"></p><div class="chart" id="chart-memory"></div></section>
  <section class="card" id="card-gpu-load" hidden><h2>GPU load</h2><p class="label" id="label-gpu-load"></p><div class="chart" id="chart-gpu-load"></div></section>
  <section class="card" id="card-gpu-memory" hidden><h2>GPU memory</h2><p class="label" id="label-gpu-memory"></p><div class="chart" id="chart-gpu-memory"></div></section>
  <p class="note" id="no-gpu" hidden>No GPU reported.</p>
</main>
<noscript><p class="note">The monitor needs JavaScript.</p></noscript>
</body>
</html>
`;

/** Plain ES2020 for the browser (no template literals: this is one). */
export const MONITOR_SCRIPT = `'use strict';
(function () {
  var WINDOW_MS = 120000;
  var STALE_MS = 5000;
  var BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  var COLORS = ['#3b7ddd', '#e4572e', '#17a398', '#f3a712', '#8e6cdf', '#d6457b', '#5c946e', '#7f8c8d'];

  /** runner id -> { points: [{t, cpu, mem, gpu: [...]}], last: message } */
  var runners = new Map();
  var hook = {
    samples: 0,
    lastSample: null,
    state: 'connecting',
    reconnects: 0,
    errors: [],
    runners: function () { return Array.from(runners.keys()); },
    points: function (chart) {
      var el = document.getElementById('chart-' + chart);
      return el && el.data && el.data[0] ? el.data[0].x.length : 0;
    },
  };
  window.__monitor = hook;

  var statusEl = document.getElementById('status');
  var statusText = document.getElementById('status-text');
  var socket = null;
  var attempt = 0;
  var retryAt = 0;
  var retryTimer = 0;
  var everOpened = false;
  var denied = false;
  /** An API key typed into the page (kept for this tab only), offered as a subprotocol: browsers cannot set headers. */
  var KEY_ITEM = 'edgerunner-monitor-key';
  var keyForm = document.getElementById('key-form');
  var keyInput = document.getElementById('key');
  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_ITEM) || '';
    } catch (err) {
      return '';
    }
  }
  function base64url(text) {
    return btoa(text).split('+').join('-').split('/').join('_').replace(/=+$/, '');
  }
  keyForm.addEventListener('submit', function (event) {
    event.preventDefault();
    try {
      sessionStorage.setItem(KEY_ITEM, keyInput.value.trim());
    } catch (err) {}
    denied = false;
    attempt = 0;
    keyForm.hidden = true;
    clearTimeout(retryTimer);
    connect();
  });
  var lastArrival = 0;
  var drawQueued = false;

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/system-metrics';
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  function setStatus(state, text) {
    hook.state = state;
    statusEl.setAttribute('data-state', state);
    statusText.textContent = text;
  }

  function showStatus() {
    if (denied) {
      keyForm.hidden = false;
      setStatus('denied', storedKey() ? 'that API key was refused: enter another' : 'the server requires an API key: enter one');
      return;
    }
    var last = hook.lastSample ? ' · last sample ' + clock(hook.lastSample.timestamp) : '';
    if (socket && socket.readyState === 1) {
      var n = runners.size;
      var who = n === 1 ? ' · ' + runners.keys().next().value : n > 1 ? ' · ' + n + ' runners' : '';
      if (Date.now() - lastArrival > STALE_MS) setStatus('stale', 'connected · waiting for samples' + who + last);
      else setStatus('open', 'connected' + who + last);
    } else if (retryAt) {
      var s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setStatus('closed', 'disconnected · reconnecting in ' + s + ' s' + last);
    } else {
      setStatus('connecting', (everOpened ? 'reconnecting…' : 'connecting…') + last);
    }
  }

  function connect() {
    retryAt = 0;
    showStatus();
    var ws;
    try {
      var key = storedKey();
      ws = key ? new WebSocket(wsUrl(), ['edgerunner', 'edgerunner.key.' + base64url(key)]) : new WebSocket(wsUrl());
    } catch (err) {
      hook.errors.push(String(err));
      scheduleRetry();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      everOpened = true;
      lastArrival = Date.now();
      showStatus();
    };
    ws.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (!message || typeof message.runner !== 'string' || !message.cpu || !message.memory) return;
      attempt = 0;
      lastArrival = Date.now();
      add(message);
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      if (!everOpened || attempt >= 2) probe();
      scheduleRetry();
    };
  }

  /** Browsers hide why an upgrade failed: a plain GET says 426 (allowed) or 401/403 (credentials needed). */
  function probe() {
    var key = storedKey();
    fetch('/ws/system-metrics', { cache: 'no-store', headers: key ? { 'x-api-key': key } : {} })
      .then(function (res) {
        denied = res.status === 401 || res.status === 403;
        showStatus();
      })
      .catch(function () {});
  }

  function scheduleRetry() {
    var base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    hook.reconnects += 1;
    var delay = Math.round(base * (0.8 + Math.random() * 0.4));
    retryAt = Date.now() + delay;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
    showStatus();
  }

  window.addEventListener('online', function () {
    if (!socket && retryAt) {
      clearTimeout(retryTimer);
      connect();
    }
  });
  setInterval(showStatus, 1000);

  function add(m) {
    var entry = runners.get(m.runner);
    if (!entry) {
      entry = { points: [], last: null };
      runners.set(m.runner, entry);
    }
    entry.last = m;
    entry.points.push({
      t: m.timestamp,
      cpu: m.cpu.percent,
      mem: m.memory.percent,
      gpu: (m.gpu || []).map(function (g) {
        return { id: g.id, load: g.load, used: g.memory_used, total: g.memory_total };
      }),
    });
    hook.samples += 1;
    hook.lastSample = m;
    queueDraw();
  }

  function queueDraw() {
    if (drawQueued) return;
    drawQueued = true;
    setTimeout(function () {
      drawQueued = false;
      draw();
    }, 50);
  }

  function latestTime() {
    var latest = 0;
    runners.forEach(function (r) {
      var p = r.points[r.points.length - 1];
      if (p && p.t > latest) latest = p.t;
    });
    return latest;
  }

  function trim(now) {
    runners.forEach(function (r, id) {
      while (r.points.length && r.points[0].t < now - WINDOW_MS) r.points.shift();
      if (!r.points.length) runners.delete(id);
    });
  }

  function safe(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function fixed(n, digits) {
    return Number(n).toFixed(digits);
  }

  function cssColor(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
  }

  /** The window on the time axis: it fills from the left with the first samples, then scrolls. */
  function timeRange(now) {
    var first = now;
    runners.forEach(function (r) {
      if (r.points.length && r.points[0].t < first) first = r.points[0].t;
    });
    var start = Math.max(first - 2000, now - WINDOW_MS);
    return [new Date(start), new Date(start + WINDOW_MS)];
  }

  function layout(now, legend) {
    var fg = cssColor('--muted');
    var grid = cssColor('--line');
    return {
      margin: { l: 44, r: 12, t: 12, b: legend ? 8 : 28 },
      paper_bgcolor: 'rgba(0,0,0,0)',
      plot_bgcolor: 'rgba(0,0,0,0)',
      font: { color: fg, size: 11 },
      dragmode: false,
      hovermode: 'x unified',
      showlegend: legend,
      legend: { orientation: 'h', x: 0, y: -0.18, yanchor: 'top', font: { size: 11 } },
      xaxis: {
        type: 'date',
        range: timeRange(now),
        fixedrange: true,
        gridcolor: grid,
        linecolor: grid,
        tickformat: '%H:%M:%S',
        nticks: window.innerWidth < 600 ? 4 : 6,
      },
      yaxis: {
        range: [0, 100],
        tickvals: [25, 50, 75, 100],
        ticktext: ['25%', '50%', '75%', '100%'],
        fixedrange: true,
        gridcolor: grid,
        zerolinecolor: grid,
      },
      uirevision: 'keep',
    };
  }

  function trace(name, color, xs, ys) {
    return {
      type: 'scatter',
      mode: 'lines',
      name: safe(name),
      x: xs,
      y: ys,
      line: { color: color, width: 2 },
      hovertemplate: '%{y:.1f}%<extra>' + safe(name) + '</extra>',
    };
  }

  function render(chart, traces, now) {
    var el = document.getElementById('chart-' + chart);
    if (!el || !window.Plotly) return;
    window.Plotly.react(el, traces, layout(now, traces.length > 1), { responsive: true, displayModeBar: false });
  }

  function setLabel(id, parts) {
    var el = document.getElementById('label-' + id);
    el.textContent = '';
    parts.forEach(function (text) {
      var span = document.createElement('span');
      span.textContent = text;
      el.appendChild(span);
    });
  }

  function draw() {
    var now = latestTime();
    if (!now) return;
    trim(now);
    var ids = Array.from(runners.keys()).sort();
    var many = ids.length > 1;
    var cpu = [];
    var mem = [];
    var cpuLabel = [];
    var memLabel = [];
    var gpuLoad = [];
    var gpuMem = [];
    var gpuLoadLabel = [];
    var gpuMemLabel = [];
    ids.forEach(function (id, i) {
      var r = runners.get(id);
      var xs = r.points.map(function (p) { return new Date(p.t); });
      var color = COLORS[i % COLORS.length];
      var prefix = many ? id + ': ' : '';
      cpu.push(trace(id, color, xs, r.points.map(function (p) { return p.cpu; })));
      mem.push(trace(id, color, xs, r.points.map(function (p) { return p.mem; })));
      var m = r.last;
      var ghz = m.cpu.frequency_current > 0 ? ' · ' + fixed(m.cpu.frequency_current / 1000, 1) + ' GHz' : '';
      cpuLabel.push(prefix + fixed(m.cpu.percent, 0) + '% · ' + m.cpu.cores + ' cores' + ghz);
      memLabel.push(prefix + fixed(m.memory.used, 1) + ' / ' + fixed(m.memory.total, 1) + ' GB (' + fixed(m.memory.percent, 0) + '%)');
      (m.gpu || []).forEach(function (g, k) {
        var name = (many ? id + ' · ' : '') + 'GPU ' + g.id;
        var gColor = COLORS[(i + k * ids.length) % COLORS.length];
        var pick = function (field) {
          return r.points.map(function (p) {
            var x = p.gpu.filter(function (q) { return q.id === g.id; })[0];
            if (!x) return null;
            return field === 'load' ? x.load : x.total > 0 ? (100 * x.used) / x.total : null;
          });
        };
        gpuLoad.push(trace(name, gColor, xs, pick('load')));
        gpuMem.push(trace(name, gColor, xs, pick('memory')));
        var temp = g.temperature ? ' · ' + fixed(g.temperature, 0) + ' °C' : '';
        gpuLoadLabel.push(name + ' ' + g.name + ': ' + fixed(g.load, 0) + '%' + temp);
        gpuMemLabel.push(name + ': ' + fixed(g.memory_used / 1024, 1) + ' / ' + fixed(g.memory_total / 1024, 1) + ' GB');
      });
    });
    render('cpu', cpu, now);
    render('memory', mem, now);
    setLabel('cpu', cpuLabel);
    setLabel('memory', memLabel);
    var hasGpu = gpuLoad.length > 0;
    document.getElementById('card-gpu-load').hidden = !hasGpu;
    document.getElementById('card-gpu-memory').hidden = !hasGpu;
    var note = document.getElementById('no-gpu');
    note.hidden = hasGpu;
    note.textContent = many ? 'No GPU reported by any runner.' : 'No GPU reported.';
    if (hasGpu) {
      render('gpu-load', gpuLoad, now);
      render('gpu-memory', gpuMem, now);
      setLabel('gpu-load', gpuLoadLabel);
      setLabel('gpu-memory', gpuMemLabel);
    }
    showStatus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', connect);
  else connect();
})();
`;
