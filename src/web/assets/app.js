// loa web console: the little script every page loads. Everything works
// without it (forms post and come back); with it, the on-air view is live,
// forms answer in place, lists filter as you type, and reports print.
(function () {
  "use strict";
  // What it says, in the page's language: the page carries the words
  // (data-expired, data-offline, data-failed on <body>).
  var words = document.body.dataset;
  // Server time minus this device's time, from the Date header.
  var skew = 0;

  // What a button did, at the bottom of the screen (under the thumb,
  // wherever the button was); it fades by itself, a refusal later than a
  // success, and taps go through it (see the stylesheet).
  var hideLater = null;
  function fade(area, ok) {
    clearTimeout(hideLater);
    hideLater = setTimeout(function () { area.textContent = ""; }, ok ? 8000 : 20000);
  }
  function flash(ok, text) {
    var area = document.getElementById("thong-bao");
    if (!area) { return; }
    area.textContent = "";
    var p = document.createElement("p");
    p.className = "flash " + (ok ? "ok" : "err");
    p.textContent = text;
    area.appendChild(p);
    fade(area, ok);
  }

  function clock(s) {
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    var mm = (h > 0 && m < 10 ? "0" : "") + m;
    return (h > 0 ? h + ":" : "") + mm + ":" + (r < 10 ? "0" : "") + r;
  }

  function tick() {
    var bars = document.querySelectorAll("progress.bar[data-started]");
    for (var i = 0; i < bars.length; i++) {
      var bar = bars[i];
      var dur = parseFloat(bar.getAttribute("data-duration")) || 0;
      var started = parseFloat(bar.getAttribute("data-started")) || 0;
      var pos = Math.min(dur, Math.max(0, (Date.now() + skew - started) / 1000));
      bar.value = pos;
      var left = bar.parentNode.querySelector(".left");
      if (left) {
        left.textContent = clock(dur - pos) + " " + left.getAttribute("data-left-label");
      }
    }
  }

  var live = document.querySelector("[data-live]");
  var last = null;
  var stopped = false;

  function refresh() {
    if (!live || stopped) { return Promise.resolve(); }
    return fetch(live.getAttribute("data-live"), {
      credentials: "same-origin", cache: "no-store", headers: { "x-loa-fetch": "1" }
    }).then(function (res) {
      var date = Date.parse(res.headers.get("date") || "");
      if (!isNaN(date)) { skew = date + 500 - Date.now(); }
      if (res.redirected || res.status === 401 || res.status === 403) {
        stopped = true;
        flash(false, words.expired);
        return;
      }
      if (!res.ok) { throw new Error(String(res.status)); }
      return res.text().then(function (html) {
        if (html !== last) {
          last = html;
          // Do not pull a form from under a finger: wait while one has focus.
          var active = document.activeElement;
          if (active && live.contains(active) && active.tagName !== "BODY") { last = null; return; }
          live.innerHTML = html;
          bind(live);
        }
        tick();
      });
    }).catch(function () {
      flash(false, words.offline);
    });
  }

  function submitFetch(ev) {
    var form = ev.currentTarget;
    ev.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "x-loa-fetch": "1", "content-type": "application/x-www-form-urlencoded" }
    }).then(function (res) {
      return res.json().then(function (j) { flash(!!j.ok, j.message); }, function () {
        flash(false, words.failed + res.status);
      });
    }, function (e) {
      flash(false, words.failed + e);
    }).then(function () {
      if (button) { button.disabled = false; }
      last = null;
      return refresh();
    });
  }

  // "Nghe thử": the notice typed in the button's form, read aloud by the
  // station and played here, under the button, before it airs.
  function listen(ev) {
    var btn = ev.currentTarget;
    var form = btn.form;
    var text = form && form.querySelector("textarea");
    if (!text) { return; }
    ev.preventDefault();
    var token = btn.getAttribute("data-csrf") || (form.querySelector("input[name=csrf]") || {}).value || "";
    var body = new URLSearchParams();
    body.set("csrf", token);
    body.set("text", text.value);
    var player = btn.parentNode.querySelector("audio.listen");
    if (!player) {
      player = document.createElement("audio");
      player.className = "listen";
      player.controls = true;
      btn.insertAdjacentElement("afterend", player);
    }
    btn.disabled = true;
    fetch("/nghe-thu", {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "x-loa-fetch": "1", "content-type": "application/x-www-form-urlencoded" }
    }).then(function (res) {
      var type = res.headers.get("content-type") || "";
      if (res.ok && type.indexOf("audio/") === 0) {
        return res.blob().then(function (b) {
          if (player.src) { URL.revokeObjectURL(player.src); }
          player.src = URL.createObjectURL(b);
          var p = player.play();
          if (p && p.catch) { p.catch(function () {}); }
        });
      }
      return res.json().then(function (j) { flash(false, j.message); }, function () {
        flash(false, words.failed + res.status);
      });
    }, function (e) {
      flash(false, words.failed + e);
    }).then(function () { btn.disabled = false; });
  }

  // Fold Vietnamese letters to plain ones: "thong bao" finds "Thông báo".
  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();
  }

  function bind(root) {
    var forms = root.querySelectorAll("form[data-fetch]");
    for (var i = 0; i < forms.length; i++) { forms[i].addEventListener("submit", submitFetch); }
  }

  // Tables read as cards on a phone (CSS under 640 px): each cell carries
  // its column's heading, and the table no longer scrolls sideways.
  function cards(table) {
    var head = table.querySelector("thead tr:last-child");
    if (!head) { return; }
    var labels = [];
    var ths = head.children;
    for (var i = 0; i < ths.length; i++) {
      for (var n = 0; n < (ths[i].colSpan || 1); n++) { labels.push(ths[i].textContent.trim()); }
    }
    var rows = table.querySelectorAll("tbody tr, tfoot tr");
    for (var r = 0; r < rows.length; r++) {
      var col = 0;
      for (var c = 0; c < rows[r].children.length; c++) {
        var cell = rows[r].children[c];
        var span = cell.colSpan || 1;
        if (span === 1 && labels[col]) { cell.setAttribute("data-label", labels[col]); }
        col += span;
      }
    }
    table.classList.add("cards");
    var box = table.closest(".scroll");
    if (box) { box.classList.add("reflowed"); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind(document);
    var listens = document.querySelectorAll("[data-listen]");
    for (var li = 0; li < listens.length; li++) {
      listens[li].hidden = false;
      listens[li].addEventListener("click", listen);
    }
    var tables = document.querySelectorAll("main table.data");
    for (var ti = 0; ti < tables.length; ti++) { cards(tables[ti]); }
    var area = document.getElementById("thong-bao");
    if (area && area.firstChild) { fade(area, !!area.querySelector(".flash.ok")); }
    // The header's sections scroll sideways on a phone: show the current one.
    var current = document.querySelector("header.top nav a[aria-current]");
    if (current && current.scrollIntoView) { current.scrollIntoView({ block: "nearest", inline: "nearest" }); }
    var filters = document.querySelectorAll("input[data-filter]");
    for (var i = 0; i < filters.length; i++) {
      (function (input) {
        var list = document.querySelector(input.getAttribute("data-filter"));
        input.addEventListener("input", function () {
          var q = fold(input.value.trim());
          var items = list ? list.children : [];
          for (var j = 0; j < items.length; j++) {
            items[j].hidden = q !== "" && fold(items[j].getAttribute("data-title") || "").indexOf(q) < 0;
          }
        });
      })(filters[i]);
    }
    var prints = document.querySelectorAll("[data-print]");
    for (var k = 0; k < prints.length; k++) {
      prints[k].addEventListener("click", function () { window.print(); });
    }
    if (live) {
      last = null;
      refresh();
      setInterval(refresh, 2000);
      setInterval(tick, 250);
    }
  });
})();
