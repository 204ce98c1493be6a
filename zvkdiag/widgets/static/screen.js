// zvkdiag screen viewer: draws frames sent as one custom message each
// (JSON header + one binary buffer per tile) and acknowledges them in batches.
//
// Message from the kernel: {type: "frame", seq, w, h, ts, wire, tiles: [[x, y, w, h, kind], ...]}
// with buffers[i] the pixels of tiles[i]: kind "jpeg" (a JPEG file) or "rgba" (w*h*4 bytes);
// kind "copy" ([x, y, w, h, "copy", sx, sy], empty buffer) copies a canvas area onto (x, y).
// Messages to the kernel: {type: "ack", seq} (every frame up to seq is drawn),
// {type: "reset"} starts a new stream (seqs begin again).
// {type: "pause", paused}, {type: "snapshot"}, {type: "ready"} (send me the whole picture).
// {type: "rtt", ms} from the kernel: the round trip to the customer's PC, timed on the
// engineer's clock alone (frame timestamps come from the customer's clock: never compared).

const ACK_DELAY_MS = 100; // longest an ack waits for more frames to join it
const STATS_WINDOW_MS = 1000;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  if (text) node.textContent = text;
  return node;
}

function bytesOf(view) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

async function decodeTile(tile, buffer) {
  const [, , w, h, kind] = tile;
  if (kind === "copy") return null; // drawn from the canvas itself, in frame order
  const bytes = bytesOf(buffer);
  if (kind === "jpeg") {
    return createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
  }
  const clamped = new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, w * h * 4);
  return createImageBitmap(new ImageData(clamped, w, h));
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

  let queue = Promise.resolve();
  let pending = 0;
  let drawnSeq = 0;
  let ackedSeq = 0;
  let ackTimer = null;
  let paused = false;
  const samples = []; // {t, bytes}
  let rttMs = null;
  let firstFrame = false;

  function sendAck() {
    if (ackTimer !== null) {
      clearTimeout(ackTimer);
      ackTimer = null;
    }
    if (drawnSeq > ackedSeq) {
      ackedSeq = drawnSeq;
      model.send({ type: "ack", seq: drawnSeq });
    }
  }

  // Ack at once when nothing else waits to be drawn; otherwise let the
  // waiting frames join (each ack costs JupyterLab ~12 ms of CPU).
  function scheduleAck() {
    if (pending === 0) sendAck();
    else if (ackTimer === null) ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
  }

  async function draw(msg, buffers) {
    if (canvas.width !== msg.w || canvas.height !== msg.h) {
      canvas.width = msg.w;
      canvas.height = msg.h;
    }
    const bitmaps = await Promise.all(msg.tiles.map((t, i) => decodeTile(t, buffers[i])));
    msg.tiles.forEach((t, i) => {
      const [x, y, w, h, kind, sx, sy] = t;
      if (kind === "copy") {
        ctx.drawImage(canvas, sx, sy, w, h, x, y, w, h);
      } else {
        ctx.drawImage(bitmaps[i], x, y);
        bitmaps[i].close();
      }
    });
    drawnSeq = Math.max(drawnSeq, msg.seq);
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
    if (msg.type === "status") {
      status.textContent = msg.text;
      return;
    }
    if (msg.type === "reset") {
      drawnSeq = 0; // a new stream starts its seqs at 1 again
      ackedSeq = 0;
      return;
    }
    if (msg.type !== "frame") return;
    pending += 1;
    queue = queue
      .then(() => draw(msg, buffers))
      .catch((err) => {
        status.textContent = `draw failed: ${err}`;
      })
      .finally(() => {
        pending -= 1;
        scheduleAck();
      });
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
  model.send({ type: "ready" });

  return () => {
    clearInterval(statsTimer);
    if (ackTimer !== null) clearTimeout(ackTimer);
    model.off("msg:custom", onMessage);
    model.off("change:title", onTitle);
  };
}

export default { render };
