// stylenet's in-browser engine: onnxruntime-web in a worker, so the page never freezes.
"use strict";

let ready = null;
let providers = ["wasm"];
const sessions = new Map();

function stage(text) { postMessage({ type: "stage", text }); }

async function loadOrt(path) {
  // WebGPU where the browser has an adapter (the JSEP build runs it and WebAssembly); else the
  // plain WebAssembly build, half the size and twice as fast to start
  if (self.navigator.gpu) {
    try { if (await navigator.gpu.requestAdapter()) providers = ["webgpu", "wasm"]; } catch (e) { /* no WebGPU */ }
  }
  importScripts(path + (providers[0] === "webgpu" ? "ort.min.js" : "ort.wasm.min.js"));
  ort.env.wasm.wasmPaths = path;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

async function session(url) {
  if (!sessions.has(url)) {
    stage("loading the network");
    let s = null;
    for (const ep of providers) {
      try { s = { run: await ort.InferenceSession.create(url, { executionProviders: [ep] }), ep }; break; }
      catch (e) { if (ep === providers[providers.length - 1]) throw e; }
    }
    sessions.set(url, s);
  }
  return sessions.get(url);
}

onmessage = async (e) => {
  const m = e.data;
  try {
    if (!ready) { stage("loading onnxruntime-web"); ready = loadOrt(m.ortPath); }
    await ready;
    const s = await session(m.model);
    stage("stylizing");
    const w = m.width, h = m.height, n = w * h;
    const px = new Uint8ClampedArray(m.pixels);
    const x = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      x[i] = px[4 * i] / 255; x[n + i] = px[4 * i + 1] / 255; x[2 * n + i] = px[4 * i + 2] / 255;
    }
    const feeds = {
      image: new ort.Tensor("float32", x, [1, 3, h, w]),
      strength: new ort.Tensor("float32", new Float32Array([m.strength]), []),
      preserve_color: new ort.Tensor("float32", new Float32Array([m.preserve ? 1 : 0]), []),
    };
    if (m.style) feeds.style = new ort.Tensor("float32", Float32Array.from(m.style), [m.style.length]);
    const t0 = performance.now();
    const y = (await s.run.run(feeds)).stylized.data;
    const ms = performance.now() - t0;
    for (let c = 0; c < 3; c++) {  // rounded as stylenet does: floor(v * 255 + 0.5); alpha kept
      for (let i = 0; i < n; i++) px[4 * i + c] = Math.floor(Math.min(1, Math.max(0, y[c * n + i])) * 255 + 0.5);
    }
    postMessage({ type: "done", pixels: px.buffer, width: w, height: h, ms,
      backend: s.ep === "webgpu" ? "WebGPU" : "WebAssembly", threads: ort.env.wasm.numThreads }, [px.buffer]);
  } catch (err) {
    postMessage({ type: "error", message: "the in-browser engine failed: " + String((err && err.message) || err) });
  }
};
