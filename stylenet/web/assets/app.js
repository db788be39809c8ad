// stylenet's page: one file for both engines. "server": `stylenet serve` stylizes (POST api/stylize);
// "browser": a folder from `stylenet export-web`, onnxruntime-web in a worker (worker.js).
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  config: null, photo: null, photoSize: null, style: null, painting: null,
  xhr: null, worker: null, busy: false, shrinkTo: null, msPerPixel: null, timer: null, urls: [],
};

function pretty(name) { return name.replace(/_/g, " "); }
function mp(pixels) { return (pixels >= 1e6 ? (pixels / 1e6).toFixed(1) : (pixels / 1e6).toPrecision(2)) + " MP"; }
function mb(bytes) { return (bytes / 1e6).toFixed(1) + " MB"; }

function showError(text) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
}

function setProgress(value, text) {
  const p = $("progress");
  p.hidden = value === undefined;
  if (value === null) p.removeAttribute("value"); else if (value !== undefined) p.value = value;
  $("status").textContent = text || "";
}

function setBusy(busy) {
  S.busy = busy;
  $("go").disabled = busy;
  $("cancel").hidden = !busy;
  if (!busy) clearInterval(S.timer);
}

function byName(name) { return S.config.styles.find((s) => s.name === name); }

function canMix(a, b) {
  if (!a || !b || a === b) return false;
  if (S.config.engine === "server") return !!a.group && a.group === b.group;
  return a.model === b.model && a.index !== null && b.index !== null;
}

function renderStyles() {
  const box = $("styles");
  for (const s of S.config.styles) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "style";
    b.dataset.name = s.name;
    b.title = s.title || pretty(s.name);
    b.setAttribute("aria-pressed", "false");
    const img = document.createElement("img");
    img.src = s.thumb;
    img.alt = "";
    b.append(img, document.createTextNode(pretty(s.name)));
    b.addEventListener("click", () => { chooseStyle(s.name); if (S.photo) run(); });
    box.append(b);
  }
}

function chooseStyle(name) {
  S.style = name;
  if (name) clearPainting();
  for (const b of document.querySelectorAll(".style")) b.setAttribute("aria-pressed", String(b.dataset.name === name));
  const sel = $("style2");
  const keep = sel.value;
  sel.replaceChildren(new Option("(no second style)", ""));
  const first = byName(name);
  for (const s of S.config.styles) if (canMix(first, s)) sel.append(new Option(pretty(s.name), s.name));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
  sel.disabled = sel.options.length < 2;
  $("mix").disabled = !sel.value;
}

function clearPainting() {
  S.painting = null;
  $("painting-name").hidden = true;
}

function renderLimits() {
  const c = S.config;
  const L = c.limits;
  if (c.engine === "server") {
    $("engine").textContent = "Stylized by stylenet on this computer's server; the photo goes to it and nowhere else.";
    $("limits").textContent = `Photos up to ${mb(L.max_upload_bytes)} and ${mp(L.max_pixels)}; ` +
      `${L.jobs} at a time, ${L.queue} may wait. JPEG, PNG, WebP, TIFF, BMP, GIF; 16-bit, CMYK and transparency are handled.`;
  } else {
    $("engine").textContent = "Stylized in this browser (onnxruntime-web " + c.ort.version + "): the photo never leaves this computer.";
    $("limits").textContent = `This page stylizes photos up to ${mp(L.max_pixels)} in the browser ` +
      "(WebAssembly, or WebGPU where the browser has it); larger photos can be scaled down to fit.";
  }
}

function revoke() { for (const u of S.urls) URL.revokeObjectURL(u); S.urls = []; }

async function setPhoto(file) {
  if (!file) return;
  showError("");
  setProgress(undefined, "");
  S.photo = file;
  S.photoSize = null;
  S.shrinkTo = null;
  $("shrink").hidden = true;
  const view = $("photo-view");
  const url = URL.createObjectURL(file);
  view.onload = () => {
    S.photoSize = [view.naturalWidth, view.naturalHeight];
    $("photo-info").textContent = `${file.name}: ${view.naturalWidth}×${view.naturalHeight}, ${mb(file.size)}`;
  };
  view.onerror = () => { view.hidden = true; $("photo-info").textContent = file.name; };
  view.src = url;
  view.hidden = false;
  if (S.config.engine === "server" && file.size > S.config.limits.max_upload_bytes) {
    showError(`${file.name}: ${mb(file.size)} is more than this server takes (${mb(S.config.limits.max_upload_bytes)}; stylenet serve --max-upload-mb)`);
    S.photo = null;
    return;
  }
  if (S.style || S.painting) run();
}

function setPainting(file) {
  if (!file) return;
  if (!S.config.painting.available) { showError(S.config.painting.message); return; }
  showError("");
  const limit = S.config.limits.max_upload_bytes;
  if (S.config.engine === "server" && file.size + (S.photo ? S.photo.size : 0) > limit) {
    showError(`${file.name}: ${mb(file.size)}${S.photo ? " with the photo" : ""} is more than this server takes (${mb(limit)}; stylenet serve --max-upload-mb)`);
    return;
  }
  S.painting = file;
  chooseStyle(null);
  $("painting-name").textContent = "Style: the painting " + file.name;
  $("painting-name").hidden = false;
  if (S.photo) run();
}

function settings() {
  return {
    strength: $("strength").value / 100,
    preserve: $("preserve").checked,
    style2: $("style2").value || null,
    mix: $("mix").value / 100,
  };
}

function run() {
  if (S.busy) cancel();
  showError("");
  if (!S.photo) { showError("Choose a photo first."); return; }
  if (!S.style && !S.painting) { showError("Choose a style."); return; }
  if (S.config.engine === "server") runServer(); else runBrowser();
}

function cancel() {
  if (S.xhr) { S.xhr.abort(); S.xhr = null; }
  if (S.worker && S.busy) { S.worker.terminate(); S.worker = null; }
  setBusy(false);
  setProgress(undefined, "Cancelled.");
}

function showResult(blob, width, height, filename, note) {
  revoke();
  const url = URL.createObjectURL(blob);
  S.urls.push(url);
  const img = $("result");
  img.src = url;
  img.hidden = false;
  img.dataset.width = width;
  img.dataset.height = height;
  const a = $("download");
  a.href = url;
  a.download = filename;
  a.textContent = `Download (${width}×${height} PNG)`;
  a.hidden = false;
  $("result-info").textContent = note;
}

// -- server ---------------------------------------------------------------------------------
function runServer() {
  const st = settings();
  const q = new URLSearchParams({ name: S.photo.name, strength: st.strength, preserve_color: st.preserve ? 1 : 0 });
  let body = S.photo;
  if (S.painting) {
    q.set("painting_bytes", S.painting.size);
    q.set("painting_name", S.painting.name);
    body = new Blob([S.photo, S.painting]);
  } else {
    q.set("style", S.style);
    if (st.style2) { q.set("style2", st.style2); q.set("mix", st.mix); }
  }
  const label = S.painting ? "the painting" : pretty(S.style) + (st.style2 ? ` + ${pretty(st.style2)}` : "");
  const xhr = new XMLHttpRequest();
  S.xhr = xhr;
  setBusy(true);
  setProgress(0, "Uploading…");
  let seen = 0;
  const lines = (final) => {
    const text = xhr.responseText;
    let end;
    while ((end = text.indexOf("\n", seen)) >= 0) {
      const line = text.slice(seen, end);
      seen = end + 1;
      if (line) handle(JSON.parse(line));
    }
    if (final && seen < text.length) { try { handle(JSON.parse(text.slice(seen))); } catch (e) { /* not JSON */ } seen = text.length; }
  };
  const handle = (m) => {
    if (m.error) { setBusy(false); setProgress(undefined, ""); showError(m.error); }
    else if (m.queued) setProgress(null, `Waiting: ${m.queued} in line…`);
    else if ("progress" in m) {
      setProgress(m.progress, m.progress === null ? `Stylizing… ${m.seconds.toFixed(1)} s`
        : `Stylizing… ${Math.round(m.progress * 100)}% (${m.seconds.toFixed(1)} s)`);
    } else if (m.done) {
      const bytes = Uint8Array.from(atob(m.png), (c) => c.charCodeAt(0));
      showResult(new Blob([bytes], { type: "image/png" }), m.width, m.height, m.filename,
        `${label}, ${m.seconds.toFixed(2)} s`);
      setBusy(false);
      setProgress(1, "Done.");
    }
  };
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) setProgress(e.loaded / e.total, `Uploading… ${Math.round(100 * e.loaded / e.total)}%`); };
  xhr.onprogress = () => lines(false);
  xhr.onload = () => {
    if (S.xhr !== xhr) return;
    S.xhr = null;
    if (xhr.status !== 200) {
      let msg = `the server answered ${xhr.status}`;
      try { msg = JSON.parse(xhr.responseText).error || msg; } catch (e) { /* not JSON */ }
      setBusy(false); setProgress(undefined, ""); showError(msg);
      return;
    }
    lines(true);
    if (S.busy) { setBusy(false); setProgress(undefined, ""); showError("the server stopped answering before the result"); }
  };
  xhr.onerror = () => {
    if (S.xhr !== xhr) return;
    S.xhr = null;
    setBusy(false); setProgress(undefined, "");
    showError("no answer from the server (is `stylenet serve` still running? a photo over its size limit is also cut off)");
  };
  xhr.open("POST", "api/stylize?" + q.toString());
  xhr.send(body);
}

// -- browser --------------------------------------------------------------------------------
async function decode(file, fit) {
  let bmp;
  try {
    bmp = await createImageBitmap(file, { imageOrientation: "from-image", premultiplyAlpha: "none", colorSpaceConversion: "none" });
  } catch (e) {
    throw new Error(`${file.name}: not an image this browser can read`);
  }
  let w = bmp.width, h = bmp.height;
  if (fit) [w, h] = fit;
  if (Math.min(w, h) < 16) throw new Error(`${file.name}: image is ${w}x${h}; at least 16x16 pixels are needed`);
  const max = S.config.limits.max_pixels;
  if (w * h > max) {
    const s = Math.sqrt(max / (w * h));
    S.shrinkTo = [Math.max(16, Math.floor(w * s)), Math.max(16, Math.floor(h * s))];
    const b = $("shrink");
    b.textContent = `Stylize at ${S.shrinkTo[0]}×${S.shrinkTo[1]} instead`;
    b.hidden = false;
    throw new Error(`${file.name}: ${w}×${h} is ${mp(w * h)}; this page stylizes photos of up to ${mp(max)} in the browser ` +
      "(use the button below to scale it down, or `stylenet stylize` / `stylenet serve` for the full size)");
  }
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d", { colorSpace: "srgb" });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return ctx.getImageData(0, 0, w, h);
}

function worker() {
  if (!S.worker) S.worker = new Worker("worker.js");
  return S.worker;
}

async function runBrowser(fit) {
  const st = settings();
  const s = byName(S.style);
  setBusy(true);
  setProgress(null, "Reading the photo…");
  let data;
  try {
    data = await decode(S.photo, fit);
  } catch (e) {
    setBusy(false); setProgress(undefined, ""); showError(e.message);
    return;
  }
  $("shrink").hidden = true;
  let style = null;
  if (s.index !== null) {
    style = new Array(s.styles).fill(0);
    const second = st.style2 ? byName(st.style2) : null;
    const share = second ? st.mix : 0;
    style[s.index] += 1 - share;
    if (second) style[second.index] += share;
  }
  const label = pretty(s.name) + (st.style2 ? ` + ${pretty(st.style2)}` : "");
  const w = worker();
  const pixels = data.width * data.height;
  S.timer = setInterval(() => {
    if (S.stage !== "stylizing") return;
    const sec = (performance.now() - S.tRun) / 1000;
    const est = S.msPerPixel ? S.msPerPixel * pixels : null;
    setProgress(est ? Math.min(0.95, (performance.now() - S.tRun) / est) : null, `Stylizing… ${sec.toFixed(1)} s`);
  }, 250);
  S.stage = "";
  w.onmessage = (e) => {
    const m = e.data;
    if (m.type === "stage") {
      S.stage = m.text;
      if (m.text === "stylizing") S.tRun = performance.now();
      else setProgress(null, m.text + "…");
    } else if (m.type === "error") {
      setBusy(false); setProgress(undefined, ""); showError(m.message);
    } else if (m.type === "done") {
      S.msPerPixel = m.ms / pixels;
      const img = new ImageData(new Uint8ClampedArray(m.pixels), m.width, m.height);
      const canvas = document.createElement("canvas");
      canvas.width = m.width;
      canvas.height = m.height;
      canvas.getContext("2d").putImageData(img, 0, 0);
      canvas.toBlob((blob) => {
        const stem = S.photo.name.replace(/\.[^.]*$/, "");
        showResult(blob, m.width, m.height, `${stem}_${s.name}${st.style2 ? "-" + st.style2 : ""}.png`,
          `${label}, ${(m.ms / 1000).toFixed(2)} s (${m.backend}${m.threads > 1 ? ", " + m.threads + " threads" : ""})`);
        setBusy(false);
        setProgress(1, "Done.");
      }, "image/png");
    }
  };
  w.onerror = (e) => { setBusy(false); setProgress(undefined, ""); showError("the in-browser engine failed: " + (e.message || e)); };
  w.postMessage({
    ortPath: new URL(S.config.ort.path, location.href).href,
    model: new URL(s.model, location.href).href,
    width: data.width, height: data.height, pixels: data.data.buffer,
    style, strength: st.strength, preserve: st.preserve,
  }, [data.data.buffer]);
}

// -- set-up ---------------------------------------------------------------------------------
function dropZone(zone, input, take) {
  input.addEventListener("change", () => { take(input.files[0]); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); take(e.dataTransfer.files[0]); });
}

async function init() {
  try {
    const r = await fetch("config.json");
    S.config = await r.json();
  } catch (e) {
    $("engine").textContent = "Could not load config.json: serve this folder with a web server (not as a file).";
    return;
  }
  renderStyles();
  renderLimits();
  dropZone($("drop"), $("photo"), setPhoto);
  dropZone($("painting-drop"), $("painting"), setPainting);
  for (const id of ["mix", "strength"]) {
    $(id).addEventListener("input", () => { $(id + "-value").textContent = $(id).value + "%"; });
  }
  $("style2").addEventListener("change", () => { $("mix").disabled = !$("style2").value; });
  $("go").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  $("shrink").addEventListener("click", () => { showError(""); runBrowser(S.shrinkTo); });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => e.preventDefault());
  document.body.dataset.ready = "1";
}

init();
