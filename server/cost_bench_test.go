package server_test

// The cost comparison: 1,000 requests on the synthetic provider with the
// issue's fault mix, answered by guardgen's policy and by a naive "retry
// everything up to 3 times" wrapper in the same run, both counted at the
// provider. TestCostAgainstNaiveRetry asserts the claims and logs
// the table (go test -v -run TestCostAgainstNaiveRetry ./server/);
// BenchmarkCost reports the same numbers as benchmark metrics, and the
// table with -v (go test -run '^$' -bench Cost -benchtime 1x -v ./server/).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/classifier"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

const (
	costRequests = 1000
	// costPrompts distinct prompts recur across the requests, as tickets
	// about the same problems do; the cache can serve a repeat.
	costPrompts = 100
	costWorkers = 4
	// costRequestKey names each request to the metering provider; guardgen
	// forwards x-guardgen-* metadata to providers.
	costRequestKey = "x-guardgen-cost-request"
)

// costMix is the fault mix per 1,000 requests; the rest are ok.
//
// A fault that comes from the request itself recurs on every call of that
// request, for both policies: a content filter fires on the same input
// again, and an answer truncated at a token limit is truncated again at the
// same limit. Those plans repeat the fault. Every other fault (transient
// upstream errors, formatting slips, a broken field rule) hits one call and
// the next call answers ok.
var costMix = []struct {
	fault     string
	perMille  int
	recurring bool
}{
	{"rate_limit", 50, false},
	{"unavailable", 20, false},
	{"content_filter", 20, true},
	{"length", 20, true},
	{"fence", 30, false},
	{"prose", 30, false},
	{"malformed", 20, false},
	{"schema", 20, false},
}

// hopeless are the faults no retry at the same settings can get past: the
// calls that follow one of them in a request are wasted.
var hopeless = map[string]bool{"content_filter": true, "refusal": true, "length": true, "business_rule": true}

// costRequest is one request of the run.
type costRequest struct {
	id     string
	prompt string
	fault  string
	plan   string
}

// costRequestsFor builds the run: the mix assigned to request numbers by a
// fixed shuffle, prompts cycling through costPrompts.
func costRequestsFor() []costRequest {
	faults := make([]string, 0, costRequests)
	for _, m := range costMix {
		for range m.perMille * costRequests / 1000 {
			faults = append(faults, m.fault)
		}
	}
	for len(faults) < costRequests {
		faults = append(faults, "ok")
	}
	rng := rand.New(rand.NewPCG(4, 2026))
	rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	recurring := map[string]bool{}
	for _, m := range costMix {
		recurring[m.fault] = m.recurring
	}
	reqs := make([]costRequest, costRequests)
	for i, f := range faults {
		plan := f
		if recurring[f] {
			plan = strings.TrimSuffix(strings.Repeat(f+",", 8), ",")
		}
		reqs[i] = costRequest{
			id:     strconv.Itoa(i),
			prompt: fmt.Sprintf("Ticket %d: customer %d reports being charged twice for the March invoice", i%costPrompts, i%costPrompts),
			fault:  f,
			plan:   plan,
		}
	}
	return reqs
}

// meter is a provider that counts every call it serves, per request, and
// knows which plan entry each call got (entry n answers call n, ok after
// the plan), so it can tell a wasted call from a useful one.
type meter struct {
	providerv1.UnimplementedProviderServiceServer
	inner providerv1.ProviderServiceServer

	mu    sync.Mutex
	calls map[string][]meteredCall
}

type meteredCall struct {
	fault     string
	model     string
	maxTokens uint32
}

func newMeter() *meter {
	return &meter{inner: synthetic.New(synthetic.WithRetryDelay(time.Millisecond)), calls: map[string][]meteredCall{}}
}

func (m *meter) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	fault := "ok"
	if n, err := strconv.Atoi(first(md.Get(providers.CallMetadataKey))); err == nil {
		if plan := strings.Split(first(md.Get(synthetic.FaultsMetadataKey)), ","); n >= 1 && n <= len(plan) && plan[n-1] != "" {
			fault = plan[n-1]
		}
	}
	id := first(md.Get(costRequestKey))
	m.mu.Lock()
	m.calls[id] = append(m.calls[id], meteredCall{fault: fault, model: req.GetModel(), maxTokens: req.GetSampling().GetMaxOutputTokens()})
	m.mu.Unlock()
	return m.inner.Complete(ctx, req)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// totals returns the calls served and the wasted ones: calls made after a
// call of the same request got a hopeless fault with the same model and
// token limit.
func (m *meter) totals() (calls, wasted int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cs := range m.calls {
		calls += len(cs)
		for i, c := range cs {
			for _, prev := range cs[:i] {
				if hopeless[prev.fault] && prev.model == c.model && prev.maxTokens == c.maxTokens {
					wasted++
					break
				}
			}
		}
	}
	return calls, wasted
}

// costResult is one policy's row of the table.
type costResult struct {
	policy    string
	requests  int
	successes int
	degraded  int
	failures  map[guardgenv1.FailureDomain]int
	calls     int
	wasted    int
}

func (r *costResult) record(degraded bool, failed *guardgenv1.FailureDomain) {
	r.requests++
	switch {
	case failed != nil:
		r.failures[*failed]++
	case degraded:
		r.degraded++
	default:
		r.successes++
	}
}

// answerFunc answers one request of the run.
type answerFunc func(ctx context.Context, r costRequest) (degraded bool, failed *guardgenv1.FailureDomain)

// runPolicy answers every request with answer, costWorkers at a time.
// Each prompt belongs to one worker, which answers its requests in order,
// so what the cache holds at each request, and so the result, is the same
// on every run.
func runPolicy(name string, reqs []costRequest, m *meter, answer answerFunc) costResult {
	res := costResult{policy: name, failures: map[guardgenv1.FailureDomain]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range costWorkers {
		wg.Go(func() {
			for i, r := range reqs {
				if i%costPrompts%costWorkers != w {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				degraded, failed := answer(ctx, r)
				cancel()
				mu.Lock()
				res.record(degraded, failed)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.calls, res.wasted = m.totals()
	return res
}

// guardgenPolicy answers through a guardgen server with its default
// policy: the decision matrix, a memory cache, one route entry.
func guardgenPolicy(t testing.TB, m *meter) answerFunc {
	h := start(t, harnessOptions{routes: []server.Route{{Name: "default", Entries: []server.RouteEntry{routeEntry("synthetic", "synthetic-1", 0, m)}}}, set: func(o *server.Options) {
		o.Cache = newMemoryCache(nil)
	}})
	return func(ctx context.Context, r costRequest) (bool, *guardgenv1.FailureDomain) {
		ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, r.plan, costRequestKey, r.id)
		resp, err := h.gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: r.prompt, TargetType: ticket})
		if err != nil {
			d := classifier.As(err).Domain
			for _, det := range status.Convert(err).Details() {
				if fd, ok := det.(*guardgenv1.FailureDetail); ok {
					d = fd.GetDomain()
				}
			}
			return false, &d
		}
		return resp.GetDegraded(), nil
	}
}

// naivePolicy is what a thin wrapper around a provider SDK does: send the
// request, and on any failure at all (transport error, finish reason,
// unparsable JSON, a failed validation) send it again, up to 3 calls, with
// a short pause. It parses strictly and repairs nothing. The domain of its
// last failure is recorded for the table only; the policy ignores it.
func naivePolicy(t testing.TB, m *meter) answerFunc {
	resolver, err := schema.NewResolver(apptest.ResolverOptions())
	if err != nil {
		t.Fatal(err)
	}
	target, err := resolver.Resolve(ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	client := providerv1.NewProviderServiceClient(providers.InProcess(m))
	return func(ctx context.Context, r costRequest) (bool, *guardgenv1.FailureDomain) {
		req := &providerv1.CompleteRequest{
			Model: "synthetic-1",
			Messages: []*providerv1.Message{
				{Role: providerv1.Role_ROLE_SYSTEM, Content: "Answer with one JSON object that conforms to the JSON Schema."},
				{Role: providerv1.Role_ROLE_USER, Content: r.prompt},
			},
			OutputSchema: &providerv1.OutputSchema{Name: target.Name, JsonSchema: string(target.JSONSchema), Strict: true},
			Sampling:     &providerv1.SamplingOptions{},
		}
		var last *classifier.Failure
		for call := 1; call <= 3; call++ {
			if call > 1 {
				time.Sleep(time.Millisecond)
			}
			cctx := metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, r.plan,
				providers.CallMetadataKey, strconv.Itoa(call), costRequestKey, r.id)
			resp, err := client.Complete(cctx, req)
			if err != nil {
				last = classifier.FromProviderError(err)
				continue
			}
			if f := classifier.FromFinishReason(resp.GetFinishReason(), resp.GetRefusal()); f != nil {
				last = f
				continue
			}
			msg := &examplesv1.TicketClassification{}
			if err := protojson.Unmarshal([]byte(resp.GetContent()), msg); err != nil {
				last = classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_MALFORMED_JSON, "strict parse")
				continue
			}
			if err := v.Validate(msg); err != nil {
				last = classifier.FromValidation(err, nil)
				continue
			}
			return false, nil
		}
		return false, &last.Domain
	}
}

// compareCost runs both policies over the same requests.
func compareCost(t testing.TB) (guardgen, naive costResult) {
	reqs := costRequestsFor()
	gm, nm := newMeter(), newMeter()
	guardgen = runPolicy("guardgen", reqs, gm, guardgenPolicy(t, gm))
	naive = runPolicy("naive retry x3", reqs, nm, naivePolicy(t, nm))
	return guardgen, naive
}

// costTable renders the rows under a line stating the mix.
func costTable(rows ...costResult) string {
	var b strings.Builder
	b.WriteString("fault mix:")
	for _, m := range costMix {
		fmt.Fprintf(&b, " %.1f%% %s,", float64(m.perMille)/10, m.fault)
	}
	b.WriteString(" the rest ok; content_filter and length recur on every call of their request\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "policy\trequests\tsuccesses\tdegraded\tfailed INFRA\tfailed INPUT\tfailed OUTPUT\tfailed PIPELINE\tprovider calls\twasted calls\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.policy, r.requests, r.successes, r.degraded,
			r.failures[infra], r.failures[input], r.failures[output], r.failures[pipeline], r.calls, r.wasted)
	}
	w.Flush()
	return b.String()
}

// TestCostAgainstNaiveRetry asserts the cost claims: guardgen
// succeeds at least as often as the naive policy (degraded answers apart),
// spends no call on what cannot succeed, and makes fewer provider calls.
func TestCostAgainstNaiveRetry(t *testing.T) {
	t.Parallel()
	g, n := compareCost(t)
	t.Logf("\n%s", costTable(g, n))
	if g.requests != costRequests || n.requests != costRequests {
		t.Fatalf("requests answered: guardgen %d, naive %d; want %d each", g.requests, n.requests, costRequests)
	}
	if g.successes < n.successes {
		t.Errorf("guardgen successes %d < naive %d", g.successes, n.successes)
	}
	if g.wasted != 0 {
		t.Errorf("guardgen wasted %d calls on faults no retry can fix", g.wasted)
	}
	if g.calls >= n.calls {
		t.Errorf("guardgen made %d provider calls, naive %d; want fewer", g.calls, n.calls)
	}
	if n.wasted == 0 {
		t.Error("the naive policy wasted no calls: the meter is not counting")
	}
}

// BenchmarkCost reports the comparison's numbers as benchmark metrics.
func BenchmarkCost(b *testing.B) {
	var g, n costResult
	for b.Loop() {
		g, n = compareCost(b)
	}
	b.ReportMetric(float64(g.calls)/costRequests, "guardgen-calls/req")
	b.ReportMetric(float64(n.calls)/costRequests, "naive-calls/req")
	b.ReportMetric(float64(g.wasted), "guardgen-wasted")
	b.ReportMetric(float64(n.wasted), "naive-wasted")
	b.ReportMetric(float64(g.successes)/costRequests*100, "guardgen-success-%")
	b.ReportMetric(float64(n.successes)/costRequests*100, "naive-success-%")
	b.Logf("\n%s", costTable(g, n))
}
