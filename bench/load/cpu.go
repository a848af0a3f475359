package main

import (
	"fmt"
	"slices"
	"time"
)

// cpuRunLength is the length of each run of the CPU-per-request section.
const cpuRunLength = 5 * time.Second

// cpuResult is the CPU-per-request section's outcome: the median over the
// rounds of each server's own CPU time per request.
type cpuResult struct {
	exchange, std, floor time.Duration
}

func (c cpuResult) stdRatio() float64   { return float64(c.exchange) / float64(c.std) }
func (c cpuResult) floorRatio() float64 { return float64(c.exchange) / float64(c.floor) }

// cpuPerRequest is issue 20's measure: rounds of a fixed-rate run (-rate,
// cpuRunLength each) against the exchange, the standard-library floor and
// the bare-crypto floor in turn, each server pinned as in every run. A
// server's CPU time is its own (utime+stime of its process in /proc, the
// kernel's work for its sockets included), divided by the requests
// answered. Interleaving the three in each round keeps the ratios steady
// when the machine's speed drifts.
func cpuPerRequest(o options, ex, std, fl *server, ts *tokenSource, jwks *jwksServer) (cpuResult, error) {
	fmt.Printf("== CPU per request (server CPU time / requests answered; %d round(s) of %v at %d req/s: exchange, std floor, bare floor)\n",
		o.cpuRounds, cpuRunLength, o.rate)
	var exs, stds, fls []time.Duration
	for i := range o.cpuRounds {
		var per [3]time.Duration
		for j, s := range []*server{ex, std, fl} {
			res, err := attack(s, ts, run{name: fmt.Sprintf("cpu #%d", i+1), rate: o.rate, duration: cpuRunLength, workers: 10}, jwks)
			if err != nil {
				return cpuResult{}, err
			}
			if res.ok == 0 || len(res.errors) > 0 {
				return cpuResult{}, fmt.Errorf("%s: %d answered, errors %s", s.name, res.ok, res.errorSummary())
			}
			per[j] = res.serverCPU / time.Duration(res.ok)
		}
		fmt.Printf("round %d   exchange %6.1f µs   std floor %6.1f µs   bare floor %6.1f µs   exchange/std %.2f\n",
			i+1, micros(per[0]), micros(per[1]), micros(per[2]), float64(per[0])/float64(per[1]))
		exs, stds, fls = append(exs, per[0]), append(stds, per[1]), append(fls, per[2])
	}
	c := cpuResult{exchange: medianOf(exs), std: medianOf(stds), floor: medianOf(fls)}
	fmt.Printf("median    exchange %6.1f µs   std floor %6.1f µs   bare floor %6.1f µs\n", micros(c.exchange), micros(c.std), micros(c.floor))
	fmt.Printf("exchange/std floor CPU per request: %.2f (target 1.25)   exchange/bare floor: %.2f\n", c.stdRatio(), c.floorRatio())
	return c, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func medianOf(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
