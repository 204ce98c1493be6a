// zvkdiag connect panel: ID, password, case reference, Connect, and a status line.
//
// Synced traits: session_id, reference, engineer, relay (the form), state and
// status (the status line), password_preset (the demo supplied a password).
// The password is NOT a trait: it goes to the kernel once, in the custom
// message {type: "connect", password, ...}, and the input is cleared at once.
// {type: "disconnect"} ends the session.  In state "busy" (this kernel already
// has a session open to that ID) {type: "take-over"} uses that session and
// {type: "close-existing"} closes it and connects again.

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  if (text) node.textContent = text;
  return node;
}

function field(label, input) {
  const wrap = el("label", { className: "zvk-field" });
  wrap.append(el("span", {}, label), input);
  return wrap;
}

const FIELDS = [
  ["session_id", "Customer ID", "123 456 789"],
  ["reference", "Case reference", "ticket number"],
  ["engineer", "Your name", "shown to the customer"],
  ["relay", "Relay", "host:port"],
];

function render({ model, el: root }) {
  const box = el("div", { className: "zvk-connect" });
  const inputs = {};
  for (const [name, , placeholder] of FIELDS) {
    inputs[name] = el("input", { name, type: "text", placeholder, spellcheck: false });
    inputs[name].value = model.get(name);
  }
  const password = el("input", {
    name: "password",
    type: "password",
    autocomplete: "new-password",
    spellcheck: false,
  });
  const connect = el("button", { name: "connect", type: "button" }, "Connect");
  const disconnect = el("button", { name: "disconnect", type: "button" }, "Disconnect");
  const status = el("div", { className: "zvk-status" });
  const takeOver = el("button", { name: "take-over", type: "button" }, "Take over");
  const closeExisting = el(
    "button",
    { name: "close-existing", type: "button" },
    "Close it and connect again",
  );

  const row1 = el("div", { className: "zvk-row" });
  row1.append(field("Customer ID", inputs.session_id), field("Password", password));
  const row2 = el("div", { className: "zvk-row" });
  row2.append(
    field("Case reference", inputs.reference),
    field("Your name", inputs.engineer),
    field("Relay", inputs.relay),
  );
  const row3 = el("div", { className: "zvk-row" });
  row3.append(connect, disconnect, takeOver, closeExisting);
  box.append(row1, row2, row3, status);
  root.append(box);

  function sendConnect() {
    const content = { type: "connect", password: password.value };
    for (const [name] of FIELDS) content[name] = inputs[name].value;
    password.value = ""; // gone from the page before anything else happens
    model.send(content);
  }

  function update() {
    const state = model.get("state");
    status.textContent = model.get("status");
    status.dataset.state = state;
    box.dataset.state = state;
    const busy = ["connecting", "connected", "interrupted", "busy"].includes(state);
    takeOver.hidden = closeExisting.hidden = state !== "busy";
    connect.disabled = busy;
    disconnect.disabled = state !== "connected" && state !== "interrupted";
    for (const input of [...Object.values(inputs), password]) input.disabled = busy;
    password.placeholder = model.get("password_preset") ? "provided by the demo" : "";
  }

  const handlers = [];
  for (const [name] of FIELDS) {
    const onChange = () => {
      if (inputs[name].value !== model.get(name)) inputs[name].value = model.get(name);
    };
    model.on(`change:${name}`, onChange);
    handlers.push([`change:${name}`, onChange]);
    inputs[name].addEventListener("change", () => {
      model.set(name, inputs[name].value);
      model.save_changes();
    });
  }
  for (const name of ["state", "status", "password_preset"]) {
    model.on(`change:${name}`, update);
    handlers.push([`change:${name}`, update]);
  }
  connect.addEventListener("click", sendConnect);
  password.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendConnect();
  });
  disconnect.addEventListener("click", () => model.send({ type: "disconnect" }));
  takeOver.addEventListener("click", () => model.send({ type: "take-over" }));
  closeExisting.addEventListener("click", () => model.send({ type: "close-existing" }));
  update();
  return () => {
    for (const [name, fn] of handlers) model.off(name, fn);
  };
}

export default { render };
