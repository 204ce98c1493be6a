// zvkdiag consent feed: one row per request with the customer's answer.
// Synced trait: rows = [{seq, op, summary, state, message, time}], oldest first.

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  if (text) node.textContent = text;
  return node;
}

const ANSWER = {
  pending: "waiting…",
  allowed: "allowed",
  denied: "denied",
  failed: "failed",
};

function render({ model, el: root }) {
  const table = el("table", { className: "zvk-feed" });
  const head = el("tr");
  for (const title of ["#", "time", "request", "answer", "note"]) head.append(el("th", {}, title));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  const empty = el("div", { className: "zvk-feed-empty" }, "No requests yet.");
  root.append(empty, table);

  function update() {
    const rows = model.get("rows");
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      tr.dataset.state = row.state;
      const answer = el("td", { className: "zvk-answer" }, ANSWER[row.state] ?? row.state);
      tr.append(
        el("td", {}, String(row.seq)),
        el("td", {}, row.time),
        el("td", { className: "zvk-summary" }, row.summary),
        answer,
        el("td", {}, row.message),
      );
      body.append(tr);
    }
    table.tBodies[0].replaceWith(body);
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
  }

  model.on("change:rows", update);
  update();
  return () => model.off("change:rows", update);
}

export default { render };
