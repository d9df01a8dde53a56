package app_test

// HTTP/JSON (REST), Connect and gRPC-Web on the gRPC port, as a curl user,
// a browser and a Connect or gRPC-Web client call them: real HTTP/1.1 to
// guardgen started by app.New, the same port serving gRPC.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// httpGuardgen starts guardgen on the synthetic provider from yaml and
// returns its base URL.
func httpGuardgen(t *testing.T, yaml string, opts app.Options) (string, *apptest.Server) {
	t.Helper()
	cfg, err := config.Parse("http.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	srv := apptest.Start(t, cfg, opts)
	return "http://" + srv.Addr, srv
}

// call sends one HTTP request and returns the status and body.
func call(t *testing.T, method, url string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

const generateJSON = `{"prompt":"I was charged twice for my subscription this month","targetType":"guardgen.examples.v1.TicketClassification"}`

func TestHTTPProtocols(t *testing.T) {
	t.Parallel()
	base, srv := httpGuardgen(t, "llm_pipeline: {execution: {base_delay_seconds: 0.001, max_delay_seconds: 0.002}}", app.Options{})
	jsonHeader := map[string]string{"Content-Type": "application/json"}

	t.Run("REST generate", func(t *testing.T) {
		code, _, body := call(t, http.MethodPost, base+"/v1/generate", jsonHeader, []byte(generateJSON))
		var resp struct {
			Message struct {
				Type     string `json:"@type"`
				Category string `json:"category"`
			} `json:"message"`
			Report struct {
				Attempts []any `json:"attempts"`
			} `json:"report"`
		}
		if err := json.Unmarshal(body, &resp); code != http.StatusOK || err != nil {
			t.Fatalf("POST /v1/generate = %d %s (%v)", code, body, err)
		}
		if resp.Message.Type != "type.googleapis.com/guardgen.examples.v1.TicketClassification" || resp.Message.Category == "" || len(resp.Report.Attempts) != 1 {
			t.Errorf("answer = %s", body)
		}
	})
	t.Run("REST failure carries the FailureDetail", func(t *testing.T) {
		code, _, body := call(t, http.MethodPost, base+"/v1/generate",
			map[string]string{"Content-Type": "application/json", "X-Guardgen-Synthetic-Faults": "content_filter"}, []byte(generateJSON))
		var st struct {
			Code    int `json:"code"`
			Details []struct {
				Type        string `json:"@type"`
				Domain      string `json:"domain"`
				Action      string `json:"action"`
				Reason      string `json:"reason"`
				Recoverable bool   `json:"recoverable"`
			} `json:"details"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		// FAILED_PRECONDITION is HTTP 400 in the gRPC-HTTP mapping.
		if code != http.StatusBadRequest || st.Code != 9 || len(st.Details) == 0 {
			t.Fatalf("POST /v1/generate with a content filter = %d %s, want 400 with google.rpc.Status code 9 and details", code, body)
		}
		d := st.Details[0]
		if d.Type != "type.googleapis.com/guardgen.v1.FailureDetail" || d.Domain != "FAILURE_DOMAIN_INPUT_CONSTRAINT" ||
			d.Action != "RECOVERY_ACTION_REJECT_AND_FIX" || d.Reason != "FAILURE_REASON_CONTENT_FILTER" || d.Recoverable {
			t.Errorf("first detail = %+v, want the FailureDetail", d)
		}
	})
	t.Run("REST bad request names the field", func(t *testing.T) {
		code, _, body := call(t, http.MethodPost, base+"/v1/generate", jsonHeader, []byte(`{"targetType":"guardgen.examples.v1.TicketClassification"}`))
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"prompt"`) {
			t.Errorf("a request without a prompt = %d %s, want 400 naming prompt", code, body)
		}
	})
	t.Run("a body that is not a request is the caller's error", func(t *testing.T) {
		// Not JSON, JSON of the wrong type for a field, a field the request
		// does not have: 400 and INVALID_ARGUMENT with the FailureDetail,
		// naming what is wrong, whichever HTTP route or protocol carried it
		// (POST /v1/generate and Connect answered 500, UNKNOWN, and skipped
		// unknown fields).
		for _, tt := range []struct{ path, body, names string }{
			{"/v1/generate", `not json`, "syntax error"},
			{"/v1/generate", `{"prompt":"a ticket","targetType":"guardgen.examples.v1.TicketClassification","options":{"temperature":"warm"}}`, "temperature"},
			// A misspelt option would otherwise take its default unseen.
			{"/v1/generate", `{"prompt":"a ticket","targetType":"guardgen.examples.v1.TicketClassification","options":{"maxTokens":5}}`, `unknown field "maxTokens"`},
			{"/v1/generate:stream", `{"prompt":"a ticket","targetType":"guardgen.examples.v1.TicketClassification","options":{"maxTokens":5}}`, `unknown field "maxTokens"`},
			{"/v1/generate:stream", `not json`, "syntax error"},
			// An empty body is the empty request, whose prompt is missing
			// (it was no request at all, and gRPC answered INTERNAL).
			{"/v1/generate", ``, "prompt"},
			{"/v1/generate:stream", ``, "prompt"},
		} {
			code, _, body := call(t, http.MethodPost, base+tt.path, jsonHeader, []byte(tt.body))
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Details []struct {
					Type   string `json:"@type"`
					Domain string `json:"domain"`
					Reason string `json:"reason"`
				} `json:"details"`
			}
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("POST %s %s: body %s: %v", tt.path, tt.body, body, err)
			}
			if code != http.StatusBadRequest || st.Code != 3 || !strings.Contains(st.Message, tt.names) ||
				len(st.Details) == 0 || st.Details[0].Type != "type.googleapis.com/guardgen.v1.FailureDetail" ||
				st.Details[0].Domain != "FAILURE_DOMAIN_INPUT_CONSTRAINT" || st.Details[0].Reason != "FAILURE_REASON_INVALID_REQUEST" {
				t.Errorf("POST %s %s = %d %s, want 400, code 3 naming %q, and the FailureDetail", tt.path, tt.body, code, body, tt.names)
			}
		}
		// Over the message limit (4 MiB here), by its Content-Length or
		// sent chunked: 413, as on the stream route (vanguard answered 429,
		// a rate limit's status, without the FailureDetail).
		big := []byte(`{"prompt":"` + strings.Repeat("a", 4<<20) + `","targetType":"guardgen.examples.v1.TicketClassification"}`)
		for _, path := range []string{"/v1/generate", "/v1/generate:stream", "/v1/generate (chunked)", "/v1/generate:stream (chunked)"} {
			var (
				code int
				body []byte
			)
			if route, ok := strings.CutSuffix(path, " (chunked)"); ok {
				code, body = callChunked(t, base+route, big)
			} else {
				code, _, body = call(t, http.MethodPost, base+path, jsonHeader, big)
			}
			var st struct {
				Code    int `json:"code"`
				Details []struct {
					Reason string `json:"reason"`
				} `json:"details"`
			}
			err := json.Unmarshal(body, &st)
			if err != nil || code != http.StatusRequestEntityTooLarge || st.Code != 8 ||
				len(st.Details) == 0 || st.Details[0].Reason != "FAILURE_REASON_REQUEST_TOO_LARGE" {
				t.Errorf("POST %s with a 4 MiB prompt = %d %.300s (%v), want 413, code 8 and the FailureDetail", path, code, body, err)
			}
		}
		// Over Connect and gRPC-Web the same body is refused in their own
		// protocol, as the transcoder refuses what it reads: Connect's error
		// JSON, gRPC-Web's status (it was REST's google.rpc.Status JSON).
		connectCode, _, connectBody := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"}, big)
		if !strings.Contains(string(connectBody), `"code":"resource_exhausted"`) || !strings.Contains(string(connectBody), "guardgen.v1.FailureDetail") {
			t.Errorf("Connect Generate with a 4 MiB prompt = %d %.300s, want resource_exhausted with the FailureDetail", connectCode, connectBody)
		}
		webCode, webHeader, webBody := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"}, big)
		if webHeader.Get("Grpc-Status") != "8" && !strings.Contains(strings.ToLower(string(webBody)), "grpc-status: 8") {
			t.Errorf("gRPC-Web Generate with 4 MiB = %d %v %.200q, want grpc-status 8 (RESOURCE_EXHAUSTED)", webCode, webHeader, webBody)
		}
		// A request within the limit reads the same chunked.
		if code, body := callChunked(t, base+"/v1/generate", []byte(generateJSON)); code != http.StatusOK || !strings.Contains(string(body), `"report"`) {
			t.Errorf("POST /v1/generate chunked = %d %.300s, want 200 and the response", code, body)
		}
		// Connect's error body: {"code":"invalid_argument","message":...,"details":[...]}
		code, _, body := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"}, []byte(`{"prompt":`))
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_argument"`) ||
			!strings.Contains(string(body), "unexpected EOF") || !strings.Contains(string(body), "guardgen.v1.FailureDetail") {
			t.Errorf("Connect Generate with a truncated body = %d %s, want 400 invalid_argument naming it, with the FailureDetail", code, body)
		}
	})
	t.Run("REST targets", func(t *testing.T) {
		code, _, body := call(t, http.MethodGet, base+"/v1/targets", nil, nil)
		if code != http.StatusOK || !strings.Contains(string(body), `"guardgen.examples.v1.TicketClassification"`) {
			t.Errorf("GET /v1/targets = %d %.300s", code, body)
		}
		code, _, body = call(t, http.MethodGet, base+"/v1/targets/guardgen.examples.v1.TicketClassification", nil, nil)
		if code != http.StatusOK || !strings.Contains(string(body), `"jsonSchema"`) {
			t.Errorf("GET /v1/targets/{type} = %d %.300s", code, body)
		}
		code, _, _ = call(t, http.MethodGet, base+"/v1/targets/no.such.Type", nil, nil)
		if code != http.StatusBadRequest {
			t.Errorf("GET /v1/targets/no.such.Type = %d, want 400 (unknown target)", code)
		}
		// A route that does not exist is named, with the FailureDetail (it
		// was net/http's "404 page not found" in plain text).
		code, _, body = call(t, http.MethodGet, base+"/v1/nothing", nil, nil)
		if code != http.StatusNotFound || !strings.Contains(string(body), "FAILURE_REASON_UNKNOWN_METHOD") || !strings.Contains(string(body), `\"/v1/nothing\"`) {
			t.Errorf("GET /v1/nothing = %d %.300s, want 404 naming the route, with the FailureDetail", code, body)
		}
	})
	t.Run("Connect unary JSON", func(t *testing.T) {
		code, _, body := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"}, []byte(generateJSON))
		if code != http.StatusOK || !strings.Contains(string(body), `"report"`) {
			t.Errorf("Connect Generate = %d %.300s", code, body)
		}
		code, _, body = call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1", "X-Guardgen-Synthetic-Faults": "schema,schema"},
			[]byte(`{"prompt":"A prompt never answered before","targetType":"guardgen.examples.v1.TicketClassification"}`))
		// Connect's error body: {"code":"aborted","details":[{"type":...,"value":...,"debug":...}]}
		if code != http.StatusConflict || !strings.Contains(string(body), `"aborted"`) || !strings.Contains(string(body), "guardgen.v1.FailureDetail") {
			t.Errorf("Connect Generate failing twice = %d %s, want 409 aborted with the FailureDetail", code, body)
		}
	})
	t.Run("gRPC-Web", func(t *testing.T) {
		req, err := proto.Marshal(&guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticketType})
		if err != nil {
			t.Fatal(err)
		}
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(req)))
		code, header, body := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
			map[string]string{"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"}, append(frame, req...))
		if code != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "application/grpc-web") || len(body) < 5 || body[0] != 0 {
			t.Fatalf("gRPC-Web Generate = %d %v %q", code, header, body)
		}
		n := binary.BigEndian.Uint32(body[1:5])
		var resp guardgenv1.GenerateResponse
		if err := proto.Unmarshal(body[5:5+n], &resp); err != nil || resp.GetMessage() == nil {
			t.Errorf("gRPC-Web answer %v: %v", &resp, err)
		}
		if !strings.Contains(strings.ToLower(string(body[5+n:])), "grpc-status: 0") {
			t.Errorf("trailers %q, want grpc-status:0", body[5+n:])
		}
	})
	t.Run("Connect server stream", func(t *testing.T) {
		// A Connect stream: enveloped JSON messages (flag, length, body),
		// the last envelope (flag 2) ends the stream with its error, if any.
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(generateJSON)))
		code, header, body := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/GenerateStream",
			map[string]string{"Content-Type": "application/connect+json", "Connect-Protocol-Version": "1"}, append(frame, generateJSON...))
		if code != http.StatusOK || header.Get("Content-Type") != "application/connect+json" {
			t.Fatalf("Connect GenerateStream = %d %v %.300s", code, header, body)
		}
		var partials, responses int
		var end []byte
		for len(body) >= 5 {
			flag, n := body[0], binary.BigEndian.Uint32(body[1:5])
			if int(n) > len(body)-5 {
				t.Fatalf("envelope of %d bytes in %d", n, len(body)-5)
			}
			msg := body[5 : 5+n]
			body = body[5+n:]
			if flag&2 != 0 {
				end = msg
				continue
			}
			var ev struct {
				Partial  *struct{ CompleteFields []string } `json:"partial"`
				Response *struct{ Message map[string]any }  `json:"response"`
			}
			if err := json.Unmarshal(msg, &ev); err != nil {
				t.Fatalf("event %s: %v", msg, err)
			}
			switch {
			case ev.Partial != nil:
				partials++
			case ev.Response != nil && ev.Response.Message["category"] != nil:
				responses++
			}
		}
		if partials < 3 || responses != 1 || strings.TrimSpace(string(end)) != "{}" || len(body) != 0 {
			t.Errorf("Connect GenerateStream: %d partials, %d responses, end %s; want at least 3 partials, then the response, and an end without error", partials, responses, end)
		}
	})
	t.Run("REST stream as server-sent events", func(t *testing.T) {
		code, header, body := call(t, http.MethodPost, base+"/v1/generate:stream", jsonHeader, []byte(generateJSON))
		if code != http.StatusOK || header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("POST /v1/generate:stream = %d %v %.300s", code, header, body)
		}
		events := sseEvents(t, body)
		var partials, responses int
		for i, ev := range events {
			var m struct {
				Partial  *struct{ CompleteFields []string } `json:"partial"`
				Response *struct{ Message map[string]any }  `json:"response"`
			}
			if err := json.Unmarshal([]byte(ev.data), &m); ev.name != "" || err != nil {
				t.Fatalf("event %d %q %s: %v", i, ev.name, ev.data, err)
			}
			switch {
			case m.Partial != nil && responses == 0:
				partials++
			case m.Response != nil && m.Response.Message["category"] != nil && i == len(events)-1:
				responses++
			}
		}
		if partials < 3 || responses != 1 {
			t.Errorf("%d partials then %d responses in %d events, want at least 3 partials, then the response last", partials, responses, len(events))
		}
	})
	t.Run("REST stream failure before any event is an HTTP error", func(t *testing.T) {
		code, header, body := call(t, http.MethodPost, base+"/v1/generate:stream",
			map[string]string{"Content-Type": "application/json", "X-Guardgen-Synthetic-Faults": "content_filter"}, []byte(generateJSON))
		var st struct {
			Code    int `json:"code"`
			Details []struct {
				Type   string `json:"@type"`
				Reason string `json:"reason"`
			} `json:"details"`
		}
		if err := json.Unmarshal(body, &st); err != nil || code != http.StatusBadRequest || header.Get("Content-Type") != "application/json" ||
			st.Code != 9 || len(st.Details) == 0 || st.Details[0].Reason != "FAILURE_REASON_CONTENT_FILTER" {
			t.Errorf("a filtered stream = %d %v %s (%v), want 400 and the google.rpc.Status with the FailureDetail, as POST /v1/generate", code, header, body, err)
		}
		code, _, body = call(t, http.MethodPost, base+"/v1/generate:stream", jsonHeader, []byte(`{"targetType":"guardgen.examples.v1.TicketClassification"}`))
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"prompt"`) {
			t.Errorf("a stream request without a prompt = %d %s, want 400 naming prompt", code, body)
		}
		code, _, body = call(t, http.MethodPost, base+"/v1/generate:stream", jsonHeader, []byte(`{"prompt":`))
		if code != http.StatusBadRequest {
			t.Errorf("a stream request that is not JSON = %d %s, want 400", code, body)
		}
	})
	t.Run("REST stream failure after events is an error event", func(t *testing.T) {
		// The answer's partials go out, then it stops at the token limit;
		// with one attempt the stream ends with the failure.
		code, _, body := call(t, http.MethodPost, base+"/v1/generate:stream",
			map[string]string{"Content-Type": "application/json", "X-Guardgen-Synthetic-Faults": "length"},
			// A prompt of its own: no earlier answer in the cache to degrade to.
			[]byte(`{"prompt":"The export button does nothing","targetType":"guardgen.examples.v1.TicketClassification","options":{"maxAttempts":1}}`))
		events := sseEvents(t, body)
		if code != http.StatusOK || len(events) < 2 {
			t.Fatalf("POST /v1/generate:stream = %d with %d events: %s", code, len(events), body)
		}
		last := events[len(events)-1]
		var st struct {
			Code    int               `json:"code"`
			Details []json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal([]byte(last.data), &st); last.name != "error" || err != nil || st.Code == 0 || len(st.Details) == 0 ||
			!strings.Contains(last.data, "guardgen.v1.FailureDetail") {
			t.Errorf("last event %q %s (%v), want an error event with the google.rpc.Status and its FailureDetail", last.name, last.data, err)
		}
	})
	t.Run("gRPC on the same port", func(t *testing.T) {
		client := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
		if _, err := client.Generate(t.Context(), &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticketType}); err != nil {
			t.Errorf("gRPC Generate: %v", err)
		}
	})
}

// Authentication, the rate limit and the metrics apply to HTTP callers as
// to gRPC ones: the protocols are transcoded into the same gRPC server.
func TestHTTPSharesTheEdge(t *testing.T) {
	t.Parallel()
	base, srv := httpGuardgen(t, `
server:
  auth:
    tokens_env: GUARDGEN_TOKENS
  rate_limit:
    requests_per_second: 0.001
    burst: 2
`, app.Options{Getenv: func(k string) string {
		if k == "GUARDGEN_TOKENS" {
			return "caller:s3cret"
		}
		return ""
	}})
	code, _, body := call(t, http.MethodPost, base+"/v1/generate", map[string]string{"Content-Type": "application/json"}, []byte(generateJSON))
	if code != http.StatusUnauthorized || !strings.Contains(string(body), "guardgen.v1.FailureDetail") {
		t.Errorf("without a token = %d %s, want 401 with a FailureDetail", code, body)
	}
	code, _, body = call(t, http.MethodPost, base+"/v1/generate:stream", map[string]string{"Content-Type": "application/json"}, []byte(generateJSON))
	if code != http.StatusUnauthorized || !strings.Contains(string(body), "guardgen.v1.FailureDetail") {
		t.Errorf("a stream without a token = %d %s, want 401 with a FailureDetail", code, body)
	}
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer s3cret"}
	codes := []int{}
	for _, path := range []string{"/v1/generate", "/v1/generate:stream", "/v1/generate"} {
		code, _, _ := call(t, http.MethodPost, base+path, auth, []byte(generateJSON))
		codes = append(codes, code)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK || codes[2] != http.StatusTooManyRequests {
		t.Errorf("a call, a stream and a call with a burst of 2 = %v, want [200 200 429]", codes)
	}
	rec := scrape(t, srv)
	for _, want := range []string{
		`llm_pipeline_requests_total{action="none",domain="none",outcome="ok",reason="none",target="guardgen.examples.v1.TicketClassification"} 2`,
		`llm_pipeline_requests_rejected_total{reason="unauthenticated"} 2`,
		`llm_pipeline_requests_rejected_total{reason="rate_limit"} 1`,
	} {
		if !strings.Contains(rec, want+"\n") {
			t.Errorf("the scrape lacks %s: the HTTP calls were not counted", want)
		}
	}
}

// A browser on an allowed origin may call cross-origin (CORS preflight and
// the actual call); any other origin is not let in.
func TestHTTPCORS(t *testing.T) {
	t.Parallel()
	base, _ := httpGuardgen(t, `
server:
  http:
    cors_allowed_origins: ["http://app.example"]
`, app.Options{})
	preflight := func(origin string) http.Header {
		_, h, _ := call(t, http.MethodOptions, base+"/guardgen.v1.GenerationService/Generate", map[string]string{
			"Origin":                         origin,
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "connect-protocol-version,content-type,x-guardgen-synthetic-faults", // as browsers send them: sorted, lower case
		}, nil)
		return h
	}
	if h := preflight("http://app.example"); h.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("preflight from the allowed origin: %v", h)
	}
	if h := preflight("http://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", h)
	}
	code, h, _ := call(t, http.MethodPost, base+"/guardgen.v1.GenerationService/Generate",
		map[string]string{"Origin": "http://app.example", "Content-Type": "application/json", "Connect-Protocol-Version": "1"}, []byte(generateJSON))
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("cross-origin call = %d %v", code, h)
	}
}

// scrape returns srv's Prometheus exposition.
func scrape(t *testing.T, srv *apptest.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.App.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// callChunked POSTs body as JSON without declaring its length (chunked)
// and returns the status and body.
func callChunked(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	// A reader of no known length: net/http sends it chunked.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// An HTTP call answered before it reached the gRPC server (a body that is
// not a request, one over the size limit, a route that does not exist)
// gets the rpc log line and the rejection count a refused gRPC call gets,
// with the HTTP method and path, the caller's request id and the failure
// the status stands for; a call that reached the server is logged once,
// by the server. Before, the first kind left no trace on the server.
func TestHTTPRefusalsAreLogged(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	base, srv := httpGuardgen(t, "", app.Options{LogOutput: logs})
	big := []byte(`{"prompt":"` + strings.Repeat("a", 4<<20) + `"}`)
	for _, c := range []struct {
		id, method, path string
		body             []byte
		status           int
	}{
		{"bad-body", http.MethodPost, "/v1/generate", []byte(`not json`), http.StatusBadRequest},
		{"too-large", http.MethodPost, "/v1/generate:stream", big, http.StatusRequestEntityTooLarge},
		{"no-route", http.MethodGet, "/v1/nothing", nil, http.StatusNotFound},
		{"unknown-target", http.MethodPost, "/v1/generate", []byte(`{"prompt":"a ticket","targetType":"no.such.Type"}`), http.StatusBadRequest},
		// gRPC-Web's refusal is HTTP 200 with the status in its headers.
		{"grpc-web-too-large", http.MethodPost, "/guardgen.v1.GenerationService/Generate", big, http.StatusOK},
	} {
		header := map[string]string{"Content-Type": "application/json", "X-Request-Id": c.id}
		if strings.HasPrefix(c.id, "grpc-web") {
			header["Content-Type"], header["X-Grpc-Web"] = "application/grpc-web+proto", "1"
		}
		code, _, body := call(t, c.method, base+c.path, header, c.body)
		if code != c.status {
			t.Fatalf("%s %s = %d %.200s, want %d", c.method, c.path, code, body, c.status)
		}
	}
	rec := scrape(t, srv)
	for _, want := range []string{
		`llm_pipeline_requests_rejected_total{reason="invalid_argument"} 1`,
		`llm_pipeline_requests_rejected_total{reason="unknown_target"} 1`,
	} {
		if !strings.Contains(rec, want+"\n") {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	srv.App.SyncLogs()
	lines := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "rpc" {
			id, _ := rec["request_id"].(string)
			lines[id] = append(lines[id], rec)
		}
	}
	for id, want := range map[string]map[string]string{
		"bad-body":           {"method": "POST /v1/generate", "code": "InvalidArgument", "reason": "INVALID_REQUEST", "level": "WARN"},
		"too-large":          {"method": "POST /v1/generate:stream", "code": "ResourceExhausted", "reason": "REQUEST_TOO_LARGE", "level": "WARN"},
		"no-route":           {"method": "GET /v1/nothing", "code": "Unimplemented", "reason": "UNKNOWN_METHOD", "level": "WARN"},
		"unknown-target":     {"method": "/guardgen.v1.GenerationService/Generate", "code": "InvalidArgument", "reason": "UNKNOWN_TARGET", "level": "WARN"},
		"grpc-web-too-large": {"method": "POST /guardgen.v1.GenerationService/Generate", "code": "ResourceExhausted", "reason": "REQUEST_TOO_LARGE", "level": "WARN"},
	} {
		if len(lines[id]) != 1 {
			t.Errorf("request %s has %d rpc lines, want 1:\n%s", id, len(lines[id]), logs.String())
			continue
		}
		for k, v := range want {
			if got := fmt.Sprint(lines[id][0][k]); got != v {
				t.Errorf("request %s: %s = %q, want %q", id, k, got, v)
			}
		}
	}
}

// An HTTP call still running when the drain runs out ends like a gRPC one,
// with UNAVAILABLE (HTTP 503) and a SHUTTING_DOWN FailureDetail, and Serve
// returns within the shutdown timeout and a second.
func TestHTTPCallsEndWithTheDrain(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("http.yaml", []byte(`
server:
  metrics_listen: ""
  drain_delay_seconds: 0
  shutdown_timeout_seconds: 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{LogOutput: t.Output(), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, lis) }()

	type answer struct {
		code int
		body []byte
	}
	answered := make(chan answer, 1)
	go func() {
		// A hung upstream and no deadline: only the shutdown ends it.
		code, _, body := call(t, http.MethodPost, "http://"+lis.Addr().String()+"/v1/generate",
			map[string]string{"Content-Type": "application/json", "X-Guardgen-Synthetic-Faults": "hang"}, []byte(generateJSON))
		answered <- answer{code, body}
	}()
	time.Sleep(200 * time.Millisecond) // the call is in flight
	start := time.Now()
	stop()
	select {
	case got := <-answered:
		if got.code != http.StatusServiceUnavailable || !strings.Contains(string(got.body), "FAILURE_REASON_SHUTTING_DOWN") {
			t.Errorf("the call in flight = %d %s, want 503 with SHUTTING_DOWN", got.code, got.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the HTTP call in flight did not end with the drain")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("Serve returned %v after shutdown began, want within 0.5 s + 1 s", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestHTTPDisabled: with server.http.enabled false the port serves gRPC
// alone: an HTTP/1.1 request gets no answer, a gRPC call one.
func TestHTTPDisabled(t *testing.T) {
	t.Parallel()
	base, srv := httpGuardgen(t, "server: {http: {enabled: false}}", app.Options{LogOutput: io.Discard})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v1/generate", strings.NewReader(generateJSON))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("POST /v1/generate with HTTP off = %d, want no HTTP/JSON answer", resp.StatusCode)
		}
	}
	gen := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	if _, err := generatePlan(t, gen, "", nil); err != nil {
		t.Errorf("gRPC with HTTP off: %v", err)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// sseEvents splits a text/event-stream body into its events, failing on
// a line that is neither a field nor the blank line ending an event.
func sseEvents(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var events []sseEvent
	var ev sseEvent
	var data []string
	for line := range strings.SplitSeq(string(body), "\n") {
		switch {
		case line == "":
			if data != nil {
				ev.data = strings.Join(data, "\n")
				events = append(events, ev)
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		default:
			t.Fatalf("not an event-stream line: %q in %s", line, body)
		}
	}
	return events
}

// A caller that goes away mid-stream ends the call inside guardgen: the
// stream's context is the HTTP request's, so the provider call waiting
// under it is cancelled and the call leaves the in-flight count.
func TestHTTPStreamEndsWithItsCaller(t *testing.T) {
	t.Parallel()
	base, srv := httpGuardgen(t, "", app.Options{})
	inFlight := func(n int) bool {
		return strings.Contains(scrape(t, srv), fmt.Sprintf("\nllm_pipeline_requests_in_flight %d\n", n))
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/generate:stream", strings.NewReader(generateJSON))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Guardgen-Synthetic-Faults", "hang")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 10 s:\n%s", what, scrape(t, srv))
			}
		}
	}
	waitFor("stream in flight", func() bool { return inFlight(1) })
	cancel()
	if err := <-done; err == nil {
		t.Error("the cancelled request ended without an error")
	}
	waitFor("end of the stream inside guardgen", func() bool { return inFlight(0) })
}
