(function () {
  'use strict';
  // Summary views of a large report come as <template>s: once the matrix is drawn, each is
  // drawn when its section nears the viewport (all at once for printing or a link into one).
  function lazyViews() {
    var held = Array.prototype.slice.call(document.querySelectorAll('template.lazy-view'));
    if (!held.length) return;
    function show(t) {
      if (t.parentNode) t.parentNode.replaceChild(t.content, t);
      held = held.filter(function (x) { return x !== t; });
    }
    function showAll() {
      held.slice().forEach(show);
      if (location.hash) {
        var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
        if (target) target.scrollIntoView();
      }
    }
    if (typeof IntersectionObserver !== 'function' || location.hash) { showAll(); return; }
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        if (!en.isIntersecting) return;
        seen.unobserve(en.target);
        var t = en.target.querySelector('template.lazy-view');
        if (t) show(t);
      });
    }, { rootMargin: '200px 0px' });
    held.forEach(function (t) { seen.observe(t.parentNode); });
    window.addEventListener('hashchange', showAll);
    window.addEventListener('beforeprint', showAll);
  }
  // All data comes from the JSON block; every string reaches the page through textContent,
  // attribute properties or createTextNode, never through innerHTML.
  // A data block is JSON, or (a large one) gzip-compressed JSON in base64 text
  // (data-encoding="gzip+base64"), inflated here: a browser reads a small file much faster.
  function readBlock(id) {
    var node = document.getElementById(id);
    if (node.getAttribute('data-encoding') !== 'gzip+base64') return JSON.parse(node.textContent);
    if (typeof DecompressionStream !== 'function')
      throw new Error('this browser cannot inflate the report data (no DecompressionStream)');
    var bin = atob(node.textContent), n = bin.length, bytes = new Uint8Array(n);
    for (var k = 0; k < n; k++) bytes[k] = bin.charCodeAt(k);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text().then(JSON.parse);
  }
  function failed(err) {
    var where = document.getElementById('matrix-status');
    if (where) where.textContent = 'The report data could not be read: ' + err;
    document.body.setAttribute('data-ready', 'error');
    lazyViews();
    throw err;
  }
  // When each step of opening finished (ms since navigation): benchmarks/report_build.py
  // reads them.
  var marks = window.__lcTimes = {};
  function mark(name) { marks[name] = Math.round(performance.now()); }
  mark('script');
  var first;
  try { first = readBlock('lc-data'); } catch (err) { failed(err); }
  if (first && typeof first.then === 'function') first.then(start).catch(failed);
  else start(first);

  function start(D) {
  mark('data');
  var S = D.strings, N = D.n, V = D.verdicts;
  // The columns the matrix reads every time it is drawn, as typed arrays (-1: none).
  var C = {};
  Object.keys(D.cols).forEach(function (k) {
    var src = D.cols[k];
    if (k === 'ulp' || k === 'tu') { C[k] = src; return; }
    var a = new Int32Array(N);
    for (var i = 0; i < N; i++) a[i] = src[i] === null || src[i] === undefined ? -1 : src[i];
    C[k] = a;
  });
  // The drill-down's data (errors, worst element, inputs, tolerance, repro, other fields):
  // a second block, parsed the first time a cell is opened.
  var DT = null, pending = null;
  function takeDetail(dt) {
    DT = dt;
    Object.keys(DT.cols).forEach(function (k) { C[k] = DT.cols[k]; });
    return DT;
  }
  // The detail block, or (compressed, the first time) a promise of it.
  function detail() {
    if (DT !== null) return DT;
    if (pending !== null) return pending;
    var got = readBlock('lc-detail');
    if (got && typeof got.then === 'function') return (pending = got.then(takeDetail));
    return takeDetail(got);
  }
  // Verdicts from least to most severe (lossconform.record.SEVERITY): a cell shows its worst.
  var SEV_NAME = D.severity, SEV = {};
  SEV_NAME.forEach(function (v, k) { SEV[v] = k; });
  var vsev = V.map(function (v) { return SEV[v]; });
  // dtypes narrow to wide (lossconform.dtypes.DTYPES)
  var DTYPE_ORDER = {};
  D.dtype_order.forEach(function (d, i) { DTYPE_ORDER[d] = i; });
  var FIRST_ROWS = 30, MORE_ROWS = 200;
  // A matrix of more cells than this draws each op's section when it scrolls into view.
  var EAGER_CELLS = 6000;
  var merged = D.runs.length > 1;

  function str(i) { return i < 0 || i === undefined || i === null ? null : S[i]; }
  // Test ids travel as lists of string ids (words of the id).
  function joined(list, cache, sep) {
    return function (k) {
      if (k < 0 || k === undefined) return null;
      var s = cache[k];
      if (s === undefined) s = cache[k] = list[k].map(function (j) { return S[j]; }).join(sep);
      return s;
    };
  }
  var nodeText = joined(D.nodes, [], '');
  // Repro snippets: templates over lines, the record's case id and dtype filled in.
  var reproCache = new Map();
  function reproText(i) {
    var k = C.repro[i];
    if (k < 0 || k === undefined || k === null) return null;
    var id = S[C.id[i]], dt = S[C.dt[i]];
    var key = k + '\u0001' + id + '\u0001' + dt;
    var s = reproCache.get(key);
    if (s === undefined) {
      var t = DT.repro_texts[k].map(function (j) { return DT.repro_lines[j]; }).join('\n');
      s = t.indexOf('\u0000') < 0 ? t : t.replace(/\u0000([\u0000-\u0008])/g, function (m, c) {
        return c === '\u0000' ? '\u0000' : c === '\u0001' ? id : c === '\u0002' ? dt : m;
      });
      reproCache.set(key, s);
    }
    return s;
  }
  function num(x) {
    if (x === null || x === undefined) return null;
    if (typeof x === 'string') {
      if (x === 'inf') return Infinity;
      if (x === '-inf') return -Infinity;
      if (x === 'nan') return NaN;
      var f = parseFloat(x);
      return isNaN(f) ? NaN : f;
    }
    return x;
  }
  function fmtUlp(x) {
    if (x === null) return '';
    if (isNaN(x)) return 'NaN';
    if (x === Infinity) return '\u221e';
    if (x === -Infinity) return '-\u221e';
    if (x < 10) return String(+x.toPrecision(3));
    if (x < 1e4) return String(Math.round(x));
    return x.toExponential(1).replace('e+', 'e');
  }
  // Tolerance used: largest |framework - reference| / allowed over the elements; <= 1 agrees.
  function fmtTol(x) {
    if (x === null) return '';
    if (isNaN(x)) return 'NaN';
    if (x === Infinity) return '\u221e';
    if (x < 0.01) return '\u22640.01';
    if (x < 10) return String(+x.toPrecision(2));
    if (x < 1e4) return String(Math.round(x));
    return x.toExponential(1).replace('e+', 'e');
  }
  // Short form of a divergence id for a cell: its first two words.
  function shortDiv(id) {
    var w = id.split(/[-_]/);
    return w.slice(0, 2).join('-');
  }
  function fmtShort(x) {  // 4 significant digits
    if (x === null || !isFinite(x) || x === 0) return fmtNum(x);
    var a = Math.abs(x);
    return a < 1e-3 || a >= 1e6 ? x.toExponential(3).replace(/\.?0+e/, 'e') : String(+x.toPrecision(4));
  }
  function fmtNum(x) {
    x = num(x);
    if (x === null) return '\u2014';
    if (typeof x !== 'number') return String(x);
    if (isNaN(x)) return 'NaN';
    if (!isFinite(x)) return x > 0 ? 'inf' : '-inf';
    return String(x);
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function json(x) { return JSON.stringify(x); }

  // ---- index: rows (op, case id), columns (op, run, entry point, dtype, device) ----------
  // Keys are numbers (no string per record); each record's row and column are kept, and
  // the records are listed row by row (rowStart/rowRecs) for the per-row passes.
  var NS = S.length + 1;
  var rows = [], rowKey = new Map(), cols = [], colKey = new Map(), groupKey = new Map();
  var opOrder = [], opRows = new Map(), opCols = new Map();
  var recRow = new Int32Array(N), recCol = new Int32Array(N);
  for (var i = 0; i < N; i++) {
    var op = C.op[i];
    var rk = op * NS + C.id[i];
    var r = rowKey.get(rk);
    if (r === undefined) {
      r = rows.length;
      rowKey.set(rk, r);
      rows.push({ op: op, id: C.id[i] });
      if (!opRows.has(op)) { opRows.set(op, []); opCols.set(op, []); opOrder.push(op); }
      opRows.get(op).push(r);
    }
    var gk = (op * NS + C.ep[i]) * D.runs.length + C.run[i];
    var g = groupKey.get(gk);
    if (g === undefined) { g = groupKey.size; groupKey.set(gk, g); }
    var ck = (g * NS + C.dt[i]) * NS + C.dev[i];
    var c = colKey.get(ck);
    if (c === undefined) {
      c = cols.length;
      colKey.set(ck, c);
      cols.push({ op: op, run: C.run[i], ep: C.ep[i], fw: C.fw[i], dt: C.dt[i], dev: C.dev[i] });
      opCols.get(op).push(c);
    }
    recRow[i] = r; recCol[i] = c;
  }
  mark('index');
  var rowStart = new Int32Array(rows.length + 1), rowRecs = new Int32Array(N);
  for (var i2 = 0; i2 < N; i2++) rowStart[recRow[i2] + 1]++;
  for (var r2 = 0; r2 < rows.length; r2++) rowStart[r2 + 1] += rowStart[r2];
  var fillAt = rowStart.slice(0, rows.length);
  for (var i3 = 0; i3 < N; i3++) rowRecs[fillAt[recRow[i3]]++] = i3;
  // the records of one cell (row, column), in record order
  function cellRecs(r, c) {
    var out = [];
    for (var k = rowStart[r]; k < rowStart[r + 1]; k++) if (recCol[rowRecs[k]] === c) out.push(rowRecs[k]);
    return out;
  }
  var devices = new Set(C.dev);
  function dtKey(s) { var v = DTYPE_ORDER[s]; return v === undefined ? 9 : v; }
  opOrder.sort(function (a, b) { return S[a] < S[b] ? -1 : S[a] > S[b] ? 1 : 0; });
  opCols.forEach(function (list) {
    list.sort(function (a, b) {
      var x = cols[a], y = cols[b];
      return (x.run - y.run) || cmp(S[x.fw], S[y.fw]) || cmp(S[x.ep], S[y.ep]) ||
        (dtKey(S[x.dt]) - dtKey(S[y.dt])) || cmp(S[x.dev], S[y.dev]);
    });
  });
  function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
  // error figures as numbers, once (null: none; the file writes non-finite ones as text)
  function numbers(col) {
    var out = new Float64Array(N), has = new Uint8Array(N);
    for (var i = 0; i < N; i++) { var x = num(col[i]); if (x !== null) { out[i] = x; has[i] = 1; } }
    return { v: out, has: has };
  }
  var ULP = numbers(C.ulp), TU = numbers(C.tu);
  function ulpOf(i) { return ULP.has[i] ? ULP.v[i] : null; }
  function tuOf(i) { return TU.has[i] ? TU.v[i] : null; }

  // ---- filters -----------------------------------------------------------------------------
  var facets = [
    { key: 'run', label: 'run', col: C.run, show: merged, name: function (v) { return D.runs[v].short; } },
    { key: 'fw', label: 'framework', col: C.fw, show: true, name: str },
    { key: 'op', label: 'op', col: C.op, show: true, name: str },
    { key: 'dt', label: 'dtype', col: C.dt, show: true, name: str },
    { key: 'dev', label: 'device', col: C.dev, show: devices.size > 1, name: str },
    { key: 'v', label: 'verdict', col: C.v, show: true, name: function (v) { return V[v]; } },
    { key: 'kind', label: 'kind', col: C.kind, show: true, name: str }
  ];
  var lower = new Array(S.length), nodeLower = new Array(D.nodes.length);
  function low(i) { if (i < 0) return ''; var s = lower[i]; if (s === undefined) s = lower[i] = S[i].toLowerCase(); return s; }
  function lowNode(k) { if (k < 0) return ''; var s = nodeLower[k]; if (s === undefined) s = nodeLower[k] = nodeText(k).toLowerCase(); return s; }
  var query = '';
  var mask = new Uint8Array(N);
  // Unsupported records are combinations an entry point cannot express: not checks, so the
  // counts keep them apart.
  var UNSUP = V.indexOf('unsupported'), nUnsup = 0;
  for (var u = 0; u < N; u++) if (C.v[u] === UNSUP) nUnsup++;
  var matchingUnsup = 0;
  var filterBox = document.getElementById('filters');
  facets.forEach(function (f) {
    var values = Array.from(new Set(f.col));
    values.sort(function (a, b) {
      if (f.key === 'dt') return dtKey(S[a]) - dtKey(S[b]);
      if (f.key === 'v' || f.key === 'run') return a - b;
      return cmp(f.name(a), f.name(b));
    });
    f.distinct = values.length;
    // allowed[value + 1]: whether records with that value pass (value -1: none)
    f.allowed = new Uint8Array(Math.max.apply(null, values.concat([0])) + 2);
    f.nAllowed = values.length;
    values.forEach(function (v) { f.allowed[v + 1] = 1; });
    if (!f.show) return;
    var fs = el('fieldset', { 'data-facet': f.key });
    fs.appendChild(el('legend', null, f.label));
    values.forEach(function (v) {
      var lab = el('label');
      var box = el('input', { type: 'checkbox', 'data-value': String(v) });
      box.checked = true;
      box.addEventListener('change', function () {
        f.allowed[v + 1] = box.checked ? 1 : 0;
        f.nAllowed += box.checked ? 1 : -1;
        refresh();
      });
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(' ' + f.name(v)));
      if (f.key === 'v' && v === UNSUP) lab.title = 'not a check: a combination the entry point cannot express';
      fs.appendChild(lab);
    });
    filterBox.appendChild(fs);
  });
  var searchFs = el('fieldset');
  searchFs.appendChild(el('legend', null, 'search (case, entry point, message, divergence)'));
  var search = el('input', { type: 'search', id: 'search', placeholder: 'e.g. ignore_index' });
  var timer = null;
  search.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { query = search.value.trim().toLowerCase(); refresh(); }, 150);
  });
  searchFs.appendChild(search);
  filterBox.appendChild(searchFs);

  // Which strings (and test ids) hold the query: each distinct one looked at once.
  function hits(n, text) {
    var hit = new Int8Array(n);  // 0: not looked at, 1: holds it, -1: does not
    return function (k) {
      if (k < 0) return false;
      var h = hit[k];
      if (h === 0) h = hit[k] = text(k).indexOf(query) >= 0 ? 1 : -1;
      return h > 0;
    };
  }
  function computeMask() {
    var active = facets.filter(function (f) { return f.nAllowed !== f.distinct; });
    var sets = active.map(function (f) { return f.allowed; });
    var colsOf = active.map(function (f) { return f.col; });
    var nA = sets.length;
    var total = 0;
    matchingUnsup = 0;
    var strHit = query ? hits(S.length, low) : null;
    var nodeHit = query ? hits(D.nodes.length, lowNode) : null;
    var cid = C.id, cep = C.ep, cmsg = C.msg, cdiv = C.div, cnode = C.node, cv = C.v;
    for (var i = 0; i < N; i++) {
      var ok = 1;
      for (var k = 0; k < nA; k++) if (!sets[k][colsOf[k][i] + 1]) { ok = 0; break; }
      if (ok && query) {
        ok = (strHit(cid[i]) || strHit(cep[i]) || strHit(cmsg[i]) || strHit(cdiv[i]) ||
              nodeHit(cnode[i])) ? 1 : 0;
      }
      mask[i] = ok;
      total += ok;
      if (ok && cv[i] === UNSUP) matchingUnsup++;
    }
    return total;
  }

  // ---- matrix ------------------------------------------------------------------------------
  var body = document.getElementById('matrix-body');
  var status = document.getElementById('matrix-status');
  var limits = new Map();
  var sections = new Map();
  var colSeen = new Uint8Array(cols.length);

  function visibleOf(op) {
    var vis = [];
    var list = opRows.get(op);
    var opc = opCols.get(op);
    for (var q = 0; q < opc.length; q++) colSeen[opc[q]] = 0;
    for (var p = 0; p < list.length; p++) {
      var r = list[p], any = false;
      for (var k = rowStart[r]; k < rowStart[r + 1]; k++) {
        var i = rowRecs[k];
        if (mask[i]) { any = true; colSeen[recCol[i]] = 1; }
      }
      if (any) vis.push(r);
    }
    var vcols = opc.filter(function (c) { return colSeen[c] === 1; });
    return { rows: vis, cols: vcols };
  }

  // NaN counts as the worst value.
  function worse(a, b) {
    if (b === null || (a !== null && isNaN(a))) return a;
    return (a === null || isNaN(b) || b > a) ? b : a;
  }
  function cellSummary(recs) {
    var sev = -1, ulp = null, tu = null, n = 0, div = null;
    for (var k = 0; k < recs.length; k++) {
      var i = recs[k];
      if (!mask[i]) continue;
      n++;
      var s = vsev[C.v[i]];
      if (s > sev) sev = s;
      if (s === SEV.divergence && div === null) div = str(C.div[i]);
      ulp = worse(ulp, ulpOf(i));
      tu = worse(tu, tuOf(i));
    }
    return { n: n, sev: sev, ulp: ulp, tu: tu, div: div };
  }
  // A cell's tooltip: made when the pointer first rests on it.
  function cellTitle(recs) {
    var sum = cellSummary(recs), parts = [];
    recs.forEach(function (i) {
      if (!mask[i]) return;
      var t = tuOf(i), x = ulpOf(i);
      parts.push(S[C.kind[i]] + ' ' + V[C.v[i]] + (t !== null ? ', tolerance used ' + fmtNum(C.tu[i]) : '') +
                 (x !== null ? ', max ULP ' + fmtUlp(x) : ''));
    });
    return SEV_NAME[sum.sev] + (sum.div !== null ? ' (' + sum.div + ')' : '') + '\n' + parts.join('\n');
  }
  function cellLabel(sum, name) {
    if (name === 'divergence') return sum.div !== null ? shortDiv(sum.div) : 'div.';
    if (sum.tu !== null) return fmtTol(sum.tu);
    if (sum.ulp !== null) return fmtUlp(sum.ulp) + 'u';  // older results: no tolerance_used
    return name === 'unsupported' ? 'n/a' : name === 'raises' ? 'exc' : '\u2014';
  }

  // Text that may wrap after '.', '(' and ',' (long entry point names), as text nodes.
  function breakable(e, text) {
    text.split(/(?<=[.(,])/).forEach(function (piece, k) {
      if (k) e.appendChild(el('wbr'));
      e.appendChild(document.createTextNode(piece));
    });
    return e;
  }
  function headerRows(vcols) {
    var thead = el('thead');
    var levels = [];
    if (merged) levels.push(function (c) { return D.runs[c.run].short; });
    levels.push(function (c) { return S[c.ep]; });
    var tr, prev, th;
    levels.forEach(function (keyOf, li) {
      tr = el('tr');
      tr.appendChild(el('th', { className: 'case' }, li === levels.length - 1 ? 'entry point \u2192' : ''));
      prev = null; th = null;
      vcols.forEach(function (ci) {
        var c = cols[ci];
        var key = levels.slice(0, li + 1).map(function (f) { return f(c); }).join('\u0001');
        if (key !== prev) {
          th = breakable(el('th', { className: 'colhead' }), keyOf(c));
          if (li === 0 && merged) th.title = D.runs[c.run].label;
          th.colSpan = 1; tr.appendChild(th); prev = key;
        } else th.colSpan += 1;
      });
      thead.appendChild(tr);
    });
    tr = el('tr');
    tr.appendChild(el('th', { className: 'case' }, 'case \u2193 / dtype'));
    vcols.forEach(function (ci) {
      var c = cols[ci];
      tr.appendChild(el('th', null, S[c.dt] + (devices.size > 1 ? ' \u00b7 ' + S[c.dev] : '')));
    });
    thead.appendChild(tr);
    return thead;
  }

  // The records of one row, by column (only the columns shown).
  function rowCells(r, vcols) {
    var at = new Map();
    for (var k = rowStart[r]; k < rowStart[r + 1]; k++) {
      var i = rowRecs[k], c = recCol[i];
      var list = at.get(c);
      if (list === undefined) at.set(c, [i]); else list.push(i);
    }
    return at;
  }

  var lazy = false, observer = null;
  function renderSection(op, vis) {
    var sec = sections.get(op);
    if (!sec) {
      sec = el('div', { className: 'op-section', 'data-op': S[op] });
      sections.set(op, sec);
    }
    while (sec.firstChild) sec.removeChild(sec.firstChild);
    vis = vis || visibleOf(op);
    if (!vis.rows.length) { sec.hidden = true; return 0; }
    sec.hidden = false;
    var limit = limits.get(op) || FIRST_ROWS;
    var shown = Math.min(limit, vis.rows.length);
    sec.appendChild(el('h3', null, S[op] + '  (' + vis.rows.length + (vis.rows.length === 1 ? ' case)' : ' cases)')));
    if (lazy && !sec.drawn) {  // drawn when it scrolls into view
      var holder = el('div', { className: 'matrix-wrap pending' });
      holder.style.minHeight = Math.min(shown * 22 + 80, 1200) + 'px';
      sec.appendChild(holder);
      sec.pending = true;
      if (observer) observer.observe(sec);
      return vis.rows.length;
    }
    sec.pending = false;
    var wrap = el('div', { className: 'matrix-wrap' });
    var table = el('table', { className: 'matrix' });
    table.appendChild(headerRows(vis.cols));
    var tbody = el('tbody');
    for (var k = 0; k < shown; k++) {
      var r = vis.rows[k], row = rows[r];
      var tr = el('tr');
      var th = el('th', { className: 'case' }, S[row.id]);
      th.title = S[row.id];
      tr.appendChild(th);
      var at = rowCells(r, vis.cols);
      for (var q = 0; q < vis.cols.length; q++) {
        var c = vis.cols[q];
        var recs = at.get(c);
        var sum = recs ? cellSummary(recs) : { n: 0 };
        var td;
        if (!sum.n) { td = el('td', { className: 'cell empty' }); }
        else {
          var name = SEV_NAME[sum.sev];
          td = el('td', { className: 'cell c-' + name, 'data-row': String(r), 'data-col': String(c) },
                  cellLabel(sum, name));
        }
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    wrap.appendChild(table);
    sec.appendChild(wrap);
    if (sec.isConnected) stickyTops(table);
    if (shown < vis.rows.length) {
      var more = el('button', { type: 'button', className: 'more' },
        'show ' + Math.min(MORE_ROWS, vis.rows.length - shown) + ' more (' + (vis.rows.length - shown) + ' hidden)');
      more.addEventListener('click', function () {
        limits.set(op, limit + MORE_ROWS);
        sec.drawn = true; renderSection(op); sec.drawn = false;
      });
      sec.appendChild(more);
    }
    return vis.rows.length;
  }

  // Header rows stick one below the other: their heights depend on wrapped entry points.
  function stickyTops(table) {
    var top = 0;
    Array.prototype.forEach.call(table.tHead.rows, function (tr) {
      Array.prototype.forEach.call(tr.cells, function (th) { th.style.top = top + 'px'; });
      top += tr.getBoundingClientRect().height;
    });
  }

  // Tooltips on demand (a tooltip per cell up front costs more than the cells).
  body.addEventListener('mouseover', function (e) {
    var td = e.target.closest ? e.target.closest('td.cell[data-row]') : null;
    if (!td || td.title) return;
    td.title = cellTitle(cellRecs(+td.getAttribute('data-row'), +td.getAttribute('data-col')));
  });

  function refresh() {
    var t0 = performance.now();
    var matching = computeMask();
    var totalRows = 0, shownOps = 0, cells = 0;
    var vis = new Map();
    opOrder.forEach(function (op) {
      var v = visibleOf(op);
      vis.set(op, v);
      cells += Math.min(limits.get(op) || FIRST_ROWS, v.rows.length) * v.cols.length;
    });
    lazy = cells > EAGER_CELLS && typeof IntersectionObserver === 'function';
    if (lazy && !observer) {
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (en) {
          var sec = en.target;
          if (!en.isIntersecting || !sec.pending) return;
          observer.unobserve(sec);
          sec.drawn = true;
          renderSection(+sec.getAttribute('data-op-id'));
          sec.drawn = false;
        });
      }, { rootMargin: '600px 0px' });
    }
    var first = true;
    opOrder.forEach(function (op) {
      var sec = sections.get(op);
      if (lazy && first && vis.get(op).rows.length) {  // the first section shown: at once
        if (!sec) { sec = el('div', { className: 'op-section', 'data-op': S[op] }); sections.set(op, sec); }
        sec.drawn = true;
      }
      var n = renderSection(op, vis.get(op));
      sec = sections.get(op);
      sec.drawn = false;
      sec.setAttribute('data-op-id', String(op));
      if (n) first = false;
      if (!sec.isConnected) {
        body.appendChild(sec);
        var t = sec.querySelector('table.matrix');
        if (t) stickyTops(t);
      }
      totalRows += n; if (n) shownOps++;
    });
    status.textContent = (matching - matchingUnsup).toLocaleString('en-US') + ' of ' +
      (N - nUnsup).toLocaleString('en-US') + ' checks match' +
      (nUnsup ? ' (+ ' + matchingUnsup.toLocaleString('en-US') + ' of ' + nUnsup.toLocaleString('en-US') +
       ' unsupported combinations, not checks)' : '') + '; ' + totalRows + ' of ' + rows.length +
      ' case rows in ' + shownOps + ' op(s); the first ' + FIRST_ROWS + ' rows per op are drawn, more on demand' +
      (lazy ? ' (each op when it scrolls into view).' : '.');
    document.body.setAttribute('data-matching', String(matching));
    window.__lcLastRefreshMs = performance.now() - t0;
  }

  // ---- drill-down --------------------------------------------------------------------------
  var drill = document.getElementById('drill');
  var drillBody = document.getElementById('drill-body');
  var drillTitle = document.getElementById('drill-title');
  var selected = null;
  document.getElementById('drill-close').addEventListener('click', function () {
    drill.hidden = true; if (selected) selected.classList.remove('selected');
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') drill.hidden = true; });
  body.addEventListener('click', function (e) {
    var td = e.target.closest ? e.target.closest('td.cell') : null;
    if (!td || !td.hasAttribute('data-row')) return;
    if (selected) selected.classList.remove('selected');
    selected = td; td.classList.add('selected');
    openDrill(+td.getAttribute('data-row'), +td.getAttribute('data-col'));
  });

  function kv(table, k, v) {
    var tr = el('tr');
    tr.appendChild(el('th', null, k));
    tr.appendChild(el('td', null, v));
    table.appendChild(tr);
  }
  function copyButton(text) {
    var b = el('button', { type: 'button' }, 'copy');
    b.addEventListener('click', function () {
      function fallback() {
        var ta = el('textarea'); ta.value = text; document.body.appendChild(ta); ta.select();
        try { document.execCommand('copy'); b.textContent = 'copied'; } catch (err) { b.textContent = 'select and copy'; }
        document.body.removeChild(ta);
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { b.textContent = 'copied'; }, fallback);
      } else fallback();
    });
    return b;
  }

  function openDrill(r, c) {
    var DD = detail();
    if (typeof DD.then === 'function') {  // inflating the detail block: once
      while (drillBody.firstChild) drillBody.removeChild(drillBody.firstChild);
      drillBody.appendChild(el('p', { className: 'muted' }, 'reading the details…'));
      drill.hidden = false;
      DD.then(function () { openDrill(r, c); }, function (err) {
        drillBody.textContent = 'The details could not be read: ' + err;
      });
      return;
    }
    var row = rows[r], col = cols[c];
    var recs = cellRecs(r, c);
    var OBJ = DD.objects, X = DD.xcols || {};
    while (drillBody.firstChild) drillBody.removeChild(drillBody.firstChild);
    drillTitle.textContent = S[row.op] + ' \u00b7 ' + S[row.id];
    var head = el('table');
    kv(head, 'entry point', S[col.ep]);
    kv(head, 'framework', S[col.fw] + ' ' + (recs.length ? (str(C.fwv[recs[0]]) || '') : ''));
    kv(head, 'dtype', S[col.dt]);
    kv(head, 'device', S[col.dev]);
    if (merged) kv(head, 'run', D.runs[col.run].short + ': ' + D.runs[col.run].label);
    drillBody.appendChild(head);

    var caseObj = recs.length && C['case'][recs[0]] >= 0 ? OBJ[C['case'][recs[0]]] : null;
    drillBody.appendChild(el('h4', null, 'Inputs'));
    var inp = el('table');
    if (caseObj && typeof caseObj === 'object') {
      Object.keys(caseObj).forEach(function (k) {
        var v = caseObj[k];
        kv(inp, k, typeof v === 'string' ? v : json(v));
      });
    } else kv(inp, 'case', '(not recorded)');
    drillBody.appendChild(inp);

    recs.slice().sort(function (a, b) { return cmp(S[C.kind[a]], S[C.kind[b]]); }).forEach(function (i) {
      var h = el('h4');
      h.appendChild(document.createTextNode(S[C.kind[i]] + ' '));
      h.appendChild(el('span', { className: 'badge b-' + V[C.v[i]] }, V[C.v[i]]));
      drillBody.appendChild(h);
      var t = el('table');
      var tu = num(C.tu[i]);
      if (tu !== null) kv(t, 'tolerance used', fmtNum(C.tu[i]) + (tu <= 1 ? '  (within tolerance: \u2264 1)' : '  (outside tolerance: > 1)'));
      kv(t, 'max ULP', fmtNum(C.ulp[i]));
      kv(t, 'max abs error', fmtShort(num(C.abs[i])));
      kv(t, 'max rel error', fmtShort(num(C.rel[i])));
      var tol = C.tol[i] >= 0 ? OBJ[C.tol[i]] : null;
      kv(t, 'tolerance', tol ? (typeof tol === 'object' && !Array.isArray(tol) ?
        Object.keys(tol).map(function (k) { var x = tol[k]; return k + '=' + (typeof x === 'number' ? fmtShort(x) : typeof x === 'string' || x === null ? fmtNum(x) : json(x)); }).join(', ') : json(tol)) : '\u2014');
      var w = C.worst[i];
      if (w && typeof w === 'object') {
        kv(t, 'worst index', json(w.index));
        kv(t, 'reference (float64)', fmtNum(w.expected));
        kv(t, 'framework', fmtNum(w.actual));
      }
      var d = str(C.div[i]);
      if (d !== null) {
        var info = D.divergences[d] || {};
        kv(t, 'divergence', d + (info.title ? ' \u2014 ' + info.title : ''));
        if (info.explanation) kv(t, 'explanation', info.explanation);
        if (info.trigger) kv(t, 'trigger', typeof info.trigger === 'string' ? info.trigger : json(info.trigger));
        if (info.link && info.link.length) {
          var tr = el('tr'); tr.appendChild(el('th', null, 'link'));
          var td = el('td');
          info.link.forEach(function (part) {  // [text, href or null]
            if (part[1] && /^https?:\/\//.test(part[1])) {
              var a = el('a', { rel: 'noreferrer noopener', target: '_blank' }, part[0]);
              a.href = part[1];
              td.appendChild(a);
            } else td.appendChild(document.createTextNode(part[0]));
          });
          tr.appendChild(td); t.appendChild(tr);
        }
      }
      if (C.node[i] >= 0) kv(t, 'test', nodeText(C.node[i]));
      Object.keys(X).forEach(function (k) {
        var x = X[k], v = x.v[i];
        if (x.s) v = str(v);
        if (v === null || v === undefined) return;
        kv(t, k.replace(/_/g, ' '), typeof v === 'object' ? json(v) :
          typeof v === 'number' && !Number.isInteger(v) ? fmtShort(v) :
          typeof v === 'string' && !x.s ? fmtNum(v) : String(v));
      });
      drillBody.appendChild(t);
      var msg = str(C.msg[i]);
      if (msg !== null) { drillBody.appendChild(el('div', null, 'message:')); drillBody.appendChild(el('pre', { className: 'message' }, msg)); }
    });

    // Repro for every entry point of this row, same run, dtype and device.
    drillBody.appendChild(el('h4', null, 'Repro, each entry point of this row (' + S[col.dt] + ')'));
    var any = false;
    opCols.get(row.op).forEach(function (c2) {
      var o = cols[c2];
      if (o.run !== col.run || o.dt !== col.dt || o.dev !== col.dev) return;
      var rr = cellRecs(r, c2);
      if (!rr.length) return;
      var distinct = [];
      rr.forEach(function (i) {
        if (C.repro[i] >= 0 && distinct.every(function (j) { return C.repro[j] !== C.repro[i]; })) distinct.push(i);
      });
      distinct.forEach(function (i) {
        any = true;
        var text = reproText(i);
        var line = el('div');
        line.appendChild(el('b', null, S[o.ep] + (distinct.length > 1 ? ' (' + S[C.kind[i]] + ')' : '') + ' '));
        line.appendChild(copyButton(text));
        drillBody.appendChild(line);
        drillBody.appendChild(el('pre', { className: 'repro' }, text));
      });
    });
    if (!any) drillBody.appendChild(el('p', { className: 'muted' }, 'No repro recorded.'));
    drill.hidden = false;
    drill.scrollTop = 0;
  }

  mark('filters');
  refresh();
  mark('ready');
  document.body.setAttribute('data-ready', '1');
  lazyViews();
  }
})();
