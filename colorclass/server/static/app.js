// colorclass serve: the page's script. Plain JavaScript, no framework, no external resources.
// State lives in this tab only: its session token, the photo id, the hint list and its history.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  token: null, info: null, photo: null, hints: [], history: [], point: null,
  method: null, temperature: null, busy: 0, pending: false, inFlight: false, colour: null, gray: null,
};

function showError(message) { $("error").textContent = message ? String(message).split("\n")[0] : ""; }
function busy(delta) {
  state.busy += delta;
  $("busy").textContent = state.busy > 0 ? "working..." : "";
}

async function api(path, body, { raw = false, headers = {} } = {}) {
  const options = { method: "POST", headers: { ...headers } };
  if (state.token) options.headers["X-Colorclass-Session"] = state.token;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  busy(1);
  try {
    let response;
    try {
      response = await fetch(path, options);
    } catch (e) {
      throw new Error("the server cannot be reached (is `colorclass serve` still running?)");
    }
    if (!response.ok) {
      let message = `the server answered ${response.status}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return raw ? response : response.json();
  } finally {
    busy(-1);
  }
}

// ---------------------------------------------------------------- start
async function start() {
  try {
    const response = await fetch("/api/info");
    state.info = await response.json();
    state.token = (await api("/api/session")).token;
  } catch (e) {
    showError(e.message || e);
    return;
  }
  const info = state.info;
  $("model-line").textContent = `model ${info.describe}` + (info.hint_aware ? " - takes hints" : "");
  $("limits").textContent = `JPEG, PNG, TIFF, BMP or WebP, at most ${info.max_upload_mb} MB and ` +
    `${info.max_megapixels} megapixels; the photo stays on this computer.`;
  for (const m of info.methods) {
    const option = document.createElement("option");
    option.value = option.textContent = m;
    $("method").appendChild(option);
  }
  state.method = info.method;
  state.temperature = info.temperature;
  $("method").value = info.method;
  $("temperature").value = info.temperature;
  $("temperature-value").textContent = Number(info.temperature).toFixed(2);
  for (const name of info.examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.addEventListener("click", () => loadExample(name));
    $("examples").appendChild(button);
  }
  if (info.regression) $("uncertainty").disabled = true;
  updateControls();
}

// ---------------------------------------------------------------- photos
async function upload(file) {
  showError("");
  if (!file) return;
  if (file.size > state.info.max_upload_mb * 1e6) {
    showError(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB, over the ${state.info.max_upload_mb} MB limit; ` +
      "choose a smaller photo");
    return;
  }
  if (file.size === 0) { showError(`${file.name} is empty (0 bytes); choose a photo`); return; }
  try {
    const reply = await api(`/api/upload?name=${encodeURIComponent(file.name)}`, file,
      { headers: { "Content-Type": "application/octet-stream" } });
    newPhoto(reply);
  } catch (e) { showError(e.message); }
}

async function loadExample(name) {
  showError("");
  try { newPhoto(await api("/api/example", { name })); } catch (e) { showError(e.message); }
}

function newPhoto(reply) {
  state.photo = { ...reply, id: reply.photo };
  state.hints = [];
  state.history = [];
  state.point = null;
  $("gray").src = reply.gray;
  $("photos").hidden = false;
  $("side").hidden = false;
  $("suggestions").textContent = "";
  $("picker-row").hidden = true;
  $("point-line").textContent = "Click the photo to see the likely colours at a point.";
  $("uncertainty-map").hidden = true;
  drawHints();
  recolour();
}

// ---------------------------------------------------------------- colours
function request(extra = {}) {
  return {
    photo: state.photo.id, method: state.method, temperature: state.temperature,
    hints: state.hints.map((h) => ({ x: h.x, y: h.y, colour: h.colour })), ...extra,
  };
}

// One request at a time; a change made meanwhile is sent when it ends (the slider stays live).
async function recolour() {
  if (!state.photo) return;
  if (state.inFlight) { state.pending = true; return; }
  state.inFlight = true;
  state.pending = false;
  const photoId = state.photo.id;
  try {
    const reply = await api("/api/colour", request());
    if (!state.photo || state.photo.id !== photoId) return;   // a newer photo replaced it meanwhile
    state.colour = reply.image;
    showColour();
    $("note").textContent = reply.note || "";
    const settings = reply.describe.replace(/\(flag\)/g, "(set on this page)");
    $("colour-caption").textContent = `colourised (${settings}; ${reply.ms} ms on the server)`;
    const stem = state.photo.name.replace(/\.[^.]*$/, "");
    const how = reply.note ? "--engine torch (this model ignores the hints)" : `--hints ${stem}_hints.json`;
    $("command-line").textContent = `the download equals: colorize ${state.photo.name} ${how} ` +
      `--decode ${reply.method}` + (reply.method === "annealed" ? ` --temperature ${reply.temperature}` : "");
    showError("");
    if ($("uncertainty").checked) await showUncertainty();
  } catch (e) {
    showError(e.message);
  } finally {
    state.inFlight = false;
    if (state.pending) recolour();
  }
  updateControls();
}

function showColour() {
  $("colour").src = $("before").checked ? $("gray").src : state.colour;
}

async function showUncertainty() {
  const map = $("uncertainty-map");
  if (!$("uncertainty").checked || !state.photo) { map.hidden = true; return; }
  try {
    const reply = await api("/api/uncertainty", request());
    map.src = reply.image;
    map.hidden = false;
    map.title = `mean uncertainty ${(100 * reply.mean).toFixed(0)}% (entropy / log Q; red = uncertain)`;
  } catch (e) { showError(e.message); }
}

// ---------------------------------------------------------------- points and suggestions
function photoPoint(event, element) {
  const rect = element.getBoundingClientRect();
  const fx = (event.clientX - rect.left) / rect.width, fy = (event.clientY - rect.top) / rect.height;
  const x = Math.min(state.photo.width - 1, Math.max(0, Math.floor(fx * state.photo.width)));
  const y = Math.min(state.photo.height - 1, Math.max(0, Math.floor(fy * state.photo.height)));
  return { x, y };
}

async function choosePoint(point) {
  state.point = point;
  drawHints();
  $("point-line").textContent = `At x=${point.x}, y=${point.y}: loading...`;
  try {
    const reply = await api("/api/suggest", request({ x: point.x, y: point.y }));
    const box = $("suggestions");
    box.textContent = "";
    for (const s of reply.suggestions) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "swatch";
      button.title = `${s.hex}: add this colour as a hint here`;
      button.dataset.hex = s.hex;
      const chip = document.createElement("span");
      chip.style.background = s.hex;
      button.appendChild(chip);
      button.appendChild(document.createTextNode(`${(100 * s.probability).toFixed(0)}% ${s.hex}`));
      button.addEventListener("click", () => addHint({ x: point.x, y: point.y, colour: s.ab, hex: s.hex }));
      box.appendChild(button);
    }
    $("point-line").textContent = reply.suggestions.length
      ? `At x=${point.x}, y=${point.y} (lightness ${reply.lightness}): the model's likely colours. ` +
        "Click one to add it as a hint."
      : `At x=${point.x}, y=${point.y}: no distinct colour stands out; pick one below.`;
    $("picker-row").hidden = false;
  } catch (e) { showError(e.message); }
}

function remember() { state.history.push(state.hints.map((h) => ({ ...h }))); }

function addHint(hint) {
  remember();
  state.hints.push(hint);
  changed();
}

function changed() { drawHints(); updateControls(); recolour(); }

function drawHints() {
  const layer = $("markers");
  layer.textContent = "";
  const list = $("hint-list");
  list.textContent = "";
  if (!state.photo) return;
  const place = (el, x, y) => {
    el.style.left = `${(100 * (x + 0.5)) / state.photo.width}%`;
    el.style.top = `${(100 * (y + 0.5)) / state.photo.height}%`;
  };
  if (state.point) {
    const mark = document.createElement("div");
    mark.className = "marker point";
    place(mark, state.point.x, state.point.y);
    layer.appendChild(mark);
  }
  state.hints.forEach((h, i) => {
    const mark = document.createElement("div");
    mark.className = "marker hint";
    mark.style.background = h.hex;
    mark.title = `hint ${i + 1}: ${h.hex} at x=${h.x}, y=${h.y} (drag to move)`;
    place(mark, h.x, h.y);
    mark.addEventListener("pointerdown", (e) => dragHint(e, i, mark));
    layer.appendChild(mark);
    const item = document.createElement("li");
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.style.background = h.hex;
    item.appendChild(chip);
    item.appendChild(document.createTextNode(`${h.hex} at x=${h.x}, y=${h.y}`));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "\u00d7";
    remove.title = "remove this hint";
    remove.addEventListener("click", () => { remember(); state.hints.splice(i, 1); changed(); });
    item.appendChild(remove);
    list.appendChild(item);
  });
}

function dragHint(event, index, mark) {
  event.preventDefault();
  event.stopPropagation();
  const frame = $("colour");
  const before = state.hints.map((h) => ({ ...h }));
  let moved = false;
  mark.setPointerCapture(event.pointerId);
  const move = (e) => {
    const p = photoPoint(e, frame);
    moved = moved || p.x !== state.hints[index].x || p.y !== state.hints[index].y;
    state.hints[index] = { ...state.hints[index], ...p };
    mark.style.left = `${(100 * (p.x + 0.5)) / state.photo.width}%`;
    mark.style.top = `${(100 * (p.y + 0.5)) / state.photo.height}%`;
  };
  const up = () => {
    mark.removeEventListener("pointermove", move);
    mark.removeEventListener("pointerup", up);
    if (moved) { state.history.push(before); changed(); }
  };
  mark.addEventListener("pointermove", move);
  mark.addEventListener("pointerup", up);
}

// ---------------------------------------------------------------- downloads
async function download(path, fallbackName) {
  showError("");
  try {
    const response = await api(path, request(), { raw: true });
    const blob = await response.blob();
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const link = $("download-link");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : fallbackName;
    link.dataset.kind = path;
    link.click();
  } catch (e) { showError(e.message); }
}

function updateControls() {
  const has = Boolean(state.photo);
  $("undo").disabled = !state.history.length;
  $("reset").disabled = !state.hints.length;
  $("download-image").disabled = !has;
  $("download-hints").disabled = !has;
  $("temperature").disabled = state.method !== "annealed";
}

// ---------------------------------------------------------------- wiring
function wire() {
  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    e.stopPropagation();   // the page-wide drop handler below would upload it again
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => { e.preventDefault(); upload(e.dataTransfer.files[0]); });
  $("method").addEventListener("change", (e) => { state.method = e.target.value; updateControls(); recolour(); });
  $("temperature").addEventListener("input", (e) => {
    state.temperature = Math.round(Number(e.target.value) * 1000) / 1000;   // as shown and as `--temperature`
    $("temperature-value").textContent = state.temperature.toFixed(2);
    recolour();
  });
  $("before").addEventListener("change", showColour);
  $("uncertainty").addEventListener("change", showUncertainty);
  for (const id of ["gray", "colour"]) {
    $(id).addEventListener("click", (e) => choosePoint(photoPoint(e, $(id))));
  }
  $("add-picked").addEventListener("click", () => {
    if (!state.point) return;
    const hex = $("picker").value;
    addHint({ x: state.point.x, y: state.point.y, colour: hex, hex });
  });
  $("undo").addEventListener("click", () => {
    if (!state.history.length) return;
    state.hints = state.history.pop();
    changed();
  });
  $("reset").addEventListener("click", () => { remember(); state.hints = []; changed(); });
  $("download-image").addEventListener("click", () => download("/api/download", "colour.png"));
  $("download-hints").addEventListener("click", () => download("/api/hints", "hints.json"));
}

wire();
start();
