// loa web console, /thu-am: record a notice with the microphone as PCM and
// send it as a 16-bit WAV (every browser can make it; loa decodes it), or
// send a picked file; both with an upload progress bar.
(function () {
  "use strict";
  var box = document.getElementById("thu-am");
  if (!box) { return; }
  // What it says, in the page's language: the recorder's section carries
  // the words (data-asking, data-recording, …).
  var words = box.dataset;
  var start = document.getElementById("bat-dau");
  var stop = document.getElementById("dung");
  var send = document.getElementById("gui-ban-ghi");
  var preview = document.getElementById("nghe-lai");
  var timer = document.getElementById("thoi-gian");
  var status = document.getElementById("trang-thai-thu");
  var ctx = null, stream = null, node = null, source = null, chunks = [], rate = 48000, began = 0, clockId = 0;
  var wav = null;

  function say(text) { status.textContent = text; }

  function show(ok, text) {
    var area = document.getElementById("thong-bao");
    if (!area) { say(text); return; }
    area.textContent = "";
    var p = document.createElement("p");
    p.className = "flash " + (ok ? "ok" : "err");
    p.textContent = text;
    area.appendChild(p);
    area.scrollIntoView({ block: "nearest" });
  }

  function encodeWav(samples, sampleRate) {
    var buf = new ArrayBuffer(44 + samples.length * 2);
    var v = new DataView(buf);
    function str(o, s) { for (var i = 0; i < s.length; i++) { v.setUint8(o + i, s.charCodeAt(i)); } }
    str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE");
    str(12, "fmt "); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * 2, true);
    v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    str(36, "data"); v.setUint32(40, samples.length * 2, true);
    for (var i = 0, o = 44; i < samples.length; i++, o += 2) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      v.setInt16(o, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buf], { type: "audio/wav" });
  }

  function begin() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(words.nosupport); return; }
    say(words.asking);
    start.disabled = true;
    // Made inside the tap itself: Safari keeps a context made later silent.
    var AC = window.AudioContext || window.webkitAudioContext;
    ctx = new AC();
    if (ctx.resume) { ctx.resume(); }
    rate = ctx.sampleRate;
    navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false } })
      .then(function (s) {
        stream = s;
        source = ctx.createMediaStreamSource(stream);
        node = ctx.createScriptProcessor(4096, 1, 1);
        chunks = [];
        node.onaudioprocess = function (e) { chunks.push(new Float32Array(e.inputBuffer.getChannelData(0))); };
        source.connect(node);
        node.connect(ctx.destination);
        began = Date.now();
        clockId = setInterval(function () {
          var s = Math.floor((Date.now() - began) / 1000);
          timer.textContent = Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
        }, 250);
        stop.disabled = false;
        send.hidden = true;
        preview.hidden = true;
        say(words.recording);
      }, function (e) {
        start.disabled = false;
        ctx.close();
        say(words.nomic + (e && e.message ? e.message : e));
      });
  }

  function end() {
    stop.disabled = true;
    start.disabled = false;
    clearInterval(clockId);
    if (source) { source.disconnect(); }
    if (node) { node.disconnect(); }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    if (ctx) { ctx.close(); }
    var n = 0;
    chunks.forEach(function (c) { n += c.length; });
    if (n === 0) { say(words.empty); return; }
    var all = new Float32Array(n), o = 0;
    chunks.forEach(function (c) { all.set(c, o); o += c.length; });
    chunks = [];
    wav = encodeWav(all, rate);
    preview.src = URL.createObjectURL(wav);
    preview.hidden = false;
    send.hidden = false;
    say(words.done);
  }

  function upload(blob, name) {
    var panel = document.getElementById("dang-tai");
    var bar = document.getElementById("tien-do");
    var fd = new FormData();
    // The title first: the station reads it before the file.
    var title = document.getElementById("ten-ban-ghi");
    if (title && title.value.trim() !== "") { fd.append("title", title.value); }
    fd.append("file", blob, name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", box.getAttribute("data-upload"));
    xhr.setRequestHeader("x-loa-fetch", "1");
    xhr.setRequestHeader("x-csrf-token", box.getAttribute("data-csrf"));
    panel.hidden = false;
    bar.value = 0;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded / e.total * 100); }
    };
    xhr.onload = function () {
      var j = null;
      try { j = JSON.parse(xhr.responseText); } catch (e) { j = null; }
      if (xhr.status === 201 && j && j.name) {
        bar.value = 100;
        window.location.assign("/thu-am?tep=" + encodeURIComponent(j.name));
        return;
      }
      panel.hidden = true;
      show(false, words.failed + (j && j.message ? j.message : xhr.status));
    };
    xhr.onerror = function () { panel.hidden = true; show(false, words.failed + words.network); };
    xhr.send(fd);
  }

  start.addEventListener("click", begin);
  stop.addEventListener("click", end);
  send.addEventListener("click", function () {
    if (wav) { send.disabled = true; upload(wav, "ghi-am.wav"); }
  });
  var form = document.getElementById("tai-tep");
  form.addEventListener("submit", function (ev) {
    var input = document.getElementById("tep");
    if (!input.files || !input.files[0]) { return; }
    ev.preventDefault();
    upload(input.files[0], input.files[0].name);
  });
})();
