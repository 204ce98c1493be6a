// zvkdiag screen viewer: draws frames sent as one custom message each
// (JSON header + one binary buffer per tile) and acknowledges them in batches.
//
// Message from the kernel: {type: "frame", seq, w?, h?, ts, wire, tiles: [[x, y, w, h, kind],
// ...], rgb?, pal?, more?} (w and h when the canvas size is new, and with a repaint).  Kind
// "jpeg" (a JPEG file) and "rgba" (w*h*4 bytes) tiles take the next buffer, in tile order;
// kind "copy" ([x, y, w, h, "copy", sx, sy]) copies a canvas area onto (x, y); kind "pal"
// ([x, y, w, h, "pal", n]) takes n RGB palette entries and then w*h index bytes of the packed
// pixels (a frame too colourful for one msg.pal goes in bands of its own palettes); kind "rgb"
// takes the next w*h pixels of the frame's packed pixels: the last buffer, raw deflate,
// msg.rgb bytes once inflated (RGB; with msg.pal: that many RGB palette entries, then one
// index byte per pixel); it continues the previous frame's deflate stream when msg.more is
// set, else it starts one.
// Messages to the kernel: {type: "ack", seq} (every frame up to seq is drawn), sent when
// the model's ack_after {frames, bytes, ms} says: that many frames or buffer bytes drawn
// since the last ack, or ms after the first of them (the kernel acknowledges frames to the
// customer itself while they fit its window; every message from here costs a status reply).
// From the kernel, {type: "reset"} starts a new stream (seqs begin again).
// {type: "pause", paused}, {type: "snapshot"}, {type: "ready", inflate} (send me the whole
// picture; inflate: false when this browser has no DecompressionStream("deflate-raw")).
// {type: "rtt", ms} from the kernel: the round trip to the customer's PC, timed on the
// engineer's clock alone (frame timestamps come from the customer's clock: never compared).
//
// Remote control (when the model's "controllable" is true): to the kernel
// {type: "control", want} and {type: "input", events: [...]} (the wire form of
// zvkdiag.control.events); from the kernel {type: "control_state", state, text}
// with state off | asking | on | paused | denied.  Each drawn frame fires a
// "zvk:drawn" event on the canvas (detail: {seq, t, ts, ms, cpuMs, wire}: performance.now()
// after drawing, the capture time, the time from the frame's turn to drawn (decoding
// included), the part of it spent in this script's own tasks, the frame's bytes on the
// customer→engineer wire) for measurements.

const INFLATE_TIMEOUT_MS = 2000; // a frame's pixels inflate in well under this
const REPAINT_AFTER_FAILURE_MS = 5000; // after a failed draw, at most one repaint request this often
const STATS_WINDOW_MS = 1000;
const FAKE_CTRL_MS = 5; // Windows sends ControlLeft this close before AltRight (AltGr)
const WHEEL_LINES_PER_STEP = 3;
const WHEEL_PIXELS_PER_STEP = 100;
const MAX_WHEEL_STEPS = 50;
const BUTTON_BITS = [[1, 1], [4, 2], [2, 3]]; // PointerEvent.buttons bit → X button (left, middle, right)
const CONTROL_LABELS = {
  request: "Steuerung anfragen · Request control",
  giveBack: "Steuerung zurückgeben · Give back control",
  point: "Zeigen · Point",
};
const POINT_INTERVAL_MS = 100; // at most ten marker moves a second (each is one request)
const SPECIAL_KEYS = [
  ["Strg+Alt+Entf · Ctrl+Alt+Del", ["Control_L", "Alt_L", "Delete"]],
  ["Windows/Super", ["Super_L"]],
  ["Alt+Tab", ["Alt_L", "Tab"]],
  ["Strg+W · Ctrl+W", ["Control_L", "w"]],
  ["Strg+Esc · Ctrl+Esc", ["Control_L", "Escape"]],
];
// Which event flag says a modifier key is still down (to re-sync from each event).
const MODIFIER_FLAGS = {
  ShiftLeft: (e) => e.shiftKey,
  ShiftRight: (e) => e.shiftKey,
  ControlLeft: (e) => e.ctrlKey,
  ControlRight: (e) => e.ctrlKey,
  AltLeft: (e) => e.altKey,
  AltRight: (e) => e.altKey || e.getModifierState("AltGraph"),
  MetaLeft: (e) => e.metaKey,
  MetaRight: (e) => e.metaKey,
};

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  if (text) node.textContent = text;
  return node;
}

function bytesOf(view) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// JPEG decodes off the main thread (a promise of an ImageBitmap); raw lossless pixels
// are an ImageData at once, put with putImageData in the same task.
function decodeTile(tile, buffer) {
  const [, , w, h, kind] = tile;
  const bytes = bytesOf(buffer);
  if (kind === "jpeg") {
    return createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
  }
  const clamped = new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, w * h * 4);
  return new ImageData(clamped, w, h);
}

// The frames' packed exact pixels, inflated by the browser's own deflate.  One stream runs
// across frames (the kernel ends each frame's part with a sync flush, so it inflates whole);
// a frame without "more" starts a new one.  Writing into the stream directly costs ~0.1 ms
// for a typed letter; a Blob's stream piped through it cost ~1 ms (measured in Chromium).
function inflater() {
  const stream = new DecompressionStream("deflate-raw");
  return { writer: stream.writable.getWriter(), reader: stream.readable.getReader() };
}

function closeInflater(inf) {
  if (inf === null) return;
  inf.writer.abort().catch(() => {});
  inf.reader.cancel().catch(() => {});
}

// Exactly `length` bytes out of the stream for one frame's buffer; a buffer that inflates
// to fewer never completes a read, so waiting ends after INFLATE_TIMEOUT_MS.
async function inflate(inf, buffer, length) {
  inf.writer.write(bytesOf(buffer)).catch(() => {}); // a failure surfaces on the readable side
  const bytes = new Uint8Array(length);
  let got = 0;
  let timer = null;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("packed pixels: fewer bytes than announced")), INFLATE_TIMEOUT_MS);
  });
  try {
    while (got < length) {
      const { value, done } = await Promise.race([inf.reader.read(), late]);
      if (done) break;
      if (got + value.length > length) throw new Error(`packed pixels: more than ${length} bytes`);
      bytes.set(value, got);
      got += value.length;
    }
  } finally {
    clearTimeout(timer);
  }
  if (got !== length) throw new Error(`packed pixels: ${got} bytes, expected ${length}`);
  return bytes;
}

// Whether this browser inflates raw deflate natively (Chromium 103, Firefox 113, Safari 16.4 on);
// without it the kernel sends exact pixels as raw RGBA.
function canInflate() {
  try {
    new DecompressionStream("deflate-raw");
    return true;
  } catch {
    return false;
  }
}

// A palette of `count` RGB entries, then one index per pixel (msg.pal): the pixels as RGB.
function unpalette(bytes, count) {
  const base = 3 * count;
  const rgb = new Uint8Array(3 * (bytes.length - base));
  for (let i = base, j = 0; i < bytes.length; i += 1, j += 3) {
    const k = 3 * bytes[i];
    if (k >= base) throw new Error("packed pixels: an index past the palette");
    rgb[j] = bytes[k];
    rgb[j + 1] = bytes[k + 1];
    rgb[j + 2] = bytes[k + 2];
  }
  return rgb;
}

// A "pal" rectangle at bytes[offset]: `count` RGB entries, then w*h index bytes, as an
// opaque ImageData.
function paletteImage(bytes, offset, count, w, h) {
  const base = offset + 3 * count;
  if (!(count > 0 && count <= 256) || base + w * h > bytes.length) {
    throw new Error("packed pixels: a palette rectangle reaches past the end");
  }
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = base; i < data.length; i += 4, j += 1) {
    const k = bytes[j];
    if (k >= count) throw new Error("packed pixels: an index past the palette");
    const c = offset + 3 * k;
    data[i] = bytes[c];
    data[i + 1] = bytes[c + 1];
    data[i + 2] = bytes[c + 2];
    data[i + 3] = 255;
  }
  return new ImageData(data, w, h);
}

// w*h RGB bytes from rgb[offset] as an opaque ImageData.
function rgbImage(rgb, offset, w, h) {
  if (offset + w * h * 3 > rgb.length) throw new Error("packed pixels: a tile reaches past the end");
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = offset; i < data.length; i += 4, j += 3) {
    data[i] = rgb[j];
    data[i + 1] = rgb[j + 1];
    data[i + 2] = rgb[j + 2];
    data[i + 3] = 255;
  }
  return new ImageData(data, w, h);
}

function formatRate(bytesPerSecond) {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  return `${(bytesPerSecond / 1e3).toFixed(1)} KB/s`;
}

// The figures of the last STATS_WINDOW_MS: samples are {t, bytes} of frames that changed
// something; rttMs is the latest echo round trip (null before the first).
function statsText(samples, rttMs) {
  const rtt = rttMs === null ? "RTT –" : `RTT ${Math.round(rttMs)} ms`;
  if (samples.length === 0) return `no changes · 0 KB/s · ${rtt}`;
  const bytes = samples.reduce((sum, s) => sum + s.bytes, 0);
  const fps = (samples.length * 1000) / STATS_WINDOW_MS;
  return `${Math.round(fps)} fps · ${formatRate(bytes)} · ${rtt}`;
}

const STATS_TITLE =
  "fps and bandwidth: frames that changed the picture in the last second. " +
  "RTT: round trip engineer → customer's PC → engineer, timed on this computer's clock.";
// -- remote control ------------------------------------------------------------------

// Input to the kernel: moves wait for the next animation frame (the last one
// wins), everything else goes at once, after the move that came before it.
function inputBatcher(model) {
  let move = null;
  let frame = null;
  function send(events) {
    if (frame !== null) {
      cancelAnimationFrame(frame);
      frame = null;
    }
    const batch = move === null ? events : [move, ...events];
    move = null;
    if (batch.length) model.send({ type: "input", events: batch });
  }
  return {
    move(x, y) {
      move = { t: "move", x, y };
      if (frame === null) frame = requestAnimationFrame(() => send([]));
    },
    send,
    dispose() {
      if (frame !== null) cancelAnimationFrame(frame);
    },
  };
}

// Pixels of the customer's monitor under a mouse event, at any CSS size of the canvas.
function screenPoint(canvas, e) {
  const r = canvas.getBoundingClientRect();
  const cs = getComputedStyle(canvas);
  const px = (name) => parseFloat(cs[name]) || 0;
  const left = r.left + px("borderLeftWidth") + px("paddingLeft");
  const top = r.top + px("borderTopWidth") + px("paddingTop");
  const width = r.width - px("borderLeftWidth") - px("paddingLeft") - px("borderRightWidth") - px("paddingRight");
  const height = r.height - px("borderTopWidth") - px("paddingTop") - px("borderBottomWidth") - px("paddingBottom");
  const clamp = (v, n) => Math.min(n - 1, Math.max(0, Math.floor(v)));
  return [
    clamp(((e.clientX - left) * canvas.width) / width, canvas.width),
    clamp(((e.clientY - top) * canvas.height) / height, canvas.height),
  ];
}

// Wheel events to whole steps: a notch is 3 lines, 100 pixels or a page;
// touchpads' small pixel deltas add up until they make a step.
function wheelSteps() {
  let accX = 0;
  let accY = 0;
  function add(acc, delta, unit) {
    if (delta !== 0 && acc !== 0 && Math.sign(delta) !== Math.sign(acc)) acc = 0;
    return acc + delta / unit;
  }
  return (e) => {
    const unit =
      e.deltaMode === WheelEvent.DOM_DELTA_LINE ? WHEEL_LINES_PER_STEP
      : e.deltaMode === WheelEvent.DOM_DELTA_PAGE ? 1
      : WHEEL_PIXELS_PER_STEP;
    accX = add(accX, e.deltaX, unit);
    accY = add(accY, e.deltaY, unit);
    const limit = (v) => Math.max(-MAX_WHEEL_STEPS, Math.min(MAX_WHEEL_STEPS, v));
    const dx = limit(Math.trunc(accX));
    const dy = limit(Math.trunc(accY));
    accX -= Math.trunc(accX);
    accY -= Math.trunc(accY);
    return [dx, dy];
  };
}

// Keys as physical positions.  Modifiers are re-synced from each event's flags;
// the ControlLeft that Windows sends right before AltRight (AltGr) is dropped.
function keyboard(send) {
  const down = new Set();
  let pendingCtrl = null; // {t, timer}: a ControlLeft that may be AltGr's fake one
  let fakeCtrl = false;

  function key(code, isDown) {
    if (isDown) down.add(code);
    else down.delete(code);
    return { t: "key", code, down: isDown };
  }
  function flushCtrl() {
    if (pendingCtrl === null) return;
    clearTimeout(pendingCtrl.timer);
    pendingCtrl = null;
    send([key("ControlLeft", true)]);
  }
  function resync(e) {
    const ups = [];
    for (const code of [...down]) {
      const held = MODIFIER_FLAGS[code];
      if (held && code !== e.code && !held(e)) ups.push(key(code, false));
    }
    return ups;
  }
  function keydown(e) {
    if (!e.code) return;
    if (e.code === "ControlLeft" && !down.has("ControlLeft")) {
      flushCtrl();
      const ups = resync(e);
      if (ups.length) send(ups);
      pendingCtrl = { t: e.timeStamp, timer: setTimeout(flushCtrl, FAKE_CTRL_MS) };
      return;
    }
    if (e.code === "AltRight" && pendingCtrl && e.timeStamp - pendingCtrl.t <= FAKE_CTRL_MS) {
      clearTimeout(pendingCtrl.timer);
      pendingCtrl = null;
      fakeCtrl = true;
    } else {
      flushCtrl();
    }
    // a repeat goes out as one more key-down: the agent makes it release + press
    send([...resync(e), key(e.code, true)]);
  }
  function keyup(e) {
    if (!e.code) return;
    if (e.code === "ControlLeft" && fakeCtrl) {
      fakeCtrl = false;
      return;
    }
    flushCtrl();
    const events = resync(e);
    if (down.has(e.code)) events.push(key(e.code, false));
    if (events.length) send(events);
  }
  function releaseAll() {
    if (pendingCtrl !== null) clearTimeout(pendingCtrl.timer);
    pendingCtrl = null;
    fakeCtrl = false;
    down.clear();
    send([{ t: "release" }]);
  }
  return { keydown, keyup, releaseAll };
}

function specialKeysMenu(send) {
  const select = el("select", { className: "zvk-special-keys", title: "Sondertasten · special keys" });
  select.append(el("option", { value: "" }, "Sondertasten · special keys …"));
  SPECIAL_KEYS.forEach(([label], i) => select.append(el("option", { value: String(i) }, label)));
  select.addEventListener("change", () => {
    const names = SPECIAL_KEYS[Number(select.value)]?.[1];
    select.value = "";
    if (!names) return;
    const downs = names.map((name) => ({ t: "keysym", name, down: true }));
    const ups = [...names].reverse().map((name) => ({ t: "keysym", name, down: false }));
    send([...downs, ...ups]);
  });
  return select;
}

// The "Zeigen" toggle: while on (and not controlling), the pointer over the canvas
// moves a marker on the customer's screen ({type: "point", x, y}; {type: "point"}
// hides it).  It only draws there; nothing is clicked.
function pointing(model, canvas, isControlling) {
  const button = el("button", { type: "button", name: "point" }, CONTROL_LABELS.point);
  button.setAttribute("aria-pressed", "false");
  let on = false;
  let last = 0;
  let waiting = null;
  function send(content) {
    last = performance.now();
    model.send({ type: "point", ...content });
  }
  function move(e) {
    if (!on || isControlling()) return;
    const [x, y] = screenPoint(canvas, e);
    const wait = POINT_INTERVAL_MS - (performance.now() - last);
    if (waiting !== null) clearTimeout(waiting);
    waiting = wait > 0 ? setTimeout(() => ((waiting = null), send({ x, y })), wait) : null;
    if (wait <= 0) send({ x, y });
  }
  function hide() {
    if (waiting !== null) clearTimeout(waiting);
    waiting = null;
    send({});
  }
  button.addEventListener("click", () => {
    on = !on;
    button.setAttribute("aria-pressed", String(on));
    button.style.fontWeight = on ? "bold" : "";
    if (!on) hide();
  });
  canvas.addEventListener("pointermove", move);
  const leave = () => on && hide();
  canvas.addEventListener("pointerleave", leave);
  return {
    button,
    dispose() {
      canvas.removeEventListener("pointermove", move);
      canvas.removeEventListener("pointerleave", leave);
      if (waiting !== null) clearTimeout(waiting);
    },
  };
}

// Buttons, the state badge, the special-keys menu and the canvas' input
// handlers; returns {show(state, text), dispose()}.
function remoteControl(model, root, canvas) {
  if (!model.get("controllable")) return { show() {}, dispose() {} };
  const bar = el("div", { className: "zvk-control" });
  bar.style.cssText = "display: flex; gap: 8px; align-items: center; margin-bottom: 4px;";
  const requestButton = el("button", { type: "button", name: "control-request" }, CONTROL_LABELS.request);
  const giveButton = el("button", { type: "button", name: "control-give-back" }, CONTROL_LABELS.giveBack);
  const badge = el("span", { className: "zvk-control-state" });
  badge.style.cssText = "padding: 2px 6px; border-radius: 3px; font-weight: bold;";
  const batcher = inputBatcher(model);
  const keys = keyboard(batcher.send);
  const steps = wheelSteps();
  const menu = specialKeysMenu(batcher.send);
  const pointer = pointing(model, canvas, () => controlling);
  bar.append(requestButton, giveButton, badge, menu, pointer.button);
  root.insertBefore(bar, canvas);

  let controlling = false;
  const pressed = new Set(); // mouse buttons down, 1..3

  function show(state, text) {
    const wasControlling = controlling;
    controlling = state === "on" || state === "paused";
    badge.dataset.state = state;
    badge.textContent = text;
    const colours = { on: "#c62828", paused: "#ef6c00", asking: "#1565c0", denied: "#6a1b9a" };
    badge.style.background = colours[state] || "#e0e0e0";
    badge.style.color = colours[state] ? "#fff" : "#333";
    requestButton.disabled = controlling || state === "asking";
    giveButton.disabled = !(controlling || state === "asking");
    menu.disabled = !controlling;
    canvas.style.outline = controlling ? "3px solid #c62828" : "";
    if (controlling) {
      canvas.tabIndex = 0;
      canvas.setAttribute("data-lm-suppress-shortcuts", "true");
      if (!wasControlling) canvas.focus({ preventScroll: true });
    } else {
      canvas.removeAttribute("tabindex");
      canvas.removeAttribute("data-lm-suppress-shortcuts");
      if (wasControlling) release();
    }
  }

  // Send the buttons whose state differs from what the customer's side holds.
  function pointerButtons(e) {
    const [x, y] = screenPoint(canvas, e);
    const events = [{ t: "move", x, y }];
    for (const [bit, b] of BUTTON_BITS) {
      const isDown = (e.buttons & bit) !== 0;
      if (isDown === pressed.has(b)) continue;
      if (isDown) pressed.add(b);
      else pressed.delete(b);
      events.push({ t: "button", b, down: isDown });
    }
    batcher.send(events);
  }

  function release() {
    pressed.clear();
    keys.releaseAll();
  }
  function swallow(e) {
    e.preventDefault();
    e.stopPropagation();
  }
  const handlers = {
    keydown(e) {
      if (!controlling) return;
      swallow(e);
      keys.keydown(e);
    },
    keyup(e) {
      if (!controlling) return;
      swallow(e);
      keys.keyup(e);
    },
    // Pointer events carry fractional positions (mouse events only whole CSS
    // pixels, which is two screen pixels on a half-size canvas).
    pointerdown(e) {
      if (!controlling) return;
      swallow(e); // also keeps JupyterLab from selecting or dragging the cell
      canvas.focus({ preventScroll: true });
      canvas.setPointerCapture(e.pointerId);
      pointerButtons(e);
    },
    pointermove(e) {
      if (!controlling) return;
      if (e.button >= 0) pointerButtons(e); // a second button pressed or let go mid-drag
      else batcher.move(...screenPoint(canvas, e));
    },
    pointerup(e) {
      if (!controlling) return;
      swallow(e);
      pointerButtons(e);
    },
    contextmenu(e) {
      if (controlling) swallow(e);
    },
    wheel(e) {
      if (!controlling) return;
      swallow(e);
      if (e.ctrlKey) return; // a pinch, not a wheel: the customer's zoom stays as it is
      const [dx, dy] = steps(e);
      if (dx || dy) batcher.send([{ t: "wheel", dx, dy }]);
    },
    blur() {
      if (controlling) release();
    },
  };
  const onHide = (e) => {
    if (controlling && (e.type === "pagehide" || document.visibilityState === "hidden")) release();
  };
  for (const [name, fn] of Object.entries(handlers)) {
    canvas.addEventListener(name, fn, name === "wheel" ? { passive: false } : undefined);
  }
  window.addEventListener("pagehide", onHide);
  document.addEventListener("visibilitychange", onHide);
  requestButton.addEventListener("click", () => model.send({ type: "control", want: true }));
  giveButton.addEventListener("click", () => model.send({ type: "control", want: false }));
  show("off", "Keine Steuerung · not controlling");

  return {
    show,
    dispose() {
      if (controlling) release();
      for (const [name, fn] of Object.entries(handlers)) canvas.removeEventListener(name, fn);
      window.removeEventListener("pagehide", onHide);
      document.removeEventListener("visibilitychange", onHide);
      batcher.dispose();
      pointer.dispose();
    },
  };
}

// The connection's state (traits link_state, link_text): over the picture while
// interrupted or ended, so a frozen picture says why; "restored" shows in the bar.
// Connected but without a picture (trait screen_note: Windows' secure desktop on the
// customer's screen): the note over the picture the same way.
function linkBadge(model, root, canvas) {
  root.style.position = "relative";
  const overlay = el("div", { className: "zvk-link" });
  overlay.style.cssText =
    "position: absolute; box-sizing: border-box; padding: 8px; text-align: center;" +
    " font-weight: bold; color: #fff; pointer-events: none;";
  const badge = el("span", { className: "zvk-link-badge" });
  badge.style.cssText = "margin-left: 8px; color: #2e8b3a;";
  root.append(overlay);
  root.firstChild.append(badge);
  function update() {
    const state = model.get("link_state");
    const note = model.get("screen_note");
    const broken = state === "interrupted" || state === "ended";
    const text = broken ? model.get("link_text") : note;
    overlay.dataset.state = badge.dataset.state = state;
    overlay.dataset.note = note ? "secure-desktop" : "";
    overlay.hidden = !(broken || note);
    overlay.textContent = overlay.hidden ? "" : text;
    overlay.style.top = `${canvas.offsetTop}px`; // over the picture, not the buttons
    overlay.style.left = `${canvas.offsetLeft}px`;
    overlay.style.width = `${canvas.offsetWidth}px`;
    overlay.style.background = state === "ended" ? "rgba(80,80,80,0.85)" : "rgba(217,120,0,0.9)";
    canvas.style.filter = overlay.hidden ? "" : "grayscale(0.8)";
    badge.textContent = state === "restored" ? model.get("link_text") : "";
  }
  model.on("change:link_state", update);
  model.on("change:link_text", update);
  model.on("change:screen_note", update);
  update();
  return {
    dispose() {
      model.off("change:link_state", update);
      model.off("change:link_text", update);
      model.off("change:screen_note", update);
    },
  };
}

function render({ model, el: host }) {
  const root = el("div", { className: "zvk-screen" });
  root.style.cssText = "font: 12px sans-serif; display: inline-block; max-width: 100%;";
  const bar = el("div");
  bar.style.cssText = "display: flex; gap: 8px; align-items: center; margin-bottom: 4px;";
  const title = el("strong", {}, model.get("title"));
  const pauseButton = el("button", { type: "button" }, "Pause");
  const snapButton = el("button", { type: "button" }, "Snapshot");
  const stats = el("span", { title: STATS_TITLE }, "waiting for the first frame…");
  const status = el("span");
  status.style.color = "#666";
  const canvas = el("canvas");
  canvas.style.cssText = "max-width: 100%; border: 1px solid #ccc; display: block;";
  const ctx = canvas.getContext("2d");
  bar.append(title, pauseButton, snapButton, stats, status);
  root.append(bar, canvas);
  host.append(root);
  const remote = remoteControl(model, root, canvas);
  const link = linkBadge(model, root, canvas);

  let queue = Promise.resolve();
  let drawnSeq = 0;
  let ackedSeq = 0;
  let ackTimer = null;
  let unacked = { frames: 0, bytes: 0 }; // drawn since the last ack
  let paused = false;
  const samples = []; // {t, bytes}
  let rttMs = null;
  let firstFrame = false;

  let stream = null; // the deflate stream the frames' pixels continue (inflater())
  let awaitingStream = false; // asked for the whole picture, no new stream since

  // "ready": send me the whole picture.
  function askForRepaint() {
    awaitingStream = true;
    model.send({ type: "ready", inflate: canInflate() });
  }
  // Also after a frame that could not be drawn: the kernel sends only what differs from
  // what it believes is shown.  Rate-limited, so a browser that fails every frame does not
  // ask for whole pictures in a loop.
  let lastRepair = -Infinity;
  function repair() {
    const now = performance.now();
    if (now - lastRepair < REPAINT_AFTER_FAILURE_MS) return;
    lastRepair = now;
    askForRepaint();
  }

  function sendAck() {
    if (ackTimer !== null) {
      clearTimeout(ackTimer);
      ackTimer = null;
    }
    unacked = { frames: 0, bytes: 0 };
    if (drawnSeq > ackedSeq) {
      ackedSeq = drawnSeq;
      model.send({ type: "ack", seq: drawnSeq });
    }
  }

  // One cumulative ack for several frames (each message to the kernel costs a status
  // reply on the websocket and JupyterLab ~12 ms of CPU); a failed draw counts too.
  function scheduleAck(bytes) {
    const after = model.get("ack_after") || {};
    unacked.frames += 1;
    unacked.bytes += bytes;
    const full = unacked.frames >= (after.frames ?? 1) || (after.bytes > 0 && unacked.bytes >= after.bytes);
    if (full || !(after.ms > 0)) sendAck();
    else if (ackTimer === null) ackTimer = setTimeout(sendAck, after.ms);
  }

  async function draw(msg, buffers) {
    if (msg.w !== undefined && (canvas.width !== msg.w || canvas.height !== msg.h)) {
      canvas.width = msg.w;
      canvas.height = msg.h;
    }
    const start = performance.now();
    if (msg.rgb && msg.more && stream === null) {
      // pixels of a stream begun before this view or broken here: a repaint starts a new one
      if (!awaitingStream) repair();
      drawnSeq = Math.max(drawnSeq, msg.seq); // handled: the flow goes on until the repaint
      return;
    }
    let next = 0; // copy and rgb tiles carry no buffer of their own
    const decoded = msg.tiles.map((t) =>
      t[4] === "copy" || t[4] === "rgb" || t[4] === "pal" ? null : decodeTile(t, buffers[next++]),
    );
    if (msg.rgb && !msg.more) {
      closeInflater(stream);
      stream = inflater();
      awaitingStream = false;
    }
    if (msg.rgb) decoded.push(inflate(stream, buffers[next], msg.rgb));
    let cpuMs = performance.now() - start;
    const pictures = decoded.some((d) => d instanceof Promise)
      ? await Promise.all(decoded)
      : decoded;
    const resumed = performance.now();
    let packed = msg.rgb ? pictures[msg.tiles.length] : null;
    if (msg.pal) packed = unpalette(packed, msg.pal);
    let offset = 0;
    msg.tiles.forEach((t, i) => {
      const [x, y, w, h, kind, sx, sy] = t;
      const picture = pictures[i];
      if (kind === "copy") {
        ctx.drawImage(canvas, sx, sy, w, h, x, y, w, h);
      } else if (kind === "rgb") {
        ctx.putImageData(rgbImage(packed, offset, w, h), x, y);
        offset += w * h * 3;
      } else if (kind === "pal") {
        ctx.putImageData(paletteImage(packed, offset, t[5], w, h), x, y);
        offset += 3 * t[5] + w * h;
      } else if (picture instanceof ImageData) {
        ctx.putImageData(picture, x, y);
      } else {
        ctx.drawImage(picture, x, y);
        picture.close();
      }
    });
    drawnSeq = Math.max(drawnSeq, msg.seq);
    const now = performance.now();
    cpuMs += now - resumed;
    const drawn = { seq: msg.seq, t: now, ts: msg.ts, ms: now - start, cpuMs, wire: msg.wire };
    canvas.dispatchEvent(new CustomEvent("zvk:drawn", { detail: drawn }));
    firstFrame = true;
    if (msg.wire > 0 && msg.tiles.length > 0) {
      samples.push({ t: performance.now(), bytes: msg.wire });
    }
  }

  function onMessage(msg, buffers) {
    if (msg.type === "rtt") {
      rttMs = msg.ms;
      return;
    }
    if (msg.type === "control_state") {
      remote.show(msg.state, msg.text);
      return;
    }
    if (msg.type === "status") {
      status.textContent = msg.text;
      return;
    }
    if (msg.type === "reset") {
      drawnSeq = 0; // a new stream starts its seqs at 1 again
      ackedSeq = 0;
      unacked = { frames: 0, bytes: 0 };
      return;
    }
    if (msg.type !== "frame") return;
    const bytes = buffers.reduce((sum, b) => sum + b.byteLength, 0);
    queue = queue
      .then(() => draw(msg, buffers))
      .catch((err) => {
        status.textContent = `draw failed: ${err}`;
        closeInflater(stream); // its place is lost: wait for the repaint's new stream
        stream = null;
        repair();
      })
      .finally(() => scheduleAck(bytes));
  }

  function updateStats() {
    const now = performance.now();
    while (samples.length && samples[0].t < now - STATS_WINDOW_MS) samples.shift();
    if (paused) {
      stats.textContent = "paused";
      return;
    }
    if (firstFrame) stats.textContent = statsText(samples, rttMs);
  }

  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    model.send({ type: "pause", paused });
    updateStats();
  });
  snapButton.addEventListener("click", () => {
    status.textContent = "saving snapshot…";
    model.send({ type: "snapshot" });
  });
  const onTitle = () => {
    title.textContent = model.get("title");
  };

  model.on("msg:custom", onMessage);
  model.on("change:title", onTitle);
  const statsTimer = setInterval(updateStats, 500);
  askForRepaint();

  return () => {
    clearInterval(statsTimer);
    if (ackTimer !== null) clearTimeout(ackTimer);
    closeInflater(stream);
    model.off("msg:custom", onMessage);
    model.off("change:title", onTitle);
    remote.dispose();
    link.dispose();
  };
}

export default { render };
