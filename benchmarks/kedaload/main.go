// kedaload: a KEDA-like client fleet for benchmarks/load.py, on grpc-go — the gRPC library KEDA
// itself uses — so that the load generator costs what KEDA costs, not what a Python client
// would. It reads a JSON plan on stdin (pre-serialised requests, so no generated stubs are
// needed), follows KEDA's call pattern per ScaledObject, and writes one 32-byte record per
// RPC to -records and a JSON summary to stdout.
//
// Connections as KEDA opens them: one for the operator (GetMetricSpec once, then every
// pollingInterval GetMetrics + IsActive, and the StreamIsActive streams) and one for the
// metrics API server (the HPA path: GetMetrics every sync period).
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

const service = "/externalscaler.ExternalScaler/"

// Method ids in the records file (benchmarks/load.py reads them back).
const (
	mSpec = iota
	mMetrics
	mIsActive
	mStream
)

type scaledObject struct {
	Ref     []byte `json:"ref"`     // serialised ScaledObjectRef
	Metrics []byte `json:"metrics"` // serialised GetMetricsRequest
}

type plan struct {
	Target        string         `json:"target"`
	ScaledObjects []scaledObject `json:"scaled_objects"`
	Streams       [][]byte       `json:"streams"` // serialised ScaledObjectRef per stream
	PollS         float64        `json:"poll_s"`
	HpaS          float64        `json:"hpa_s"`
	StartS        float64        `json:"start_s"` // Unix seconds
	EndS          float64        `json:"end_s"`
	Seed          int64          `json:"seed"`
	SpecWorkers   int            `json:"spec_workers"`
}

type record struct {
	Method, Code uint8
	_            [6]byte
	SentS, RecvS float64 // Unix seconds
	LatencyS     float64 // monotonic, send → answer
}

type rpcError struct {
	CodeNum uint32  `json:"code_num"`
	SentS   float64 `json:"sent_s"`
	RecvS   float64 `json:"recv_s"`
	Method  string  `json:"method"`
	Code    string  `json:"code"`
	Details string  `json:"details"`
}

type summary struct {
	Streams struct {
		Opened   int64 `json:"opened"`
		First    int64 `json:"first"`
		Messages int64 `json:"messages"`
		Errors   int64 `json:"errors"`
	} `json:"streams"`
	Errors  []rpcError `json:"errors"`
	CPUS    float64    `json:"cpu_s"`
	Records int        `json:"records"`
}

// rawCodec passes pre-serialised protobuf bytes through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// Unary errors are all in the records; their messages are kept for the first few only.
const maxUnaryDetails = 1000
const maxStreamErrors = 200000

type recorder struct {
	mu            sync.Mutex
	records       []record
	sum           summary
	unaryDetailed int
}

func (r *recorder) add(method uint8, sent time.Time, latency time.Duration, err error) {
	recv := sent.Add(latency)
	code := status.Code(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, record{Method: method, Code: uint8(code),
		SentS: unix(sent), RecvS: unix(recv), LatencyS: latency.Seconds()})
	if err != nil && r.unaryDetailed < maxUnaryDetails {
		r.unaryDetailed++
		r.sum.Errors = append(r.sum.Errors, rpcError{uint32(code), unix(sent), unix(recv),
			methodName(method), code.String(), truncate(status.Convert(err).Message(), 90)})
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func fromUnix(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}

func methodName(m uint8) string {
	return [...]string{"GetMetricSpec", "GetMetrics", "IsActive", "StreamIsActive"}[m]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func unary(conn *grpc.ClientConn, rec *recorder, method uint8, req []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var reply []byte
	sent := time.Now()
	err := conn.Invoke(ctx, service+methodName(method), &req, &reply)
	rec.add(method, sent, time.Since(sent), err)
}

func scaleLoop(conn *grpc.ClientConn, rec *recorder, so scaledObject, period time.Duration,
	first, end time.Time, hpa bool) {
	for t := first; t.Before(end); t = t.Add(period) {
		time.Sleep(time.Until(t))
		unary(conn, rec, mMetrics, so.Metrics)
		if !hpa {
			unary(conn, rec, mIsActive, so.Ref)
		}
	}
}

func streamLoop(conn *grpc.ClientConn, rec *recorder, ref []byte, end time.Time) {
	desc := &grpc.StreamDesc{StreamName: "StreamIsActive", ServerStreams: true}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	for time.Now().Before(end) {
		rec.mu.Lock()
		rec.sum.Streams.Opened++
		rec.mu.Unlock()
		err := openStream(ctx, conn, desc, ref, rec)
		if ctx.Err() != nil || !time.Now().Before(end) { // the plan's end, not a failure
			return
		}
		if err != io.EOF { // a stream the server ended cleanly is simply re-opened
			now := time.Now()
			code := status.Code(err)
			rec.mu.Lock()
			rec.sum.Streams.Errors++
			if rec.sum.Streams.Errors <= maxStreamErrors {
				rec.sum.Errors = append(rec.sum.Errors, rpcError{uint32(code), unix(now),
					unix(now), "StreamIsActive", code.String(),
					truncate(status.Convert(err).Message(), 90)})
			}
			rec.mu.Unlock()
		}
		time.Sleep(time.Second) // KEDA re-opens a stream after a pause
	}
}

func openStream(ctx context.Context, conn *grpc.ClientConn, desc *grpc.StreamDesc, ref []byte,
	rec *recorder) error {
	cs, err := conn.NewStream(ctx, desc, service+"StreamIsActive")
	if err != nil {
		return err
	}
	if err := cs.SendMsg(&ref); err != nil && err != io.EOF { // EOF: the status is in RecvMsg
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for got := 0; ; got++ {
		var msg []byte
		if err := cs.RecvMsg(&msg); err != nil {
			return err
		}
		rec.mu.Lock()
		rec.sum.Streams.Messages++
		if got == 0 {
			rec.sum.Streams.First++
		}
		rec.mu.Unlock()
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func run(p plan, recordsPath string) error {
	dial := func() (*grpc.ClientConn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return grpc.DialContext(ctx, p.Target, grpc.WithInsecure(), grpc.WithBlock(),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	}
	operator, err := dial()
	if err != nil {
		return fmt.Errorf("dial %s: %w", p.Target, err)
	}
	defer operator.Close()
	metricsServer, err := dial()
	if err != nil {
		return fmt.Errorf("dial %s: %w", p.Target, err)
	}
	defer metricsServer.Close()
	rec := &recorder{}
	start, end := fromUnix(p.StartS), fromUnix(p.EndS)
	var streams sync.WaitGroup
	for _, ref := range p.Streams {
		streams.Add(1)
		go func(ref []byte) { defer streams.Done(); streamLoop(operator, rec, ref, end) }(ref)
	}
	specs := make(chan []byte)
	var workers sync.WaitGroup
	for i := 0; i < p.SpecWorkers; i++ { // KEDA reconciles ScaledObjects with a few workers
		workers.Add(1)
		go func() {
			defer workers.Done()
			for ref := range specs {
				unary(operator, rec, mSpec, ref)
			}
		}()
	}
	for _, so := range p.ScaledObjects {
		specs <- so.Ref
	}
	close(specs)
	workers.Wait()
	time.Sleep(time.Until(start))
	cpu0 := cpuSeconds()
	rng := rand.New(rand.NewSource(p.Seed))
	poll := time.Duration(p.PollS * 1e9)
	hpa := time.Duration(p.HpaS * 1e9)
	var loops sync.WaitGroup
	for _, so := range p.ScaledObjects {
		loops.Add(2)
		a := start.Add(time.Duration(rng.Float64() * float64(poll)))
		b := start.Add(time.Duration(rng.Float64() * float64(hpa)))
		go func(so scaledObject) { defer loops.Done(); scaleLoop(operator, rec, so, poll, a, end, false) }(so)
		go func(so scaledObject) { defer loops.Done(); scaleLoop(metricsServer, rec, so, hpa, b, end, true) }(so)
	}
	loops.Wait()
	rec.sum.CPUS = cpuSeconds() - cpu0
	streams.Wait()
	return write(rec, recordsPath)
}

func write(rec *recorder, recordsPath string) error {
	f, err := os.Create(recordsPath)
	if err != nil {
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, rec.records); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	rec.sum.Records = len(rec.records)
	if rec.sum.Errors == nil {
		rec.sum.Errors = []rpcError{}
	}
	return json.NewEncoder(os.Stdout).Encode(rec.sum)
}

func main() {
	recordsPath := flag.String("records", "records.bin", "where to write the per-RPC records")
	flag.Parse()
	var p plan
	if err := json.NewDecoder(os.Stdin).Decode(&p); err != nil {
		fmt.Fprintln(os.Stderr, "kedaload: bad plan on stdin:", err)
		os.Exit(2)
	}
	if err := run(p, *recordsPath); err != nil {
		fmt.Fprintln(os.Stderr, "kedaload:", err)
		os.Exit(1)
	}
}
