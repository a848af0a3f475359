package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// loadOptions are the load test's flags.
type loadOptions struct {
	rate        int
	duration    time.Duration
	maxDuration time.Duration
	workers     int
	rounds      int
	tokens      int
	rotation    time.Duration
	coldStarts  int
	keep        bool
	logLevel    string
	cpuRounds   int
}

// soakOptions are the soak's flags.
type soakOptions struct {
	rate        int
	duration    time.Duration
	downAt      time.Duration
	downFor     time.Duration
	httpTimeout time.Duration
	unknownKID  time.Duration
	sampleEvery time.Duration
	settle      time.Duration
	maxInFlight int
	bin         string
	seed        uint64
	keep        bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args, mode, run := os.Args[1:], "load", loadMain
	if len(args) > 0 && args[0] == "soak" {
		args, mode, run = args[1:], "soak", soakMain
	}
	if err := run(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, mode+":", err)
		os.Exit(1)
	}
}

func loadMain(ctx context.Context, args []string) error {
	var o loadOptions
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	fs.IntVar(&o.rate, "rate", 2000, "fixed-rate runs: requests per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "fixed-rate run length")
	fs.DurationVar(&o.maxDuration, "max-duration", 5*time.Second, "length of each max-throughput run")
	fs.IntVar(&o.workers, "workers", 32, "concurrent requests in the max-throughput runs")
	fs.IntVar(&o.rounds, "rounds", 3, "max-throughput rounds, exchange and floor alternating")
	fs.IntVar(&o.tokens, "tokens", 1000, "distinct valid tokens")
	fs.DurationVar(&o.rotation, "rotation-duration", 6*time.Second, "key-rotation run length (at -rate; the key changes halfway)")
	fs.IntVar(&o.coldStarts, "cold-starts", 10, "HTTP-mode cold starts to time (the median is reported)")
	fs.BoolVar(&o.keep, "keep", false, "keep the build directory and server logs")
	fs.StringVar(&o.logLevel, "log-level", "info", "the exchange's LOG_LEVEL (info writes one access-log line per request, as deployed)")
	fs.IntVar(&o.cpuRounds, "cpu-rounds", 3, "CPU-per-request rounds (5 s at max throughput each against the exchange, the standard-library floor and the bare floor)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench/load [flags]       the load test (make load)\n       go run ./bench/load soak [flags]  the soak (make soak; -h for its flags)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if dir := os.Getenv(envDir); dir != "" {
		return measure(ctx, o, dir)
	}
	dir, done, err := workdir("supabridge-load-", o.keep)
	if err != nil {
		return err
	}
	defer done()
	if err := build(ctx, dir, "./functions/exchange", "./functions/refresh", "./bench/floor/cmd/floorserver"); err != nil {
		return err
	}
	return pinned(ctx, o, dir)
}

func soakMain(ctx context.Context, args []string) error {
	var o soakOptions
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	fs.IntVar(&o.rate, "rate", 500, "requests per second, sent open loop")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "length of the load")
	fs.DurationVar(&o.downAt, "down-at", 15*time.Second, "when the JWKS goes down, from the start of the load (0: never)")
	fs.DurationVar(&o.downFor, "down-for", 20*time.Second, "how long the JWKS stays down")
	fs.DurationVar(&o.httpTimeout, "http-timeout", 2*time.Second, "AUTH_HTTP_TIMEOUT given to the function")
	fs.DurationVar(&o.unknownKID, "unknown-kid-interval", 30*time.Second, "the function's unknown-kid refresh interval (its built-in default), for judging 502s after the outage")
	fs.DurationVar(&o.sampleEvery, "sample", 5*time.Second, "how often the process is sampled during the load")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "quiet time before the after-sample")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 2000, "requests in flight at most; one that finds this many waiting fails the run")
	fs.StringVar(&o.bin, "bin", "", "exchange binary to run (default: build ./functions/exchange)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the request mix")
	fs.BoolVar(&o.keep, "keep", false, "keep the build directory and the function's log")
	_ = fs.Parse(args)
	if o.rate <= 0 || o.duration <= 0 || o.sampleEvery <= 0 {
		return errors.New("-rate, -duration and -sample must be positive")
	}
	dir, done, err := workdir("supabridge-soak-", o.keep)
	if err != nil {
		return err
	}
	defer done()
	if o.bin == "" {
		if err := build(ctx, dir, "./functions/exchange"); err != nil {
			return err
		}
		o.bin = dir + "/exchange"
	}
	return soak(ctx, o, dir)
}

// workdir makes the directory for binaries and logs; done removes it
// unless keep.
func workdir(prefix string, keep bool) (dir string, done func(), err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Println("build directory and logs kept in", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func printMachine() {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	online, _ := os.ReadFile("/sys/devices/system/cpu/online")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %s, CPUs %s online, Linux %s, %s; load average %s (other work on the machine skews every figure)\n",
		model, strings.TrimSpace(string(online)), strings.TrimSpace(string(kernel)), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}
