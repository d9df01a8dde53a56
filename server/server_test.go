package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/guardgen/guardgen/classifier"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const ticket = "guardgen.examples.v1.TicketClassification"

func withFaults(ctx context.Context, plan string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
}

func generate(t *testing.T, h *harness, plan string, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if plan != "" {
		ctx = withFaults(ctx, plan)
	}
	return h.gen.Generate(ctx, req)
}

// failureOf returns the FailureDetail and ErrorInfo in err's status.
func failureOf(t *testing.T, err error) (*guardgenv1.FailureDetail, *errdetails.ErrorInfo) {
	t.Helper()
	st := status.Convert(err)
	var (
		fd   *guardgenv1.FailureDetail
		info *errdetails.ErrorInfo
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *guardgenv1.FailureDetail:
			fd = d
		case *errdetails.ErrorInfo:
			info = d
		}
	}
	if fd == nil || info == nil {
		t.Fatalf("status %v lacks FailureDetail or ErrorInfo: %v", st.Code(), st.Details())
	}
	return fd, info
}

func TestGenerateEveryExampleTarget(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{ticket, &examplesv1.TicketClassification{}},
		{"guardgen.examples.v1.IncidentReport", &examplesv1.IncidentReport{}},
		{"guardgen.examples.v1.TaskTree", &examplesv1.TaskTree{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "The checkout page double-charged me, please refund", TargetType: tt.name})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if err := resp.GetMessage().UnmarshalTo(tt.msg); err != nil {
				t.Fatalf("unpack Any: %v", err)
			}
			if err := v.Validate(tt.msg); err != nil {
				t.Errorf("answer fails protovalidate: %v", err)
			}
			if resp.GetJson() == "" || resp.GetDegraded() {
				t.Errorf("json = %q, degraded = %v", resp.GetJson(), resp.GetDegraded())
			}
			if n := len(resp.GetReport().GetAttempts()); n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
		})
	}
}

// outcome is what a caller observes of one Generate.
type outcome struct {
	Code        codes.Code
	Reason      string
	Domain      guardgenv1.FailureDomain
	Action      guardgenv1.RecoveryAction
	Recoverable bool
	// Calls is the number of provider calls: report attempts when OK, the
	// FailureDetail's attempts otherwise.
	Calls int
	// AttemptReasons lists each failed attempt's reason (OK answers).
	AttemptReasons []string
	Repairs        []string
	Violations     []string
	Degraded       bool
}

func observe(t *testing.T, resp *guardgenv1.GenerateResponse, err error) outcome {
	t.Helper()
	if err != nil {
		fd, info := failureOf(t, err)
		if info.GetReason() != classifier.ReasonName(fd.GetReason()) || info.GetDomain() != classifier.ErrorInfoDomain {
			t.Errorf("ErrorInfo %v disagrees with FailureDetail reason %v", info, fd.GetReason())
		}
		var violations []string
		for _, v := range fd.GetViolations() {
			violations = append(violations, classifier.FieldPath(v)+" "+v.GetRuleId())
		}
		return outcome{
			Code: status.Code(err), Reason: classifier.ReasonName(fd.GetReason()), Domain: fd.GetDomain(), Action: fd.GetAction(),
			Recoverable: fd.GetRecoverable(), Calls: int(fd.GetAttempts()), Violations: violations,
		}
	}
	o := outcome{Code: codes.OK, Calls: len(resp.GetReport().GetAttempts()), Degraded: resp.GetDegraded()}
	for _, a := range resp.GetReport().GetAttempts() {
		if a.GetFailure() != nil {
			o.AttemptReasons = append(o.AttemptReasons, classifier.ReasonName(a.GetFailure().GetReason()))
		}
	}
	for _, r := range resp.GetReport().GetRepairs() {
		o.Repairs = append(o.Repairs, r.GetKind())
	}
	return o
}

const (
	infra    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE
	input    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT
	output   = guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC
	pipeline = guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC
	retry    = guardgenv1.RecoveryAction_RECOVERY_ACTION_RETRY_WITH_BACKOFF
	reject   = guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX
	degrade  = guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE
	fallback = guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE
)

func TestFaultPlans(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	tests := []struct {
		plan string
		want outcome
	}{
		{"ok", outcome{Code: codes.OK, Calls: 1}},
		{"rate_limit,ok", outcome{Code: codes.OK, Calls: 2, AttemptReasons: []string{"RATE_LIMITED"}}},
		{"unavailable,timeout,ok", outcome{Code: codes.OK, Calls: 3, AttemptReasons: []string{"UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT"}}},
		{"unavailable,unavailable,unavailable", outcome{Code: codes.Unavailable, Reason: "RETRIES_EXHAUSTED", Domain: infra, Action: degrade, Recoverable: true, Calls: 3}},
		{"content_filter", outcome{Code: codes.FailedPrecondition, Reason: "CONTENT_FILTER", Domain: input, Action: reject, Calls: 1}},
		{"refusal", outcome{Code: codes.FailedPrecondition, Reason: "REFUSAL", Domain: input, Action: reject, Calls: 1}},
		{"length", outcome{Code: codes.Aborted, Reason: "TRUNCATED", Domain: output, Action: fallback, Recoverable: true, Calls: 1}},
		{"malformed,ok", outcome{Code: codes.OK, Calls: 2, AttemptReasons: []string{"MALFORMED_JSON"}}},
		{"malformed,malformed,malformed", outcome{Code: codes.Aborted, Reason: "MALFORMED_JSON", Domain: output, Action: retry, Recoverable: true, Calls: 3}},
		{"fence", outcome{Code: codes.OK, Calls: 1, Repairs: []string{"strip_fence", "strip_fence"}}},
		{"prose", outcome{Code: codes.OK, Calls: 1, Repairs: []string{"strip_prose", "strip_prose"}}},
		{"unknown_field", outcome{Code: codes.OK, Calls: 1, Repairs: []string{"drop_unknown_field"}}},
		{"schema,ok", outcome{Code: codes.OK, Calls: 2, AttemptReasons: []string{"RULE_VIOLATION"}}},
		{"schema,schema,ok", outcome{Code: codes.Aborted, Reason: "RULE_VIOLATION", Domain: output, Action: retry, Recoverable: true, Calls: 2, Violations: []string{"priority int32.gte_lte"}}},
		{"rate_limit,schema,schema", outcome{Code: codes.Aborted, Reason: "RULE_VIOLATION", Domain: output, Action: retry, Recoverable: true, Calls: 3, Violations: []string{"priority int32.gte_lte"}}},
		{"no_such_fault", outcome{Code: codes.InvalidArgument, Reason: "INVALID_REQUEST", Domain: input, Action: reject, Calls: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			t.Parallel()
			resp, err := generate(t, h, tt.plan, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
			if diff := cmp.Diff(tt.want, observe(t, resp, err)); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncatedOutputIsNeverParsed(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	_, err := generate(t, h, "length", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
	fd, _ := failureOf(t, err)
	// A parsed output would carry a preview, violations or repairs; a
	// truncated one carries only the finish reason.
	if fd.GetOutputPreview() != "" || len(fd.GetViolations()) != 0 || fd.GetMetadata()["finish_reason"] != "FINISH_REASON_LENGTH" {
		t.Errorf("truncated output looks parsed: %v", fd)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	noSuchType := newTypeSet("acme.v1.Invoice")
	tests := []struct {
		name      string
		req       *guardgenv1.GenerateRequest
		reason    string
		mentions  string
		violation string
	}{
		{"empty prompt", &guardgenv1.GenerateRequest{TargetType: ticket}, "INVALID_REQUEST", "prompt", "prompt"},
		{"malformed type name", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: "not a name"}, "INVALID_REQUEST", "target_type", "target_type"},
		{"unknown type", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: "acme.v1.Nope"}, "UNKNOWN_TARGET", "target_type", ""},
		{"set without the type", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: "acme.v1.Other", DescriptorSet: noSuchType}, "INVALID_DESCRIPTOR_SET", "descriptor_set", ""},
		{"garbage set", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: "acme.v1.Invoice", DescriptorSet: &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
			Name: proto.String("broken.proto"), Package: proto.String("acme.v1"), Dependency: []string{"missing/dep.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Invoice"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("x"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".missing.Dep"),
			}}}},
		}}}}, "INVALID_DESCRIPTOR_SET", "descriptor_set", ""},
		{"set redefining a known type", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: ticket, DescriptorSet: redefinedTicket()}, "INVALID_DESCRIPTOR_SET", "descriptor_set", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := generate(t, h, "", tt.req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("code = %v (%v), want InvalidArgument", status.Code(err), err)
			}
			fd, _ := failureOf(t, err)
			if got := classifier.ReasonName(fd.GetReason()); got != tt.reason {
				t.Errorf("reason = %s, want %s", got, tt.reason)
			}
			if fd.GetDomain() != input || fd.GetAction() != reject || fd.GetRecoverable() {
				t.Errorf("failure = %v, want INPUT_CONSTRAINT / REJECT_AND_FIX, not recoverable", fd)
			}
			if !strings.Contains(status.Convert(err).Message(), tt.mentions) {
				t.Errorf("message %q does not name %s", status.Convert(err).Message(), tt.mentions)
			}
			if tt.violation != "" && (len(fd.GetViolations()) == 0 || classifier.FieldPath(fd.GetViolations()[0]) != tt.violation) {
				t.Errorf("violations = %v, want one on %s", fd.GetViolations(), tt.violation)
			}
		})
	}
}

// newTypeSet returns a descriptor set defining a new message type, name,
// with a protovalidate rule: code 1-8 uppercase letters.
func newTypeSet(name string) *descriptorpb.FileDescriptorSet {
	pkg, msg, _ := strings.Cut(name, ".v1.")
	codeOpts := &descriptorpb.FieldOptions{}
	proto.SetExtension(codeOpts, validatepb.E_Field, &validatepb.FieldRules{
		Type: &validatepb.FieldRules_String_{String_: &validatepb.StringRules{Pattern: proto.String("^[A-Z]{1,8}$")}},
	})
	amountOpts := &descriptorpb.FieldOptions{}
	proto.SetExtension(amountOpts, validatepb.E_Field, &validatepb.FieldRules{
		Type: &validatepb.FieldRules_Int64{Int64: &validatepb.Int64Rules{GreaterThan: &validatepb.Int64Rules_Gt{Gt: 0}}},
	})
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(pkg + "/v1/" + strings.ToLower(msg) + ".proto"),
		Package:    proto.String(pkg + ".v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto", "google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String(msg),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("code"), JsonName: proto.String("code"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Options: codeOpts},
				{Name: proto.String("amount_cents"), JsonName: proto.String("amountCents"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Options: amountOpts},
				{Name: proto.String("issued_at"), JsonName: proto.String("issuedAt"), Number: proto.Int32(3), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Timestamp"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
			},
		}},
	}
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(validatepb.File_buf_validate_validate_proto),
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
		file,
	}}
}

// redefinedTicket is a new file that declares a type the server knows.
func redefinedTicket() *descriptorpb.FileDescriptorSet {
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name:        proto.String("evil/ticket.proto"),
		Package:     proto.String("guardgen.examples.v1"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("TicketClassification")}},
	}}}
}

func TestInlineDescriptorSet(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	req := &guardgenv1.GenerateRequest{Prompt: "Invoice ACME for 12 euros", TargetType: "acme.v1.Invoice", DescriptorSet: newTypeSet("acme.v1.Invoice")}
	resp, err := generate(t, h, "", req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if got := resp.GetMessage().GetTypeUrl(); got != "type.googleapis.com/acme.v1.Invoice" {
		t.Errorf("type URL = %q", got)
	}
	if !strings.Contains(resp.GetJson(), `"code"`) {
		t.Errorf("json = %s", resp.GetJson())
	}
	// The rules of a type the server has never seen are enforced too.
	_, err = generate(t, h, "schema,schema", req)
	if status.Code(err) != codes.Aborted {
		t.Fatalf("schema fault on inline type: %v, want Aborted", err)
	}
	described, err := h.targets.DescribeTarget(context.Background(), &guardgenv1.DescribeTargetRequest{TargetType: req.TargetType, DescriptorSet: req.DescriptorSet})
	if err != nil {
		t.Fatalf("DescribeTarget: %v", err)
	}
	if described.GetJsonSchema().GetFields()["properties"] == nil || described.GetTarget().GetSource() != guardgenv1.TargetSource_TARGET_SOURCE_REQUEST {
		t.Errorf("DescribeTarget = %v", described)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	ctx := context.Background()
	list, err := h.targets.ListTargets(ctx, &guardgenv1.ListTargetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range list.GetTargets() {
		names = append(names, tg.GetFullName())
	}
	for _, want := range []string{ticket, "guardgen.examples.v1.IncidentReport", "guardgen.examples.v1.TaskTree"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("ListTargets = %v, missing %s", names, want)
		}
	}
	d, err := h.targets.DescribeTarget(ctx, &guardgenv1.DescribeTargetRequest{TargetType: ticket})
	if err != nil {
		t.Fatal(err)
	}
	props := d.GetJsonSchema().GetFields()["properties"].GetStructValue().GetFields()
	cat := props["category"].GetStructValue().GetFields()["enum"].GetListValue().GetValues()
	if len(cat) != 4 || props["priority"].GetStructValue().GetFields()["maximum"].GetNumberValue() != 5 {
		t.Errorf("schema properties = %v", props)
	}
	if len(d.GetFieldRules()) == 0 {
		t.Error("DescribeTarget has no field rules")
	}
	incident, err := h.targets.DescribeTarget(ctx, &guardgenv1.DescribeTargetRequest{TargetType: "guardgen.examples.v1.IncidentReport"})
	if err != nil {
		t.Fatal(err)
	}
	if len(incident.GetMessageRules()) != 2 {
		t.Errorf("message rules = %v, want the two business rules", incident.GetMessageRules())
	}
}

// panicky is a provider with a bug.
type panicky struct {
	providerv1.UnimplementedProviderServiceServer
}

func (panicky) Complete(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	panic("provider bug")
}

func TestPanicBecomesInternal(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{provider: panicky{}})
	for range 2 { // the process lives on and answers again
		_, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "x", TargetType: ticket})
		if status.Code(err) != codes.Internal {
			t.Fatalf("code = %v, want Internal", status.Code(err))
		}
		fd, _ := failureOf(t, err)
		if fd.GetDomain() != pipeline || fd.GetAction() != degrade {
			t.Errorf("failure = %v, want PIPELINE_LOGIC / ALERT_AND_DEGRADE", fd)
		}
	}
}

// gate is a provider that holds every call until released.
type gate struct {
	providerv1.UnimplementedProviderServiceServer
	entered chan struct{}
	release chan struct{}
	inner   *synthetic.Provider
}

func (g *gate) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.inner.Complete(ctx, req)
}

func TestGracefulShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{}), inner: synthetic.New()}
	h := start(t, harnessOptions{provider: g, set: func(o *server.Options) {
		o.DrainDelay = 300 * time.Millisecond
		o.ShutdownTimeout = 10 * time.Second
	}})
	ctx := context.Background()
	if hc, err := h.health.Check(ctx, &healthpb.HealthCheckRequest{Service: guardgenv1.GenerationService_ServiceDesc.ServiceName}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", hc, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "x", TargetType: ticket})
		done <- err
	}()
	<-g.entered
	stopped := make(chan struct{})
	go func() {
		h.stop()
		close(stopped)
	}()
	// Health turns NOT_SERVING, and answers so, before calls are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		hc, err := h.health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health stopped answering before it reported NOT_SERVING: %v", err)
		}
		if hc.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("health never left SERVING")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Errorf("in-flight call failed during shutdown: %v", err)
	}
	<-stopped
}

// recording wraps a provider and keeps every request it receives.
type recording struct {
	providerv1.UnimplementedProviderServiceServer
	inner    providerv1.ProviderServiceServer
	mu       sync.Mutex
	requests []*providerv1.CompleteRequest
}

func (r *recording) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	r.mu.Lock()
	r.requests = append(r.requests, proto.CloneOf(req))
	r.mu.Unlock()
	return r.inner.Complete(ctx, req)
}

func TestReaskCarriesViolations(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	resp, err := generate(t, h, "schema,ok", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if n := len(resp.GetReport().GetAttempts()); n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
	if len(rec.requests) != 2 {
		t.Fatalf("provider saw %d requests, want 2", len(rec.requests))
	}
	first, second := rec.requests[0].GetMessages(), rec.requests[1].GetMessages()
	if len(first) != 2 || len(second) != 4 {
		t.Fatalf("messages: first %d, second %d; want 2 then 4", len(first), len(second))
	}
	if got := second[2].GetRole(); got != providerv1.Role_ROLE_ASSISTANT || !strings.Contains(second[2].GetContent(), `"priority":6`) {
		t.Errorf("re-ask does not echo the rejected output: %v", second[2])
	}
	feedback := second[3].GetContent()
	for _, want := range []string{`"field":"priority"`, `"rule":"int32.gte_lte"`, "RULE_VIOLATION"} {
		if !strings.Contains(feedback, want) {
			t.Errorf("re-ask feedback %q lacks %s", feedback, want)
		}
	}
}

func TestTransportErrorsNeverReachPrompts(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	if _, err := generate(t, h, "unavailable,rate_limit,ok", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for i, r := range rec.requests {
		if n := len(r.GetMessages()); n != 2 {
			t.Errorf("request %d has %d messages; transport retries must resend the same request", i, n)
		}
	}
}

func TestPartialMatch(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.NonCriticalFields = map[string]map[string]bool{"guardgen.examples.v1.TaskTree": {"estimate_minutes": true}}
	}})
	resp, err := generate(t, h, "schema", &guardgenv1.GenerateRequest{Prompt: "Plan the launch", TargetType: "guardgen.examples.v1.TaskTree"})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !resp.GetDegraded() || len(resp.GetDegradation().GetViolations()) == 0 || resp.GetDegradation().GetMetadata()["degradation"] != "partial_match" {
		t.Errorf("want a degraded partial match with violations as warnings; got degraded=%v degradation=%v", resp.GetDegraded(), resp.GetDegradation())
	}
	tree := &examplesv1.TaskTree{}
	if err := resp.GetMessage().UnmarshalTo(tree); err != nil || tree.GetEstimateMinutes() != 0 {
		t.Errorf("non-critical field not cleared: %v %v", tree, err)
	}
}

func TestBearerAuth(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.Auth = server.Auth{Tokens: []string{"s3cret-token"}, OpenHealthAndReflection: true}
	}})
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}
	tests := []struct {
		name   string
		header string
		want   codes.Code
	}{
		{"missing", "", codes.Unauthenticated},
		{"wrong", "Bearer nope", codes.Unauthenticated},
		{"not bearer", "Basic czNjcmV0LXRva2Vu", codes.Unauthenticated},
		{"no scheme", "s3cret-token", codes.Unauthenticated},
		{"right", "Bearer s3cret-token", codes.OK},
		{"scheme in lower case", "bearer s3cret-token", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.header)
			}
			_, err := h.gen.Generate(ctx, req)
			if status.Code(err) != tt.want {
				t.Errorf("code = %v, want %v", status.Code(err), tt.want)
			}
		})
	}
	if hc, err := h.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token = %v, %v; want SERVING", hc, err)
	}
}

// TestBearerAuthStreams: streaming methods (server reflection here) need a
// token too unless they are exempt, and the refusal carries its
// FailureDetail.
func TestBearerAuthStreams(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.Auth = server.Auth{Subjects: map[string]string{"ops": "s3cret-token"}}
	}})
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reflect := func(ctx context.Context) error {
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// A refused stream may end before the request is sent (io.EOF);
		// Recv then has the status.
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = reflect(ctx)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("reflection without a token: %v, want Unauthenticated", err)
	}
	if fd, info := failureOf(t, err); info.GetReason() != "UNAUTHENTICATED" || fd.GetDomain() != guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT {
		t.Errorf("failure = %v", fd)
	}
	if err := reflect(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer s3cret-token")); err != nil {
		t.Errorf("reflection with the subject's token: %v", err)
	}
}

func TestRateLimitAnswersWithRetryInfo(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.RateLimit = server.RateLimit{PerSecond: 0.5, Burst: 1}
	}})
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}
	if _, err := generate(t, h, "", req); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err := generate(t, h, "", req)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second request: %v, want ResourceExhausted", err)
	}
	fd, info := failureOf(t, err)
	if info.GetReason() != "OVERLOADED" || fd.GetMetadata()["limit"] != "rate" {
		t.Errorf("failure = %v", fd)
	}
	var retryInfo *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retryInfo = ri
		}
	}
	if d := retryInfo.GetRetryDelay().AsDuration(); d <= 0 || d > 2*time.Second {
		t.Errorf("RetryInfo delay = %v, want (0, 2s]", d)
	}
}

func TestInFlightLimitShedsAtOnce(t *testing.T) {
	t.Parallel()
	g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{}), inner: synthetic.New()}
	h := start(t, harnessOptions{provider: g, set: func(o *server.Options) {
		o.MaxInFlight = 1
	}})
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}
	done := make(chan error, 1)
	go func() {
		_, err := h.gen.Generate(context.Background(), req)
		done <- err
	}()
	<-g.entered
	_, err := generate(t, h, "", req)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("request over the in-flight limit: %v, want ResourceExhausted", err)
	} else if fd, _ := failureOf(t, err); fd.GetMetadata()["limit"] != "in_flight" {
		t.Errorf("failure = %v", fd)
	}
	if hc, err := h.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health is shed under load: %v, %v", hc, err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Errorf("admitted request failed: %v", err)
	}
}
