package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// cpuRunLength is the length of each run of the CPU-per-request section.
const cpuRunLength = 5 * time.Second

// cpuResult is the CPU-per-request section's outcome: the median over the
// rounds of each server's own CPU time per request, and the medians of the
// rounds' ratios (each round's three runs are back to back, so a round's
// ratio holds when the machine's speed drifts between rounds).
type cpuResult struct {
	exchange, std, floor time.Duration
	stdRatio, floorRatio float64
}

// cpuPerRequest is issue 20's measure: rounds of a max-throughput run
// (-workers concurrent requests, back to back, cpuRunLength each) against
// the exchange, the standard-library floor and the bare-crypto floor in
// turn, each server pinned as in every run. A server's CPU time is its own
// (utime+stime of its process in /proc, the kernel's work for its sockets
// included), divided by the requests it answered. Kept busy, a server
// spends its time on requests rather than on waking up for each one (at a
// fixed rate that overhead is the same for every server and blurs the
// ratio). Interleaving the three in each round keeps the ratios steady
// when the machine's speed drifts.
func cpuPerRequest(ctx context.Context, o loadOptions, ex, std, fl *server, pick func(int) *kind, jwks *jwksServer) (cpuResult, error) {
	fmt.Printf("== CPU per request (server CPU time / requests answered; %d round(s) of %v at max throughput, %d workers: exchange, std floor, bare floor)\n",
		o.cpuRounds, cpuRunLength, o.workers)
	var (
		exs, stds, fls         []time.Duration
		stdRatios, floorRatios []float64
	)
	for i := range o.cpuRounds {
		var (
			per [3]time.Duration
			rps [3]float64
		)
		for j, s := range []*server{ex, std, fl} {
			res, err := attack(ctx, s, run{name: fmt.Sprintf("cpu #%d", i+1), duration: cpuRunLength, workers: o.workers, pick: pick}, jwks)
			if err != nil {
				return cpuResult{}, err
			}
			if res.ok == 0 || len(res.errors) > 0 {
				return cpuResult{}, fmt.Errorf("%s: %d answered, errors %s", s.name, res.ok, res.errorSummary())
			}
			per[j] = res.serverCPU / time.Duration(res.ok)
			rps[j] = res.rps
		}
		fmt.Printf("round %d   exchange %6.1f µs (%5.0f ok/s)   std floor %6.1f µs (%5.0f ok/s)   bare floor %6.1f µs (%5.0f ok/s)   exchange/std %.2f\n",
			i+1, micros(per[0]), rps[0], micros(per[1]), rps[1], micros(per[2]), rps[2], float64(per[0])/float64(per[1]))
		exs, stds, fls = append(exs, per[0]), append(stds, per[1]), append(fls, per[2])
		stdRatios = append(stdRatios, float64(per[0])/float64(per[1]))
		floorRatios = append(floorRatios, float64(per[0])/float64(per[2]))
	}
	c := cpuResult{exchange: medianOf(exs), std: medianOf(stds), floor: medianOf(fls),
		stdRatio: medianOf(stdRatios), floorRatio: medianOf(floorRatios)}
	fmt.Printf("median    exchange %6.1f µs   std floor %6.1f µs   bare floor %6.1f µs\n", micros(c.exchange), micros(c.std), micros(c.floor))
	fmt.Printf("exchange/std floor CPU per request (median of the rounds): %.2f (target 1.25)   exchange/bare floor: %.2f\n", c.stdRatio, c.floorRatio)
	return c, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func medianOf[T time.Duration | float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
