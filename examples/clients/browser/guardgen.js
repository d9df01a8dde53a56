// guardgen from a browser: GenerationService.Generate over the Connect
// protocol, which is plain JSON over HTTP/1.1, so fetch is the whole
// client. guardgen must list this page's origin in
// server.http.cors_allowed_origins.

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? "http://localhost:50051";

// generate asks guardgen for an instance of targetType. It resolves with
// the GenerateResponse, or rejects with a GuardgenError carrying the
// FailureDetail.
export async function generate(prompt, targetType, faults) {
  const headers = { "Content-Type": "application/json", "Connect-Protocol-Version": "1" };
  if (faults) {
    headers["X-Guardgen-Synthetic-Faults"] = faults; // the synthetic provider's fault plan
  }
  const res = await fetch(`${server}/guardgen.v1.GenerationService/Generate`, {
    method: "POST",
    headers,
    body: JSON.stringify({ prompt, targetType }),
  });
  const body = await res.json();
  if (!res.ok) {
    throw new GuardgenError(body);
  }
  return body;
}

// GuardgenError is a Connect error whose details hold guardgen's
// FailureDetail. Connect sends each detail as base64 protobuf ("value")
// with its JSON form beside it ("debug"); this page reads the JSON form,
// a typed client (@connectrpc/connect-web) would decode the value.
export class GuardgenError extends Error {
  constructor(body) {
    super(body.message ?? body.code);
    this.code = body.code;
    const detail = (body.details ?? []).find((d) => d.type === "guardgen.v1.FailureDetail");
    this.failure = detail?.debug ?? null;
  }
}

const result = document.getElementById("result");

function show(state, rows) {
  result.dataset.state = state;
  result.className = state === "failed" ? "failure" : "";
  const dl = document.createElement("dl");
  for (const [name, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.id = `result-${name}`;
    dd.textContent = String(value);
    dl.append(dt, dd);
  }
  result.replaceChildren(dl);
}

async function classify() {
  result.dataset.state = "waiting";
  try {
    const resp = await generate(
      document.getElementById("prompt").value,
      "guardgen.examples.v1.TicketClassification",
      params.get("faults"),
    );
    const ticket = resp.message;
    show("ok", [
      ["category", ticket.category],
      ["priority", ticket.priority],
      ["summary", ticket.summary],
      ["attempts", resp.report?.attempts?.length ?? 0],
      ["degraded", resp.degraded ?? false],
    ]);
  } catch (err) {
    const f = err.failure ?? {};
    show("failed", [
      ["code", err.code ?? "network"],
      ["domain", f.domain ?? ""],
      ["action", f.action ?? ""],
      ["reason", f.reason ?? ""],
      ["message", err.message],
    ]);
  }
}

document.getElementById("ticket").addEventListener("submit", (e) => {
  e.preventDefault();
  classify();
});
classify();
