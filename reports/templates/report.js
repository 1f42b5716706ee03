(function () {
  'use strict';
  // All data comes from the JSON block; every string reaches the page through textContent,
  // attribute properties or createTextNode, never through innerHTML.
  var D = JSON.parse(document.getElementById('lc-data').textContent);
  var S = D.strings, C = D.cols, N = D.n, V = D.verdicts, OBJ = D.objects;
  // Verdicts from least to most severe (lossconform.record.SEVERITY): a cell shows its worst.
  var SEV_NAME = D.severity, SEV = {};
  SEV_NAME.forEach(function (v, k) { SEV[v] = k; });
  var vsev = V.map(function (v) { return SEV[v]; });
  // dtypes narrow to wide (lossconform.dtypes.DTYPES)
  var DTYPE_ORDER = {};
  D.dtype_order.forEach(function (d, i) { DTYPE_ORDER[d] = i; });
  var FIRST_ROWS = 30, MORE_ROWS = 200;
  var merged = D.runs.length > 1;

  function str(i) { return i < 0 || i === undefined ? null : S[i]; }
  // Repro snippets and test ids travel as lists of string ids (lines; words of the id).
  function joined(list, cache, sep) {
    return function (k) {
      if (k < 0 || k === undefined) return null;
      var s = cache[k];
      if (s === undefined) s = cache[k] = list[k].map(function (j) { return S[j]; }).join(sep);
      return s;
    };
  }
  var reproText = joined(D.repros, [], '\n'), nodeText = joined(D.nodes, [], '');
  var X = D.xcols || {};
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
  var rows = [], rowIndex = new Map(), cols = [], colIndex = new Map();
  var opOrder = [], opRows = new Map(), opCols = new Map();
  for (var i = 0; i < N; i++) {
    var op = C.op[i];
    var rk = op + ',' + C.id[i];
    var r = rowIndex.get(rk);
    if (r === undefined) {
      r = rows.length;
      rowIndex.set(rk, r);
      rows.push({ op: op, id: C.id[i], cells: new Map() });
      if (!opRows.has(op)) { opRows.set(op, []); opCols.set(op, []); opOrder.push(op); }
      opRows.get(op).push(r);
    }
    var ck = op + ',' + C.run[i] + ',' + C.ep[i] + ',' + C.dt[i] + ',' + C.dev[i];
    var c = colIndex.get(ck);
    if (c === undefined) {
      c = cols.length;
      colIndex.set(ck, c);
      cols.push({ op: op, run: C.run[i], ep: C.ep[i], fw: C.fw[i], dt: C.dt[i], dev: C.dev[i] });
      opCols.get(op).push(c);
    }
    var cell = rows[r].cells.get(c);
    if (cell === undefined) rows[r].cells.set(c, [i]); else cell.push(i);
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
    f.allowed = new Set(values);
    if (!f.show) return;
    var fs = el('fieldset', { 'data-facet': f.key });
    fs.appendChild(el('legend', null, f.label));
    values.forEach(function (v) {
      var lab = el('label');
      var box = el('input', { type: 'checkbox', 'data-value': String(v) });
      box.checked = true;
      box.addEventListener('change', function () {
        if (box.checked) f.allowed.add(v); else f.allowed.delete(v);
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

  function computeMask() {
    var active = facets.filter(function (f) { return f.allowed.size !== f.distinct; });
    var sets = active.map(function (f) { return f.allowed; });
    var colsOf = active.map(function (f) { return f.col; });
    var total = 0;
    matchingUnsup = 0;
    for (var i = 0; i < N; i++) {
      var ok = 1;
      for (var k = 0; k < sets.length; k++) if (!sets[k].has(colsOf[k][i])) { ok = 0; break; }
      if (ok && query) {
        ok = (low(C.id[i]).indexOf(query) >= 0 || low(C.ep[i]).indexOf(query) >= 0 ||
              low(C.msg[i]).indexOf(query) >= 0 || low(C.div[i]).indexOf(query) >= 0 ||
              lowNode(C.node[i]).indexOf(query) >= 0) ? 1 : 0;
      }
      mask[i] = ok;
      total += ok;
      if (ok && C.v[i] === UNSUP) matchingUnsup++;
    }
    return total;
  }
  facets.forEach(function (f) { f.distinct = new Set(f.col).size; });

  // ---- matrix ------------------------------------------------------------------------------
  var body = document.getElementById('matrix-body');
  var status = document.getElementById('matrix-status');
  var limits = new Map();
  var sections = new Map();

  function visibleOf(op) {
    var vis = [], colSeen = new Set();
    opRows.get(op).forEach(function (r) {
      var any = false;
      rows[r].cells.forEach(function (recs, c) {
        for (var k = 0; k < recs.length; k++) if (mask[recs[k]]) { any = true; colSeen.add(c); break; }
      });
      if (any) vis.push(r);
    });
    var vcols = opCols.get(op).filter(function (c) { return colSeen.has(c); });
    return { rows: vis, cols: vcols };
  }

  // NaN counts as the worst value.
  function worse(a, b) {
    if (b === null || (a !== null && isNaN(a))) return a;
    return (a === null || isNaN(b) || b > a) ? b : a;
  }
  function cellSummary(recs) {
    var sev = -1, ulp = null, tu = null, n = 0, div = null, parts = [];
    for (var k = 0; k < recs.length; k++) {
      var i = recs[k];
      if (!mask[i]) continue;
      n++;
      var s = vsev[C.v[i]];
      if (s > sev) sev = s;
      if (s === SEV.divergence && div === null) div = str(C.div[i]);
      ulp = worse(ulp, num(C.ulp[i]));
      var t = num(C.tu[i]);
      tu = worse(tu, t);
      parts.push(S[C.kind[i]] + ' ' + V[C.v[i]] + (t !== null ? ', tolerance used ' + fmtNum(C.tu[i]) : '') +
                 (num(C.ulp[i]) !== null ? ', max ULP ' + fmtUlp(num(C.ulp[i])) : ''));
    }
    return { n: n, sev: sev, ulp: ulp, tu: tu, div: div, parts: parts };
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
    var tr, prev, span, th;
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

  function renderSection(op) {
    var sec = sections.get(op);
    if (!sec) {
      sec = el('div', { className: 'op-section', 'data-op': S[op] });
      sections.set(op, sec);
    }
    while (sec.firstChild) sec.removeChild(sec.firstChild);
    var vis = visibleOf(op);
    if (!vis.rows.length) { sec.hidden = true; return 0; }
    sec.hidden = false;
    var limit = limits.get(op) || FIRST_ROWS;
    var shown = Math.min(limit, vis.rows.length);
    sec.appendChild(el('h3', null, S[op] + '  (' + vis.rows.length + (vis.rows.length === 1 ? ' case)' : ' cases)')));
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
      vis.cols.forEach(function (c) {
        var recs = row.cells.get(c);
        var sum = recs ? cellSummary(recs) : { n: 0 };
        var td;
        if (!sum.n) { td = el('td', { className: 'cell empty' }); }
        else {
          var name = SEV_NAME[sum.sev];
          td = el('td', { className: 'cell c-' + name, 'data-row': String(r), 'data-col': String(c) },
                  cellLabel(sum, name));
          td.title = name + (sum.div !== null ? ' (' + sum.div + ')' : '') + '\n' + sum.parts.join('\n');
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    wrap.appendChild(table);
    sec.appendChild(wrap);
    if (sec.isConnected) stickyTops(table);
    if (shown < vis.rows.length) {
      var more = el('button', { type: 'button', className: 'more' },
        'show ' + Math.min(MORE_ROWS, vis.rows.length - shown) + ' more (' + (vis.rows.length - shown) + ' hidden)');
      more.addEventListener('click', function () { limits.set(op, limit + MORE_ROWS); renderSection(op); });
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

  function refresh() {
    var matching = computeMask();
    var totalRows = 0, shownOps = 0;
    opOrder.forEach(function (op) {
      var sec = sections.get(op);
      var n = renderSection(op);
      if (!sec) {
        body.appendChild(sections.get(op));
        var t = sections.get(op).querySelector('table.matrix');
        if (t) stickyTops(t);
      }
      totalRows += n; if (n) shownOps++;
    });
    status.textContent = (matching - matchingUnsup).toLocaleString('en-US') + ' of ' +
      (N - nUnsup).toLocaleString('en-US') + ' checks match' +
      (nUnsup ? ' (+ ' + matchingUnsup.toLocaleString('en-US') + ' of ' + nUnsup.toLocaleString('en-US') +
       ' unsupported combinations, not checks)' : '') + '; ' + totalRows + ' of ' + rows.length +
      ' case rows in ' + shownOps + ' op(s); the first ' + FIRST_ROWS + ' rows per op are drawn, more on demand.';
    document.body.setAttribute('data-matching', String(matching));
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
    var row = rows[r], col = cols[c];
    var recs = row.cells.get(c) || [];
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
        kv(t, k.replace(/_/g, ' '), typeof v === 'object' ? json(v) : typeof v === 'string' && !x.s ? fmtNum(v) : String(v));
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
      var rr = row.cells.get(c2);
      if (!rr) return;
      var distinct = [];
      rr.forEach(function (i) {
        if (C.repro[i] >= 0 && distinct.every(function (j) { return C.repro[j] !== C.repro[i]; })) distinct.push(i);
      });
      distinct.forEach(function (i) {
        any = true;
        var text = reproText(C.repro[i]);
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

  refresh();
  document.body.setAttribute('data-ready', '1');
})();
