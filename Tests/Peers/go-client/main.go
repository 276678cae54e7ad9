// A grpc-go 1.33 client with grpc-go's default settings (BDP estimation and its pings on), streaming under
// flow-control pressure: its reader pauses now and then, so responses queue on the server and drain as windows
// reopen. It fails (exit 1) on any RPC error, on a GOAWAY ENHANCE_YOUR_CALM, and on a connection made twice.
//
//	go-client -mode interop -addr 127.0.0.1:P [-seconds 30] [-conns 4]
//	go-client -mode gateway -addr 127.0.0.1:P -keys KEY1,KEY2 [-seconds 30] [-conns 4] [-rate 250]
//
// interop: StreamingOutputCall on grpc.testing.TestService, 16 responses of 1 MiB each (larger than the server's
// outbound queue bound, so each drains without anything newly queued), read with a pause after each, again and again.
// gateway: OrderEntry sessions placing ACME limit orders at 100.00 (buys on even connections with the first key,
// sells on odd ones with the last, so they trade), `rate` orders a second each, reading every report.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/grpclog"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	pb "tradewire.dev/tradewire_v1"
)

// watcher is grpc-go's logger: it keeps the lines that show a connection thrown off or made again.
type watcher struct {
	mu       sync.Mutex
	goAways  []string
	readies  int
	verbose  bool
}

func (w *watcher) line(text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.Contains(text, "GoAway") || strings.Contains(text, "too_many_pings") || strings.Contains(text, "EnhanceYourCalm") {
		w.goAways = append(w.goAways, text)
	}
	if strings.Contains(text, "Subchannel Connectivity change to READY") {
		w.readies++
	}
	if w.verbose {
		fmt.Fprintln(os.Stderr, "grpc:", text)
	}
}

func (w *watcher) Info(args ...interface{})                    { w.line(fmt.Sprint(args...)) }
func (w *watcher) Infoln(args ...interface{})                  { w.line(fmt.Sprintln(args...)) }
func (w *watcher) Infof(format string, args ...interface{})    { w.line(fmt.Sprintf(format, args...)) }
func (w *watcher) Warning(args ...interface{})                 { w.line(fmt.Sprint(args...)) }
func (w *watcher) Warningln(args ...interface{})               { w.line(fmt.Sprintln(args...)) }
func (w *watcher) Warningf(format string, args ...interface{}) { w.line(fmt.Sprintf(format, args...)) }
func (w *watcher) Error(args ...interface{})                   { w.line(fmt.Sprint(args...)) }
func (w *watcher) Errorln(args ...interface{})                 { w.line(fmt.Sprintln(args...)) }
func (w *watcher) Errorf(format string, args ...interface{})   { w.line(fmt.Sprintf(format, args...)) }
func (w *watcher) Fatal(args ...interface{})                   { w.line(fmt.Sprint(args...)); os.Exit(2) }
func (w *watcher) Fatalln(args ...interface{})                 { w.line(fmt.Sprintln(args...)); os.Exit(2) }
func (w *watcher) Fatalf(format string, args ...interface{})   { w.line(fmt.Sprintf(format, args...)); os.Exit(2) }
func (w *watcher) V(l int) bool                                { return true }

type totals struct {
	sent, received, rejected int64
	mu                       sync.Mutex
	failures                 []string
	reasons                  map[string]int
}

// rejectedFor counts one rejected order by its reason.
func (t *totals) rejectedFor(reason string) {
	atomic.AddInt64(&t.rejected, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reasons == nil {
		t.reasons = map[string]int{}
	}
	t.reasons[reason]++
}

func (t *totals) fail(format string, args ...interface{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) < 20 {
		t.failures = append(t.failures, fmt.Sprintf(format, args...))
	}
}

func main() {
	mode := flag.String("mode", "interop", "interop or gateway")
	addr := flag.String("addr", "", "host:port")
	keys := flag.String("keys", "", "gateway API keys, comma-separated (buyers use the first, sellers the last)")
	seconds := flag.Int("seconds", 30, "how long to stream")
	conns := flag.Int("conns", 4, "connections, one stream each")
	rate := flag.Int("rate", 250, "gateway: orders a second per connection")
	verbose := flag.Bool("v", false, "print grpc-go's log")
	flag.Parse()

	log := &watcher{verbose: *verbose}
	grpclog.SetLoggerV2(log)
	var t totals
	end := time.Now().Add(time.Duration(*seconds) * time.Second)
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		dial, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := grpc.DialContext(dial, *addr, grpc.WithInsecure(), grpc.WithBlock())
		cancel()
		if err != nil {
			fmt.Printf("FAIL dial %s: %v\n", *addr, err)
			os.Exit(1)
		}
		defer conn.Close()
		wg.Add(1)
		switch *mode {
		case "interop":
			go func(c int) { defer wg.Done(); interop(testpb.NewTestServiceClient(conn), end, &t) }(c)
		case "gateway":
			list := strings.Split(*keys, ",")
			key := list[0]
			side := pb.Side_SIDE_BUY
			if c%2 == 1 {
				key, side = list[len(list)-1], pb.Side_SIDE_SELL
			}
			go func(c int) { defer wg.Done(); gateway(pb.NewGatewayClient(conn), key, side, c, *rate, end, &t) }(c)
		default:
			fmt.Printf("FAIL unknown mode %q\n", *mode)
			os.Exit(1)
		}
	}
	wg.Wait()

	log.mu.Lock()
	defer log.mu.Unlock()
	fmt.Printf("go-client %s: %d sent, %d received, %d rejected %v, %d connections made, %d GOAWAY lines, %d failures\n",
		*mode, atomic.LoadInt64(&t.sent), atomic.LoadInt64(&t.received), atomic.LoadInt64(&t.rejected), t.reasons,
		log.readies, len(log.goAways), len(t.failures))
	ok := len(t.failures) == 0 && len(log.goAways) == 0 && log.readies <= *conns && atomic.LoadInt64(&t.received) > 0
	for _, line := range log.goAways {
		fmt.Println("GOAWAY:", strings.TrimSpace(line))
	}
	for _, failure := range t.failures {
		fmt.Println("FAILURE:", failure)
	}
	if !ok {
		fmt.Println("FAIL")
		os.Exit(1)
	}
	fmt.Println("PASS")
}

// interop asks for 16 responses of 1 MiB at a time and reads them with a 5 ms pause after each.
func interop(client testpb.TestServiceClient, end time.Time, t *totals) {
	params := make([]*testpb.ResponseParameters, 16)
	for i := range params {
		params[i] = &testpb.ResponseParameters{Size: 1 << 20}
	}
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
		if err != nil {
			t.fail("StreamingOutputCall: %v", err)
			cancel()
			return
		}
		atomic.AddInt64(&t.sent, 1)
		for n := 1; ; n++ {
			_, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.fail("StreamingOutputCall after %d responses: %v", n-1, err)
				cancel()
				return
			}
			atomic.AddInt64(&t.received, 1)
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}
}

// gateway runs one OrderEntry session: a sender at `rate` orders a second until `end`, and a reader that pauses
// 20 ms after every 200 reports; then it half-closes and reads what is left.
func gateway(client pb.GatewayClient, key string, side pb.Side, c int, rate int, end time.Time, t *totals) {
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key))
	defer cancel()
	stream, err := client.OrderEntry(ctx)
	if err != nil {
		t.fail("OrderEntry: %v", err)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			response, err := stream.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.fail("OrderEntry %d after %d reports: %v", c, n-1, err)
				return
			}
			atomic.AddInt64(&t.received, 1)
			if report := response.GetExecutionReport(); report != nil && report.GetExecType() == pb.ExecType_EXEC_TYPE_REJECTED {
				t.rejectedFor(report.GetRejectReason().String())
			}
			if n%200 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := 0; time.Now().Before(end); n++ {
		<-tick.C
		order := &pb.NewOrder{
			ClientOrderId: fmt.Sprintf("go-%d-%d-%d", time.Now().UnixNano()/1e9, c, n),
			Symbol:        "ACME",
			Side:          side,
			Type:          pb.OrderType_ORDER_TYPE_LIMIT,
			TimeInForce:   pb.TimeInForce_TIME_IN_FORCE_GTC,
			Price:         &pb.Price{Units: 10000, Scale: 2},
			Quantity:      &pb.Quantity{Units: 1},
		}
		request := &pb.OrderEntryRequest{CorrelationId: order.ClientOrderId, Request: &pb.OrderEntryRequest_NewOrder{NewOrder: order}}
		if err := stream.Send(request); err != nil {
			t.fail("OrderEntry %d send %d: %v", c, n, err)
			break
		}
		atomic.AddInt64(&t.sent, 1)
	}
	stream.CloseSend()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // The session may keep following resting orders; that is fine.
	}
}
